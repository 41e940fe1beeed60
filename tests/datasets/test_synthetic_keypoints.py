import math
import os
import os.path as osp
from typing import Any, Dict

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from pyg_identity.datasets import _utils
from pyg_identity.datasets._utils import build_edges, default_root
from pyg_identity.datasets.pair_data import PairData
from pyg_identity.datasets.synthetic_keypoints import SyntheticKeypoints

SMALL = dict(num_train=12, num_val=4, num_test=4, log=False)


def make(root: Any, **kwargs: Any) -> SyntheticKeypoints:
    return SyntheticKeypoints(str(root), **{**SMALL, **kwargs})


def assert_same(a: PairData, b: PairData) -> None:
    assert a.keys() == b.keys()
    for key in a.keys():
        assert torch.equal(a[key], b[key]), key


# The ground truth ##########################################################


def test_pairs_are_valid_graph_matching_instances(tmp_path) -> None:
    dataset = make(tmp_path, num_outliers_s=(0, 3), num_outliers_t=2)
    assert len(dataset) == 12
    for data in dataset:
        n_s, n_t, k = data.num_nodes_s, data.num_nodes_t, data.y.size(1)
        assert 10 <= k <= 20
        assert k <= n_s <= k + 3 and n_t == k + 2
        assert data.x_s.shape == (n_s, 32) and data.x_t.shape == (n_t, 32)
        assert data.y.dtype == torch.long
        # A partial permutation: no node matched twice.
        assert data.y[0].unique().numel() == k
        assert data.y[1].unique().numel() == k
        assert bool((data.y[0].diff() > 0).all())  # sorted by source
        assert torch.allclose(data.x_s.norm(dim=-1), torch.ones(n_s))
        assert torch.allclose(data.x_t.norm(dim=-1), torch.ones(n_t))
        for side in 'st':
            edge_index = data[f'edge_index_{side}']
            assert edge_index.min() >= 0
            assert edge_index.max() < data[f'x_{side}'].size(0)


def test_noise_free_targets_are_exact_copies(tmp_path) -> None:
    dataset = make(tmp_path, pos_noise=0.0, feat_noise=0.0)
    for data in dataset:
        src, dst = data.y
        assert torch.allclose(data.x_s[src], data.x_t[dst], atol=1e-6)


def fit_linear(p: np.ndarray, q: np.ndarray) -> tuple:
    # Least squares q = p @ A.T + b.
    design = np.concatenate([p, np.ones((len(p), 1))], axis=1)
    sol, *_ = np.linalg.lstsq(design, q, rcond=None)
    residual = np.abs(design @ sol - q).max()
    return sol[:2].T, residual


@pytest.mark.parametrize('warp', ['similarity', 'affine'])
def test_targets_are_warped_sources(tmp_path, warp: str) -> None:
    dataset = make(tmp_path, warp=warp, pos_noise=0.0)
    for data in dataset:
        src, dst = data.y
        p = data.pos_s[src].double().numpy()
        q = data.pos_t[dst].double().numpy()
        matrix, residual = fit_linear(p, q)
        assert residual < 1e-5
        singular = np.linalg.svd(matrix, compute_uv=False)
        assert 0.8 - 1e-4 <= singular.min() <= singular.max() <= 1.25 + 1e-4
        if warp == 'similarity':  # A scaled rotation.
            assert singular.max() - singular.min() < 1e-4
            assert np.linalg.det(matrix) > 0


def test_affine_warps_are_not_all_similarities(tmp_path) -> None:
    dataset = make(tmp_path, warp='affine', pos_noise=0.0)
    gaps = []
    for data in dataset:
        src, dst = data.y
        matrix, _ = fit_linear(data.pos_s[src].double().numpy(),
                               data.pos_t[dst].double().numpy())
        singular = np.linalg.svd(matrix, compute_uv=False)
        gaps.append(singular.max() - singular.min())
    assert max(gaps) > 0.05


def test_noise_levels(tmp_path) -> None:
    dataset = make(tmp_path, pos_noise=0.0, feat_noise=0.5)
    cosines = torch.cat([
        (d.x_s[d.y[0]] * d.x_t[d.y[1]]).sum(-1) for d in dataset
    ])
    # Noise of norm ~0.5 on unit vectors: cos ~ 1 / sqrt(1.25) ~ 0.89.
    assert 0.8 < float(cosines.mean()) < 0.95


def test_outliers_are_unmatched(tmp_path) -> None:
    dataset = make(tmp_path, num_inliers=6, num_outliers_s=3,
                   num_outliers_t=(1, 4))
    for data in dataset:
        assert data.y.size(1) == 6
        assert data.num_nodes_s == 9
        assert 7 <= data.num_nodes_t <= 10


