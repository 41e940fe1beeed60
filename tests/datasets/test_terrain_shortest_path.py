from typing import Any, Dict

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from pyg_identity.datasets.terrain_shortest_path import (
    TILE_COSTS,
    TILE_TYPES,
    TerrainShortestPath,
    generate_terrain,
    tile_textures,
)

SMALL = dict(num_train=12, num_val=4, num_test=4, num_workers=0, log=False)


def make(root: Any, **kwargs: Any) -> TerrainShortestPath:
    return TerrainShortestPath(str(root), **{**SMALL, **kwargs})


def assert_same(a: Data, b: Data) -> None:
    assert a.keys() == b.keys()
    for key in a.keys():
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


def king_graph(k: int) -> nx.DiGraph:
    # The 8-neighbourhood grid, built independently of grid_edge_index.
    g = nx.DiGraph()
    for r in range(k):
        for c in range(k):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if (dr, dc) != (0, 0) and 0 <= rr < k and 0 <= cc < k:
                        g.add_edge(r * k + c, rr * k + cc)
    return g


def networkx_path_cost(cost: np.ndarray, k: int) -> float:
    # Entering a cell costs its cost; the start cell is paid once.
    graph = king_graph(k)
    length = nx.dijkstra_path_length(graph, 0, k * k - 1,
                                     weight=lambda u, v, d: cost[v])
    return float(cost[0] + length)


# The labels ################################################################


def test_labels_are_shortest_paths(tmp_path) -> None:
    k = 10
    dataset = make(tmp_path, grid_size=k)
    graph = king_graph(k).to_undirected()
    for data in dataset:
        cost = data.cost.double().numpy()
        on_path = set(np.nonzero(data.y.numpy())[0].tolist())
        # The marked cells form a connected path from corner to corner.
        assert {0, k * k - 1} <= on_path
        assert nx.is_connected(graph.subgraph(on_path))
        path_cost = float(cost[list(on_path)].sum())
        assert float(data.path_cost) == pytest.approx(path_cost, rel=1e-6)
        assert path_cost == pytest.approx(networkx_path_cost(cost, k),
                                          rel=1e-6)


def test_labels_match_scipy_dijkstra(tmp_path) -> None:
    from scipy.sparse import lil_matrix
    from scipy.sparse.csgraph import dijkstra

    k = 7
    dataset = make(tmp_path, grid_size=k)
    graph = king_graph(k)
    for data in dataset:
        cost = data.cost.double().numpy()
        adj = lil_matrix((k * k, k * k))
        for u, v in graph.edges:
            adj[u, v] = cost[v]
        dist = dijkstra(adj.tocsr(), indices=0)
        assert float(data.path_cost) == pytest.approx(
            cost[0] + dist[k * k - 1], rel=1e-6)


def test_costs_follow_the_tile_types(tmp_path) -> None:
    dataset = make(tmp_path)
    table = torch.tensor(TILE_COSTS)
    assert len(TILE_TYPES) == len(TILE_COSTS) == 6
    for data in dataset:
        assert torch.allclose(data.cost, table[data.terrain])
        assert data.y.dtype == torch.float32


def test_terrain_is_spatially_coherent() -> None:
    gen = np.random.default_rng(0)
    same, shuffled = [], []
    for _ in range(20):
        t = generate_terrain(gen, 18)
        same.append(np.mean(t[1:] == t[:-1]))
        s = gen.permutation(t.reshape(-1)).reshape(t.shape)
        shuffled.append(np.mean(s[1:] == s[:-1]))
        assert set(np.unique(t).tolist()) >= {0, 1, 3}  # roads, grass, forest
    assert np.mean(same) > 0.6 and np.mean(shuffled) < 0.4


def test_images_show_the_tile_types(tmp_path) -> None:
    k, t = 12, 8
    dataset = make(tmp_path, grid_size=k)
    # Nearest mean colour of the texture bank recovers every tile's type.
    centroids = torch.from_numpy(tile_textures(t)).mean(dim=(1, 3, 4))
    for data in dataset:
        img = data.img[0]
        tiles = img.view(3, k, t, k, t).mean(dim=(2, 4)).permute(1, 2, 0)
        dist = (tiles.reshape(-1, 1, 3) - centroids).norm(dim=-1)
        accuracy = (dist.argmin(dim=1) == data.terrain).float().mean()
        assert float(accuracy) > 0.98


def test_images_are_fixed_per_example(tmp_path) -> None:
    dataset = make(tmp_path)
    a, b = dataset[3].img, dataset[3].img
    assert torch.equal(a, b)
    assert not torch.equal(a, dataset[4].img)
    assert a.dtype == torch.float32
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # Without pixel noise, tiles of one type and variant repeat exactly.
    clean = make(tmp_path, pixel_noise=0.0)
    assert clean[3].img.unique().numel() < a.unique().numel()


