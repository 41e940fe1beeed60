r"""The image backbone of deep graph matching and the sampling of its feature
maps at keypoints (node features of
:class:`~pyg_identity.datasets.PascalVOCKeypoints`)."""
import os
import os.path as osp
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    cast,
)

import torch
import torch.nn.functional as F
from torch import Tensor

Backbone = Callable[[Tensor], Union[Tensor, Sequence[Tensor]]]

# Pillow reads the Pascal VOC images; the backbone itself is plain torch.
VISION_EXTRA = 'pip install pyg_identity[vision]'

# torchvision's VGG16 configuration "D": output channels of the 13 3x3
# convolutions, 'M' a 2x2 max-pool.
VGG16_CFG: List[Union[int, str]] = [
    64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M',
    512, 512, 512, 'M'
]

# torchvision's ImageNet weights (IMAGENET1K_V1), by batch_norm; the hex
# suffix is the prefix of the file's SHA-256, checked on download.
VGG16_URLS: Dict[bool, str] = {
    True: 'https://download.pytorch.org/models/vgg16_bn-6c64b313.pth',
    False: 'https://download.pytorch.org/models/vgg16-397923af.pth',
}

Weights = Union[str, 'os.PathLike[str]', Mapping[str, Tensor],
                torch.nn.Module]


def _feature_maps(out: Union[Tensor, Sequence[Tensor]]) -> List[Tensor]:
    maps = [out] if isinstance(out, Tensor) else list(out)
    if len(maps) == 0:
        raise ValueError("'backbone' returned no feature map")
    for fmap in maps:
        if not isinstance(fmap, Tensor) or fmap.dim() != 4:
            raise ValueError(
                f"'backbone' must return a tensor or a list of tensors of "
                f"shape [1, C, h, w] (got "
                f"{getattr(fmap, 'shape', type(fmap))})")
    return maps


def keypoint_features(image: Tensor, pos: Tensor, backbone: Backbone,
                      normalize: bool = True) -> Tensor:
    r"""Samples the feature maps of an image backbone at keypoint positions,
    as the node features of the deep graph matching pipeline of the
    `"Deep Graph Matching via Blackbox Differentiation of Combinatorial
    Solvers" <https://arxiv.org/abs/2003.11657>`_ paper (BB-GM).

    The :obj:`backbone` maps the image :obj:`[1, 3, H, W]` to one or several
    feature maps :obj:`[1, C_i, h_i, w_i]`; each is (optionally) normalised
    to unit L2 norm over channels and sampled bilinearly at :obj:`pos`, with
    pixel-centre alignment (a keypoint at image coordinate :math:`x`
    reads feature column :math:`x\,w_i/W - 1/2`) and border clamping;
    the samples are concatenated over maps.

    Args:
        image (torch.Tensor): The image :obj:`[3, H, W]` or
            :obj:`[1, 3, H, W]`, in whatever value range the backbone
            expects (:class:`VGG16Backbone` takes :math:`[0, 1]`).
        pos (torch.Tensor): Keypoint positions :obj:`[N, 2]` as
            :obj:`(x, y)` pixel coordinates of :obj:`image`.
        backbone (callable): Image tensor to a feature map or a list of
            feature maps.
        normalize (bool, optional): If set, L2-normalises every feature map
            over its channels before sampling, as BB-GM does.
            (default: :obj:`True`)

    Returns:
        A tensor :obj:`[N, sum_i C_i]`.
    """
    if not isinstance(image, Tensor) or image.dim() not in (3, 4) or (
            image.dim() == 4 and image.size(0) != 1) or image.size(-3) != 3:
        raise ValueError(f"'image' must be a tensor of shape [3, H, W] or "
                         f"[1, 3, H, W] (got "
                         f"{getattr(image, 'shape', type(image))})")
    if not isinstance(pos, Tensor) or pos.dim() != 2 or pos.size(1) != 2:
        raise ValueError(f"'pos' must be a tensor of shape [N, 2] (got "
                         f"{getattr(pos, 'shape', type(pos))})")
    if not callable(backbone):
        raise ValueError(f"'backbone' must be callable (got {backbone!r})")
    if image.dim() == 3:
        image = image.unsqueeze(0)
    height, width = image.shape[-2:]
    maps = _feature_maps(backbone(image))

    scale = torch.tensor([width, height], dtype=maps[0].dtype,
                         device=maps[0].device)
    grid = pos.to(maps[0].device, maps[0].dtype) / scale * 2 - 1
    grid = grid.view(1, 1, -1, 2)
    out = []
    for fmap in maps:
        if normalize:
            fmap = F.normalize(fmap, p=2.0, dim=1)
        sample = F.grid_sample(fmap, grid.to(fmap.dtype), mode='bilinear',
                               padding_mode='border', align_corners=False)
        out.append(sample[0, :, 0].t())  # [N, C_i]
    return torch.cat(out, dim=-1)