def test_ragged_sizes(tmp_path) -> None:
    dataset = make(tmp_path, num_inliers=(3, 8), num_train=40)
    sizes = {data.num_nodes_s for data in dataset}
    assert sizes <= set(range(3, 9)) and len(sizes) >= 3


def test_nodes_are_shuffled(tmp_path) -> None:
    dataset = make(tmp_path)
    assert any(not torch.equal(d.y[0], d.y[1]) for d in dataset)


# Edges #####################################################################


@pytest.mark.parametrize('edges', ['knn', 'delaunay'])
def test_edges_are_symmetric_without_self_loops(tmp_path, edges: str) -> None:
    dataset = make(tmp_path, edges=edges, k=4)
    for data in dataset:
        for side in 'st':
            edge_index = data[f'edge_index_{side}']
            pos = data[f'pos_{side}']
            row, col = edge_index
            assert bool((row != col).all())
            pairs = set(zip(row.tolist(), col.tolist()))
            assert pairs == {(j, i) for i, j in pairs}
            attr = data[f'edge_attr_{side}']
            assert torch.allclose(attr[:, :2], pos[row] - pos[col], atol=1e-6)
            assert torch.allclose(attr[:, 2], (pos[row] - pos[col]).norm(
                dim=-1), atol=1e-6)
            if edges == 'knn':  # Every node reaches its 4 nearest neighbours.
                degree = torch.bincount(row, minlength=pos.size(0))
                assert bool((degree >= 4).all())


def test_knn_edges_contain_the_nearest_neighbours() -> None:
    pos = torch.rand(30, 2, dtype=torch.float64)
    edge_index, _ = build_edges(pos, 'knn', k=3)
    dist = torch.cdist(pos, pos)
    dist.fill_diagonal_(math.inf)
    nearest = dist.topk(3, largest=False).indices
    pairs = set(zip(*edge_index.tolist()))
    for i in range(30):
        for j in nearest[i].tolist():
            assert (i, j) in pairs and (j, i) in pairs


def test_delaunay_edges_of_a_square() -> None:
    pos = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.1], [0.0, 1.0]])
    edge_index, edge_attr = build_edges(pos, 'delaunay')
    assert edge_index.size(1) == 10  # 4 sides + 1 diagonal, both ways
    assert edge_attr.dtype == torch.float32


@pytest.mark.parametrize('pos,num_edges', [
    (torch.zeros(0, 2), 0),
    (torch.zeros(1, 2), 0),
    (torch.tensor([[0.0, 0.0], [1.0, 0.0]]), 2),
    (torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), 6),  # collinear
])
def test_delaunay_degenerate_inputs(pos: torch.Tensor, num_edges: int) -> None:
    edge_index, edge_attr = build_edges(pos, 'delaunay')
    assert edge_index.size(1) == num_edges
    assert edge_attr.shape == (num_edges, 3)


def test_build_edges_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="'pos'"):
        build_edges(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="'edges'"):
        build_edges(torch.zeros(4, 2), 'radius')
    with pytest.raises(ValueError, match="'k'"):
        build_edges(torch.zeros(4, 2), 'knn', k=0)


# Determinism and caching ###################################################


def test_deterministic_under_seed(tmp_path) -> None:
    a = make(tmp_path / 'a', seed=3)
    b = make(tmp_path / 'b', seed=3)
    for data_a, data_b in zip(a, b):
        assert_same(data_a, data_b)
    c = make(tmp_path / 'c', seed=4)
    assert not torch.equal(a[0].x_s, c[0].x_s)


def test_splits_are_independent_streams(tmp_path) -> None:
    train = make(tmp_path, split='train')
    val = make(tmp_path, split='val')
    assert not torch.equal(train[0].pos_s, val[0].pos_s)
    # The validation pairs do not depend on the size of the training set.
    val_other = make(tmp_path / 'other', split='val', num_train=3)
    for data_a, data_b in zip(val, val_other):
        assert_same(data_a, data_b)


def test_processed_files_are_keyed_by_parameters(tmp_path) -> None:
    a = make(tmp_path, feature_dim=8)
    b = make(tmp_path, feature_dim=16)
    assert a[0].x_s.size(1) == 8 and b[0].x_s.size(1) == 16
    files = [f for f in os.listdir(tmp_path / 'processed') if
             f.startswith('train_')]
    assert len(files) == 2
    again = make(tmp_path, feature_dim=8)  # from the cache
    assert_same(again[0], a[0])


