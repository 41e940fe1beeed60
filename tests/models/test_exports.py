r"""`pyg_identity.models` exports the architectures."""
import importlib
import inspect
import pkgutil

import torch

import pyg_identity.models as models
from pyg_identity.models.pretrained import MODEL_CLASSES


def test_every_architecture_is_exported() -> None:
    defined = set()
    for info in pkgutil.iter_modules(models.__path__):
        module = importlib.import_module(f'pyg_identity.models.{info.name}')
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, torch.nn.Module)
                    and obj.__module__ == module.__name__
                    and not name.startswith('_')):
                defined.add(name)
    assert defined <= set(models.__all__)
    assert {name for _, name in MODEL_CLASSES.values()} <= defined
    assert {'VGG16Backbone', 'keypoint_features',
            'load_pretrained'} <= set(models.__all__)
    for name in models.__all__:
        assert getattr(models, name) is not None
