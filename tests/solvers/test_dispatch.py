import multiprocessing as mp
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from _dispatch_helpers import crash, square

from pyg_identity.solvers import graph_blocks, map_graphs
from pyg_identity.solvers._dispatch import (
    _POOLS,
    dense_edge_index,
    pair_blocks,
    split_pairs,
)


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


def test_pair_blocks_sources_targets_and_csr_edges():
    batch_s = torch.tensor([0, 0, 2, 2, 2])  # pair 1 has no source nodes
    batch_t = torch.tensor([0, 1, 2, 2])
    # Unsorted candidates; pair 0: sources 0-1 x target 0, pair 2: 2-4 x 2-3.
    ei = torch.tensor([[4, 1, 0, 2, 4], [2, 0, 0, 3, 3]])
    blocks = pair_blocks(batch_s, batch_t, 5, 4, ei)
    assert blocks.num_graphs == 3
    assert blocks.node_ptr.tolist() == [0, 2, 2, 5]
    assert blocks.target_ptr.tolist() == [0, 1, 2, 4]
    assert blocks.num_targets(1) == 1 and blocks.targets(2) == slice(2, 4)
    assert blocks.edges(0).tolist() == [2, 1]  # sorted by (source, target)
    assert blocks.edge_index(0).tolist() == [[0, 1], [0, 0]]
    assert blocks.edges(2).tolist() == [3, 0, 4]
    assert blocks.edge_index(2).tolist() == [[0, 2, 2], [1, 0, 1]]
    # Dense blocks: 2 x 1 and 3 x 2 (the empty pair 1 is left out).
    dense = blocks.dense()
    assert dense.graphs.tolist() == [0, 2] and dense.size == 8
    values = np.arange(5.0)
    buf = dense.fill(values)
    assert buf.tolist() == [2, 1, np.inf, 3, np.inf, np.inf, 0, 4]
    views = dense.views(buf)
    assert views[1].tolist() == [[np.inf, 3], [np.inf, np.inf], [0, 4]]
    assert dense.views(buf, short_rows=True)[1].shape == (2, 3)
    flat = dense.positions([np.array([1]), np.array([0, 2])],
                           [np.array([0]), np.array([1, 0])])
    assert dense.to_edges(flat).tolist() == [1, 3, 0]


def test_pair_blocks_without_edges_are_all_pairs_row_major():
    ptr_s, ptr_t = np.array([0, 2, 3, 3]), np.array([0, 3, 4, 6])
    blocks = split_pairs(ptr_s, ptr_t)
    dense = blocks.dense()
    assert dense.graphs.tolist() == [0, 1] and dense.edges is None
    values = np.arange(7.0)
    assert dense.fill(values) is values
    assert [v.shape for v in dense.views(values)] == [(2, 3), (1, 1)]
    ei = dense_edge_index(ptr_s, ptr_t)
    assert ei.tolist() == [[0, 0, 0, 1, 1, 1, 2], [0, 1, 2, 0, 1, 2, 3]]
    # With those edges, the same buffer positions.
    dense_e = split_pairs(ptr_s, ptr_t, ei).dense()
    assert dense_e.position.tolist() == list(range(7))


def test_dense_blocks_short_row_positions_and_runs():
    # Shapes 2x3, 2x3, 3x1 (transposed to 1x3), 2x2: three runs.
    ptr_s, ptr_t = np.array([0, 2, 4, 7, 9]), np.array([0, 3, 6, 7, 9])
    dense = split_pairs(ptr_s, ptr_t).dense()
    assert [tuple(r) for r in dense.runs] == [(0, 2, 2, 3), (12, 1, 3, 1),
                                              (15, 1, 2, 2)]
    buf = np.arange(19.0)
    views = dense.views(buf, short_rows=True)
    base, mult = dense.short_row_positions()
    cols = np.concatenate([np.arange(v.shape[0]) % v.shape[1]
                           for v in views])
    rows = np.concatenate([np.arange(v.shape[0]) for v in views])
    expect = np.concatenate([v[r, c] for v, r, c in zip(
        views, np.split(rows, np.cumsum([v.shape[0] for v in views])[:-1]),
        np.split(cols, np.cumsum([v.shape[0] for v in views])[:-1]))])
    assert (buf[base + cols * mult] == expect).all()


