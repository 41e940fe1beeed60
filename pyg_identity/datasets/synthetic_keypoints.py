import math
from typing import Callable, Dict, Iterable, Optional, Tuple, Union

import numpy as np
import torch

from pyg_identity.datasets._base import GeneratedDataset
from pyg_identity.datasets._utils import (
    PathLike,
    build_edges,
    check_choice,
    check_float,
    check_int,
    check_range,
)
from pyg_identity.datasets.pair_data import PairData

IntOrRange = Union[int, Tuple[int, int]]


class SyntheticKeypoints(GeneratedDataset):
    r"""Synthetic graph-matching pairs of 2-D keypoint sets, generated
    offline, a controllable stand-in for the keypoint-matching benchmarks of
    the deep graph matching experiment (Sec. 4.2) of the `"Backpropagation
    through Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper.

    Every pair is generated as follows:

    1. :obj:`num_inliers` source points uniform in :math:`[0, 1]^2`, each
       with a descriptor, a random unit vector of dimension
       :obj:`feature_dim`;
    2. the target inliers are the source inliers under a random
       :obj:`warp` about the centre :math:`(0.5, 0.5)` --
       :obj:`"similarity"`: rotation :math:`\theta \sim U(-\pi/4, \pi/4)`
       and scale :math:`s \sim \log U(0.8, 1.25)`;
       :obj:`"affine"`: :math:`R(\theta)\,\mathrm{diag}(s_1, s_2)\,R(\phi)`
       with :math:`\theta, \phi \sim U(-\pi/4, \pi/4)` and
       :math:`s_1, s_2 \sim \log U(0.8, 1.25)` -- plus a translation
       :math:`U(-0.2, 0.2)^2`, plus Gaussian position noise of standard
       deviation :obj:`pos_noise`; the target descriptors are the source
       descriptors plus Gaussian noise of norm about :obj:`feat_noise`
       (per-entry standard deviation :obj:`feat_noise / sqrt(feature_dim)`),
       renormalised to unit length;
    3. :obj:`num_outliers_s` and :obj:`num_outliers_t` outliers are added to
       either side, uniform in the bounding box of that side's inliers,
       with independent random descriptors;
    4. the nodes of both sides are randomly permuted, and each side gets its
       own :obj:`edges` graph (:obj:`"knn"` or :obj:`"delaunay"`), with
       edge features :math:`[\mathbf{p}_i - \mathbf{p}_j,
       \|\mathbf{p}_i - \mathbf{p}_j\|]` for the edge :math:`(i, j)`.

    Each example is a :class:`~pyg_identity.datasets.PairData` with
    :obj:`x_s, pos_s, edge_index_s, edge_attr_s` (and :obj:`_t`) and the
    ground truth :obj:`y` (:obj:`[2, K]`, inliers only, sorted by source
    node). Every split has its own random stream derived from :obj:`seed`,
    so a split does not change when the size of another split does.

    Args:
        root (str, optional): Root directory where the dataset should be
            saved. If :obj:`None`, uses
            :func:`~pyg_identity.datasets.default_root` of
            :obj:`"synthetic_keypoints"`. (default: :obj:`None`)
        split (str, optional): :obj:`"train"`, :obj:`"val"` or
            :obj:`"test"`. (default: :obj:`"train"`)
        num_train (int, optional): The number of training pairs (at least
            one for :obj:`split="train"`). (default: :obj:`1000`)
        num_val (int, optional): The number of validation pairs.
            (default: :obj:`200`)
        num_test (int, optional): The number of test pairs.
            (default: :obj:`200`)
        num_inliers (int or (int, int), optional): The number of inliers, or
            an inclusive range :obj:`(low, high)` to draw it from per pair
            (ragged pairs). (default: :obj:`(10, 20)`)
        num_outliers_s (int or (int, int), optional): The number (or
            range) of source outliers. (default: :obj:`0`)
        num_outliers_t (int or (int, int), optional): The number (or
            range) of target outliers. (default: :obj:`0`)
        feature_dim (int, optional): The descriptor dimension.
            (default: :obj:`32`)
        pos_noise (float, optional): The standard deviation of the target
            position noise (the point cloud spans the unit square).
            (default: :obj:`0.02`)
        feat_noise (float, optional): The norm of the target descriptor
            noise, relative to the unit-length descriptors.
            (default: :obj:`0.5`)
        warp (str, optional): The source-to-target transformation,
            :obj:`"similarity"` or :obj:`"affine"`. (default:
            :obj:`"similarity"`)
        edges (str, optional): :obj:`"knn"` or :obj:`"delaunay"`.
            (default: :obj:`"delaunay"`)
        k (int, optional): The number of neighbours for
            :obj:`edges="knn"`. (default: :obj:`8`)
        seed (int, optional): The random seed. (default: :obj:`0`)
        transform (callable, optional): A function/transform that takes in a
            :class:`~pyg_identity.datasets.PairData` object and returns a
            transformed version. The data object will be transformed before
            every access. (default: :obj:`None`)
        pre_transform (callable, optional): A function/transform that takes
            in a :class:`~pyg_identity.datasets.PairData` object and returns
            a transformed version. The data object will be transformed
            before being saved to disk. (default: :obj:`None`)
        pre_filter (callable, optional): A function that takes in a
            :class:`~pyg_identity.datasets.PairData` object and returns a
            boolean value, indicating whether the data object should be
            included in the final dataset. (default: :obj:`None`)
        force_reload (bool, optional): Whether to re-process the dataset.
            (default: :obj:`False`)
        log (bool, optional): Whether to show a progress bar while
            generating. (default: :obj:`True`)

    **STATS:** (default arguments)

    .. list-table::
        :widths: 10 10 10 10 10 10
        :header-rows: 1

        * - Split
          - #pairs
          - #nodes per graph
          - #edges per graph
          - #node features
          - #edge features
        * - train
          - 1,000
          - 10--20 (~15)
          - ~70
          - 32
          - 3
        * - val
          - 200
          - 10--20 (~15)
          - ~70
          - 32
          - 3
        * - test
          - 200
          - 10--20 (~15)
          - ~70
          - 32
          - 3
    """

    _folder = 'synthetic_keypoints'
    # The split size is also `num_pairs` (its name in the hash).
    _size_key = 'num_pairs'
    num_pairs = GeneratedDataset.num_examples
    _data_cls = PairData
    _noun = 'pair'
    warps = ('similarity', 'affine')
    edge_types = ('knn', 'delaunay')

    def __init__(
        self,
        root: Optional[PathLike] = None,
        split: str = 'train',
        num_train: int = 1000,
        num_val: int = 200,
        num_test: int = 200,
        num_inliers: IntOrRange = (10, 20),
        num_outliers_s: IntOrRange = 0,
        num_outliers_t: IntOrRange = 0,
        feature_dim: int = 32,
        pos_noise: float = 0.02,
        feat_noise: float = 0.5,
        warp: str = 'similarity',
        edges: str = 'delaunay',
        k: int = 8,
        seed: int = 0,
        transform: Optional[Callable] = None,
        pre_transform: Optional[Callable] = None,
        pre_filter: Optional[Callable] = None,
        force_reload: bool = False,
        log: bool = True,
    ) -> None:
        self.num_inliers = check_range('num_inliers', num_inliers, 1)
        self.num_outliers_s = check_range('num_outliers_s', num_outliers_s)
        self.num_outliers_t = check_range('num_outliers_t', num_outliers_t)
        self.feature_dim = check_int('feature_dim', feature_dim, 1)
        self.pos_noise = check_float('pos_noise', pos_noise)
        self.feat_noise = check_float('feat_noise', feat_noise)
        self.warp = check_choice('warp', warp, self.warps)
        self.edges = check_choice('edges', edges, self.edge_types)
        self.k = check_int('k', k, 1)
        super().__init__(root, split, num_train, num_val, num_test, seed,
                         transform, pre_transform, pre_filter,
                         force_reload=force_reload, log=log)

    def _own_params(self) -> Dict[str, object]:
        return dict(
            num_inliers=self.num_inliers,
            num_outliers_s=self.num_outliers_s,
            num_outliers_t=self.num_outliers_t,
            feature_dim=self.feature_dim,
            pos_noise=self.pos_noise,
            feat_noise=self.feat_noise,
            warp=self.warp,
            edges=self.edges,
            k=self.k if self.edges == 'knn' else None,
        )

    def _generate(self) -> Iterable[PairData]:
        from tqdm import tqdm

        gen = self._rng()
        for _ in tqdm(range(self.num_pairs), desc=f'Generating {self.split}',
                      disable=not self.log, leave=False):
            yield generate_pair(
                gen, num_inliers=self.num_inliers,
                num_outliers_s=self.num_outliers_s,
                num_outliers_t=self.num_outliers_t,
                feature_dim=self.feature_dim, pos_noise=self.pos_noise,
                feat_noise=self.feat_noise, warp=self.warp, edges=self.edges,
                k=self.k)


