import torch
from torch_geometric.data import Batch, InMemoryDataset
from torch_geometric.loader import DataLoader

from pyg_identity.datasets.pair_data import PairData


def ring(n: int) -> torch.Tensor:
    row = torch.arange(n)
    col = (row + 1) % n
    return torch.stack([torch.cat([row, col]), torch.cat([col, row])])


def make_pair(n_s: int, n_t: int, k: int) -> PairData:
    return PairData(
        x_s=torch.randn(n_s, 4),
        pos_s=torch.rand(n_s, 2),
        edge_index_s=ring(n_s),
        edge_attr_s=torch.randn(2 * n_s, 3),
        x_t=torch.randn(n_t, 4),
        pos_t=torch.rand(n_t, 2),
        edge_index_t=ring(n_t),
        edge_attr_t=torch.randn(2 * n_t, 3),
        y=torch.stack([torch.arange(k), torch.randperm(n_t)[:k]]),
    )


def test_sizes() -> None:
    data = make_pair(5, 7, 4)
    assert data.num_nodes_s == 5
    assert data.num_nodes_t == 7
    assert data.num_nodes == 12
    assert data.num_edges == 24
    assert data.num_node_features == 4
    assert data.num_edge_features == 3


def test_sizes_from_positions_only() -> None:
    data = PairData(pos_s=torch.rand(3, 2), pos_t=torch.rand(6, 2),
                    y=torch.zeros(2, 0, dtype=torch.long))
    assert (data.num_nodes_s, data.num_nodes_t, data.num_nodes) == (3, 6, 9)
    assert data.num_node_features == 0


def test_num_nodes_setter() -> None:
    data = make_pair(2, 3, 2)
    data.num_nodes = 42
    assert data.num_nodes == 42


def test_inc() -> None:
    data = make_pair(5, 7, 4)
    assert data.__inc__('edge_index_s', data.edge_index_s) == 5
    assert data.__inc__('edge_index_t', data.edge_index_t) == 7
    assert data.__inc__('y', data.y).tolist() == [[5], [7]]
    assert data.__inc__('x_s', data.x_s) == 0  # falls back to Data
    assert data.__cat_dim__('y', data.y) == -1
    assert data.__cat_dim__('edge_index_s', data.edge_index_s) == -1
    assert data.__cat_dim__('x_t', data.x_t) == 0


def test_dataloader_batches_with_follow_batch() -> None:
    pairs = [make_pair(3, 4, 3), make_pair(5, 5, 2), make_pair(2, 6, 1)]
    loader = DataLoader(pairs, batch_size=3, follow_batch=['x_s', 'x_t'])
    batch = next(iter(loader))

    assert batch.num_graphs == 3
    assert batch.x_s.shape == (10, 4)
    assert batch.x_t.shape == (15, 4)
    assert batch.x_s_batch.tolist() == [0] * 3 + [1] * 5 + [2] * 2
    assert batch.x_t_batch.tolist() == [0] * 4 + [1] * 5 + [2] * 6
    assert batch.x_s_ptr.tolist() == [0, 3, 8, 10]
    assert batch.y.shape == (2, 6)

    offsets_s, offsets_t = [0, 3, 8], [0, 4, 9]
    expected_y = torch.cat([
        pair.y + torch.tensor([[o_s], [o_t]])
        for pair, o_s, o_t in zip(pairs, offsets_s, offsets_t)
    ], dim=1)
    assert torch.equal(batch.y, expected_y)
    expected_s = torch.cat(
        [p.edge_index_s + o for p, o in zip(pairs, offsets_s)], dim=1)
    expected_t = torch.cat(
        [p.edge_index_t + o for p, o in zip(pairs, offsets_t)], dim=1)
    assert torch.equal(batch.edge_index_s, expected_s)
    assert torch.equal(batch.edge_index_t, expected_t)
    # Every correspondence stays inside its own pair.
    src, dst = batch.y
    assert torch.equal(batch.x_s_batch[src], batch.x_t_batch[dst])
    assert batch.num_nodes == 25


def test_batch_round_trip() -> None:
    pairs = [make_pair(3, 4, 3), make_pair(5, 5, 2)]
    batch = Batch.from_data_list(pairs, follow_batch=['x_s', 'x_t'])
    for i, pair in enumerate(pairs):
        out = batch.get_example(i)
        assert isinstance(out, PairData)
        for key in ('x_s', 'edge_index_s', 'edge_index_t', 'y'):
            assert torch.equal(out[key], pair[key])


def test_in_memory_storage_round_trip() -> None:
    pairs = [make_pair(3, 4, 3), make_pair(5, 5, 2), make_pair(2, 2, 0)]
    data, slices = InMemoryDataset.collate(pairs)
    assert data.y.shape == (2, 5)
    restored = PairData.from_dict(data.to_dict())
    assert isinstance(restored, PairData)
    assert slices['y'].tolist() == [0, 3, 5, 5]
