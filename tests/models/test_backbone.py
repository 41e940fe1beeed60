r"""The image backbone of deep graph matching (a plain-torch VGG16 that
loads torchvision-format weights) and the keypoint feature sampling."""
import builtins
import math
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Tuple

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from pyg_identity.models.backbone import (
    VGG16_URLS,
    VGG16Backbone,
    _vgg16_slices,
    keypoint_features,
    vgg16_weights_path,
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


# A torchvision-format VGG16 state dict, built by hand ######################
# torchvision's vgg16_bn().features: per 3x3 conv (index i) a BatchNorm2d
# (i + 1) and a ReLU (i + 2); a MaxPool2d after each block. vgg16(): conv,
# ReLU. The channels of configuration "D":
BLOCKS = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512],
          [512, 512, 512]]


def torchvision_layout(batch_norm: bool) -> List[Tuple[int, int, int]]:
    r"""(conv index, in channels, out channels) of the 13 convolutions."""
    out, index, channels = [], 0, 3
    for block in BLOCKS:
        for width in block:
            out.append((index, channels, width))
            index += 3 if batch_norm else 2
            channels = width
        index += 1  # max-pool
    return out


def torchvision_state_dict(batch_norm: bool = True, seed: int = 0,
                           classifier: bool = False,
                           num_batches_tracked: bool = True
                           ) -> Dict[str, Tensor]:
    r"""Random values with the key names and shapes of torchvision's
    :obj:`vgg16_bn` (:obj:`vgg16`) state dict; He-scaled so activations stay
    of order one. The classifier entries (ignored by the backbone) are
    small stand-ins, not torchvision's 25088 x 4096 matrices."""
    gen = torch.Generator().manual_seed(seed)
    state: Dict[str, Tensor] = OrderedDict()
    for i, c_in, c_out in torchvision_layout(batch_norm):
        state[f'features.{i}.weight'] = torch.randn(
            c_out, c_in, 3, 3, generator=gen) * math.sqrt(2 / (9 * c_in))
        state[f'features.{i}.bias'] = 0.1 * torch.randn(c_out, generator=gen)
        if batch_norm:
            j = i + 1
            state[f'features.{j}.weight'] = 1 + 0.1 * torch.randn(
                c_out, generator=gen)
            state[f'features.{j}.bias'] = 0.1 * torch.randn(c_out,
                                                            generator=gen)
            state[f'features.{j}.running_mean'] = 0.1 * torch.randn(
                c_out, generator=gen)
            state[f'features.{j}.running_var'] = 0.5 + torch.rand(
                c_out, generator=gen)
            if num_batches_tracked:
                state[f'features.{j}.num_batches_tracked'] = torch.tensor(7)
    if classifier:
        for k in (0, 3, 6):
            state[f'classifier.{k}.weight'] = torch.zeros(4, 8)
            state[f'classifier.{k}.bias'] = torch.zeros(4)
    return state