def test_force_reload_regenerates_identically(tmp_path) -> None:
    a = make(tmp_path)
    b = make(tmp_path, force_reload=True)
    assert_same(a[5], b[5])


def test_transforms_and_filters(tmp_path) -> None:
    def pre_transform(data: PairData) -> PairData:
        data.flag = torch.tensor([1])
        return data

    def transform(data: PairData) -> PairData:
        data.x_s = data.x_s * 0
        return data

    dataset = make(tmp_path, num_inliers=(5, 8), pre_transform=pre_transform,
                   pre_filter=lambda d: d.num_nodes_s > 6, transform=transform)
    assert 0 < len(dataset) < 12
    for data in dataset:
        assert data.num_nodes_s > 6
        assert data.flag.tolist() == [1]
        assert float(data.x_s.abs().sum()) == 0.0


def test_dataloader(tmp_path) -> None:
    dataset = make(tmp_path, num_outliers_t=2)
    loader = DataLoader(dataset, batch_size=5, shuffle=True,
                        follow_batch=['x_s', 'x_t'])
    batch = next(iter(loader))
    assert batch.num_graphs == 5
    src, dst = batch.y
    assert torch.equal(batch.x_s_batch[src], batch.x_t_batch[dst])
    assert int(batch.edge_index_t.max()) < batch.x_t.size(0)


# Arguments #################################################################


@pytest.mark.parametrize('kwargs,match', [
    (dict(split='valid'), "'split'"),
    (dict(num_train=0), "'num_train'"),
    (dict(split='val', num_val=0), "'num_val'"),
    (dict(num_test=-1), "'num_test'"),
    (dict(num_inliers=0), "'num_inliers'"),
    (dict(num_inliers=(5, 3)), "'num_inliers'"),
    (dict(num_inliers=(1, 2, 3)), "'num_inliers'"),
    (dict(num_inliers=2.5), "'num_inliers'"),
    (dict(num_outliers_s=-1), "'num_outliers_s'"),
    (dict(num_outliers_t=(0, -1)), "'num_outliers_t'"),
    (dict(feature_dim=0), "'feature_dim'"),
    (dict(pos_noise=-0.1), "'pos_noise'"),
    (dict(feat_noise=float('nan')), "'feat_noise'"),
    (dict(warp='projective'), "'warp'"),
    (dict(edges='radius'), "'edges'"),
    (dict(k=0), "'k'"),
    (dict(seed=-1), "'seed'"),
    (dict(seed=True), "'seed'"),
])
def test_bad_arguments(tmp_path, kwargs: Dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(tmp_path, **kwargs)


def test_bad_root(tmp_path) -> None:
    path = tmp_path / 'file'
    path.write_text('')
    with pytest.raises(ValueError, match="'root'"):
        SyntheticKeypoints(str(path), **SMALL)
    with pytest.raises(ValueError, match="'root'"):
        SyntheticKeypoints('', **SMALL)
    with pytest.raises(ValueError, match="'root'"):
        SyntheticKeypoints(3, **SMALL)  # type: ignore


# The default root ##########################################################


def test_default_root_from_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv('PYG_IDENTITY_DATASETS', str(tmp_path))
    assert default_root('mnist') == osp.join(str(tmp_path), 'mnist')
    dataset = SyntheticKeypoints(**SMALL)
    assert dataset.root == osp.join(str(tmp_path), 'synthetic_keypoints')
    assert osp.isdir(osp.join(dataset.root, 'processed'))


def test_default_root_in_source_checkout(monkeypatch) -> None:
    monkeypatch.delenv('PYG_IDENTITY_DATASETS', raising=False)
    import pyg_identity
    checkout = osp.dirname(osp.dirname(osp.abspath(pyg_identity.__file__)))
    if not osp.isfile(osp.join(checkout, 'pyproject.toml')):
        pytest.skip('pyg_identity is not imported from a source checkout')
    assert default_root('mnist') == osp.join(checkout, 'datasets', 'mnist')


def test_default_root_outside_checkout(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv('PYG_IDENTITY_DATASETS', raising=False)
    monkeypatch.setattr(_utils, '_source_checkout', lambda: None)
    monkeypatch.setenv('HOME', str(tmp_path))
    assert default_root('mnist') == osp.join(str(tmp_path), '.cache',
                                             'pyg_identity', 'datasets',
                                             'mnist')


def test_default_root_rejects_bad_names() -> None:
    with pytest.raises(ValueError, match="'name'"):
        default_root('')
