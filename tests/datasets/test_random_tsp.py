import itertools
import os
from typing import Any, Dict

import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from pyg_identity.datasets.random_tsp import RandomTSP, canonical_tour
from pyg_identity.solvers.tsp import held_karp

SMALL = dict(num_train=20, num_val=4, num_test=4, num_workers=0, log=False)


def make(root: Any, **kwargs: Any) -> RandomTSP:
    return RandomTSP(str(root), **{**SMALL, **kwargs})


def assert_same(a: Data, b: Data) -> None:
    assert a.keys() == b.keys()
    for key in a.keys():
        assert torch.equal(a[key], b[key]), key


def distances(pos: torch.Tensor) -> np.ndarray:
    p = pos.double().numpy()
    return np.sqrt(((p[:, None, :] - p[None, :, :])**2).sum(-1))


def brute_force_length(cost: np.ndarray) -> float:
    n = cost.shape[0]
    perms = np.array(list(itertools.permutations(range(1, n))))
    tours = np.concatenate([np.zeros((len(perms), 1), dtype=int), perms], 1)
    return float(cost[tours, np.roll(tours, -1, axis=1)].sum(1).min())


def tour_from_indicator(data: Data) -> list:
    # Follows the marked edges from node 0; asserts a Hamiltonian cycle.
    n = data.num_nodes
    row, col = data.edge_index[:, data.y > 0.5]
    nbrs = {i: sorted(col[row == i].tolist()) for i in range(n)}
    assert all(len(v) == 2 for v in nbrs.values())
    tour, prev = [0], None
    while len(tour) < n:
        nxt = [j for j in nbrs[tour[-1]] if j != prev][0]
        prev = tour[-1]
        tour.append(nxt)
    assert sorted(tour) == list(range(n))
    assert tour[0] in nbrs[tour[-1]]
    return tour


# The labels ################################################################


def test_labels_are_optimal_tours(tmp_path) -> None:
    dataset = make(tmp_path, num_nodes=8)  # solver='auto': Held-Karp
    for data in dataset:
        cost = distances(data.pos)
        tour = tour_from_indicator(data)
        length = cost[tour, np.roll(tour, -1)].sum()
        assert float(data.tour_length) == pytest.approx(length, rel=1e-5)
        assert length == pytest.approx(brute_force_length(cost), rel=1e-9)


def test_lkh_labels_match_held_karp(tmp_path) -> None:
    dataset = make(tmp_path, num_nodes=10, solver='elkai', num_train=10)
    for data in dataset:
        _, best = held_karp(distances(data.pos))
        assert float(data.tour_length) == pytest.approx(best, rel=1e-5)


def test_ragged_lkh_labels_are_tours(tmp_path) -> None:
    dataset = make(tmp_path, num_nodes=(13, 24))
    sizes = set()
    for data in dataset:
        n = data.num_nodes
        sizes.add(n)
        assert 13 <= n <= 24
        tour = tour_from_indicator(data)
        cost = distances(data.pos)
        assert float(data.tour_length) == pytest.approx(
            cost[tour, np.roll(tour, -1)].sum(), rel=1e-5)
        # Half the marked distances (both directions are marked).
        marked = float((data.edge_attr.view(-1) * data.y).sum()) / 2
        assert marked == pytest.approx(float(data.tour_length), rel=1e-5)
    assert len(sizes) >= 4


def test_complete_graph_with_distances(tmp_path) -> None:
    data = make(tmp_path, num_nodes=6)[0]
    n = 6
    expected = [(i, j) for i in range(n) for j in range(n) if i != j]
    assert list(zip(*data.edge_index.tolist())) == expected  # sorted
    row, col = data.edge_index
    assert torch.allclose(data.edge_attr.view(-1),
                          (data.pos[row] - data.pos[col]).norm(dim=-1))
    assert data.edge_attr.shape == (n * (n - 1), 1)
    assert data.y.dtype == torch.float32
    assert float(data.y.sum()) == 2 * n
    # Both directions of every tour edge are marked.
    pairs = set(zip(row[data.y > 0].tolist(), col[data.y > 0].tolist()))
    assert pairs == {(j, i) for i, j in pairs}
    assert bool((data.pos >= 0).all() and (data.pos < 1).all())


def test_with_tour(tmp_path) -> None:
    dataset = make(tmp_path, num_nodes=(5, 9), with_tour=True)
    for data in dataset:
        tour = data.tour_index.tolist()
        assert tour[0] == 0 and tour[1] < tour[-1]  # canonical
        assert tour == tour_from_indicator(data)
    batch = next(iter(DataLoader(dataset, batch_size=3)))
    # Shifted like node indices in a mini-batch.
    for g in range(3):
        lo, hi = int(batch.ptr[g]), int(batch.ptr[g + 1])
        assert sorted(batch.tour_index[lo:hi].tolist()) == list(range(lo, hi))


def test_canonical_tour() -> None:
    # Rotated to start at node 0, then reversed if tour[1] > tour[-1].
    assert canonical_tour(np.array([2, 0, 3, 1])).tolist() == [0, 2, 1, 3]
    assert canonical_tour(np.array([1, 0, 2, 3])).tolist() == [0, 1, 3, 2]
    assert canonical_tour(np.array([0, 1, 2])).tolist() == [0, 1, 2]


# Statistics and batching ###################################################