def reference_features(state: Dict[str, Tensor], image: Tensor,
                       batch_norm: bool = True) -> List[Tensor]:
    r"""relu4_2 and relu5_1 computed from the state dict with functional
    ops, independently of the module."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (image - mean) / std
    layout = iter(torchvision_layout(batch_norm))
    out = []
    for b, block in enumerate(BLOCKS, start=1):
        for c in range(1, len(block) + 1):
            i = next(layout)[0]
            x = F.conv2d(x, state[f'features.{i}.weight'],
                         state[f'features.{i}.bias'], padding=1)
            if batch_norm:
                j = i + 1
                x = F.batch_norm(x, state[f'features.{j}.running_mean'],
                                 state[f'features.{j}.running_var'],
                                 state[f'features.{j}.weight'],
                                 state[f'features.{j}.bias'], training=False)
            x = x.relu()
            if (b, c) in ((4, 2), (5, 1)):
                out.append(x)
            if (b, c) == (5, 1):
                return out
        x = F.max_pool2d(x, 2, 2)
    raise AssertionError('unreachable')


@pytest.fixture(scope='module')
def tv_state() -> Dict[str, Tensor]:
    return torchvision_state_dict(classifier=True)


@pytest.mark.parametrize('batch_norm,size', [(True, 44), (False, 31)])
def test_vgg16_has_torchvision_keys_and_shapes(batch_norm: bool,
                                               size: int) -> None:
    backbone = VGG16Backbone(batch_norm=batch_norm)
    assert len(backbone.features) == size
    own = backbone.state_dict()
    ref = torchvision_state_dict(batch_norm)
    assert list(own) == list(ref)  # mean/std are not state
    for key, value in ref.items():
        assert own[key].shape == value.shape, key
    assert sum(isinstance(m, torch.nn.Conv2d)
               for m in backbone.features) == 13
    assert sum(isinstance(m, torch.nn.MaxPool2d)
               for m in backbone.features) == 5
    assert not backbone.training and not backbone.pretrained
    assert repr(backbone) == (f'VGG16Backbone(batch_norm={batch_norm}, '
                              f'pretrained=False)')


def test_vgg16_loads_a_torchvision_file(tmp_path, tv_state) -> None:
    path = str(tmp_path / 'vgg16_bn.pth')
    torch.save(tv_state, path)
    backbone = VGG16Backbone(weights=path)
    own = backbone.state_dict()
    taken = [k for k in tv_state if not k.startswith('classifier.')]
    assert sorted(own) == sorted(taken)  # every parameter and buffer
    for key in taken:
        assert torch.equal(own[key], tv_state[key]), key
    assert backbone.pretrained and backbone.weights == path
    assert repr(backbone) == 'VGG16Backbone(batch_norm=True, pretrained=True)'


def test_vgg16_features_have_the_documented_shapes(tv_state) -> None:
    backbone = VGG16Backbone(weights=tv_state)
    image = torch.rand(2, 3, 64, 48)
    with torch.no_grad():
        relu4_2, relu5_1 = backbone(image)
    assert relu4_2.shape == (2, 512, 8, 6)  # stride 8
    assert relu5_1.shape == (2, 512, 4, 3)  # stride 16
    ref = reference_features(tv_state, image)
    torch.testing.assert_close(relu4_2, ref[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(relu5_1, ref[1], rtol=1e-4, atol=1e-4)
    pos = torch.tensor([[4.0, 4.0], [40.0, 60.0], [24.0, 30.0]])
    with torch.no_grad():
        x = keypoint_features(image[:1], pos, backbone)
    assert x.shape == (3, 1024)


def test_vgg16_without_batch_norm_loads_vgg16_weights() -> None:
    state = torchvision_state_dict(batch_norm=False)
    backbone = VGG16Backbone(batch_norm=False, weights=state)
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        out = backbone(image)
    ref = reference_features(state, image, batch_norm=False)
    for a, b in zip(out, ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_vgg16_without_num_batches_tracked() -> None:
    # torchvision's vgg16_bn file predates the num_batches_tracked buffers.
    state = torchvision_state_dict(num_batches_tracked=False)
    own = VGG16Backbone(weights=state).state_dict()
    assert own['features.1.num_batches_tracked'].item() == 0
    assert torch.equal(own['features.41.running_var'],
                       state['features.41.running_var'])


def test_vgg16_reads_a_module_state_dict(tv_state) -> None:
    class TorchvisionLike(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = VGG16Backbone(weights=tv_state).features
            self.classifier = torch.nn.Sequential(torch.nn.Linear(8, 4))

    backbone = VGG16Backbone(weights=TorchvisionLike())
    assert torch.equal(backbone.state_dict()['features.40.weight'],
                       tv_state['features.40.weight'])
    assert backbone.weights == 'TorchvisionLike'


def test_vgg16_missing_key_is_named(tv_state) -> None:
    state = dict(tv_state)
    del state['features.38.running_mean']
    with pytest.raises(ValueError, match=r"'features\.38\.running_mean'"):
        VGG16Backbone(weights=state)


def test_vgg16_wrong_shape_is_named(tmp_path, tv_state) -> None:
    state = dict(tv_state)
    state['features.24.weight'] = torch.zeros(512, 256, 1, 1)
    path = str(tmp_path / 'bad.pth')
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"'features\.24\.weight' must "
                       r"have shape \[512, 256, 3, 3\]"):
        VGG16Backbone(weights=path)


def test_vgg16_unknown_keys_are_named(tv_state) -> None:
    with pytest.raises(ValueError, match="'fc.weight'"):
        VGG16Backbone(weights={**tv_state, 'fc.weight': torch.zeros(1)})
    # vgg16 (no batch norm) weights into vgg16_bn: named, not half-loaded.
    with pytest.raises(ValueError, match=r"'features\.2\.weight'"):
        VGG16Backbone(weights=torchvision_state_dict(batch_norm=False))


@pytest.mark.parametrize('weights,match', [
    (3, 'got int'),
    ('no/such/file.pth', 'no file at'),
])
def test_vgg16_bad_weights(weights: Any, match: str) -> None:
    with pytest.raises(ValueError, match=f"'weights'.*{match}"):
        VGG16Backbone(weights=weights)


def test_vgg16_file_without_a_state_dict(tmp_path) -> None:
    path = str(tmp_path / 'list.pth')
    torch.save([torch.zeros(1)], path)
    with pytest.raises(ValueError, match='does not hold a state dict'):
        VGG16Backbone(weights=path)


def test_vgg16_downloads_only_when_asked(monkeypatch, tv_state) -> None:
    calls: List[Tuple[str, Dict[str, Any]]] = []

    def fake_load(url: str, **kwargs: Any) -> Dict[str, Tensor]:
        calls.append((url, kwargs))
        if url == VGG16_URLS[False]:
            return torchvision_state_dict(batch_norm=False)
        return tv_state

    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', fake_load)
    VGG16Backbone()
    assert calls == []  # random initialisation, nothing fetched
    backbone = VGG16Backbone(weights='download', progress=False)
    assert [url for url, _ in calls] == [VGG16_URLS[True]]
    assert calls[0][1]['check_hash'] and calls[0][1]['weights_only']
    assert backbone.weights == 'download'
    assert torch.equal(backbone.state_dict()['features.0.weight'],
                       tv_state['features.0.weight'])
    VGG16Backbone(batch_norm=False, weights='download')
    assert calls[-1][0] == VGG16_URLS[False]


def test_vgg16_never_imports_torchvision(monkeypatch, tv_state) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith('torchvision'):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', fake_import)
    backbone = VGG16Backbone(weights=tv_state)
    assert len(backbone(torch.rand(1, 3, 16, 16))) == 2


def test_vgg16_layers_after_relu5_1_are_frozen() -> None:
    backbone = VGG16Backbone()
    used = list(backbone.node_layers.parameters()) + list(
        backbone.edge_layers.parameters())
    assert all(p.requires_grad for p in used)
    assert len(used) == 11 * 4  # conv1_1..conv5_1: conv and bn weight, bias
    rest = [p for p in backbone.parameters()
            if not any(p is q for q in used)]
    assert len(rest) == 2 * 4 and not any(p.requires_grad for p in rest)


def test_vgg16_weights_path_is_the_hub_cache(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    assert vgg16_weights_path() == osp.join(
        str(tmp_path), 'hub', 'checkpoints', 'vgg16_bn-6c64b313.pth')
    assert vgg16_weights_path(batch_norm=False).endswith(
        'vgg16-397923af.pth')
