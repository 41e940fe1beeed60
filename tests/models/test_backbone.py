r"""The image backbone of deep graph matching and the keypoint feature
sampling (moved from :mod:`pyg_identity.datasets.pascal_voc`)."""
import builtins
from typing import Any, List, Tuple

import pytest
import torch
from torch import Tensor

from pyg_identity.models.backbone import (
    VGG16Backbone,
    _vgg16_slices,
    keypoint_features,
)


class TinyBackbone(torch.nn.Module):
    r"""A fixed random two-map backbone with VGG's strides (8 and 16)."""
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.conv1 = torch.nn.Conv2d(3, 4, kernel_size=8, stride=8)
        self.conv2 = torch.nn.Conv2d(4, 6, kernel_size=2, stride=2)
        with torch.no_grad():
            for param in self.parameters():
                param.copy_(torch.randn(param.shape, generator=gen))

    def forward(self, image: Tensor) -> List[Tensor]:
        a = self.conv1(image).relu()
        return [a, self.conv2(a).relu()]


def test_keypoint_features_rejects_bad_input() -> None:
    image, pos = torch.rand(3, 32, 32), torch.rand(4, 2) * 32
    backbone = TinyBackbone()
    with pytest.raises(ValueError, match="'image'"):
        keypoint_features(torch.rand(32, 32), pos, backbone)
    with pytest.raises(ValueError, match="'image'"):
        keypoint_features(torch.rand(2, 3, 32, 32), pos, backbone)
    with pytest.raises(ValueError, match="'pos'"):
        keypoint_features(image, torch.rand(4, 3), backbone)
    with pytest.raises(ValueError, match="'backbone'"):
        keypoint_features(image, pos, None)  # type: ignore


def test_keypoint_features_bilinear_at_pixel_centres() -> None:
    fmap = torch.arange(2 * 4 * 4, dtype=torch.float).view(1, 2, 4, 4)
    image = torch.rand(3, 16, 16)  # stride 4: pixel centre (i + .5) * 4
    pos = torch.tensor([[2.0, 2.0], [6.0, 10.0], [4.0, 2.0], [0.0, 0.0]])
    out = keypoint_features(image, pos, lambda _: fmap, normalize=False)
    assert out.shape == (4, 2)
    assert out[0].tolist() == [0.0, 16.0]  # fmap[:, 0, 0]
    assert out[1].tolist() == [9.0, 25.0]  # fmap[:, 2, 1]
    assert out[2].tolist() == [0.5, 16.5]  # between columns 0 and 1
    assert out[3].tolist() == [0.0, 16.0]  # clamped at the border
    normalized = keypoint_features(image, pos[:2], lambda _: fmap)
    assert torch.allclose(normalized.norm(dim=-1), torch.ones(2))


def vgg_features(batch_norm: bool) -> torch.nn.Sequential:
    layers: List[torch.nn.Module] = []
    channels = 3
    for width in [4, 4, 'M', 4, 4, 'M', 4, 4, 4, 'M', 4, 4, 4, 'M', 4, 4, 4,
                  'M']:
        if width == 'M':
            layers.append(torch.nn.MaxPool2d(2))
            continue
        layers.append(torch.nn.Conv2d(channels, int(width), 3, padding=1))
        if batch_norm:
            layers.append(torch.nn.BatchNorm2d(int(width)))
        layers.append(torch.nn.ReLU(inplace=True))
        channels = int(width)
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize('batch_norm,cuts', [(False, (21, 26)),
                                             (True, (30, 37))])
def test_vgg16_slices_at_relu4_2_and_relu5_1(batch_norm: bool,
                                             cuts: Tuple[int, int]) -> None:
    node, edge = _vgg16_slices(vgg_features(batch_norm))
    assert len(node) == cuts[0] and len(node) + len(edge) == cuts[1]
    assert isinstance(node[-1], torch.nn.ReLU)
    assert isinstance(edge[-1], torch.nn.ReLU)
    convs = [m for m in node if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 9
    out = edge(node(torch.rand(1, 3, 64, 64)))
    assert out.shape == (1, 4, 4, 4)  # stride 16


def test_vgg16_slices_reject_other_networks() -> None:
    with pytest.raises(ValueError, match='VGG16'):
        _vgg16_slices(torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1)))


def test_keypoint_features_concatenates_the_maps() -> None:
    maps = [torch.randn(1, 4, 4, 4), torch.randn(1, 6, 2, 2)]
    pos = torch.tensor([[4.0, 4.0], [12.0, 20.0], [28.0, 28.0]])  # centres
    out = keypoint_features(torch.rand(3, 32, 32), pos, lambda _: maps)
    assert out.shape == (3, 4 + 6)
    assert torch.allclose(out[:, :4].norm(dim=-1), torch.ones(3))
    assert keypoint_features(torch.rand(3, 32, 32), pos,
                             TinyBackbone()).shape == (3, 4 + 6)


def test_vgg16_names_the_extra_without_torchvision(monkeypatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith('torchvision'):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', fake_import)
    with pytest.raises(ImportError, match=r'pyg_identity\[vision\]'):
        VGG16Backbone(pretrained=False)