def _vgg16_features(batch_norm: bool) -> torch.nn.Sequential:
    r"""The convolutional stack of VGG16, module for module as
    :obj:`torchvision.models.vgg16_bn().features` (or :obj:`vgg16()`), so
    that the state-dict keys :obj:`<i>.weight`, :obj:`<i>.running_mean`,
    ... coincide."""
    layers: List[torch.nn.Module] = []
    in_channels = 3
    for width in VGG16_CFG:
        if width == 'M':
            layers.append(torch.nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out_channels = int(width)
        layers.append(
            torch.nn.Conv2d(in_channels, out_channels, kernel_size=3,
                            padding=1))
        if batch_norm:
            layers.append(torch.nn.BatchNorm2d(out_channels))
        layers.append(torch.nn.ReLU(inplace=True))
        in_channels = out_channels
    return torch.nn.Sequential(*layers)


def _vgg16_cuts(features: torch.nn.Sequential) -> Tuple[int, int]:
    r"""The indices right after :obj:`relu4_2` and after :obj:`relu5_1` in a
    VGG16 :obj:`features` stack (with or without batch normalisation)."""
    block, conv = 1, 0
    cut_4_2 = cut_5_1 = None
    for i, module in enumerate(features.children()):
        if isinstance(module, torch.nn.Conv2d):
            conv += 1
        elif isinstance(module, torch.nn.MaxPool2d):
            block, conv = block + 1, 0
        elif isinstance(module, torch.nn.ReLU):
            if (block, conv) == (4, 2) and cut_4_2 is None:
                cut_4_2 = i + 1
            elif (block, conv) == (5, 1) and cut_5_1 is None:
                cut_5_1 = i + 1
    if cut_4_2 is None or cut_5_1 is None:
        raise ValueError("'features' is not a VGG16 feature stack (no "
                         "relu4_2 / relu5_1 found)")
    return cut_4_2, cut_5_1


def _vgg16_slices(
        features: torch.nn.Sequential
) -> Tuple[torch.nn.Sequential, torch.nn.Sequential]:
    r"""Cuts a VGG16 :obj:`features` stack after :obj:`relu4_2` and after
    :obj:`relu5_1` (works with and without batch normalisation)."""
    cut_4_2, cut_5_1 = _vgg16_cuts(features)
    modules = list(features.children())
    return (torch.nn.Sequential(*modules[:cut_4_2]),
            torch.nn.Sequential(*modules[cut_4_2:cut_5_1]))


def vgg16_weights_path(batch_norm: bool = True) -> str:
    r"""The local path of torchvision's ImageNet VGG16 weights in the
    :obj:`torch.hub` cache (:obj:`$TORCH_HOME/hub/checkpoints/`), where
    :obj:`VGG16Backbone(weights="download")` (and torchvision) keep them.
    The file may not exist.

    Args:
        batch_norm (bool, optional): VGG16 with batch normalisation
            (:obj:`vgg16_bn-6c64b313.pth`) or without
            (:obj:`vgg16-397923af.pth`). (default: :obj:`True`)
    """
    url = VGG16_URLS[bool(batch_norm)]
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(url))


