r"""The travelling salesman problem (TSP) on undirected graphs: LKH-3 through
the :obj:`elkai` package (default), the :obj:`lkh` wrapper around a
user-supplied LKH-3 executable, or exact Held--Karp dynamic programming for
small graphs.

LKH-3 (Keld Helsgaun, http://webhotel4.ruc.dk/~keld/research/LKH-3/) is free
for academic and non-commercial use only; commercial use needs the author's
permission. :obj:`elkai` ships a copy of LKH-3 under that licence, the
:obj:`lkh` backend runs your own LKH-3 executable. The exact solver has no
such restriction.

LKH reads integer distances. Float costs are shifted by their minimum to be
non-negative (every tour has :math:`n` edges, so no tour changes rank),
capped at :math:`(1 + 1/n)` times the shifted length :math:`U` of a feasible
tour, and scaled to integers in :math:`[0, 2^{22}]`, which stays clear of
the 32-bit overflow inside LKH (it multiplies every distance by its internal
precision of 100). An edge dearer than :math:`U` is in no optimal tour (the
other edges cost :math:`\geq 0`), and a tour through a capped edge still
costs more than :math:`U`, so the cap changes no optimal tour; it keeps one
huge cost (*e.g.* a forbidden edge at :math:`10^9`) from coarsening the
resolution of all the others. The feasible tour is the greedy
nearest-neighbour one or, where the rounding may still cost precision
(that tour closes through a huge edge, or gets stuck on a sparse graph), the
tour of a quick LKH run. Rounding moves the length of a tour by at most
:math:`n/2` integer steps; a :class:`UserWarning` is raised where the
optimum may move by more than :obj:`LOSSY_EXCESS` of the tour length.

The batched solver is :func:`solve_tsp` (torch in, torch out). Three numpy
reference utilities on one dense cost matrix stay public here, for
labelling data sets and checking tours: :func:`tsp_tour` (LKH-3 or exact),
:func:`held_karp` (exact) and :func:`tour_length`.
"""
import os
import shutil
import warnings
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.solvers._dispatch import (
    GraphBlocks,
    check_num_workers,
    check_timeout,
    graph_blocks,
    map_graphs,
    to_numpy,
    with_stack,
)
from pyg_identity.solvers._edges import check_edge_inputs, check_finite_cost

SOLVERS = ('elkai', 'exact', 'lkh')
MAX_EXACT_NODES = 12
# The largest integer distance handed to LKH (a missing edge's penalty on a
# sparse graph). LKH-3 multiplies distances by PRECISION = 100 and adds node
# penalties in 32-bit integers; 2**22 * 100 * 3 < 2**31.
MAX_INT_COST = 2**22
# A warning is raised where the integer rounding may make LKH's tour longer
# than optimal by more than this fraction (worst case, n rounding steps).
LOSSY_EXCESS = 1e-2


def _elkai() -> Any:
    try:
        import elkai
    except ImportError as e:  # pragma: no cover - elkai is in the test extra
        raise ImportError(
            "The TSP solver 'elkai' needs the 'elkai' package: "
            "pip install pyg_identity[tsp] (or pip install elkai)") from e
    return elkai


def _lkh() -> Any:
    try:
        import lkh
    except ImportError as e:
        raise ImportError(
            "The TSP solver 'lkh' needs the 'lkh' package and an LKH-3 "
            "executable: pip install deprecated && pip install --no-deps "
            "lkh==2.0.0 (lkh pins networkx<3; see the README), build LKH-3 "
            "(http://webhotel4.ruc.dk/~keld/research/LKH-3/) and pass its "
            "path as lkh_executable=... (or use solver='elkai', which ships "
            "LKH-3)") from e
    return lkh


