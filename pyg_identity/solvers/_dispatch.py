r"""Splitting a ragged PyG batch into per-graph solver problems, solving them
(optionally in a process pool) and reassembling the solutions: the one place
every CPU solver layer goes through."""
import atexit
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

_POOLS: Dict[int, ProcessPoolExecutor] = {}


def _get_pool(num_workers: int) -> ProcessPoolExecutor:
    pool = _POOLS.get(num_workers)
    if pool is None:
        # `spawn` avoids forking a process that holds OpenMP/torch threads.
        pool = ProcessPoolExecutor(num_workers,
                                   mp_context=mp.get_context('spawn'))
        _POOLS[num_workers] = pool
    return pool


def _drop_pool(num_workers: int) -> None:
    pool = _POOLS.pop(num_workers, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


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


def map_graphs(fn: Callable[..., Any], tasks: Sequence[Sequence[Any]],
               num_workers: int = 0,
               timeout: Optional[float] = None) -> List[Any]:
    r"""Returns :obj:`[fn(*task) for task in tasks]`, computed in a pool of
    :obj:`num_workers` processes if :obj:`num_workers > 1` (:obj:`fn` must
    then be a picklable module-level function).

    A crashed worker raises a :class:`RuntimeError` (the pool is replaced on
    the next call); :obj:`timeout` (seconds, per batch) bounds the wait.
    """
    check_num_workers(num_workers)
    if num_workers <= 1 or len(tasks) <= 1:
        return [fn(*task) for task in tasks]

    pool = _get_pool(num_workers)
    # A few tasks per chunk amortise pickling without starving a worker.
    chunksize = max(1, len(tasks) // (4 * num_workers))
    try:
        return list(pool.map(fn, *zip(*tasks), chunksize=chunksize,
                             timeout=timeout))
    except BrokenProcessPool as e:
        _drop_pool(num_workers)
        raise RuntimeError(
            f"A solver worker process died (num_workers={num_workers}) while "
            f"running '{getattr(fn, '__name__', fn)}'; the pool will be "
            f"restarted on the next call. Rerun with num_workers=0 to see "
            f"the error in this process.") from e
    except TimeoutError as e:
        _drop_pool(num_workers)
        raise RuntimeError(
            f"The solver workers did not finish within {timeout} s "
            f"(num_workers={num_workers})") from e


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
           'check_num_workers', 'shutdown_pools']
