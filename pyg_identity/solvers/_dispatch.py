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
from typing import (
    Any,
    Callable,
    Dict,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

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


SolverT = TypeVar('SolverT', bound=Callable[..., Any])


def with_stack(solver: SolverT,
               stack: Callable[[int], Callable[..., Any]]) -> SolverT:
    r"""Gives the per-call solver :obj:`solver` its :obj:`stack`: the map
    from a number of copies :math:`M` to the solver of the batch repeated
    :math:`M` times (costs concatenated copy by copy along the first
    dimension), which the perturbed and I-MLE estimators use to solve their
    samples in one call (see
    :func:`pyg_identity._autograd.stacked_solver`)."""
    solver.stack = stack  # type: ignore[attr-defined]
    return solver


def copy_by_copy(solver: Callable[[Tensor], Tensor],
                 times: int) -> Callable[[Tensor], Tensor]:
    r"""A stack of :obj:`solver` that solves the :obj:`times` copies one
    after the other (the first dimension cut into equal parts), reusing
    whatever :obj:`solver` has cached: for in-process solvers whose work is
    a Python loop over the graphs anyway, where a tiled batch would only
    redo that cache."""
    def many(cost: Tensor) -> Tensor:
        return torch.cat([solver(c) for c in cost.chunk(times)])

    return many


def tile_ptr(ptr: np.ndarray, times: int) -> np.ndarray:
    r"""The boundaries :obj:`[times * B + 1]` of :obj:`times` copies of the
    :obj:`[B + 1]` boundaries :obj:`ptr` (starting at 0) placed one after
    the other."""
    step = np.arange(times, dtype=np.int64)[:, None] * ptr[-1]
    return np.append((ptr[:-1][None, :] + step).reshape(-1), times * ptr[-1])


class GraphBlocks(NamedTuple):
    r"""Per-graph slices of a batch, computed once per call on the host.

    For a batch of graph *pairs* (built by :func:`pair_blocks`),
    :obj:`node_ptr` holds the source nodes, :obj:`target_ptr` the target
    nodes of every pair, and an edge joins a source node (row 0 of
    :obj:`local_edge_index`) with a target node (row 1) of the same pair.
    """
    num_graphs: int
    node_ptr: np.ndarray  # [B + 1]
    edge_perm: Optional[np.ndarray]  # [E], edges sorted by graph
    edge_ptr: Optional[np.ndarray]  # [B + 1] into edge_perm
    local_edge_index: Optional[np.ndarray]  # [2, E] in edge_perm order
    target_ptr: Optional[np.ndarray] = None  # [B + 1], pair batches only

    def nodes(self, g: int) -> slice:
        return slice(int(self.node_ptr[g]), int(self.node_ptr[g + 1]))

    def num_nodes(self, g: int) -> int:
        return int(self.node_ptr[g + 1] - self.node_ptr[g])

    @property
    def col_ptr(self) -> np.ndarray:
        r"""The boundaries of the second index of an edge: the target nodes
        of a pair batch, else the nodes."""
        return self.node_ptr if self.target_ptr is None else self.target_ptr

    def targets(self, g: int) -> slice:
        ptr = self.col_ptr
        return slice(int(ptr[g]), int(ptr[g + 1]))

    def num_targets(self, g: int) -> int:
        ptr = self.col_ptr
        return int(ptr[g + 1] - ptr[g])

    def edges(self, g: int) -> np.ndarray:
        assert self.edge_perm is not None and self.edge_ptr is not None
        return self.edge_perm[self.edge_ptr[g]:self.edge_ptr[g + 1]]

    def edge_index(self, g: int) -> np.ndarray:
        assert self.local_edge_index is not None and self.edge_ptr is not None
        return self.local_edge_index[:, self.edge_ptr[g]:self.edge_ptr[g + 1]]

    def tile(self, times: int) -> 'GraphBlocks':
        r"""The blocks of :obj:`times` copies of the batch placed one after
        the other (graph :math:`g` of copy :math:`r` is graph :math:`rB + g`;
        its nodes, target nodes and edges are offset by :math:`r` times the
        batch's), so that one call solves all copies: how the perturbed and
        I-MLE estimators stack their samples."""
        if times == 1:
            return self

        def ptr(p: np.ndarray) -> np.ndarray:
            return tile_ptr(p, times)

        edge_perm = edge_ptr = local = None
        if self.edge_perm is not None:
            assert self.edge_ptr is not None
            assert self.local_edge_index is not None
            num_edges = self.edge_perm.size
            step = np.arange(times, dtype=np.int64)[:, None] * num_edges
            edge_perm = (self.edge_perm[None, :] + step).reshape(-1)
            edge_ptr = ptr(self.edge_ptr)
            local = np.tile(self.local_edge_index, (1, times))
        return GraphBlocks(times * self.num_graphs, ptr(self.node_ptr),
                           edge_perm, edge_ptr, local,
                           None if self.target_ptr is None else ptr(
                               self.target_ptr))

    def dense(self, graphs: Optional[np.ndarray] = None) -> 'DenseBlocks':
        r"""The dense row-major :obj:`[rows, cols]` blocks (source x target
        nodes of a pair, or nodes x nodes of a graph) of the graphs
        :obj:`graphs` (default: all), concatenated in one flat buffer (see
        :class:`DenseBlocks`). Without edges (all pairs) the per-edge
        values already are that buffer, so :obj:`graphs` must be
        :obj:`None`. Empty blocks are left out."""
        ptr_r, ptr_c = self.node_ptr, self.col_ptr
        rows = ptr_r[1:] - ptr_r[:-1]
        cols = ptr_c[1:] - ptr_c[:-1]
        if self.edge_perm is None:
            if graphs is not None:
                raise ValueError("Blocks without edges (all pairs) take all "
                                 "graphs")
            sizes = rows * cols
            if sizes.all():
                return DenseBlocks(np.arange(sizes.size), rows, cols, None,
                                   None, int(sizes.sum()), sizes)
            keep = np.flatnonzero(sizes)
            return DenseBlocks(keep, rows[keep], cols[keep], None, None,
                               int(sizes.sum()), sizes[keep])
        assert self.edge_ptr is not None and self.local_edge_index is not None
        num_edges = self.edge_perm.size
        if graphs is None:
            graphs = np.arange(self.num_graphs)
        graphs = np.asarray(graphs, dtype=np.int64)
        graphs = graphs[rows[graphs] * cols[graphs] > 0]
        r, c = rows[graphs], cols[graphs]
        off = np.zeros(self.num_graphs, dtype=np.int64)
        if graphs.size:
            off[graphs[1:]] = np.cumsum(r * c)[:-1]
        counts = np.diff(self.edge_ptr)
        member = np.zeros(self.num_graphs, dtype=bool)
        member[graphs] = True
        edge_graph = np.repeat(np.arange(self.num_graphs), counts)
        sel = np.flatnonzero(member[edge_graph])  # positions in perm order
        g = edge_graph[sel]
        local = self.local_edge_index[:, sel]
        position = off[g] + local[0] * cols[g] + local[1]
        return DenseBlocks(graphs, r, c, self.edge_perm[sel], position,
                           num_edges)


class DenseBlocks:
    r"""Dense row-major blocks of some graphs of a batch, concatenated in one
    flat buffer, with the maps between the buffer and the per-edge values
    (built by :meth:`GraphBlocks.dense`). A per-graph solver loops over
    :meth:`views`; :meth:`short_row_positions` and :meth:`positions` map its
    solutions back to buffer positions and :meth:`to_edges` to edges, all
    vectorised.

    Attributes:
        graphs (numpy.ndarray): The graph of every block, in buffer order.
        rows (numpy.ndarray): The rows of every block.
        cols (numpy.ndarray): The columns of every block.
        offset (numpy.ndarray): Where every block starts in the buffer.
        size (int): The size of the buffer.
        edges (numpy.ndarray, optional): The edges inside the blocks and
            their buffer positions :obj:`position`; :obj:`None` if the
            per-edge values are the buffer (all pairs, row-major).
    """
    def __init__(self, graphs: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                 edges: Optional[np.ndarray], position: Optional[np.ndarray],
                 num_edges: int, sizes: Optional[np.ndarray] = None) -> None:
        self.graphs = graphs
        self.rows = rows
        self.cols = cols
        if sizes is None:
            sizes = rows * cols
        end = np.cumsum(sizes)
        self.offset = end - sizes
        self.size = int(end[-1]) if end.size else 0
        self.edges = edges
        self.position = position
        self.num_edges = num_edges
        self._runs: Optional[List[Sequence[int]]] = None
        self._cut: Optional[Tuple[bool, List[Sequence[int]]]] = None
        self._short: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._inv: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return int(self.graphs.size)

    def fill(self, values: np.ndarray, fill_value: float = np.inf,
             dtype: Any = None) -> np.ndarray:
        r"""The buffer holding the per-edge :obj:`values` and
        :obj:`fill_value` at the pairs without an edge."""
        if self.position is None:
            return values if dtype is None else values.astype(dtype,
                                                              copy=False)
        assert self.edges is not None
        buf = np.full(self.size, fill_value,
                      dtype=values.dtype if dtype is None else dtype)
        buf[self.position] = values[self.edges]
        return buf

    def _start(self) -> np.ndarray:
        # Where a run of consecutive blocks of one shape starts.
        r, c = self.rows, self.cols
        start = np.ones(r.size, dtype=bool)
        start[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
        return start

    @property
    def runs(self) -> List[Sequence[int]]:
        r"""Runs of consecutive blocks of one shape: :obj:`(offset, count,
        rows, cols)`."""
        if self._runs is None:
            r, c = self.rows, self.cols
            n = r.size
            if n == 0:
                self._runs = []
            elif n == 1 or (bool((r == r[0]).all())
                            and bool((c == c[0]).all())):
                self._runs = [(0, n, int(r[0]), int(c[0]))]
            else:
                first = np.flatnonzero(self._start())
                count = np.diff(first, append=n)
                self._runs = np.stack([self.offset[first], count, r[first],
                                       c[first]], axis=1).tolist()
        return self._runs

    def _layout(self) -> Tuple[bool, List[Sequence[int]]]:
        # How `views` cuts the buffer: by runs (a padded batch: a few
        # reshapes) or, where most runs hold one block, block by block
        # ((offset, rows, cols) each; cheaper than the run bookkeeping).
        if self._cut is None:
            n = self.rows.size
            if n > 2 and 2 * int(self._start().sum()) > n:
                self._cut = False, list(zip(self.offset.tolist(),
                                            self.rows.tolist(),
                                            self.cols.tolist()))
            else:
                self._cut = True, self.runs
        return self._cut

    def views(self, buf: np.ndarray,
              short_rows: bool = False) -> List[np.ndarray]:
        r"""The blocks of :obj:`buf` as :obj:`[rows, cols]` views, each
        transposed to :obj:`[cols, rows]` where it has more rows than
        columns if :obj:`short_rows`."""
        by_runs, items = self._layout()
        out: List[np.ndarray] = []
        add = out.append
        if not by_runs:
            if short_rows:
                for o, a, b in items:
                    blk = buf[o:o + a * b].reshape(a, b)
                    add(blk.T if a > b else blk)
            else:
                for o, a, b in items:
                    add(buf[o:o + a * b].reshape(a, b))
            return out
        for o, cnt, a, b in items:
            t = short_rows and a > b
            if cnt == 1:
                blk = buf[o:o + a * b].reshape(a, b)
                add(blk.T if t else blk)
            else:
                arr = buf[o:o + cnt * a * b].reshape(cnt, a, b)
                out.extend(arr.transpose(0, 2, 1) if t else arr)
        return out

    def short_row_positions(self) -> Tuple[np.ndarray, np.ndarray]:
        r"""For solutions with one column :obj:`col` per row of every view
        of :obj:`views(buf, short_rows=True)`, concatenated over the blocks:
        :obj:`(base, mult)` with the buffer positions :obj:`base + col *
        mult`."""
        if self._short is None:
            off, r, c = self.offset, self.rows, self.cols
            by_runs, runs = self._layout()
            if by_runs and len(runs) == 1:
                # One shape (a padded batch): no per-block arrays.
                _, n, a, b = runs[0]
                k = min(a, b)
                stride, mult = (b, 1) if a <= b else (1, b)
                base = (off[:, None] + np.arange(k) * stride).reshape(-1)
                self._short = base, np.full(n * k, mult, dtype=np.int64)
            elif r.size == 0:
                empty = np.zeros(0, dtype=np.int64)
                self._short = empty, empty
            else:
                kk = np.minimum(r, c)
                cum = np.cumsum(kk)
                wide = r <= c
                step = np.where(wide, c, 1)
                base = (np.repeat(off - (cum - kk) * step, kk)
                        + np.arange(int(cum[-1])) * np.repeat(step, kk))
                self._short = base, np.repeat(np.where(wide, 1, c), kk)
        return self._short

    def positions(self, rows: Sequence[np.ndarray],
                  cols: Sequence[np.ndarray]) -> np.ndarray:
        r"""The buffer positions of per-block :obj:`(rows, cols)` entries
        (of the untransposed :obj:`[rows, cols]` blocks)."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64)
        counts = [x.size for x in rows]
        r = np.concatenate(rows).astype(np.int64, copy=False)
        c = np.concatenate(cols).astype(np.int64, copy=False)
        return (np.repeat(self.offset, counts) + r
                * np.repeat(self.cols, counts) + c)

    def padded_index(self, rows: int, cols: int,
                     by_graph: bool = False) -> np.ndarray:
        r"""Where every buffer entry sits in the flattened padded array
        :obj:`[D, rows, cols]` of the blocks (block :obj:`d` at
        :obj:`[d, :rows_d, :cols_d]`), or :obj:`[B, rows, cols]` of the
        graphs if :obj:`by_graph` (pygmtools' layout)."""
        r, c = self.rows, self.cols
        n = len(self)
        slot = self.graphs if by_graph else np.arange(n)
        # One contiguous run of cols_d entries per real row.
        row_blk = np.repeat(np.arange(n), r)
        row_i = np.arange(row_blk.size) - np.repeat(np.cumsum(r) - r, r)
        row_len = c[row_blk]
        start = slot[row_blk] * (rows * cols) + row_i * cols
        out_start = np.cumsum(row_len) - row_len
        return (np.repeat(start - out_start, row_len)
                + np.arange(self.size))

    def to_edges(self, position: np.ndarray) -> np.ndarray:
        r"""The edges at buffer positions :obj:`position` (every position
        must hold one)."""
        if self.position is None:
            return position
        assert self.edges is not None
        if self._inv is None:
            self._inv = np.full(self.size, -1, dtype=np.int64)
            self._inv[self.position] = self.edges
        return self._inv[position]


def _node_ptr(batch: Optional[Tensor], num_nodes: int,
              num_graphs: Optional[int],
              name: str = 'batch') -> Tuple[Optional[np.ndarray], np.ndarray,
                                            int]:
    # The checked host batch vector, the node boundaries and the number of
    # graphs.
    if batch is None:
        num_graphs = 1 if num_graphs is None else num_graphs
        node_ptr = np.zeros(num_graphs + 1, dtype=np.int64)
        node_ptr[1:] = num_nodes
        return None, node_ptr, num_graphs
    if batch.dim() != 1 or batch.numel() != num_nodes:
        raise ValueError(f"'{name}' must be one-dimensional with num_nodes "
                         f"= {num_nodes} entries (got shape "
                         f"{list(batch.size())})")
    b = batch.detach().cpu().numpy()
    if b.dtype != np.int64:
        b = b.astype(np.int64)
    if b.size > 1 and (b[1:] < b[:-1]).any():
        raise ValueError(f"'{name}' must be sorted (PyG's batch vector)")
    if b.size and b[0] < 0:
        raise ValueError(f"'{name}' must be non-negative")
    if num_graphs is None:
        num_graphs = int(b[-1]) + 1 if b.size else 0
    elif b.size and b[-1] >= num_graphs:
        raise ValueError(f"'{name}' refers to graph {int(b[-1])} but "
                         f"num_graphs is {num_graphs}")
    # Sorted: graph g starts at the first entry >= g.
    node_ptr = np.searchsorted(b, np.arange(num_graphs + 1))
    return b, node_ptr.astype(np.int64, copy=False), num_graphs


def _host_edge_index(edge_index: Any) -> np.ndarray:
    if isinstance(edge_index, Tensor):
        edge_index = edge_index.detach().cpu().numpy()
    ei = np.asarray(edge_index).astype(np.int64, copy=False)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(ei.shape)})")
    return ei


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
    b, node_ptr, num_graphs = _node_ptr(batch, num_nodes, num_graphs)
    if b is None:
        b = np.zeros(num_nodes, dtype=np.int64)

    if edge_index is None:
        return GraphBlocks(num_graphs, node_ptr, None, None, None)
    ei = _host_edge_index(edge_index)
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


def pair_blocks(batch_s: Optional[Tensor], batch_t: Optional[Tensor],
                num_nodes_s: int, num_nodes_t: int,
                edge_index: Any = None,
                num_graphs: Optional[int] = None) -> GraphBlocks:
    r"""Splits a batch of graph pairs (PyG's :obj:`follow_batch`
    convention: pair :math:`b` joins the source nodes with
    :obj:`batch_s == b` and the target nodes with :obj:`batch_t == b`) into
    pairs; see :func:`split_pairs` for the edges.

    Args:
        batch_s (torch.Tensor, optional): The sorted source batch vector;
            :obj:`None` means a single pair.
        batch_t (torch.Tensor, optional): The sorted target batch vector.
        num_nodes_s (int): The number of source nodes.
        num_nodes_t (int): The number of target nodes.
        edge_index (torch.Tensor, optional): Source-target edges
            :obj:`[2, E]` (global source node, global target node); unique,
            each within one pair. :obj:`None` means all pairs.
        num_graphs (int, optional): The number of pairs.
    """
    _, ptr_s, num_graphs = _node_ptr(batch_s, num_nodes_s, num_graphs,
                                     'batch_s')
    if batch_t is batch_s and batch_s is not None:
        ptr_t = ptr_s
    else:
        _, ptr_t, _ = _node_ptr(batch_t, num_nodes_t, num_graphs, 'batch_t')
    return split_pairs(ptr_s, ptr_t, edge_index)


def split_pairs(ptr_s: np.ndarray, ptr_t: np.ndarray,
                edge_index: Any = None) -> GraphBlocks:
    r"""Splits a batch of graph pairs, given by its source and target node
    boundaries :obj:`[B + 1]`, into pairs. The edges :obj:`[2, E]` (global
    source node, global target node) must be unique and each within one
    pair; they are sorted by (source, target), *i.e.* grouped by pair and in
    CSR order inside every pair. :obj:`edge_index=None` means all pairs of
    every pair, row-major (no edge arrays are built)."""
    ptr_s = np.asarray(ptr_s, dtype=np.int64)
    ptr_t = np.asarray(ptr_t, dtype=np.int64)
    num_graphs = ptr_s.size - 1
    if edge_index is None:
        return GraphBlocks(num_graphs, ptr_s, None, None, None, ptr_t)
    ei = _host_edge_index(edge_index)
    src, dst = ei[0], ei[1]
    if src.size and (src.min() < 0 or src.max() >= ptr_s[-1]
                     or dst.min() < 0 or dst.max() >= ptr_t[-1]):
        raise ValueError(f"'edge_index' refers to source nodes outside [0, "
                         f"{int(ptr_s[-1])}) or target nodes outside [0, "
                         f"{int(ptr_t[-1])})")
    pair = np.searchsorted(ptr_s, src, side='right') - 1
    if np.any(pair != np.searchsorted(ptr_t, dst, side='right') - 1):
        raise ValueError("'edge_index' pairs a source node with a target node "
                         "of a different pair")
    perm = np.lexsort((dst, src))
    s, d = src[perm], dst[perm]
    if s.size > 1 and np.any((s[1:] == s[:-1]) & (d[1:] == d[:-1])):
        raise ValueError("'edge_index' contains duplicate candidate pairs")
    p = pair[perm]
    edge_ptr = np.zeros(num_graphs + 1, dtype=np.int64)
    np.cumsum(np.bincount(p, minlength=num_graphs), out=edge_ptr[1:])
    local = np.stack([s - ptr_s[p], d - ptr_t[p]])
    return GraphBlocks(num_graphs, ptr_s, perm, edge_ptr, local, ptr_t)


def dense_edge_index(ptr_s: np.ndarray, ptr_t: np.ndarray) -> np.ndarray:
    r"""All source-target pairs of every pair of a batch, row-major per
    pair, as a global :obj:`[2, E]` array (the order of
    :obj:`edge_index=None`)."""
    n_s, n_t = np.diff(ptr_s), np.diff(ptr_t)
    sizes = n_s * n_t
    pair = np.repeat(np.arange(sizes.size), sizes)
    off = np.zeros(sizes.size, dtype=np.int64)
    np.cumsum(sizes[:-1], out=off[1:])
    k = np.arange(int(sizes.sum())) - off[pair]
    w = np.maximum(n_t[pair], 1)
    return np.stack([ptr_s[pair] + k // w, ptr_t[pair] + k % w])


def to_numpy(src: Tensor) -> np.ndarray:
    r"""Detached float64 host copy of :obj:`src` for a CPU solver."""
    return src.detach().to('cpu', torch.float64).numpy()


__all__ = ['map_graphs', 'graph_blocks', 'GraphBlocks', 'pair_blocks',
           'split_pairs', 'DenseBlocks', 'dense_edge_index', 'to_numpy',
           'check_num_workers', 'check_timeout', 'shutdown_pools']
