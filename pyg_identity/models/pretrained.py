r"""Pretrained example checkpoints: small state dicts with a model card each,
in the top-level :obj:`models/` folder of a checkout and inside the wheel as
:obj:`pyg_identity.pretrained`."""
import importlib
import json
import os
from typing import Any, Dict, List, Optional, Tuple

import torch

from pyg_identity.datasets._utils import file_digest

ENV_VAR = 'PYG_IDENTITY_MODELS'
CARD_KEYS = ('name', 'task', 'class', 'kwargs', 'dataset', 'dataset_kwargs',
             'metric', 'value', 'command', 'seed', 'sha256', 'license')


def checkpoint_dir() -> str:
    r"""Returns the folder holding the checkpoints: :obj:`$PYG_IDENTITY_MODELS`
    if set, else the installed :obj:`pyg_identity.pretrained` package (the
    wheel), else the :obj:`models/` folder of the source checkout."""
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = [
        os.path.join(here, 'pretrained'),  # installed wheel
        os.path.join(os.path.dirname(here), 'models'),  # source checkout
    ]
    try:  # an editable install maps the package onto models/
        import pyg_identity.pretrained as pkg
        candidates.extend(getattr(pkg, '__path__', []))
    except ImportError:
        pass
    for path in candidates:
        if os.path.isdir(path) and any(
                f.endswith('.json') for f in os.listdir(path)):
            return path
    return candidates[-1] if os.path.isdir(candidates[-1]) else candidates[1]


def available() -> List[str]:
    r"""Returns the names of the available pretrained checkpoints."""
    root = checkpoint_dir()
    if not os.path.isdir(root):
        return []
    return sorted(f[:-5] for f in os.listdir(root) if f.endswith('.json')
                  and os.path.exists(os.path.join(root, f[:-5] + '.pt')))


def model_card(name: str) -> Dict[str, Any]:
    r"""Returns the machine-readable model card of checkpoint :obj:`name`."""
    names = available()
    if name not in names:
        raise ValueError(f"Unknown pretrained model {name!r}; available: "
                         f"{', '.join(names) or 'none'}")
    with open(os.path.join(checkpoint_dir(), name + '.json')) as f:
        card = json.load(f)
    missing = [k for k in CARD_KEYS if k not in card]
    if missing:
        raise ValueError(f"The card of {name!r} misses {missing}")
    return card


def sha256(path: str) -> str:
    r"""Returns the SHA-256 hex digest of the file at :obj:`path`."""
    return file_digest(path, 'sha256')


# The only classes a model card may name, as `card name: (module, class)`.
# Card strings are looked up here, never imported or traversed themselves.
MODEL_CLASSES: Dict[str, Tuple[str, str]] = {
    f'pyg_identity.models.{module}.{name}': (f'pyg_identity.models.{module}',
                                             name)
    for module, name in [
        ('tsp_gnn', 'TSPEdgeGNN'),
        ('globe_tsp', 'GlobeTSPNet'),
        ('terrain_net', 'TerrainNet'),
        ('keypoint_matcher', 'KeypointMatcher'),
        ('dvae', 'DVAE'),
        ('retrieval', 'RetrievalNet'),
    ]
}
DATASET_CLASSES: Dict[str, Tuple[str, str]] = {
    f'pyg_identity.datasets.{module}.{name}': (
        f'pyg_identity.datasets.{module}', name)
    for module, name in [
        ('random_tsp', 'RandomTSP'),
        ('globe_tsp', 'GlobeTSP'),
        ('terrain_shortest_path', 'TerrainShortestPath'),
        ('synthetic_keypoints', 'SyntheticKeypoints'),
    ]
}


def _resolve(path: Any, key: str, allowed: Dict[str, Tuple[str, str]],
             base: type) -> type:
    if not isinstance(path, str) or path not in allowed:
        raise ValueError(f"Refusing to import {path!r}: a model card's "
                         f"{key!r} must be one of {sorted(allowed)}")
    module, name = allowed[path]
    cls = getattr(importlib.import_module(module), name, None)
    # Guards the allow-list itself: a class defined where it is listed.
    if (not isinstance(cls, type) or not issubclass(cls, base)
            or cls.__module__ != module or cls.__qualname__ != name):
        raise ValueError(f"Refusing to import {path!r}: it is not a "
                         f"{base.__qualname__} subclass defined in {module}")
    return cls


def _kwargs(card: Dict[str, Any], key: str) -> Dict[str, Any]:
    kwargs = card[key]
    if not isinstance(kwargs, dict) or not all(
            isinstance(k, str) for k in kwargs):
        raise ValueError(f"A model card's {key!r} must be an object with "
                         f"string keys (got {type(kwargs).__name__})")
    return dict(kwargs)


def load_pretrained(name: str, map_location: Optional[str] = 'cpu',
                    verify: bool = True) -> torch.nn.Module:
    r"""Returns the pretrained example model :obj:`name` in eval mode.

    The checkpoint's SHA-256 is checked against its model card and the state
    dict is loaded with :obj:`torch.load(..., weights_only=True)`.
    The card's :obj:`"class"` must be a key of :obj:`MODEL_CLASSES`, an
    explicit list of the :class:`torch.nn.Module` subclasses defined in
    :obj:`pyg_identity.models` (its :obj:`"dataset"` one of
    :obj:`DATASET_CLASSES`); any other name raises a :class:`ValueError`.

    Args:
        name (str): The checkpoint name, see :func:`available`.
        map_location (str, optional): Where to load the tensors.
            (default: :obj:`"cpu"`)
        verify (bool, optional): Whether to check the SHA-256.
            (default: :obj:`True`)
    """
    card = model_card(name)
    path = os.path.join(checkpoint_dir(), name + '.pt')
    if verify:
        digest = sha256(path)
        if digest != card['sha256']:
            raise ValueError(f"Checksum mismatch for {path}: expected "
                             f"{card['sha256']}, got {digest}")
    cls = _resolve(card['class'], 'class', MODEL_CLASSES, torch.nn.Module)
    model = cls(**_kwargs(card, 'kwargs'))
    state = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def card_dataset(card: Dict[str, Any], root: Optional[str] = None) -> Any:
    r"""Builds the fixed test split named by a model card."""
    cls = _resolve(card['dataset'], 'dataset', DATASET_CLASSES,
                   torch.utils.data.Dataset)
    kwargs = _kwargs(card, 'dataset_kwargs')
    if root is not None:
        kwargs['root'] = root
    return cls(**kwargs)


__all__ = ['load_pretrained', 'available', 'model_card', 'checkpoint_dir',
           'card_dataset', 'sha256']