def test_dense_blocks_padded_index_is_pygmtools_layout():
    # Pairs 2x3, 0x2 (left out), 1x1: padded [3, 2, 3] by graph, [2, 2, 3]
    # by block.
    ptr_s, ptr_t = np.array([0, 2, 2, 3]), np.array([0, 3, 5, 6])
    dense = split_pairs(ptr_s, ptr_t).dense()
    values = np.arange(1.0, 8.0)
    for by_graph, slots in ((True, 3), (False, 2)):
        out = np.zeros((slots, 2, 3))
        out.reshape(-1)[dense.padded_index(2, 3, by_graph)] = values
        assert out[0].tolist() == [[1, 2, 3], [4, 5, 6]]
        last = out[2] if by_graph else out[1]
        assert last.tolist() == [[7, 0, 0], [0, 0, 0]]
        assert out.sum() == values.sum()


@pytest.mark.parametrize('args,match', [
    ((torch.tensor([0, 1]), torch.tensor([0, 1]), 3, 2), "'batch_s' must be"),
    ((torch.tensor([0, 1]), torch.tensor([1, 0]), 2, 2), "'batch_t' must be "
     "sorted"),
    ((torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 2,
      torch.tensor([[0], [1]])), 'different pair'),
    ((torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 2,
      torch.tensor([[0], [2]])), 'target nodes outside'),
    ((torch.tensor([0, 0]), torch.tensor([0, 0]), 2, 2,
      torch.tensor([[0, 0], [1, 1]])), 'duplicate'),
    ((None, None, 2, 2, torch.tensor([0, 1])), "'edge_index' must have"),
])
def test_pair_blocks_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        pair_blocks(*args)


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


@pytest.mark.parametrize('num_workers', [0, 2])
def test_map_graphs_timeout_terminates_hung_workers(num_workers):
    tasks = [(i, ) for i in range(5)]
    # With a timeout even num_workers=0 solves in a worker process.
    assert map_graphs(square, tasks, num_workers, timeout=60) == [
        i * i for i in range(5)]
    pool = _POOLS[max(num_workers, 1)]
    pids = set(pool._processes)
    assert pids
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r'timeout=1 s'):
        map_graphs(time.sleep, [(600, )] * 3, num_workers, timeout=1)
    assert time.monotonic() - start < 15
    # Terminated and reaped (allow the OS a moment to report the exits).
    deadline = time.monotonic() + 10
    while pids & {p.pid for p in mp.active_children()} and (
            time.monotonic() < deadline):
        time.sleep(0.1)
    assert not pids & {p.pid for p in mp.active_children()}
    assert max(num_workers, 1) not in _POOLS or _POOLS[max(
        num_workers, 1)] is not pool
    assert map_graphs(square, tasks, num_workers, timeout=60) == [
        i * i for i in range(5)]  # a fresh pool


def test_map_graphs_timeout_lets_the_interpreter_exit():
    # Hung workers that are only shut down (not terminated) keep the
    # interpreter from exiting: the child would never return.
    script = textwrap.dedent('''
        import time
        from pyg_identity.solvers import map_graphs
        if __name__ == '__main__':
            try:
                map_graphs(time.sleep, [(600, ), (600, )], 2, timeout=1)
            except TimeoutError as e:
                print('raised', e)
    ''')
    out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert 'raised The solver did not finish within timeout=1 s' in out.stdout


@pytest.mark.parametrize('timeout', [0, -1.0, float('nan'), float('inf'),
                                     True, '5'])
def test_map_graphs_bad_timeout(timeout):
    with pytest.raises(ValueError, match="'timeout' must be a positive"):
        map_graphs(square, [(1, )], 0, timeout=timeout)


def test_map_graphs_timeout_without_tasks():
    assert map_graphs(square, [], 0, timeout=1) == []


def _run_script(tmp_path, body):
    path = tmp_path / 'script.py'
    path.write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, str(path)], capture_output=True,
                          text=True, timeout=180)


def test_pool_without_main_guard_names_the_guard(tmp_path):
    out = _run_script(tmp_path, '''
        from pyg_identity.solvers import map_graphs
        print(map_graphs(abs, [(-1, ), (-2, )], 2))
    ''')
    assert out.returncode != 0
    assert "'num_workers' > 1 (got 2)" in out.stderr
    assert "if __name__ == '__main__':" in out.stderr


def test_pool_under_main_guard_runs(tmp_path):
    out = _run_script(tmp_path, '''
        from pyg_identity.solvers import map_graphs
        if __name__ == '__main__':
            print(map_graphs(abs, [(-1, ), (-2, )], 2))
    ''')
    assert out.returncode == 0, out.stderr
    assert '[1, 2]' in out.stdout
