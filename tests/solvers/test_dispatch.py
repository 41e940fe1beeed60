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
from pyg_identity.solvers._dispatch import _POOLS


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