# Statistics and batching ###################################################


@pytest.mark.parametrize('k,num_edges', [(12, 1012), (18, 2380), (24, 4324),
                                         (30, 6844)])
def test_stats(tmp_path, k: int, num_edges: int) -> None:
    dataset = make(tmp_path, split='val', num_val=2, grid_size=k)
    data = dataset[0]
    assert data.num_nodes == k * k and data.num_edges == num_edges
    assert data.img.shape == (1, 3, 8 * k, 8 * k)
    assert data.cost.shape == data.y.shape == data.terrain.shape == (k * k, )
    assert int(data.edge_index.max()) == k * k - 1
    doc = TerrainShortestPath.__doc__
    assert '**STATS:**' in doc
    assert f'{num_edges:,}' in doc and f'3 x {8 * k} x {8 * k}' in doc


def test_tile_size(tmp_path) -> None:
    data = make(tmp_path, grid_size=5, tile_size=6)[0]
    assert data.img.shape == (1, 3, 30, 30)


def test_dataloader(tmp_path) -> None:
    k = 6
    dataset = make(tmp_path, grid_size=k)
    batch = next(iter(DataLoader(dataset, batch_size=4, shuffle=True)))
    assert batch.num_graphs == 4
    assert batch.img.shape == (4, 3, 8 * k, 8 * k)
    assert batch.y.shape == batch.cost.shape == (4 * k * k, )
    assert int(batch.edge_index.max()) == 4 * k * k - 1
    assert torch.equal(batch.batch[batch.edge_index[0]],
                       batch.batch[batch.edge_index[1]])
    # The cost ratio of the labels themselves is 1.
    per_graph = torch.zeros(4).index_add_(0, batch.batch,
                                          batch.cost * batch.y)
    assert torch.allclose(per_graph, batch.path_cost)


# Determinism and caching ###################################################


def test_deterministic_under_seed(tmp_path) -> None:
    a = make(tmp_path / 'a', seed=1)
    b = make(tmp_path / 'b', seed=1)
    for data_a, data_b in zip(a, b):
        assert_same(data_a, data_b)
    c = make(tmp_path / 'c', seed=2)
    assert not torch.equal(a[0].terrain, c[0].terrain)


def test_splits_are_independent_streams(tmp_path) -> None:
    train = make(tmp_path, split='train')
    val = make(tmp_path, split='val')
    assert not torch.equal(train[0].terrain, val[0].terrain)
    assert not torch.equal(train[0].img, val[0].img)
    val_other = make(tmp_path / 'other', split='val', num_train=5)
    for data_a, data_b in zip(val, val_other):
        assert_same(data_a, data_b)


def test_transforms_and_filters(tmp_path) -> None:
    seen = []

    def pre_transform(data: Data) -> Data:
        seen.append('img' in data or 'edge_index' in data)
        data.flag = torch.tensor([1])
        return data

    def transform(data: Data) -> Data:
        data.img = data.img.mean(dim=1, keepdim=True)
        return data

    dataset = make(tmp_path, pre_transform=pre_transform,
                   pre_filter=lambda d: float(d.path_cost) < 40.0,
                   transform=transform)
    assert seen and not any(seen)  # image and graph are built on access
    for data in dataset:
        assert float(data.path_cost) < 40.0
        assert data.flag.tolist() == [1]
        assert data.img.shape == (1, 1, 96, 96)


def test_force_reload_regenerates_identically(tmp_path) -> None:
    a = make(tmp_path)
    assert_same(make(tmp_path, force_reload=True)[5], a[5])


# Arguments #################################################################


@pytest.mark.parametrize('kwargs,match', [
    (dict(split='training'), "'split'"),
    (dict(num_train=0), "'num_train'"),
    (dict(split='val', num_val=0), "'num_val'"),
    (dict(grid_size=1), "'grid_size'"),
    (dict(grid_size=12.0), "'grid_size'"),
    (dict(tile_size=2), "'tile_size'"),
    (dict(pixel_noise=-0.1), "'pixel_noise'"),
    (dict(pixel_noise=float('inf')), "'pixel_noise'"),
    (dict(seed=-3), "'seed'"),
    (dict(num_workers='2'), "'num_workers'"),
])
def test_bad_arguments(tmp_path, kwargs: Dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(tmp_path, **kwargs)


def test_bad_root(tmp_path) -> None:
    path = tmp_path / 'file'
    path.write_text('')
    with pytest.raises(ValueError, match="'root'"):
        TerrainShortestPath(str(path), **SMALL)


def test_default_root(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv('PYG_IDENTITY_DATASETS', str(tmp_path))
    dataset = TerrainShortestPath(grid_size=4, **SMALL)
    assert dataset.root == str(tmp_path / 'terrain_shortest_path')
    assert 'grid_size=4' in repr(dataset)
