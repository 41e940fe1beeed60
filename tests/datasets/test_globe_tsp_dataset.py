import itertools
import math
from typing import Any, Dict

import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from pyg_identity.datasets.globe_tsp import (
    CAPITALS,
    GlobeTSP,
    capital_positions,
    flag_images,
)
from pyg_identity.solvers.tsp import held_karp

SMALL = dict(num_train=12, num_val=4, num_test=4, num_workers=0, log=False)


def make(root: Any, **kwargs: Any) -> GlobeTSP:
    return GlobeTSP(str(root), **{**SMALL, **kwargs})


def assert_same(a: Data, b: Data) -> None:
    assert a.keys() == b.keys()
    for key in a.keys():
        assert torch.equal(a[key], b[key]), key


def sphere_cost(pos: torch.Tensor, distance: str) -> np.ndarray:
    # Independent of the dataset's formula: arccos of the dot product.
    p = pos.double().numpy()
    p = p / np.linalg.norm(p, axis=1, keepdims=True)
    if distance == 'chord':
        return np.linalg.norm(p[:, None] - p[None], axis=-1)
    return np.arccos(np.clip(p @ p.T, -1.0, 1.0))


def brute_force_length(cost: np.ndarray) -> float:
    n = cost.shape[0]
    perms = np.array(list(itertools.permutations(range(1, n))))
    tours = np.concatenate([np.zeros((len(perms), 1), dtype=int), perms], 1)
    return float(cost[tours, np.roll(tours, -1, axis=1)].sum(1).min())


def marked_length(data: Data, cost: np.ndarray) -> float:
    row, col = data.edge_index[:, data.y > 0.5].numpy()
    return float(cost[row, col].sum()) / 2  # both directions marked


def assert_hamiltonian_cycle(data: Data) -> None:
    k = data.num_nodes
    assert float(data.y.sum()) == 2 * k
    row, col = data.edge_index[:, data.y > 0.5]
    assert torch.equal(torch.bincount(row, minlength=k),
                       torch.full((k, ), 2))
    seen, stack = {0}, [0]
    while stack:
        i = stack.pop()
        for j in col[row == i].tolist():
            if j not in seen:
                seen.add(j)
                stack.append(j)
    assert len(seen) == k


# The countries #############################################################


def test_capitals_table() -> None:
    assert len(CAPITALS) == 100
    assert len({c[0] for c in CAPITALS}) == 100
    lat = np.array([c[2] for c in CAPITALS])
    lon = np.array([c[3] for c in CAPITALS])
    assert np.all(np.abs(lat) <= 90) and np.all(np.abs(lon) <= 180)
    # Both hemispheres, all continents: a spread-out set of points.
    assert (lat < 0).sum() >= 15 and (lon < -30).sum() >= 15
    pos = capital_positions()
    assert np.allclose(np.linalg.norm(pos, axis=1), 1.0)
    dot = pos @ pos.T
    np.fill_diagonal(dot, -1.0)
    assert dot.max() < 1.0 - 1e-5  # no two capitals coincide
    paris = CAPITALS.index(('France', 'Paris', 48.86, 2.35))
    assert np.allclose(pos[paris], [0.6573, 0.0270, 0.7531], atol=1e-3)


def test_flags_are_distinct_fixed_images() -> None:
    flags = flag_images(32)
    assert flags.shape == (100, 3, 32, 32)
    assert flags.dtype == torch.float32
    assert float(flags.min()) >= 0.0 and float(flags.max()) <= 1.0
    diff = (flags[:, None] - flags[None]).abs().mean(dim=(2, 3, 4))
    diff.fill_diagonal_(math.inf)
    assert float(diff.min()) >= 0.1
    assert torch.equal(flags, flag_images(32))
    assert flag_images(16).shape == (100, 3, 16, 16)


def test_images_are_the_country_flags(tmp_path) -> None:
    dataset = make(tmp_path, image_size=16)
    flags = flag_images(16)
    for data in dataset:
        assert data.x.shape == (10, 3, 16, 16)
        assert torch.equal(data.x, flags[data.country])
        # The hidden positions are those of the capitals.
        pos = torch.from_numpy(capital_positions()).float()
        assert torch.allclose(data.pos, pos[data.country])
        assert data.country.unique().numel() == 10


# The labels ################################################################


@pytest.mark.parametrize('distance', ['geodesic', 'chord'])
def test_labels_are_optimal_tours(tmp_path, distance: str) -> None:
    dataset = make(tmp_path, num_countries=7, distance=distance)
    for data in dataset:
        assert_hamiltonian_cycle(data)
        cost = sphere_cost(data.pos, distance)
        best = brute_force_length(cost)
        assert marked_length(data, cost) == pytest.approx(best, rel=1e-5)
        assert float(data.tour_length) == pytest.approx(best, rel=1e-5)


def test_lkh_labels_match_held_karp(tmp_path) -> None:
    dataset = make(tmp_path, num_countries=11, solver='elkai')
    for data in dataset:
        cost = sphere_cost(data.pos, 'geodesic')
        _, best = held_karp(cost)
        assert marked_length(data, cost) == pytest.approx(best, rel=1e-5)


