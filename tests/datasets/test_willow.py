r"""The image -> keypoint-feature path on real pixels: two Willow-ObjectClass
duck images with 10 annotated keypoints each."""
import os
import os.path as osp
from typing import List, Tuple

import numpy as np
import pytest
import torch
from scipy.io import loadmat
from torch import Tensor

from pyg_identity.datasets.pascal_voc import (
    KEYPOINT_NAMES,
    PascalVOCKeypoints,
    keypoint_features,
)

Image = pytest.importorskip('PIL.Image')
ImageFilter = pytest.importorskip('PIL.ImageFilter')

DUCKS = ('willow_duck_0001', 'willow_duck_0002')
NAMES = KEYPOINT_NAMES['bird'][:10]  # stand-ins for the 10 duck keypoints
MARGIN = 30.0


def load(shared_data: str, name: str) -> Tuple['Image.Image', np.ndarray]:
    folder = osp.join(shared_data, 'willow')
    with Image.open(osp.join(folder, f'{name}.png')) as img:
        image = img.convert('RGB')
    pts = loadmat(osp.join(folder, f'{name}.mat'))['pts_coord']
    assert pts.shape == (2, 10)
    return image, pts.T.astype(np.float64)  # [10, 2] as (x, y)


def to_tensor(image: 'Image.Image') -> Tensor:
    array = np.asarray(image, dtype=np.float32) / 255
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def bounds(pts: np.ndarray, size: Tuple[int, int]) -> Tuple[float, ...]:
    xmin, ymin = np.maximum(pts.min(0) - MARGIN, 0)
    xmax = min(pts[:, 0].max() + MARGIN, size[0])
    ymax = min(pts[:, 1].max() + MARGIN, size[1])
    return float(xmin), float(ymin), float(xmax - xmin), float(ymax - ymin)


def identity(image: Tensor) -> List[Tensor]:
    return [image]


def bilinear(array: np.ndarray, x: float, y: float) -> np.ndarray:
    # Pixel (i, j) covers [j, j + 1) x [i, i + 1); its centre is sampled.
    x, y = x - 0.5, y - 0.5
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    dx, dy = x - x0, y - y0
    return (array[y0, x0] * (1 - dx) * (1 - dy) + array[y0, x0 + 1] * dx *
            (1 - dy) + array[y0 + 1, x0] * (1 - dx) * dy +
            array[y0 + 1, x0 + 1] * dx * dy)


@pytest.mark.parametrize('name', DUCKS)
def test_keypoint_features_sample_the_pixels(shared_data, name: str) -> None:
    image, pts = load(shared_data, name)
    out = keypoint_features(to_tensor(image), torch.from_numpy(pts).float(),
                            identity, normalize=False)
    assert out.shape == (10, 3)
    array = np.asarray(image, dtype=np.float64) / 255
    expected = np.stack([bilinear(array, x, y) for x, y in pts])
    assert np.abs(out.double().numpy() - expected).max() < 1e-5


@pytest.mark.parametrize('name', DUCKS)
def test_crop_and_rescale_preserve_the_keypoints(shared_data,
                                                 name: str) -> None:
    # On a smoothed image, the colour at a keypoint survives the crop to the
    # bounds, the resize to 256 x 256 and the rescaling of the keypoint;
    # a rescaling error of 15 pixels would not.
    image, pts = load(shared_data, name)
    blurred = image.filter(ImageFilter.GaussianBlur(max(image.size) / 40))
    xmin, ymin, w, h = bounds(pts, image.size)
    crop = blurred.resize((256, 256), Image.Resampling.BICUBIC,
                          box=(xmin, ymin, xmin + w, ymin + h))
    scale = np.array([256 / w, 256 / h])
    before = keypoint_features(to_tensor(blurred),
                               torch.from_numpy(pts).float(), identity,
                               normalize=False)
    rescaled = (pts - [xmin, ymin]) * scale
    after = keypoint_features(to_tensor(crop),
                              torch.from_numpy(rescaled).float(), identity,
                              normalize=False)
    assert float((before - after).abs().mean()) < 0.005
    shifted = (pts - [xmin, ymin] + [15, 0]) * scale
    wrong = keypoint_features(to_tensor(crop),
                              torch.from_numpy(shifted).float(), identity,
                              normalize=False)
    assert float((before - wrong).abs().mean()) > 0.01


