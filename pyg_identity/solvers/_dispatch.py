r"""Splitting a ragged PyG batch into per-graph solver problems, solving them
(optionally in a process pool) and reassembling the solutions: the one place
every CPU solver layer goes through."""
import ast
import atexit
import concurrent.futures
import math
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

_POOLS: Dict[int, ProcessPoolExecutor] = {}

# How long a fresh pool may take to start its workers (spawn, imports)
# before a call with a timeout counts its own time.
START_TIMEOUT = 120.0


def _ready() -> int:
    return os.getpid()


def _run_chunk(fn: Callable[..., Any],
               tasks: Sequence[Sequence[Any]]) -> List[Any]:
    return [fn(*task) for task in tasks]


def _check_main_guard(num_workers: int) -> None:
    # `spawn` workers re-run the main script; a pool started from its top
    # level outside `if __name__ == '__main__':` makes every worker die with
    # an unhelpful "process died". Find the script's line that is running
    # and check that an `if __name__ == '__main__':` block holds it.
    main = sys.modules.get('__main__')
    path = getattr(main, '__file__', None)
    if main is None or not path:  # interactive, `python -c`, Jupyter
        return
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_code.co_name == '<module>'
                                     and frame.f_globals is vars(main)):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:  # called after the script's top level finished
        return
    try:
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return
    line = frame.f_lineno
    for node in tree.body:
        if (isinstance(node, ast.If)
                and node.lineno <= line <= (node.end_lineno or node.lineno)
                and any(isinstance(n, ast.Constant) and n.value == '__main__'
                        for n in ast.walk(node.test))
                and any(isinstance(n, ast.Name) and n.id == '__name__'
                        for n in ast.walk(node.test))):
            return
    raise ValueError(
        f"'num_workers' > 1 (got {num_workers}) starts solver worker "
        f"processes with 'spawn', which re-run the main script {path!r}; "
        f"line {line} runs outside an `if __name__ == '__main__':` block, so "
        f"every worker would start its own pool and die. Move the code that "
        f"solves under such a block, or pass num_workers=0 (and "
        f"timeout=None).")


def _get_pool(num_workers: int, warm: bool = False) -> ProcessPoolExecutor:
    pool = _POOLS.get(num_workers)
    if pool is None:
        _check_main_guard(num_workers)
        # `spawn` avoids forking a process that holds OpenMP/torch threads.
        pool = ProcessPoolExecutor(num_workers,
                                   mp_context=mp.get_context('spawn'))
        _POOLS[num_workers] = pool
        if warm:
            # Start the workers (and their imports) before the clock of a
            # timeout runs, so that the timeout measures the solver only.
            futures = [pool.submit(_ready) for _ in range(num_workers)]
            done, _ = concurrent.futures.wait(futures, START_TIMEOUT)
            if len(done) < len(futures):
                _kill_pool(num_workers)
                raise TimeoutError(f"The {num_workers} solver worker "
                                   f"process(es) did not start within "
                                   f"{START_TIMEOUT} s")
    return pool


def _drop_pool(num_workers: int) -> None:
    pool = _POOLS.pop(num_workers, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _kill_pool(num_workers: int) -> None:
    # Ends the pool's processes even if they are stuck in C code (a plain
    # shutdown waits for them forever, and so does the interpreter at exit).
    pool = _POOLS.pop(num_workers, None)
    if pool is None:
        return
    # No public way before Python 3.14 (`terminate_workers`).
    procs = list((getattr(pool, '_processes', None) or {}).values())
    terminate = getattr(pool, 'terminate_workers', None)
    if terminate is not None:
        terminate()
    else:
        for proc in procs:
            proc.terminate()
    _reap(procs)
    # Without cancel_futures: on Python < 3.12 the pool's manager thread
    # fails on cancelled futures when it finds the workers gone.
    pool.shutdown(wait=False)
    # The manager thread may have started a worker meanwhile (it spawns on
    # demand): end those too.
    late = [p for p in (getattr(pool, '_processes', None) or {}).values()
            if p not in procs]
    for proc in late:
        proc.terminate()
    _reap(late)


def _reap(procs: List[Any]) -> None:
    for proc in procs:
        proc.join(5.0)
        if proc.is_alive():
            proc.kill()
            proc.join(5.0)


@atexit.register
def shutdown_pools() -> None:
    r"""Shuts down the worker pools used by :func:`map_graphs`."""
    for n in list(_POOLS):
        _drop_pool(n)


def check_num_workers(num_workers: int) -> int:
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"'num_workers' must be a non-negative integer (got "
                         f"{num_workers!r})")
    return num_workers