def test_with_tour(tmp_path) -> None:
    dataset = make(tmp_path, num_countries=6, with_tour=True)
    for data in dataset:
        tour = data.tour_index
        assert tour[0] == 0 and sorted(tour.tolist()) == list(range(6))
        nxt = torch.roll(tour, -1)
        on_tour = set(zip(tour.tolist(), nxt.tolist()))
        on_tour |= {(j, i) for i, j in on_tour}
        marked = set(zip(*data.edge_index[:, data.y > 0.5].tolist()))
        assert marked == on_tour


# Statistics and batching ###################################################


@pytest.mark.parametrize('k', [5, 10, 20])
def test_stats(tmp_path, k: int) -> None:
    dataset = make(tmp_path, split='test', num_test=3, num_countries=k)
    assert len(dataset) == 3
    data = dataset[0]
    assert data.num_nodes == k and data.num_edges == k * (k - 1)
    assert data.x.shape == (k, 3, 32, 32)
    assert data.pos.shape == (k, 3) and data.y.shape == (k * (k - 1), )
    assert_hamiltonian_cycle(data)
    assert '**STATS:**' in GlobeTSP.__doc__
    assert f'{k * (k - 1):,}' in GlobeTSP.__doc__


def test_dataloader(tmp_path) -> None:
    dataset = make(tmp_path, num_countries=5)
    batch = next(iter(DataLoader(dataset, batch_size=4, shuffle=True)))
    assert batch.num_graphs == 4
    assert batch.x.shape == (20, 3, 32, 32)
    assert batch.y.shape == (80, ) and float(batch.y.sum()) == 40
    assert int(batch.edge_index.max()) == 19
    assert torch.equal(batch.batch[batch.edge_index[0]],
                       batch.batch[batch.edge_index[1]])


# Determinism and caching ###################################################


def test_deterministic_under_seed(tmp_path) -> None:
    a = make(tmp_path / 'a', seed=5)
    b = make(tmp_path / 'b', seed=5)
    for data_a, data_b in zip(a, b):
        assert_same(data_a, data_b)
    c = make(tmp_path / 'c', seed=6)
    assert not torch.equal(a[0].country, c[0].country)


def test_splits_are_independent_streams(tmp_path) -> None:
    train = make(tmp_path, split='train')
    test = make(tmp_path, split='test')
    assert len(train) == 12 and len(test) == 4
    assert not torch.equal(train[0].country, test[0].country)
    test_other = make(tmp_path / 'other', split='test', num_train=2)
    for data_a, data_b in zip(test, test_other):
        assert_same(data_a, data_b)


def test_force_reload_regenerates_identically(tmp_path) -> None:
    a = make(tmp_path)
    assert_same(make(tmp_path, force_reload=True)[3], a[3])


def test_transforms_and_filters(tmp_path) -> None:
    seen = []

    def pre_transform(data: Data) -> Data:
        seen.append('x' in data)
        data.flag = torch.tensor([1])
        return data

    def transform(data: Data) -> Data:
        data.x = data.x.mean(dim=(1, 2, 3))
        return data

    dataset = make(tmp_path, pre_transform=pre_transform,
                   pre_filter=lambda d: int(d.country.min()) < 20,
                   transform=transform)
    assert seen and not any(seen)  # the images are attached on access
    assert 0 < len(dataset) <= 12
    for data in dataset:
        assert int(data.country.min()) < 20
        assert data.flag.tolist() == [1]
        assert data.x.shape == (10, )


# Arguments #################################################################


@pytest.mark.parametrize('kwargs,match', [
    (dict(split='valid'), "'split'"),
    (dict(num_train=0), "'num_train'"),
    (dict(split='test', num_test=0), "'num_test'"),
    (dict(num_countries=2), "'num_countries'"),
    (dict(num_countries=101), "'num_countries'"),
    (dict(num_countries=20, solver='exact'), "'num_countries'"),
    (dict(image_size=4), "'image_size'"),
    (dict(distance='euclidean'), "'distance'"),
    (dict(solver='gurobi'), "'solver'"),
    (dict(runs=0), "'runs'"),
    (dict(with_tour='yes'), "'with_tour'"),
    (dict(seed=1.5), "'seed'"),
    (dict(num_workers=-2), "'num_workers'"),
])
def test_bad_arguments(tmp_path, kwargs: Dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(tmp_path, **kwargs)


def test_bad_root(tmp_path) -> None:
    path = tmp_path / 'file'
    path.write_text('')
    with pytest.raises(ValueError, match="'root'"):
        GlobeTSP(str(path), **SMALL)
    with pytest.raises(ValueError, match="'root'"):
        GlobeTSP(['a'], **SMALL)  # type: ignore


def test_default_root(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv('PYG_IDENTITY_DATASETS', str(tmp_path))
    dataset = GlobeTSP(num_countries=5, **SMALL)
    assert dataset.root == str(tmp_path / 'globe_tsp')
    assert len(dataset.countries) == 100
    assert 'num_countries=5' in repr(dataset)