@pytest.mark.parametrize('n', [20, 50, 100])
def test_stats(tmp_path, n: int) -> None:
    dataset = make(tmp_path, split='test', num_test=1, num_nodes=n, runs=1)
    data = dataset[0]
    assert data.num_nodes == n
    assert data.num_edges == n * (n - 1)
    assert f'{n * (n - 1):,}' in RandomTSP.__doc__
    assert '**STATS:**' in RandomTSP.__doc__
    # A loose band around the optimal mean, about 0.78 sqrt(n) at n = 100.
    assert 0.5 * np.sqrt(n) < float(data.tour_length) < 1.2 * np.sqrt(n)


def test_dataloader(tmp_path) -> None:
    dataset = make(tmp_path, num_nodes=(5, 9))
    loader = DataLoader(dataset, batch_size=6, shuffle=True)
    batch = next(iter(loader))
    assert batch.num_graphs == 6
    assert batch.tour_length.shape == (6, )
    assert int(batch.edge_index.max()) < batch.num_nodes
    edge_graph = batch.batch[batch.edge_index[0]]
    per_graph = torch.zeros(6).index_add_(0, edge_graph, batch.y)
    assert torch.equal(per_graph, 2.0 * torch.bincount(batch.batch))


# Determinism and caching ###################################################


def test_deterministic_under_seed(tmp_path) -> None:
    a = make(tmp_path / 'a', seed=3, num_nodes=(5, 15))
    b = make(tmp_path / 'b', seed=3, num_nodes=(5, 15))
    for data_a, data_b in zip(a, b):
        assert_same(data_a, data_b)
    c = make(tmp_path / 'c', seed=4, num_nodes=(5, 15))
    assert not torch.equal(a[0].pos, c[0].pos)


def test_worker_processes_give_the_same_labels(tmp_path) -> None:
    a = make(tmp_path / 'a', num_nodes=16, num_train=8)
    b = make(tmp_path / 'b', num_nodes=16, num_train=8, num_workers=2)
    for data_a, data_b in zip(a, b):
        assert_same(data_a, data_b)


def test_splits_are_independent_streams(tmp_path) -> None:
    train = make(tmp_path, split='train')
    val = make(tmp_path, split='val')
    test = make(tmp_path, split='test')
    assert len(train) == 20 and len(val) == 4 and len(test) == 4
    assert not torch.equal(train[0].pos, val[0].pos)
    assert not torch.equal(val[0].pos, test[0].pos)
    val_other = make(tmp_path / 'other', split='val', num_train=3)
    for data_a, data_b in zip(val, val_other):
        assert_same(data_a, data_b)


def test_processed_files_are_keyed_by_parameters(tmp_path) -> None:
    a = make(tmp_path, num_nodes=5)
    b = make(tmp_path, num_nodes=6)
    assert a[0].num_nodes == 5 and b[0].num_nodes == 6
    files = [f for f in os.listdir(tmp_path / 'processed')
             if f.startswith('train_')]
    assert len(files) == 2
    assert_same(make(tmp_path, num_nodes=5)[3], a[3])
    assert_same(make(tmp_path, num_nodes=5, force_reload=True)[3], a[3])


def test_transforms_and_filters(tmp_path) -> None:
    def pre_transform(data: Data) -> Data:
        data.x = data.pos.clone()
        return data

    def transform(data: Data) -> Data:
        data.edge_attr = data.edge_attr * 0
        return data

    dataset = make(tmp_path, num_nodes=(4, 9), pre_transform=pre_transform,
                   pre_filter=lambda d: d.num_nodes > 6, transform=transform)
    assert 0 < len(dataset) < 20
    for data in dataset:
        assert data.num_nodes > 6
        assert torch.equal(data.x, data.pos)
        assert float(data.edge_attr.abs().sum()) == 0.0


# Arguments #################################################################


@pytest.mark.parametrize('kwargs,match', [
    (dict(split='valid'), "'split'"),
    (dict(num_train=0), "'num_train'"),
    (dict(split='val', num_val=0), "'num_val'"),
    (dict(num_test=-1), "'num_test'"),
    (dict(num_nodes=2), "'num_nodes'"),
    (dict(num_nodes=(8, 5)), "'num_nodes'"),
    (dict(num_nodes=(3, 4, 5)), "'num_nodes'"),
    (dict(num_nodes=7.5), "'num_nodes'"),
    (dict(num_nodes=20, solver='exact'), "'num_nodes'"),
    (dict(solver='concorde'), "'solver'"),
    (dict(runs=0), "'runs'"),
    (dict(with_tour=1), "'with_tour'"),
    (dict(seed=-1), "'seed'"),
    (dict(num_workers=-1), "'num_workers'"),
    (dict(num_workers=1.5), "'num_workers'"),
])
def test_bad_arguments(tmp_path, kwargs: Dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(tmp_path, **kwargs)


def test_bad_root(tmp_path) -> None:
    path = tmp_path / 'file'
    path.write_text('')
    with pytest.raises(ValueError, match="'root'"):
        RandomTSP(str(path), **SMALL)
    with pytest.raises(ValueError, match="'root'"):
        RandomTSP('', **SMALL)
    with pytest.raises(ValueError, match="'root'"):
        RandomTSP(3, **SMALL)  # type: ignore


def test_default_root(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv('PYG_IDENTITY_DATASETS', str(tmp_path))
    dataset = RandomTSP(num_nodes=5, **SMALL)
    assert dataset.root == str(tmp_path / 'random_tsp')
    assert 'RandomTSP(20' in repr(dataset)