def _draw(gen: np.random.Generator, bounds: Tuple[int, int]) -> int:
    return int(gen.integers(bounds[0], bounds[1] + 1))


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def _rotation(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def _warp_matrix(gen: np.random.Generator, warp: str) -> np.ndarray:
    angle = math.pi / 4
    log_scale = math.log(1.25)
    if warp == 'similarity':
        theta = gen.uniform(-angle, angle)
        scale = math.exp(gen.uniform(-log_scale, log_scale))
        return scale * _rotation(theta)
    theta, phi = gen.uniform(-angle, angle, size=2)
    scales = np.exp(gen.uniform(-log_scale, log_scale, size=2))
    return _rotation(theta) @ np.diag(scales) @ _rotation(phi)


def _outliers(gen: np.random.Generator, inliers: np.ndarray, num: int,
              feature_dim: int) -> Tuple[np.ndarray, np.ndarray]:
    low, high = inliers.min(axis=0), inliers.max(axis=0)
    pos = low + (high - low) * gen.uniform(size=(num, 2))
    feat = _unit(gen.standard_normal((num, feature_dim)))
    return pos, feat


def generate_pair(
    gen: np.random.Generator,
    num_inliers: Tuple[int, int] = (10, 20),
    num_outliers_s: Tuple[int, int] = (0, 0),
    num_outliers_t: Tuple[int, int] = (0, 0),
    feature_dim: int = 32,
    pos_noise: float = 0.02,
    feat_noise: float = 0.5,
    warp: str = 'similarity',
    edges: str = 'delaunay',
    k: int = 8,
) -> PairData:
    r"""Generates one :class:`SyntheticKeypoints` pair from the numpy
    generator :obj:`gen` (see the class for the meaning of the arguments;
    ranges are inclusive :obj:`(low, high)` pairs)."""
    n_in = _draw(gen, num_inliers)
    n_out_s = _draw(gen, num_outliers_s)
    n_out_t = _draw(gen, num_outliers_t)

    pos_s = gen.uniform(size=(n_in, 2))
    feat_s = _unit(gen.standard_normal((n_in, feature_dim)))

    matrix = _warp_matrix(gen, warp)
    shift = gen.uniform(-0.2, 0.2, size=2)
    pos_t = (pos_s - 0.5) @ matrix.T + 0.5 + shift
    pos_t = pos_t + pos_noise * gen.standard_normal(pos_t.shape)
    noise = gen.standard_normal(feat_s.shape) / math.sqrt(feature_dim)
    feat_t = _unit(feat_s + feat_noise * noise)

    out_pos_s, out_feat_s = _outliers(gen, pos_s, n_out_s, feature_dim)
    out_pos_t, out_feat_t = _outliers(gen, pos_t, n_out_t, feature_dim)
    pos_s = np.concatenate([pos_s, out_pos_s])
    feat_s = np.concatenate([feat_s, out_feat_s])
    pos_t = np.concatenate([pos_t, out_pos_t])
    feat_t = np.concatenate([feat_t, out_feat_t])

    # `perm[new] = old`; inlier `i` moves to position `inv[i]`.
    perm_s = gen.permutation(n_in + n_out_s)
    perm_t = gen.permutation(n_in + n_out_t)
    pos_s, feat_s = pos_s[perm_s], feat_s[perm_s]
    pos_t, feat_t = pos_t[perm_t], feat_t[perm_t]
    inv_s, inv_t = np.argsort(perm_s), np.argsort(perm_t)
    y = np.stack([inv_s[:n_in], inv_t[:n_in]])
    y = y[:, np.argsort(y[0])]

    pos_s_t = torch.from_numpy(pos_s).float()
    pos_t_t = torch.from_numpy(pos_t).float()
    edge_index_s, edge_attr_s = build_edges(pos_s_t, edges, k)
    edge_index_t, edge_attr_t = build_edges(pos_t_t, edges, k)
    return PairData(
        x_s=torch.from_numpy(feat_s).float(),
        pos_s=pos_s_t,
        edge_index_s=edge_index_s,
        edge_attr_s=edge_attr_s,
        x_t=torch.from_numpy(feat_t).float(),
        pos_t=pos_t_t,
        edge_index_t=edge_index_t,
        edge_attr_t=edge_attr_t,
        y=torch.from_numpy(y).long(),
    )