def _check_options(solver: str, runs: int = 10,
                   lkh_executable: str = 'LKH') -> None:
    r"""Validates the solver arguments and that the backend can be imported
    (in the calling process, before any worker starts)."""
    if solver not in SOLVERS:
        raise ValueError(f"'solver' must be one of {SOLVERS} (got "
                         f"{solver!r})")
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) \
            or runs < 1:
        raise ValueError(f"'runs' must be a positive integer (got {runs!r})")
    if solver == 'elkai':
        _elkai()
    elif solver == 'lkh':
        _lkh()
        if not isinstance(lkh_executable, str) or (
                shutil.which(lkh_executable) is None
                and not os.path.isfile(lkh_executable)):
            raise ValueError(
                f"'lkh_executable' must be the path of an LKH-3 executable "
                f"(got {lkh_executable!r}, which was not found)")


def tour_length(cost: np.ndarray, tour: Sequence[int]) -> float:
    r"""Returns the length :math:`\sum_k C_{t_k t_{k+1}}` of the closed tour
    :obj:`tour` under the cost matrix :obj:`cost`."""
    t = np.asarray(tour, dtype=np.int64)
    return float(np.asarray(cost)[t, np.roll(t, -1)].sum())


def held_karp(cost: np.ndarray) -> Tuple[np.ndarray, float]:
    r"""Solves the TSP exactly by the Held--Karp dynamic programme in
    :math:`O(2^n n^2)` time, for :math:`3 \leq n \leq 12` nodes.

    Args:
        cost (numpy.ndarray): The :math:`n \times n` cost matrix (the cost
            of going from :math:`i` to :math:`j`; :obj:`inf` marks a missing
            edge). The diagonal is ignored.

    Returns:
        The tour (a permutation of the nodes starting at node 0) and its
        length (:obj:`inf` if no tour avoids the missing edges).
    """
    c = np.array(cost, dtype=np.float64)
    n = c.shape[0] if c.ndim == 2 else -1
    if c.ndim != 2 or c.shape != (n, n):
        raise ValueError(f"'cost' must be a square matrix (got shape "
                         f"{list(c.shape)})")
    if not 3 <= n <= MAX_EXACT_NODES:
        raise ValueError(f"Held-Karp needs 3 <= n <= {MAX_EXACT_NODES} nodes "
                         f"(got n = {n})")
    np.fill_diagonal(c, 0.0)
    if np.isnan(c).any() or (c == -np.inf).any():
        raise ValueError("'cost' must not contain NaN or -inf")
    # Subsets of the nodes 1..n-1 (bit k is node k + 1); node 0 is the start.
    m = n - 1
    inner = c[1:, 1:]
    full = (1 << m) - 1
    dp = np.full((1 << m, m), np.inf)
    parent = np.full((1 << m, m), -1, dtype=np.int64)
    ks = np.arange(m)
    bits = 1 << ks
    dp[bits, ks] = c[0, 1:]
    for mask in range(1, full):
        row = dp[mask]
        inside = (mask & bits) != 0
        # cand[k] = min_j dp[mask, j] + c[j, k] over the last nodes j.
        tot = row[:, None] + inner
        best_j = np.argmin(tot, axis=0)
        cand = tot[best_j, ks]
        free = ~inside
        nxt = mask | bits[free]
        kf = ks[free]
        better = cand[free] < dp[nxt, kf]
        dp[nxt[better], kf[better]] = cand[free][better]
        parent[nxt[better], kf[better]] = best_j[free][better]
    final = dp[full] + c[1:, 0]
    k = int(np.argmin(final))
    length = float(final[k])
    tour: List[int] = []
    mask = full
    while k >= 0:
        tour.append(k + 1)
        k, mask = int(parent[mask, k]), mask & ~(1 << k)
    tour.append(0)
    return np.asarray(tour[::-1], dtype=np.int64), length