def _read_weights(weights: Weights, batch_norm: bool,
                  progress: bool) -> Tuple[Mapping[str, Any], str]:
    r"""The state dict named by :obj:`weights` and a short description of
    its source."""
    if isinstance(weights, torch.nn.Module):
        return weights.state_dict(), type(weights).__name__
    if isinstance(weights, Mapping):
        return weights, 'state_dict'
    if isinstance(weights, (str, os.PathLike)):
        if str(weights) == 'download':
            state = torch.hub.load_state_dict_from_url(
                VGG16_URLS[batch_norm], map_location='cpu',
                progress=progress, check_hash=True, weights_only=True)
            return state, 'download'
        path = os.fspath(weights)
        if not osp.isfile(path):
            raise ValueError(f"'weights' must be 'download', a state dict, "
                             f"a module or the path of a state-dict file "
                             f"(no file at {path!r})")
        state = torch.load(path, map_location='cpu', weights_only=True)
        if not isinstance(state, Mapping):
            raise ValueError(f"'weights' file {path!r} does not hold a "
                             f"state dict (got {type(state).__name__})")
        return state, path
    raise ValueError(f"'weights' must be None, 'download', a state dict, a "
                     f"module or the path of a state-dict file (got "
                     f"{type(weights).__name__})")


class VGG16Backbone(torch.nn.Module):
    r"""The VGG16 image backbone of BB-GM
    (`"Deep Graph Matching via Blackbox Differentiation of Combinatorial
    Solvers" <https://arxiv.org/abs/2003.11657>`_), written in plain
    :mod:`torch`: it returns the :obj:`relu4_2` and :obj:`relu5_1` feature
    maps (512 channels each, at strides 8 and 16) of an image in
    :math:`[0, 1]`, which it normalises with the ImageNet mean and standard
    deviation.

    :obj:`features` is the convolutional stack of
    :obj:`torchvision.models.vgg16_bn` (or :obj:`vgg16`) module for module
    (13 :math:`3 \times 3` convolutions, each followed by batch
    normalisation and a ReLU, and 5 max-pools), so torchvision's ImageNet
    weights load as they are: the keys :obj:`features.<i>.weight`,
    :obj:`features.<i>.bias`, :obj:`features.<i>.running_mean`,
    :obj:`features.<i>.running_var` (and, if present,
    :obj:`features.<i>.num_batches_tracked`) of torchvision's state dict;
    its :obj:`classifier.*` keys are ignored. The layers after
    :obj:`relu5_1` are loaded but not used, and do not require gradients.
    torchvision is never imported.

    Without :obj:`weights` the layers keep PyTorch's random
    initialisation (useful for tests, not for features). Nothing is
    downloaded unless :obj:`weights="download"`. Where the weights came
    from is kept as :obj:`weights` (the path, :obj:`"download"`,
    :obj:`"state_dict"`, the module's class name, or :obj:`None`). The
    module is put in evaluation mode (batch normalisation with the running
    statistics).

    Args:
        batch_norm (bool, optional): Whether to use VGG16 with batch
            normalisation (:obj:`vgg16_bn`), as BB-GM does.
            (default: :obj:`True`)
        weights (str or dict or torch.nn.Module, optional): The weights:
            the path of a file holding a torchvision-format state dict
            (*e.g.*, :obj:`vgg16_bn-6c64b313.pth`), such a state dict, a
            torchvision VGG16 model whose :meth:`state_dict` is read, or
            :obj:`"download"` to fetch torchvision's ImageNet weights with
            :func:`torch.hub.load_state_dict_from_url` (about 530 MB, kept
            at :func:`vgg16_weights_path` and read from there afterwards).
            :obj:`None` keeps the random initialisation.
            (default: :obj:`None`)
        progress (bool, optional): Whether to show a progress bar while
            downloading. (default: :obj:`True`)

    Shapes:
        - **input:** image :math:`(B, 3, H, W)` in :math:`[0, 1]`
        - **output:** a list of :math:`(B, 512, \lfloor H/8 \rfloor,
          \lfloor W/8 \rfloor)` (:obj:`relu4_2`) and :math:`(B, 512,
          \lfloor H/16 \rfloor, \lfloor W/16 \rfloor)` (:obj:`relu5_1`)
    """
    mean: Tensor
    std: Tensor

    def __init__(self, batch_norm: bool = True,
                 weights: Optional[Weights] = None,
                 progress: bool = True) -> None:
        super().__init__()
        self.batch_norm = bool(batch_norm)
        self.features = _vgg16_features(self.batch_norm)
        self._cuts = _vgg16_cuts(self.features)
        for module in list(self.features.children())[self._cuts[1]:]:
            module.requires_grad_(False)
        # Constants, not state: the state dict is torchvision's.
        self.register_buffer(
            'mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1),
            persistent=False)
        self.register_buffer(
            'std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1),
            persistent=False)
        self.weights: Optional[str] = None
        if weights is not None:
            state, source = _read_weights(weights, self.batch_norm,
                                          bool(progress))
            self.load_torchvision_state_dict(state)
            self.weights = source
        self.eval()

    @property
    def pretrained(self) -> bool:
        r"""Whether weights were loaded (else the layers are random)."""
        return self.weights is not None

    def load_torchvision_state_dict(self, state: Mapping[str, Any]) -> None:
        r"""Copies the :obj:`features.*` entries of a torchvision VGG16
        state dict into :obj:`features`; :obj:`classifier.*` entries are
        ignored.

        Raises a :class:`ValueError` naming the key if an entry is missing
        (a missing :obj:`num_batches_tracked`, absent from torchvision's
        file, is left as is), has the wrong shape, or is neither a
        :obj:`features.*` nor a :obj:`classifier.*` entry.

        Args:
            state (dict): The state dict, with torchvision's key names.
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"'state' must be a state dict (got "
                             f"{type(state).__name__})")
        name = 'vgg16_bn' if self.batch_norm else 'vgg16'
        own = self.features.state_dict()
        for key in state:
            if not isinstance(key, str) or not (
                    key.startswith('classifier.') or
                    key.startswith('features.')):
                raise ValueError(f"'weights' holds {key!r}, which is not a "
                                 f"key of torchvision's {name}")
            if key.startswith('features.') and key[9:] not in own:
                raise ValueError(f"'weights' holds {key!r}, which is not a "
                                 f"key of torchvision's {name}.features "
                                 f"(batch_norm={self.batch_norm})")
        new = {}
        for sub, target in own.items():
            key = f'features.{sub}'
            if key not in state:
                if sub.endswith('num_batches_tracked'):
                    new[sub] = target
                    continue
                raise ValueError(f"'weights' has no {key!r} (not a "
                                 f"torchvision {name} state dict?)")
            value = state[key]
            if not isinstance(value, Tensor) or value.shape != target.shape:
                raise ValueError(
                    f"'weights' entry {key!r} must have shape "
                    f"{list(target.shape)} (got "
                    f"{list(getattr(value, 'shape', [])) or type(value)})")
            new[sub] = value
        self.features.load_state_dict(new)

    @property
    def node_layers(self) -> torch.nn.Sequential:
        r"""The layers up to :obj:`relu4_2` (a view of :obj:`features`)."""
        return cast(torch.nn.Sequential, self.features[:self._cuts[0]])

    @property
    def edge_layers(self) -> torch.nn.Sequential:
        r"""The layers from :obj:`relu4_2` to :obj:`relu5_1` (a view of
        :obj:`features`)."""
        return cast(torch.nn.Sequential,
                    self.features[self._cuts[0]:self._cuts[1]])

    def forward(self, image: Tensor) -> List[Tensor]:
        x = (image - self.mean) / self.std
        relu4_2 = self.node_layers(x)
        relu5_1 = self.edge_layers(relu4_2)
        return [relu4_2, relu5_1]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(batch_norm={self.batch_norm}, '
                f'pretrained={self.pretrained})')


__all__ = ['VGG16Backbone', 'keypoint_features', 'vgg16_weights_path']