def check_timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout) or timeout <= 0):
        raise ValueError(f"'timeout' must be a positive number of seconds "
                         f"or None (got {timeout!r})")
    return float(timeout)


def map_graphs(fn: Callable[..., Any], tasks: Sequence[Sequence[Any]],
               num_workers: int = 0,
               timeout: Optional[float] = None) -> List[Any]:
    r"""Returns :obj:`[fn(*task) for task in tasks]`, computed in a pool of
    :obj:`num_workers` processes if :obj:`num_workers > 1` (:obj:`fn` must
    then be a picklable module-level function). A crashed worker raises a
    :class:`RuntimeError` (the pool is replaced on the next call); Ctrl-C
    while waiting for the workers terminates them.

    Args:
        fn (callable): The per-graph solver.
        tasks (list): The argument tuples of :obj:`fn`, one per problem.
        num_workers (int, optional): The number of worker processes;
            :obj:`0` or :obj:`1` solves in this process (without a timeout).
            (default: :obj:`0`)
        timeout (float, optional): Seconds the whole call may take. Past it
            the workers are terminated (a solver stuck in C code, which holds
            the GIL and ignores Ctrl-C, can be stopped no other way; the
            interpreter can then exit) and a :class:`TimeoutError` naming the
            timeout is raised; the next call starts a new pool. With a
            timeout, :obj:`num_workers` of :obj:`0` or :obj:`1` solves in one
            worker process, so :obj:`fn` must be picklable and a script needs
            the :obj:`if __name__ == '__main__':` guard of :obj:`spawn`. The
            start of a new pool is not counted (it may take up to
            :obj:`START_TIMEOUT` seconds). (default: :obj:`None`)
    """
    check_num_workers(num_workers)
    timeout = check_timeout(timeout)
    if timeout is None and (num_workers <= 1 or len(tasks) <= 1):
        return [fn(*task) for task in tasks]
    if len(tasks) == 0:
        return []

    workers = max(num_workers, 1)
    # A few tasks per chunk amortise pickling without starving a worker.
    size = max(1, len(tasks) // (4 * workers))
    name = getattr(fn, '__name__', fn)
    try:
        pool = _get_pool(workers, warm=timeout is not None)
        futures = [pool.submit(_run_chunk, fn, tasks[k:k + size])
                   for k in range(0, len(tasks), size)]
        _, pending = concurrent.futures.wait(futures, timeout)
        if pending:
            _kill_pool(workers)
            raise TimeoutError(
                f"The solver did not finish within timeout={timeout:g} s "
                f"('{name}' on {len(tasks)} problem(s), {workers} worker "
                f"process(es), now terminated)")
        return [y for f in futures for y in f.result()]
    except BrokenProcessPool as e:
        _drop_pool(workers)
        raise RuntimeError(
            f"A solver worker process died (num_workers={num_workers}) while "
            f"running '{name}'; the pool will be restarted on the next call. "
            f"Rerun with num_workers=0 and timeout=None to see the error in "
            f"this process.") from e
    except KeyboardInterrupt:
        _kill_pool(workers)
        raise


class GraphBlocks(NamedTuple):
    r"""Per-graph slices of a batch, computed once per call on the host."""
    num_graphs: int
    node_ptr: np.ndarray  # [B + 1]
    edge_perm: Optional[np.ndarray]  # [E], edges sorted by graph
    edge_ptr: Optional[np.ndarray]  # [B + 1] into edge_perm
    local_edge_index: Optional[np.ndarray]  # [2, E] in edge_perm order

    def nodes(self, g: int) -> slice:
        return slice(int(self.node_ptr[g]), int(self.node_ptr[g + 1]))

    def num_nodes(self, g: int) -> int:
        return int(self.node_ptr[g + 1] - self.node_ptr[g])

    def edges(self, g: int) -> np.ndarray:
        assert self.edge_perm is not None and self.edge_ptr is not None
        return self.edge_perm[self.edge_ptr[g]:self.edge_ptr[g + 1]]

    def edge_index(self, g: int) -> np.ndarray:
        assert self.local_edge_index is not None and self.edge_ptr is not None
        return self.local_edge_index[:, self.edge_ptr[g]:self.edge_ptr[g + 1]]


def graph_blocks(batch: Optional[Tensor], num_nodes: int,
                 edge_index: Optional[Tensor] = None,
                 num_graphs: Optional[int] = None) -> GraphBlocks:
    r"""Splits a batch into graphs.

    Args:
        batch (torch.Tensor, optional): The node-level batch vector, sorted
            (PyG's convention). :obj:`None` means a single graph.
        num_nodes (int): The number of nodes.
        edge_index (torch.Tensor, optional): The edges; each must join two
            nodes of the same graph.
        num_graphs (int, optional): The number of graphs.
    """
    if batch is None:
        b = np.zeros(num_nodes, dtype=np.int64)
        num_graphs = 1 if num_graphs is None else num_graphs
    else:
        if batch.dim() != 1 or batch.numel() != num_nodes:
            raise ValueError(f"'batch' must be one-dimensional with num_nodes "
                             f"= {num_nodes} entries (got shape "
                             f"{list(batch.size())})")
        b = batch.detach().cpu().numpy().astype(np.int64, copy=False)
        if b.size > 1 and np.any(b[1:] < b[:-1]):
            raise ValueError("'batch' must be sorted (PyG's batch vector)")
        if b.size and b[0] < 0:
            raise ValueError("'batch' must be non-negative")
        if num_graphs is None:
            num_graphs = int(b[-1]) + 1 if b.size else 0
        elif b.size and b[-1] >= num_graphs:
            raise ValueError(f"'batch' refers to graph {int(b[-1])} but "
                             f"num_graphs is {num_graphs}")
    node_ptr = np.zeros(num_graphs + 1, dtype=np.int64)
    np.cumsum(np.bincount(b, minlength=num_graphs), out=node_ptr[1:])

    if edge_index is None:
        return GraphBlocks(num_graphs, node_ptr, None, None, None)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.size())})")
    ei = edge_index.detach().cpu().numpy().astype(np.int64, copy=False)
    if ei.size and (ei.min() < 0 or ei.max() >= num_nodes):
        raise ValueError(f"'edge_index' refers to nodes outside [0, "
                         f"{num_nodes})")
    eb = b[ei[0]]
    if np.any(eb != b[ei[1]]):
        raise ValueError("'edge_index' joins nodes of different graphs")
    edge_ptr = np.zeros(num_graphs + 1, dtype=np.int64)
    np.cumsum(np.bincount(eb, minlength=num_graphs), out=edge_ptr[1:])
    if eb.size < 2 or bool(np.all(eb[1:] >= eb[:-1])):
        # PyG's `Batch` already stores edges grouped by graph: no sort.
        perm = np.arange(eb.size)
        local = ei - node_ptr[eb]
    else:
        perm = np.argsort(eb, kind='stable')
        local = ei[:, perm] - node_ptr[eb[perm]]
    return GraphBlocks(num_graphs, node_ptr, perm, edge_ptr, local)


def to_numpy(src: Tensor) -> np.ndarray:
    r"""Detached float64 host copy of :obj:`src` for a CPU solver."""
    return src.detach().to('cpu', torch.float64).numpy()


__all__ = ['map_graphs', 'graph_blocks', 'GraphBlocks', 'to_numpy',
           'check_num_workers', 'check_timeout', 'shutdown_pools']