def _greedy_tour(cost: np.ndarray, mask: np.ndarray) -> Optional[np.ndarray]:
    # The nearest-neighbour tour from node 0 within the allowed pairs, or
    # None where it gets stuck (only possible on a sparse graph).
    n = cost.shape[0]
    tour = np.zeros(n, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    free[0] = False
    for k in range(1, n):
        row = np.where(mask[tour[k - 1]] & free, cost[tour[k - 1]], np.inf)
        nxt = int(np.argmin(row))
        if row[nxt] == np.inf:
            return None
        tour[k] = nxt
        free[nxt] = False
    return tour if mask[tour[-1], 0] else None


class _IntegerCosts(NamedTuple):
    dist: np.ndarray  # [n, n] integer distances for LKH
    excess: float  # bound on how much longer than optimal rounding can make
    # the optimal tour of `dist`, in shifted cost units (0: exact)
    lower: float  # a lower bound on the optimal shifted tour length
    upper: float  # the shifted length of the reference tour (inf: none)


def _cost_spread(v: np.ndarray) -> float:
    # A robust scale of the differences between costs: the interquartile
    # range, or the mean absolute deviation where most costs tie.
    if v.size < 2:
        return 0.0
    q1, q3 = np.percentile(v, [25, 75])
    if q3 > q1:
        return float(q3 - q1)
    return float(np.mean(np.abs(v - v.mean())))


def _integer_costs(cost: np.ndarray, mask: np.ndarray,
                   tour: Optional[np.ndarray] = None) -> _IntegerCosts:
    # Shift the costs of the existing pairs by their minimum (every tour has
    # n edges, so no tour changes rank) and scale them to integers in
    # [0, top]. A missing pair costs MAX_INT_COST, more than any tour that
    # LKH could prefer within the edges.
    #
    # Given a feasible `tour` of shifted length U, costs are first capped
    # at C = U (1 + 1/n) > U: the optimal tours (shifted length <= U) use no
    # edge above C, and a tour using a capped edge still costs at least
    # C > U, so the optimal tours are the same; a single huge cost no longer
    # sets the integer resolution of all the others.
    n = cost.shape[0]
    v = cost[mask]
    out = np.full((n, n), MAX_INT_COST, dtype=np.int64)
    np.fill_diagonal(out, 0)
    if v.size:
        v = v - v.min()
    shifted = np.zeros((n, n))
    shifted[mask] = v
    # Every node has two tour edges: half the sum over the nodes of their
    # two cheapest edges bounds every tour from below.
    two = np.partition(np.where(mask, shifted, np.inf), 1, axis=1)[:, :2]
    lower = 0.5 * float(two.sum())
    upper = (float(shifted[tour, np.roll(tour, -1)].sum())
             if tour is not None else np.inf)
    if v.size == 0 or v.max() == 0:
        out[mask] = 0
        return _IntegerCosts(out, 0.0, lower, upper)
    complete = v.size == n * (n - 1)
    top = MAX_INT_COST if complete else MAX_INT_COST // (n + 1)
    span = float(v.max())
    if upper == 0:
        # The tour has only minimum-cost edges, so it is optimal; any tour
        # with a costlier edge is not, and it stays so with all those edges
        # at one integer cost (exact: no rounding excess).
        out[mask] = np.where(v > 0, top, 0)
        return _IntegerCosts(out, 0.0, lower, upper)
    if tour is not None:
        span = min(span, upper * (1.0 + 1.0 / n))
        if not complete:
            # Then the tour's integer length is below MAX_INT_COST / 2 + n,
            # so a missing pair (at MAX_INT_COST) is never worth it, and the
            # resolution need not shrink with n.
            top = max(top, int(min(1.0, span / upper) * (MAX_INT_COST // 2)))
    out[mask] = np.rint(np.minimum(v, span) / span * top).astype(np.int64)
    # Rounding moves every tour by at most n/2 steps, so the optimum of the
    # rounded problem is at most n steps longer than the true optimum.
    return _IntegerCosts(out, n * span / top, lower, upper)


def _tsplib(dist: np.ndarray) -> str:
    n = dist.shape[0]
    rows = '\n'.join(' '.join(map(str, r)) for r in dist.tolist())
    return (f'NAME : pyg_identity\nTYPE : TSP\nDIMENSION : {n}\n'
            f'EDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : FULL_MATRIX\n'
            f'EDGE_WEIGHT_SECTION\n{rows}\nEOF\n')


def _lkh_tour(dist: np.ndarray, solver: str, runs: int,
              lkh_executable: str) -> np.ndarray:
    # A tour of the integer matrix `dist`, starting at node 0.
    n = dist.shape[0]
    if solver == 'elkai':
        elkai = _elkai()
        out = elkai.DistanceMatrix(dist.tolist()).solve_tsp(runs=int(runs))
        tour = np.asarray(out[:-1], dtype=np.int64)  # drops the return to 0
    else:
        lkh = _lkh()
        problem = lkh.LKHProblem.parse(_tsplib(dist))
        routes = lkh.solve(lkh_executable, problem=problem, runs=int(runs))
        tour = np.asarray(routes[0], dtype=np.int64) - 1  # 1-indexed
    assert sorted(tour.tolist()) == list(range(n)), 'LKH returned no tour'
    return np.roll(tour, -int(np.argmax(tour == 0)))


def tsp_tour(cost: np.ndarray, mask: Optional[np.ndarray] = None,
             solver: str = 'elkai', runs: int = 10,
             lkh_executable: str = 'LKH') -> np.ndarray:
    r"""Returns a shortest tour through all nodes of one graph.

    The cost of the undirected pair :math:`\{i, j\}` is
    :math:`(C_{ij} + C_{ji}) / 2`.

    Args:
        cost (numpy.ndarray): The :math:`n \times n` cost matrix (finite
            where :obj:`mask` is set).
        mask (numpy.ndarray, optional): Boolean :math:`n \times n` matrix of
            the pairs the tour may use (symmetrised); :obj:`None` means the
            complete graph. (default: :obj:`None`)
        solver (str, optional): :obj:`"elkai"` (LKH-3 via :obj:`elkai`),
            :obj:`"exact"` (Held--Karp, :math:`n \leq 12`) or :obj:`"lkh"`
            (LKH-3 executable via the :obj:`lkh` package).
            (default: :obj:`"elkai"`)
        runs (int, optional): The number of LKH runs (more runs, better
            tours, proportionally more time). (default: :obj:`10`)
        lkh_executable (str, optional): The LKH-3 executable for
            :obj:`solver="lkh"`. (default: :obj:`"LKH"`)

    Returns:
        A permutation of :obj:`range(n)` starting at node 0.
    """
    c = np.asarray(cost, dtype=np.float64)
    n = c.shape[0] if c.ndim == 2 else -1
    if c.ndim != 2 or c.shape != (n, n):
        raise ValueError(f"'cost' must be a square matrix (got shape "
                         f"{list(c.shape)})")
    if n < 3:
        raise ValueError(f"A tour needs at least 3 nodes (got n = {n})")
    if solver not in SOLVERS:
        raise ValueError(f"'solver' must be one of {SOLVERS} (got "
                         f"{solver!r})")
    off = ~np.eye(n, dtype=bool)
    if mask is None:
        m = off
    else:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n, n):
            raise ValueError(f"'mask' must have shape [{n}, {n}] (got "
                             f"{list(mask.shape)})")
        m = (mask | mask.T) & off
    if not np.all(np.isfinite(c[m])):
        raise ValueError("'cost' must be finite on the edges (got NaN or "
                         "inf)")
    c = np.where(m, c, 0.0)
    a = np.abs(c).max()
    if a > 0:  # a positive scale changes no tour; avoids overflow below
        c = c / a
    c = 0.5 * (c + c.T)
    if n == 3:
        if m.sum() != 6:
            raise ValueError("No Hamiltonian cycle: the graph of 3 nodes is "
                             "not a triangle")
        return np.arange(3, dtype=np.int64)

    if solver == 'exact':
        tour, length = held_karp(np.where(m, c, np.inf))
        if not np.isfinite(length):
            raise ValueError("No Hamiltonian cycle exists within the edges "
                             "of the graph")
        return tour
    ints = _integer_costs(c, m, _greedy_tour(c, m))
    if ints.excess > LOSSY_EXCESS * ints.lower:
        # The rounding may cost precision (relative to a lower bound of the
        # optimum): a quick LKH run may find a much shorter reference tour
        # than the greedy one (which can close through a huge edge, or get
        # stuck on a sparse graph), and so a tighter cap.
        ref = _lkh_tour(ints.dist, solver, 1, lkh_executable)
        if np.all(m[ref, np.roll(ref, -1)]):
            better = _integer_costs(c, m, ref)
            if better.upper < ints.upper:
                ints = better
    scale = ints.upper if np.isfinite(ints.upper) else ints.lower
    # The integer step must also resolve the typical difference between two
    # costs, not only stay small against the tour length: one hugely
    # negative cost among O(1) ones makes every tour long in shifted units
    # while the O(1) differences, which decide the tour, round away.
    coarse = ints.excess / n > LOSSY_EXCESS * _cost_spread(c[m])
    if (coarse or ints.excess > LOSSY_EXCESS * scale) and (
            n <= MAX_EXACT_NODES):
        # Small graphs are then solved exactly in floating point instead.
        tour, length = held_karp(np.where(m, c, np.inf))
        if not np.isfinite(length):
            raise ValueError("No Hamiltonian cycle exists within the edges "
                             "of the graph")
        return tour
    if coarse and not ints.excess > LOSSY_EXCESS * scale:
        warnings.warn(
            f"LKH reads the costs of this graph ({n} nodes) as integers up to "
            f"{int(ints.dist[m].max())}; one integer step is more than "
            f"{LOSSY_EXCESS:.0%} of the typical difference between its "
            f"costs (costs that span many orders of magnitude lose their "
            f"small differences), so the tour may not be optimal",
            stacklevel=2)
    elif ints.excess > LOSSY_EXCESS * scale:
        by = (f'up to {ints.excess / scale:.2%} of its length'
              if scale > 0 else 'an unknown amount')
        warnings.warn(
            f"LKH reads the costs of this graph ({n} nodes) as integers up to "
            f"{int(ints.dist[m].max())}; the rounding may make its tour "
            f"longer than optimal by {by} (costs that span many orders of "
            f"magnitude lose their small differences)", stacklevel=2)
    tour = _lkh_tour(ints.dist, solver, runs, lkh_executable)
    if not np.all(m[tour, np.roll(tour, -1)]):
        raise ValueError("No Hamiltonian cycle was found within the edges of "
                         "the graph (LKH found only tours that use missing "
                         "edges; the graph may have none)")
    return tour


def _tsp_edges(edge_index: np.ndarray, cost: np.ndarray, num_nodes: int,
               solver: str = 'elkai', runs: int = 10,
               lkh_executable: str = 'LKH') -> np.ndarray:
    r"""Solves the TSP of one graph given by edge costs and returns the
    indicator of the tour's edges, aligned with :obj:`edge_index`.

    The cost of the undirected pair :math:`\{i, j\}` is the *sum* of the
    costs of all entries of :obj:`edge_index` that join :math:`i` and
    :math:`j` (in either direction), and every such entry is marked in the
    output, so the output is exactly :math:`\arg\min_y \langle c, y\rangle`
    over the tour indicators in this layout. For a graph that lists every
    pair in both directions (PyG's complete graphs) this is the mean of the
    two directions, and a tour of :math:`n` nodes has :math:`2n` ones; with
    one direction per pair, :math:`n` ones. Pairs absent from
    :obj:`edge_index` cannot be used; self-loops are never used.

    Args:
        edge_index (numpy.ndarray): The local edges, shape :obj:`[2, E]`.
        cost (numpy.ndarray): The edge costs, shape :obj:`[E]`.
        num_nodes (int): The number of nodes :math:`n \geq 3`.
        solver (str, optional): See :func:`tsp_tour`.
            (default: :obj:`"elkai"`)
        runs (int, optional): See :func:`tsp_tour`. (default: :obj:`10`)
        lkh_executable (str, optional): See :func:`tsp_tour`.
            (default: :obj:`"LKH"`)
    """
    n = int(num_nodes)
    ei = np.asarray(edge_index, dtype=np.int64)
    w = np.asarray(cost, dtype=np.float64).reshape(-1)
    if n < 3:
        raise ValueError(f"A tour needs at least 3 nodes (got a graph with "
                         f"{n} nodes)")
    src, dst = ei
    keep = src != dst
    lo, hi = np.minimum(src, dst)[keep], np.maximum(src, dst)[keep]
    a = np.abs(w[keep]).max() if keep.any() else 0.0
    if a > 0:  # a positive scale changes no tour; avoids overflow below
        w = w / a
    c = np.zeros((n, n))
    np.add.at(c, (lo, hi), w[keep])
    c = c + c.T
    m = np.zeros((n, n), dtype=bool)
    m[lo, hi] = m[hi, lo] = True
    tour = tsp_tour(c, m, solver=solver, runs=runs,
                    lkh_executable=lkh_executable)
    pos = np.empty(n, dtype=np.int64)
    pos[tour] = np.arange(n)
    d = np.abs(pos[src] - pos[dst])
    return (keep & ((d == 1) | (d == n - 1))).astype(np.float64)


def _check_tsp_graphs(blocks: GraphBlocks, num_nodes: int,
                      solver: str = 'elkai') -> None:
    r"""Raises a :class:`ValueError` for a graph of the batch that cannot
    have a tour: fewer than 3 nodes, a node with fewer than 2 neighbours, or
    a disconnected graph (and, for :obj:`solver="exact"`, more than 12
    nodes)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    sizes = np.diff(blocks.node_ptr)
    small = np.nonzero(sizes < 3)[0]
    if small.size:
        g = int(small[0])
        raise ValueError(f"A tour needs at least 3 nodes per graph (graph {g} "
                         f"has {int(sizes[g])})")
    if solver == 'exact' and sizes.size and sizes.max() > MAX_EXACT_NODES:
        g = int(np.argmax(sizes))
        raise ValueError(f"solver='exact' (Held-Karp) handles at most "
                         f"{MAX_EXACT_NODES} nodes per graph (graph {g} has "
                         f"{int(sizes[g])}); use solver='elkai'")
    assert blocks.local_edge_index is not None
    assert blocks.edge_ptr is not None
    # Global node ids of the edges, in edge_perm order.
    eb = np.repeat(np.arange(blocks.num_graphs), np.diff(blocks.edge_ptr))
    ei = blocks.local_edge_index + blocks.node_ptr[eb]
    src, dst = ei
    keep = src != dst
    lo, hi = np.minimum(src, dst)[keep], np.maximum(src, dst)[keep]
    pairs = np.unique(lo * max(num_nodes, 1) + hi)
    lo, hi = pairs // max(num_nodes, 1), pairs % max(num_nodes, 1)
    deg = np.bincount(np.concatenate([lo, hi]), minlength=num_nodes)
    node_graph = np.repeat(np.arange(blocks.num_graphs), sizes)
    bad = np.nonzero(deg < 2)[0]
    if bad.size:
        v = int(bad[0])
        g = int(node_graph[v])
        raise ValueError(
            f"No Hamiltonian cycle: node {v - int(blocks.node_ptr[g])} of "
            f"graph {g} has {int(deg[v])} neighbour(s), a tour needs 2")
    adj = coo_matrix((np.ones(lo.size), (lo, hi)),
                     shape=(num_nodes, num_nodes))
    _, label = connected_components(adj, directed=False)
    # Each graph is connected iff its nodes share one label.
    first = label[blocks.node_ptr[:-1]]
    split = np.nonzero(label != first[node_graph])[0]
    if split.size:
        g = int(node_graph[split[0]])
        raise ValueError(f"No Hamiltonian cycle: graph {g} is not connected")


def _tsp_solver(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    solver: str = 'elkai',
    runs: int = 10,
    num_workers: int = 0,
    lkh_executable: str = 'LKH',
    timeout: Optional[float] = None,
) -> Tuple[Callable[[Tensor], Tensor], int]:
    # Validates the arguments (the layout of `cost`, not its values) and
    # splits the batch once; returns the per-call solver, which maps costs of
    # that layout to the tour indicator in their dtype, shape and device, and
    # the number of graphs. Shared by `solve_tsp` and the functional `tsp`.
    _check_options(solver, runs, lkh_executable)
    check_num_workers(num_workers)
    check_timeout(timeout)
    num_nodes = check_edge_inputs(cost, edge_index, batch, num_nodes,
                                  allow_column=True)
    blocks = graph_blocks(batch, num_nodes, edge_index, num_graphs)
    _check_tsp_graphs(blocks, num_nodes, solver)
    options = (solver, runs, lkh_executable)

    def stack(times: int) -> Callable[[Tensor], Tensor]:
        return _tsp_closure(blocks.tile(times), options, num_workers,
                            timeout)

    return with_stack(_tsp_closure(blocks, options, num_workers, timeout),
                      stack), blocks.num_graphs


def _tsp_closure(blocks: GraphBlocks, options: Tuple[str, int, str],
                 num_workers: int,
                 timeout: Optional[float]) -> Callable[[Tensor], Tensor]:
    # The per-call solver of validated blocks: costs in, tours out.
    assert blocks.edge_perm is not None
    edges = [blocks.edges(g) for g in range(blocks.num_graphs)]
    local = [(blocks.edge_index(g), blocks.num_nodes(g))
             for g in range(blocks.num_graphs)]

    def solve(c: Tensor) -> Tensor:
        w = to_numpy(c).reshape(-1)
        tasks = [(ei, w[e], n, *options) for (ei, n), e in zip(local, edges)]
        out = np.zeros(w.size, dtype=np.float64)
        for e, y in zip(edges, map_graphs(_tsp_edges, tasks, num_workers,
                                          timeout)):
            out[e] = y
        return torch.from_numpy(out).to(c.device, c.dtype).view(c.shape)

    return solve


def solve_tsp(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    solver: str = 'elkai',
    runs: int = 10,
    num_workers: int = 0,
    lkh_executable: str = 'LKH',
    timeout: Optional[float] = None,
) -> Tensor:
    r"""Solves the TSP of every graph of a PyG batch given by edge costs (no
    autograd; see :class:`pyg_identity.nn.IdentityTSP` for the layer and
    :func:`pyg_identity.nn.functional.tsp` for the functional, which run
    this solver).

    The cost of the undirected pair :math:`\{i, j\}` is the *sum* of the
    costs of the entries of :obj:`edge_index` joining :math:`i` and
    :math:`j`, and every such entry of a tour edge is marked, so the output
    is :math:`\arg\min_y \langle c, y\rangle` over the tour indicators in
    this layout (PyG's complete graphs, both directions listed: :math:`2n`
    ones per graph of :math:`n` nodes; one direction per pair: :math:`n`).
    Self-loops are never used; a graph without a tour within its edges
    raises a :class:`ValueError`.

    Args:
        cost (torch.Tensor): The edge costs, shape :obj:`[E]` or
            :obj:`[E, 1]`.
        edge_index (torch.Tensor): The edges, shape :obj:`[2, E]`.
        batch (torch.Tensor, optional): The batch vector. (default:
            :obj:`None`)
        num_nodes (int, optional): The number of nodes; taken from
            :obj:`batch` or :obj:`edge_index` if not given. (default:
            :obj:`None`)
        num_graphs (int, optional): The number of graphs. (default:
            :obj:`None`)
        solver (str, optional): :obj:`"elkai"` (LKH-3 via :obj:`elkai`),
            :obj:`"exact"` (Held--Karp, at most :obj:`MAX_EXACT_NODES` = 12
            nodes per graph) or :obj:`"lkh"` (your LKH-3 executable via the
            :obj:`lkh` package). (default: :obj:`"elkai"`)
        runs (int, optional): The number of LKH runs per graph (more runs,
            better tours, proportionally more time). (default: :obj:`10`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        lkh_executable (str, optional): The LKH-3 executable for
            :obj:`solver="lkh"`. (default: :obj:`"LKH"`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)

    Returns:
        The tour indicator (0/1 values) in the dtype, shape and device of
        :obj:`cost`.
    """
    solve, _ = _tsp_solver(cost, edge_index, batch, num_nodes, num_graphs,
                           solver=solver, runs=runs, num_workers=num_workers,
                           lkh_executable=lkh_executable, timeout=timeout)
    check_finite_cost(cost)
    return solve(cost.detach())


__all__ = ['held_karp', 'tsp_tour', 'tour_length', 'solve_tsp',
           'MAX_EXACT_NODES']
