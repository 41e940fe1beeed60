import numpy as np
import pytest
import torch
from _dispatch_helpers import crash, square

from pyg_identity.solvers import graph_blocks, map_graphs


def test_graph_blocks_nodes_and_edges():
    batch = torch.tensor([0, 0, 0, 2, 2])  # graph 1 is empty
    edge_index = torch.tensor([[3, 0, 1, 4], [4, 1, 2, 3]])
    blocks = graph_blocks(batch, 5, edge_index)
    assert blocks.num_graphs == 3
    assert blocks.node_ptr.tolist() == [0, 3, 3, 5]
    assert blocks.num_nodes(1) == 0
    assert blocks.edges(0).tolist() == [1, 2]
    assert blocks.edge_index(0).tolist() == [[0, 1], [1, 2]]
    assert blocks.edges(1).tolist() == []
    assert blocks.edges(2).tolist() == [0, 3]
    assert blocks.edge_index(2).tolist() == [[0, 1], [1, 0]]


def test_graph_blocks_single_graph_and_num_graphs():
    blocks = graph_blocks(None, 4)
    assert blocks.num_graphs == 1 and blocks.node_ptr.tolist() == [0, 4]
    blocks = graph_blocks(torch.tensor([0, 0]), 2, num_graphs=3)
    assert blocks.node_ptr.tolist() == [0, 2, 2, 2]


@pytest.mark.parametrize('args,match', [
    ((torch.tensor([0, 1]), 3), "'batch' must be one-dimensional"),
    ((torch.tensor([1, 0, 0]), 3), "'batch' must be sorted"),
    ((torch.tensor([0, 0, 1]), 3, None, 1), "num_graphs is 1"),
    ((torch.tensor([0, 0, 1]), 3, torch.tensor([[0, 2], [1, 0]])),
     'different graphs'),
    ((torch.tensor([0, 0, 1]), 3, torch.tensor([[0], [5]])), 'outside'),
    ((torch.tensor([0, 0, 1]), 3, torch.tensor([0, 1])), "'edge_index'"),
])
def test_graph_blocks_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        graph_blocks(*args)


def test_map_graphs_serial_and_pool_agree():
    tasks = [(i, ) for i in range(20)]
    assert map_graphs(square, tasks, 0) == [i * i for i in range(20)]
    assert map_graphs(square, tasks, 2) == [i * i for i in range(20)]


def test_map_graphs_worker_crash_is_a_clear_error_and_recovers():
    with pytest.raises(RuntimeError, match='worker process died'):
        map_graphs(crash, [(i, ) for i in range(6)], 2)
    assert map_graphs(square, [(2, ), (3, )], 2) == [4, 9]


def test_map_graphs_bad_num_workers():
    with pytest.raises(ValueError, match="'num_workers'"):
        map_graphs(square, [(1, )], -1)


def test_map_graphs_numpy_payload():
    tasks = [(np.arange(3) + i, ) for i in range(4)]
    out = map_graphs(np.sum, tasks, 0)
    assert out == [3, 6, 9, 12]
