import networkx as nx
import pytest
import torch
from torch_geometric.utils import is_undirected

from pyg_identity.utils.grid import grid_edge_index, grid_graph


@pytest.mark.parametrize('h,w', [(1, 1), (1, 4), (3, 3), (4, 6), (12, 12)])
def test_grid_edge_count_and_no_self_loops(h, w):
    edge_index = grid_edge_index(h, w)
    expected = 2 * (2 * h * w - h - w) + 4 * (h - 1) * (w - 1)
    assert edge_index.size() == (2, expected)
    assert bool((edge_index[0] != edge_index[1]).all())
    assert is_undirected(edge_index, num_nodes=h * w)
    assert torch.unique(edge_index, dim=1).size(1) == expected  # no dups


def test_grid_matches_networkx_king_graph():
    h, w = 4, 5
    g = nx.grid_2d_graph(h, w)
    g.add_edges_from(((r, c), (r + 1, c + dc)) for r in range(h - 1)
                     for c in range(w) for dc in (-1, 1) if 0 <= c + dc < w)
    ref = {(r * w + c, r2 * w + c2) for (r, c), (r2, c2) in g.edges}
    ref |= {(b, a) for a, b in ref}
    got = set(map(tuple, grid_edge_index(h, w).t().tolist()))
    assert got == ref


def test_grid_four_neighbourhood_matches_networkx():
    h, w = 3, 4
    ref = {(r * w + c, r2 * w + c2)
           for (r, c), (r2, c2) in nx.grid_2d_graph(h, w).edges}
    ref |= {(b, a) for a, b in ref}
    got = set(map(tuple, grid_edge_index(h, w, diagonal=False).t().tolist()))
    assert got == ref


def test_grid_interior_node_has_eight_neighbours_and_sorted():
    edge_index = grid_edge_index(3)
    assert sorted(edge_index[1, edge_index[0] == 4].tolist()) == [
        0, 1, 2, 3, 5, 6, 7, 8]
    key = edge_index[0] * 9 + edge_index[1]
    assert bool((key[1:] > key[:-1]).all())


def test_grid_graph_data_and_positions():
    data = grid_graph(2, 3)
    assert data.num_nodes == 6
    assert torch.equal(data.edge_index, grid_edge_index(2, 3))
    assert data.pos.tolist() == [[0, 1], [1, 1], [2, 1], [0, 0], [1, 0],
                                 [2, 0]]
    assert data.pos.is_floating_point()


@pytest.mark.parametrize('args,match', [
    ((0, ), "'height'"),
    ((3, 0), "'width'"),
    ((2.5, ), "'height'"),
    ((True, ), "'height'"),
])
def test_grid_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        grid_edge_index(*args)