class ConvBackbone(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.conv1 = torch.nn.Conv2d(3, 8, kernel_size=8, stride=8)
        self.conv2 = torch.nn.Conv2d(8, 8, kernel_size=2, stride=2)
        with torch.no_grad():
            for param in self.parameters():
                param.copy_(torch.randn(param.shape, generator=gen))

    def forward(self, image: Tensor) -> List[Tensor]:
        a = self.conv1(image).relu()
        return [a, self.conv2(a).relu()]


def write_willow_tree(shared_data: str, raw: str) -> List[Tuple]:
    r"""Lays the two ducks out as a Pascal VOC tree (category "bird")."""
    for sub in ('JPEGImages', 'Annotations', 'annotations/bird'):
        os.makedirs(osp.join(raw, sub), exist_ok=True)
    entries, out = [], []
    for i, duck in enumerate(DUCKS):
        image, pts = load(shared_data, duck)
        stem = f'2008_00000{i + 1}'
        image.save(osp.join(raw, 'JPEGImages', f'{stem}.jpg'), quality=95)
        with open(osp.join(raw, 'Annotations', f'{stem}.xml'), 'w') as f:
            f.write('<annotation><object><name>bird</name><truncated>0'
                    '</truncated><occluded>0</occluded><difficult>0'
                    '</difficult></object></annotation>')
        xmin, ymin, w, h = bounds(pts, image.size)
        out.append((pts, (xmin, ymin, w, h)))
        kps = ''.join(f'<keypoint name="{n}" visible="1" x="{x:.4f}" '
                      f'y="{y:.4f}" z="0"/>' for n, (x, y) in zip(NAMES, pts))
        with open(osp.join(raw, 'annotations', 'bird', f'{stem}_1.xml'),
                  'w') as f:
            f.write(f'<annotation><image>{stem}</image><voc_id>1</voc_id>'
                    f'<category>bird</category><visible_bounds '
                    f'height="{h:.4f}" width="{w:.4f}" xmin="{xmin:.4f}" '
                    f'ymin="{ymin:.4f}"/><keypoints>{kps}</keypoints>'
                    f'</annotation>')
        entries.append(f'bird/{stem}_1.xml')
    lists = {}
    for split in ('train', 'test'):
        array = np.empty(20, dtype=object)
        for c in range(20):
            bird = PascalVOCKeypoints.categories.index('bird')
            array[c] = list(entries) if (split, c) == ('train', bird) else []
        lists[split] = array
    np.savez(osp.join(raw, 'voc2011_pairs.npz'), **lists)
    return out


def test_duck_pair_through_the_pascal_pipeline(shared_data, tmp_path) -> None:
    ducks = write_willow_tree(shared_data, str(tmp_path / 'raw'))
    dataset = PascalVOCKeypoints(str(tmp_path), category='bird',
                                 backbone=ConvBackbone(), log=False)
    assert len(dataset) == 1
    data = dataset[0]
    assert data.num_nodes_s == data.num_nodes_t == data.y.size(1) == 10
    assert data.x_s.shape == (10, 16)
    assert bool(torch.isfinite(data.x_s).all())
    # Distinct keypoints get distinct features.
    assert torch.cdist(data.x_s, data.x_s).add(torch.eye(10)).min() > 0

    labels = KEYPOINT_NAMES['bird']
    for side, (p, (xmin, ymin, w, h)) in zip('st', ducks):
        expected = (p - [xmin, ymin]) * [256 / w, 256 / h]
        kp = data[f'kp_{side}']
        order = [NAMES.index(labels[k]) for k in kp.tolist()]
        assert torch.allclose(data[f'pos_{side}'].double(),
                              torch.from_numpy(expected[order]), atol=1e-3)
    # The ground truth pairs the same duck part on both images.
    assert torch.equal(data.kp_s[data.y[0]], data.kp_t[data.y[1]])
