r"""The image backbone of deep graph matching and the sampling of its feature
maps at keypoints (node features of
:class:`~pyg_identity.datasets.PascalVOCKeypoints`)."""
from typing import Callable, List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

Backbone = Callable[[Tensor], Union[Tensor, Sequence[Tensor]]]

VISION_EXTRA = 'pip install pyg_identity[vision]'


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


def _vgg16_slices(
        features: torch.nn.Sequential
) -> Tuple[torch.nn.Sequential, torch.nn.Sequential]:
    r"""Cuts a VGG16 :obj:`features` stack after :obj:`relu4_2` and after
    :obj:`relu5_1` (works with and without batch normalisation)."""
    block, conv = 1, 0
    modules = list(features.children())
    cut_4_2 = cut_5_1 = None
    for i, module in enumerate(modules):
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
    return (torch.nn.Sequential(*modules[:cut_4_2]),
            torch.nn.Sequential(*modules[cut_4_2:cut_5_1]))


class VGG16Backbone(torch.nn.Module):
    r"""The ImageNet-pretrained VGG16 image backbone of BB-GM
    (`"Deep Graph Matching via Blackbox Differentiation of Combinatorial
    Solvers" <https://arxiv.org/abs/2003.11657>`_): it returns the
    :obj:`relu4_2` and :obj:`relu5_1` feature maps (512 channels each, at
    strides 8 and 16) of an image in :math:`[0, 1]`, which it normalises
    with the ImageNet mean and standard deviation.

    Requires :obj:`torchvision` (:obj:`pip install pyg_identity[vision]`);
    with :obj:`pretrained=True`, torchvision downloads the ImageNet weights
    to its cache on first use.

    Args:
        batch_norm (bool, optional): Whether to use VGG16 with batch
            normalisation, as BB-GM does. (default: :obj:`True`)
        pretrained (bool, optional): Whether to load the ImageNet weights.
            (default: :obj:`True`)
    """
    mean: Tensor
    std: Tensor

    def __init__(self, batch_norm: bool = True,
                 pretrained: bool = True) -> None:
        super().__init__()
        try:
            import torchvision.models as models
        except ImportError as e:
            raise ImportError(
                f"'VGG16Backbone' requires torchvision; install it with "
                f"`{VISION_EXTRA}`, or pass your own 'backbone='") from e
        self.batch_norm = batch_norm
        self.pretrained = pretrained
        weights = 'DEFAULT' if pretrained else None
        if batch_norm:
            vgg = models.vgg16_bn(weights=weights)
        else:
            vgg = models.vgg16(weights=weights)
        self.node_layers, self.edge_layers = _vgg16_slices(vgg.features)
        self.register_buffer(
            'mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer(
            'std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.eval()

    def forward(self, image: Tensor) -> List[Tensor]:
        x = (image - self.mean) / self.std
        relu4_2 = self.node_layers(x)
        relu5_1 = self.edge_layers(relu4_2)
        return [relu4_2, relu5_1]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(batch_norm={self.batch_norm}, '
                f'pretrained={self.pretrained})')


__all__ = ['VGG16Backbone', 'keypoint_features']
