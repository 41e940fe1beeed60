r"""Linear assignment (bipartite matching) on ragged batches of graph pairs:
torch in, a 0/1 indicator per candidate pair out, no autograd.

Every pair :math:`b` of a batch has :math:`n_s` source and :math:`n_t` target
nodes and a set :math:`E_b` of candidate pairs :math:`(i, j)` with costs
:math:`c_{ij}`. Without an unmatch cost the solver returns a minimum-cost
matching of size :math:`\min(n_s, n_t)` within :math:`E_b`; with an unmatch
cost :math:`u \geq 0` it minimises

.. math::
    \sum_{(i, j) \in M} c_{ij} + u \cdot (\#\text{unmatched source nodes} +
    \#\text{unmatched target nodes})

over all matchings :math:`M \subseteq E_b`, so a pair is matched only if that
beats leaving both of its nodes unmatched (:math:`c_{ij} < 2u`, jointly with
the rest of the matching). Ties at :math:`c_{ij} = 2u` are left unmatched.

Dense per-pair blocks are solved with
:func:`scipy.optimize.linear_sum_assignment` (faster than
:obj:`pygmtools.linear_solvers.hungarian`, which wraps it and pads the batch),
large sparse candidate sets with
:func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`.

The public solver is :func:`solve_assignment`; it and the functional
:func:`pyg_identity.nn.functional.matching` share one builder,
:func:`_assignment_solver`, which validates and splits the batch once and
returns the per-call solver. The per-pair numpy kernels are private.
"""
import operator
import time
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.solvers._dispatch import (
    check_num_workers,
    check_timeout,
    graph_blocks,
    map_graphs,
)

METHODS = ('auto', 'dense', 'sparse')

# 'auto' solves a pair with an incomplete candidate set densely (forbidden
# pairs at +inf) up to this many entries n_s * n_t, sparsely above (measured:
# the sparse solver has ~0.1 ms fixed cost and wins from about 100 x 100).
DENSE_MAX_ENTRIES = 10_000

# The positional order of every tier of linear assignment, quoted by the
# errors on misplaced tensors.
ORDER = ('cost, edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t, '
         'num_graphs')


class InfeasibleMatchingError(ValueError):
    r"""Raised when the candidate pairs admit no matching that covers the
    smaller side of a pair and no unmatch cost is given."""


def _is_index(src: Any) -> bool:
    return isinstance(src, Tensor) and not (
        src.is_floating_point() or src.is_complex()
        or src.dtype == torch.bool)


def _looks_like(src: Tensor) -> str:
    r"""What a tensor in the wrong argument most likely is."""
    if _is_index(src):
        if src.dim() == 2 and src.size(0) == 2:
            return 'an edge_index'
        return 'a batch vector' if src.dim() == 1 else 'an index tensor'
    if src.dim() == 2:
        return 'node embeddings'
    return 'a cost vector'


def _check_float(src: Any, name: str, order: str = ORDER) -> None:
    r"""Raises a :class:`ValueError` unless :obj:`src` is a floating point
    tensor; an integer tensor gets told what it looks like."""
    if isinstance(src, Tensor) and src.is_floating_point():
        return
    hint = ''
    if isinstance(src, Tensor):
        hint = f'; this looks like {_looks_like(src)} — the order is {order}'
    raise ValueError(f"'{name}' must be a floating point tensor (got "
                     f"{getattr(src, 'dtype', type(src))}{hint})")


def _check_index(src: OptTensor, name: str, dim: int = 1,
                 order: str = ORDER) -> None:
    r"""Raises a :class:`ValueError` unless :obj:`src` is :obj:`None` or an
    integer tensor with :obj:`dim` dimensions; a floating point tensor gets
    told what it looks like."""
    if src is None:
        return
    if not _is_index(src):
        hint = ''
        if isinstance(src, Tensor) and src.is_floating_point():
            hint = (f'; this looks like {_looks_like(src)} — the order is '
                    f'{order}')
        raise ValueError(f"'{name}' must be an integer tensor (got "
                         f"{getattr(src, 'dtype', type(src))}{hint})")
    if src.dim() != dim:
        raise ValueError(f"'{name}' must be {dim}-dimensional (got shape "
                         f"{list(src.size())})")


def _check_unmatch_cost(unmatch_cost: Optional[float]) -> Optional[float]:
    if unmatch_cost is None:
        return None
    try:
        u = float(unmatch_cost)
    except (TypeError, ValueError):
        raise ValueError(f"'unmatch_cost' must be a non-negative finite "
                         f"number or None (got {unmatch_cost!r})") from None
    if not (np.isfinite(u) and u >= 0):
        raise ValueError(f"'unmatch_cost' must be a non-negative finite "
                         f"number or None (got {unmatch_cost!r})")
    return u


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"'method' must be 'auto', 'dense' or 'sparse' (got "
                         f"{method!r})")
    return method


def _check_projection_for_partial(projection: Optional[str],
                                  unmatch_cost: Optional[float]) -> None:
    # A shift of all costs by the per-pair mean changes which partial
    # matching is cheapest (their sizes differ); only scaling keeps it.
    if unmatch_cost is not None and projection in ('mean', 'std'):
        raise ValueError(f"'projection' {projection!r} changes the solution "
                         f"of a partial matching ('unmatch_cost' = "
                         f"{unmatch_cost}: matchings differ in size); use "
                         f"projection=None or 'norm'")


# Per-pair kernels (numpy) ###################################################

def _linear_assignment(
    cost: np.ndarray,
    unmatch_cost: Optional[float] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    r"""Solves one dense (rectangular) linear assignment problem.

    Args:
        cost (numpy.ndarray): The costs of shape :obj:`[n_s, n_t]`;
            :obj:`numpy.inf` marks a forbidden pair.
        unmatch_cost (float, optional): The cost :math:`u \geq 0` of leaving
            a node unmatched. If :obj:`None`, exactly :math:`\min(n_s, n_t)`
            pairs are matched. (default: :obj:`None`)

    Returns:
        The source and target indices :obj:`(row, col)` of the matched pairs.

    Raises:
        InfeasibleMatchingError: If no unmatch cost is given and the allowed
            pairs admit no matching of size :math:`\min(n_s, n_t)`.
    """
    cost = np.asarray(cost)
    if cost.ndim != 2:
        raise ValueError(f"'cost' must be two-dimensional (got shape "
                         f"{list(cost.shape)})")
    if np.isnan(cost).any() or np.isneginf(cost).any():
        raise ValueError("'cost' must not contain NaN or -inf")
    u = _check_unmatch_cost(unmatch_cost)
    out = _dense_pair(cost, u)
    if out is None:
        raise InfeasibleMatchingError(
            f"The allowed pairs admit no matching of size min(n_s, n_t) = "
            f"{min(cost.shape)}; allow more pairs or set 'unmatch_cost'")
    return out


_LSA: Any = None


def _linear_sum_assignment() -> Any:
    # scipy.optimize is imported on first use, once (not once per pair).
    global _LSA
    if _LSA is None:
        from scipy.optimize import linear_sum_assignment
        _LSA = linear_sum_assignment
    return _LSA


def _dense_pair(cost: np.ndarray, unmatch_cost: Optional[float]) -> Optional[
        Tuple[np.ndarray, np.ndarray]]:
    # Module-level (picklable) for `map_graphs`; None if infeasible.
    linear_sum_assignment = _linear_sum_assignment()
    if unmatch_cost is None:
        try:
            return linear_sum_assignment(cost)
        except ValueError:  # "cost matrix is infeasible"
            return None
    # A minimum-cost partial matching with costs c' = c - 2u equals a
    # minimum-cost *full* matching with costs min(c', 0) after dropping the
    # pairs with c' >= 0 (every partial matching extends to a full one of no
    # larger clipped cost). Forbidden pairs (inf) clip to 0 and are dropped.
    shifted = cost.astype(np.float64) - 2.0 * unmatch_cost
    row, col = linear_sum_assignment(np.minimum(shifted, 0.0))
    keep = shifted[row, col] < 0
    return row[keep], col[keep]


def _sparse_linear_assignment(
    row: np.ndarray,
    col: np.ndarray,
    cost: np.ndarray,
    num_nodes_s: int,
    num_nodes_t: int,
    unmatch_cost: Optional[float] = None,
) -> np.ndarray:
    r"""Solves one linear assignment problem on a sparse candidate set with
    :func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`.

    Args:
        row (numpy.ndarray): The source node of every candidate pair,
            :obj:`[E]`.
        col (numpy.ndarray): The target node of every candidate pair,
            :obj:`[E]`. Candidate pairs must be unique.
        cost (numpy.ndarray): The finite cost of every candidate pair,
            :obj:`[E]`.
        num_nodes_s (int): The number of source nodes :math:`n_s`.
        num_nodes_t (int): The number of target nodes :math:`n_t`.
        unmatch_cost (float, optional): The cost :math:`u \geq 0` of leaving
            a node unmatched. (default: :obj:`None`)

    Returns:
        The positions (into :obj:`row`) of the matched candidate pairs.

    Raises:
        InfeasibleMatchingError: If no unmatch cost is given and the
            candidates admit no matching of size :math:`\min(n_s, n_t)`.
    """
    row = np.asarray(row, dtype=np.int64)
    col = np.asarray(col, dtype=np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    if not (row.ndim == col.ndim == cost.ndim == 1
            and row.size == col.size == cost.size):
        raise ValueError(f"'row', 'col' and 'cost' must be one-dimensional "
                         f"of equal length (got shapes {list(row.shape)}, "
                         f"{list(col.shape)}, {list(cost.shape)})")
    if not np.isfinite(cost).all():
        raise ValueError("'cost' must be finite")
    if row.size and (row.min() < 0 or row.max() >= num_nodes_s
                     or col.min() < 0 or col.max() >= num_nodes_t):
        raise ValueError(f"'row' and 'col' must index [0, {num_nodes_s}) and "
                         f"[0, {num_nodes_t})")
    order = np.lexsort((col, row))
    key = row[order] * max(num_nodes_t, 1) + col[order]
    if key.size > 1 and np.any(key[1:] == key[:-1]):
        raise ValueError("'row' and 'col' contain duplicate candidate pairs")
    indptr = np.zeros(num_nodes_s + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=num_nodes_s), out=indptr[1:])
    u = _check_unmatch_cost(unmatch_cost)
    pos = _sparse_pair(indptr, col[order], cost[order], num_nodes_s,
                       num_nodes_t, u)
    if pos is None:
        raise InfeasibleMatchingError(
            f"The candidate pairs admit no matching of size min(n_s, n_t) = "
            f"{min(num_nodes_s, num_nodes_t)}; add candidates or set "
            f"'unmatch_cost'")
    return np.sort(order[pos])


def _positive_weights(data: np.ndarray) -> np.ndarray:
    # scipy needs non-zero weights: scale by a power of two (exact) into
    # (-1, 1), then shift into [s, 2 s] with s the spread, so that the
    # differences keep the precision of the costs (a shift by 1 would round
    # costs of ~1e-9 to 7 digits). Only used where every full matching has
    # the same number of edges, so the shift keeps the argmin.
    a = float(np.abs(data).max()) if data.size else 0.0
    if a > 0:
        data = np.ldexp(data, -int(np.frexp(a)[1]))
    lo = data.min() if data.size else 0.0
    span = float(data.max() - lo) if data.size else 0.0
    return data - lo + (span if span > 0 else 1.0)


def _full_matching(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                   n_rows: int, n_cols: int) -> Tuple[np.ndarray, np.ndarray]:
    # LAPJVsp on a CSR graph; raises a ValueError if no full matching exists.
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    # On a square graph scipy's LAPJVsp starts with the augmenting row
    # reduction of Jonker & Volgenant, which loops forever (holding the GIL,
    # deaf to Ctrl-C) when a dual update is absorbed by floating-point
    # rounding (near-ties, e.g. costs of ~1e-9 beside an unmatch cost). A
    # column without edges makes the graph rectangular: every full matching
    # is the same, but scipy then runs only the shortest augmenting paths,
    # which scan each column at most once per row and always terminate.
    pad = int(n_rows == n_cols)
    graph = csr_array((data, indices, indptr), shape=(n_rows, n_cols + pad))
    return min_weight_full_bipartite_matching(graph)


def _sparse_pair(indptr: np.ndarray, col: np.ndarray, cost: np.ndarray,
                 n_s: int, n_t: int,
                 unmatch_cost: Optional[float]) -> Optional[np.ndarray]:
    # CSR input (edges sorted by source node); returns matched positions
    # into `col`, or None if infeasible. Module-level for `map_graphs`.
    num_edges = col.size
    if n_s == 0 or n_t == 0:
        return np.zeros(0, dtype=np.int64)
    if num_edges == 0:
        return None if unmatch_cost is None else np.zeros(0, dtype=np.int64)
    row = np.repeat(np.arange(n_s), np.diff(indptr))
    if unmatch_cost is None:
        # All full matchings have min(n_s, n_t) pairs, so a constant shift
        # keeps the argmin and makes every weight non-zero (scipy needs it).
        try:
            r, c = _full_matching(_positive_weights(cost), col, indptr, n_s,
                                  n_t)
        except ValueError:
            return None
    else:
        # Augmented graph with a perfect matching of size n_s + n_t: rows are
        # sources then target dummies j', columns targets then source
        # dummies i'. Edges: (i, j) at c_ij, (i, i') and (j', j) at u, and
        # (j', i') at 0 for every candidate (i, j), so that matched pairs'
        # dummies can pair up. Every perfect matching has n_s + n_t edges.
        u = unmatch_cost
        ar_s, ar_t = np.arange(n_s), np.arange(n_t)
        rows = np.concatenate([row, ar_s, n_s + ar_t, n_s + col])
        cols = np.concatenate([col, n_t + ar_s, ar_t, n_t + row])
        data = np.concatenate([cost, np.full(n_s + n_t, u),
                               np.zeros(num_edges)])
        n = n_s + n_t
        order = np.lexsort((cols, rows))
        indptr_aug = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr_aug[1:])
        r, c = _full_matching(_positive_weights(data[order]), cols[order],
                              indptr_aug, n, n)
        keep = (r < n_s) & (c < n_t)
        r, c = r[keep], c[keep]
    # Matched (r, c) back to positions in the CSR order.
    match = np.full(n_s, -1, dtype=np.int64)
    match[r] = c
    return np.flatnonzero(match[row] == col)


class _AssignmentPlan(NamedTuple):
    r"""How a batch of pairs is split into per-pair problems; built once per
    forward pass by :func:`_assignment_plan` and reused by every solver call
    (*e.g.* the second one of the Blackbox backward)."""
    num_edges: int
    # Dense pairs: offset into the dense buffer, n_s, n_t (Python lists).
    dense_pairs: List[int]
    dense_offset: List[int]
    dense_n_s: List[int]
    dense_n_t: List[int]
    dense_size: int
    # Hot path without unmatch cost: runs of consecutive dense pairs of one
    # shape (offset, count, n_s, n_t), solved with the short side as rows so
    # that scipy returns rows == arange; then match m of the batch sits at
    # buffer position base[m] + col[m] * mult[m].
    dense_runs: List[Tuple[int, int, int, int]]
    dense_base: np.ndarray
    dense_mult: np.ndarray
    # Buffer position of every candidate solved densely and the inverse map;
    # None if the costs are already the buffer (all pairs, row-major).
    dense_edges: Optional[np.ndarray]
    dense_flat: Optional[np.ndarray]
    dense_inv: Optional[np.ndarray]
    # Sparse pairs: (pair, edge ids in CSR order, indptr, local col, n_s,
    # n_t) per pair.
    sparse: List[Tuple[int, np.ndarray, np.ndarray, np.ndarray, int, int]]


def _counts(ptr: np.ndarray) -> np.ndarray:
    return np.diff(ptr)


def _hot_plan(off: np.ndarray, n_s: np.ndarray, n_t: np.ndarray,
              pairs: np.ndarray) -> Tuple[Any, np.ndarray, np.ndarray]:
    # Match m of pair p (m - start[p] = position on the short side) sits at
    # off[p] + (m - start[p]) * stride[p] + col * mult[p].
    off, n_s, n_t = off[pairs], n_s[pairs], n_t[pairs]
    P = pairs.size
    if P == 0:
        empty = np.zeros(0, dtype=np.int64)
        return [], empty, empty
    a, b = int(n_s[0]), int(n_t[0])
    if P == 1 or (bool((n_s == a).all()) and bool((n_t == b).all())):
        # One shape (a padded batch): one run, no per-pair arrays.
        k = min(a, b)
        stride, mult = (b, 1) if a <= b else (1, b)
        base = (off[:, None] + np.arange(k) * stride).reshape(-1)
        return ([(int(off[0]), P, a, b)], base,
                np.full(P * k, mult, dtype=np.int64))
    start = np.ones(P, dtype=bool)
    start[1:] = (n_s[1:] != n_s[:-1]) | (n_t[1:] != n_t[:-1])
    first = np.flatnonzero(start)
    count = np.diff(first, append=P)
    runs = list(zip(off[first].tolist(), count.tolist(), n_s[first].tolist(),
                    n_t[first].tolist()))
    kk = np.minimum(n_s, n_t)
    cum = np.cumsum(kk)
    wide = n_s <= n_t
    strides = np.where(wide, n_t, 1)
    base = (np.repeat(off - (cum - kk) * strides, kk)
            + np.arange(int(cum[-1])) * np.repeat(strides, kk))
    mults = np.repeat(np.where(wide, 1, n_t), kk)
    return runs, base, mults


def _assignment_plan(
    ptr_s: np.ndarray,
    ptr_t: np.ndarray,
    edge_index: Optional[np.ndarray] = None,
    method: str = 'auto',
) -> _AssignmentPlan:
    r"""Splits a batch of pairs into per-pair assignment problems.

    Args:
        ptr_s (numpy.ndarray): Source node boundaries of the pairs,
            :obj:`[B + 1]`.
        ptr_t (numpy.ndarray): Target node boundaries of the pairs,
            :obj:`[B + 1]`.
        edge_index (numpy.ndarray, optional): Global candidate pairs
            :obj:`[2, E]` (source node, target node), each within one pair
            and unique. If :obj:`None`, all :math:`n_s n_t` pairs of every
            pair in row-major order (see
            :func:`pyg_identity.nn.functional.all_pairs`).
            (default: :obj:`None`)
        method (str, optional): :obj:`"dense"` (scipy's
            :obj:`linear_sum_assignment` on per-pair blocks, forbidden pairs
            at :math:`+\infty`), :obj:`"sparse"` (scipy's
            :obj:`min_weight_full_bipartite_matching`) or :obj:`"auto"`
            (dense for complete candidate sets and for blocks of at most
            :obj:`DENSE_MAX_ENTRIES` entries, sparse otherwise).
            (default: :obj:`"auto"`)
    """
    if method not in METHODS:
        raise ValueError(f"'method' must be 'auto', 'dense' or 'sparse' (got "
                         f"{method!r})")
    ptr_s = np.asarray(ptr_s, dtype=np.int64)
    ptr_t = np.asarray(ptr_t, dtype=np.int64)
    n_s, n_t = _counts(ptr_s), _counts(ptr_t)
    num_pairs = n_s.size
    if edge_index is None:
        sizes = n_s * n_t
        num_edges = int(sizes.sum())
        if method != 'sparse':
            off = np.zeros(num_pairs, dtype=np.int64)
            np.cumsum(sizes[:-1], out=off[1:])
            nz = np.flatnonzero(sizes)
            return _AssignmentPlan(num_edges, nz.tolist(), off[nz].tolist(),
                                  n_s[nz].tolist(), n_t[nz].tolist(),
                                  num_edges, *_hot_plan(off, n_s, n_t, nz),
                                  None, None, None, [])
        # Forced sparse on all pairs: materialise the edge list.
        pair = np.repeat(np.arange(num_pairs), sizes)
        off = np.zeros(num_pairs, dtype=np.int64)
        np.cumsum(sizes[:-1], out=off[1:])
        k = np.arange(num_edges) - off[pair]
        edge_index = np.stack([ptr_s[pair] + k // np.maximum(n_t[pair], 1),
                               ptr_t[pair] + k % np.maximum(n_t[pair], 1)])

    ei = np.asarray(edge_index, dtype=np.int64)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(ei.shape)})")
    num_edges = ei.shape[1]
    src, dst = ei[0], ei[1]
    if num_edges and (src.min() < 0 or src.max() >= ptr_s[-1]
                      or dst.min() < 0 or dst.max() >= ptr_t[-1]):
        raise ValueError(f"'edge_index' refers to source nodes outside [0, "
                         f"{int(ptr_s[-1])}) or target nodes outside [0, "
                         f"{int(ptr_t[-1])})")
    pair = np.searchsorted(ptr_s, src, side='right') - 1
    pair_t = np.searchsorted(ptr_t, dst, side='right') - 1
    if np.any(pair != pair_t):
        raise ValueError("'edge_index' pairs a source node with a target node "
                         "of a different pair")
    loc_s = src - ptr_s[pair]
    loc_t = dst - ptr_t[pair]
    # Sort by (pair, source, target): CSR order inside every pair.
    order = np.lexsort((loc_t, loc_s, pair))
    key = (ptr_s[pair] + loc_s)[order] * max(int(ptr_t[-1]), 1) + dst[order]
    if key.size > 1 and np.any(key[1:] == key[:-1]):
        raise ValueError("'edge_index' contains duplicate candidate pairs")
    edge_count = np.bincount(pair, minlength=num_pairs)
    edge_ptr = np.zeros(num_pairs + 1, dtype=np.int64)
    np.cumsum(edge_count, out=edge_ptr[1:])
    sizes = n_s * n_t
    if method == 'dense':
        dense = np.ones(num_pairs, dtype=bool)
    elif method == 'sparse':
        dense = np.zeros(num_pairs, dtype=bool)
    else:
        dense = (edge_count == sizes) | (sizes <= DENSE_MAX_ENTRIES)
    dense &= sizes > 0

    dpairs = np.flatnonzero(dense)
    doff = np.zeros(num_pairs, dtype=np.int64)
    np.cumsum(np.where(dense, sizes, 0)[:-1], out=doff[1:])
    dense_size = int(np.where(dense, sizes, 0).sum())
    dmask = dense[pair]
    dense_edges = np.flatnonzero(dmask)
    dense_flat = (doff[pair] + loc_s * n_t[pair] + loc_t)[dense_edges]
    dense_inv = np.full(dense_size, -1, dtype=np.int64)
    dense_inv[dense_flat] = dense_edges

    sparse = []
    for b in np.flatnonzero(~dense & (sizes > 0)).tolist():
        sel = order[edge_ptr[b]:edge_ptr[b + 1]]
        nsb, ntb = int(n_s[b]), int(n_t[b])
        indptr = np.zeros(nsb + 1, dtype=np.int64)
        np.cumsum(np.bincount(loc_s[sel], minlength=nsb), out=indptr[1:])
        sparse.append((b, sel, indptr, loc_t[sel], nsb, ntb))

    return _AssignmentPlan(num_edges, dpairs.tolist(), doff[dpairs].tolist(),
                          n_s[dpairs].tolist(), n_t[dpairs].tolist(),
                          dense_size, *_hot_plan(doff, n_s, n_t, dpairs),
                          dense_edges, dense_flat, dense_inv, sparse)


def _infeasible(pair: int, n_s: int, n_t: int) -> InfeasibleMatchingError:
    return InfeasibleMatchingError(
        f"The candidate pairs of pair {pair} (n_s={n_s}, n_t={n_t}) admit no "
        f"matching that covers all min(n_s, n_t) = {min(n_s, n_t)} nodes of "
        f"its smaller side; add candidates or set 'unmatch_cost'")


def _map(fn: Any, tasks: Sequence[Sequence[Any]], num_workers: int,
         timeout: Optional[float]) -> List[Any]:
    if num_workers > 1 or timeout is not None:
        return map_graphs(fn, tasks, num_workers, timeout)
    return [fn(*task) for task in tasks]


def _raise_infeasible(sols: Sequence[Any], plan: _AssignmentPlan) -> None:
    for i, sol in enumerate(sols):
        if sol is None:
            raise _infeasible(plan.dense_pairs[i], plan.dense_n_s[i],
                              plan.dense_n_t[i])


_SECOND = operator.itemgetter(1)


def _solve_dense_hot(buf: np.ndarray, plan: _AssignmentPlan) -> np.ndarray:
    # No unmatch cost, in process: only scipy calls in the per-pair loop.
    blocks: List[np.ndarray] = []
    for o, cnt, a, b in plan.dense_runs:
        if cnt == 1:
            blk = buf[o:o + a * b].reshape(a, b)
            blocks.append(blk if a <= b else blk.T)
        else:
            arr = buf[o:o + cnt * a * b].reshape(cnt, a, b)
            blocks.extend(arr if a <= b else arr.transpose(0, 2, 1))
    try:
        sols = list(map(_linear_sum_assignment(), blocks))
    except ValueError:  # An infeasible pair (forbidden pairs at inf).
        _raise_infeasible([_dense_pair(c, None) for c in blocks], plan)
        raise
    cols = np.concatenate(list(map(_SECOND, sols)))
    return plan.dense_base + cols * plan.dense_mult


def _solve_plan(
    cost: np.ndarray,
    plan: _AssignmentPlan,
    unmatch_cost: Optional[float] = None,
    num_workers: int = 0,
    timeout: Optional[float] = None,
) -> np.ndarray:
    r"""Solves every pair of a batch and returns the 0/1 indicator of the
    matched candidate pairs, in the layout and dtype of :obj:`cost`.

    Args:
        cost (numpy.ndarray): The finite cost of every candidate pair,
            :obj:`[E]`, aligned with the :obj:`edge_index` (or all pairs)
            the plan was built from.
        plan (_AssignmentPlan): The output of :func:`_assignment_plan`.
        unmatch_cost (float, optional): The cost :math:`u \geq 0` of leaving
            a node unmatched. (default: :obj:`None`)
        num_workers (int, optional): Solve in a pool of this many processes
            if :obj:`> 1`. (default: :obj:`0`)
        timeout (float, optional): Seconds the call (dense and sparse pairs
            together) may take; past it the worker processes are terminated
            and a :class:`TimeoutError` is raised. With a timeout the pairs
            are solved in worker processes even for :obj:`num_workers=0`
            (see :func:`pyg_identity.solvers.map_graphs`).
            (default: :obj:`None`)

    Raises:
        InfeasibleMatchingError: If a pair has no full matching and no
            unmatch cost is given.
    """
    u = _check_unmatch_cost(unmatch_cost)
    check_num_workers(num_workers)
    timeout = check_timeout(timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    cost = np.asarray(cost)
    if cost.shape != (plan.num_edges, ):
        raise ValueError(f"'cost' must have shape [{plan.num_edges}] (got "
                         f"{list(cost.shape)})")
    dtype = cost.dtype if cost.dtype.kind == 'f' else np.dtype(np.float64)
    y = np.zeros(plan.num_edges, dtype=dtype)

    if plan.dense_pairs:
        if plan.dense_flat is None:
            buf = cost
        else:
            buf = np.full(plan.dense_size, np.inf, dtype=dtype)
            buf[plan.dense_flat] = cost[plan.dense_edges]
        if u is None and num_workers <= 1 and timeout is None:
            flat = _solve_dense_hot(buf, plan)
        else:
            blocks = [buf[o:o + a * b].reshape(a, b) for o, a, b in zip(
                plan.dense_offset, plan.dense_n_s, plan.dense_n_t)]
            sols = _map(_dense_pair, [(c, u) for c in blocks], num_workers,
                        timeout)
            _raise_infeasible(sols, plan)
            rows = np.concatenate([s[0] for s in sols])
            cols = np.concatenate([s[1] for s in sols])
            counts = [s[0].size for s in sols]
            off = np.repeat(np.asarray(plan.dense_offset, dtype=np.int64),
                            counts)
            n_t = np.repeat(np.asarray(plan.dense_n_t, dtype=np.int64),
                            counts)
            flat = off + rows * n_t + cols
        y[flat if plan.dense_inv is None else plan.dense_inv[flat]] = 1

    if plan.sparse:
        tasks = [(indptr, col, cost[sel].astype(np.float64), a, b, u)
                 for _, sel, indptr, col, a, b in plan.sparse]
        left = None if deadline is None else max(
            deadline - time.monotonic(), 1e-3)  # what the dense pairs left
        try:
            sols = _map(_sparse_pair, tasks, num_workers, left)
        except TimeoutError as e:
            if timeout is None:
                raise
            raise TimeoutError(f"The linear assignment did not finish within "
                               f"timeout={timeout:g} s ({e})") from None
        for (pair, sel, _, _, a, b), pos in zip(plan.sparse, sols):
            if pos is None:
                raise _infeasible(pair, a, b)
            y[sel[pos]] = 1
    return y




# The batch of pairs #########################################################

def _side_nodes(batch: OptTensor, num_nodes: Optional[int], row: int,
                edge_index: OptTensor, side: str) -> int:
    if num_nodes is not None and (isinstance(num_nodes, bool)
                                  or not isinstance(num_nodes, int)
                                  or num_nodes < 0):
        raise ValueError(f"'num_nodes_{side}' must be a non-negative "
                         f"integer (got {num_nodes!r})")
    if batch is not None:
        if num_nodes is not None and num_nodes != batch.numel():
            raise ValueError(f"'batch_{side}' must have one entry per "
                             f"{side} node ({num_nodes}), got "
                             f"{batch.numel()} entries")
        return batch.numel()
    if num_nodes is not None:
        return num_nodes
    if edge_index is not None:  # PyG's `maybe_num_nodes`.
        return int(edge_index[row].max()) + 1 if edge_index.numel() else 0
    raise ValueError(f"'batch_{side}' or 'num_nodes_{side}' is required "
                     f"(got neither)")


def _pair_ptr(
    edge_index: OptTensor,
    batch_s: OptTensor,
    batch_t: OptTensor,
    num_nodes_s: Optional[int],
    num_nodes_t: Optional[int],
    num_graphs: Optional[int],
) -> Tuple[np.ndarray, np.ndarray, int]:
    r"""Validates a batch of pairs and returns the host-side source and
    target node boundaries of every pair and the number of pairs (the pair
    helpers of :mod:`pyg_identity.nn.functional` share it)."""
    _check_index(edge_index, 'edge_index', dim=2)
    _check_index(batch_s, 'batch_s')
    _check_index(batch_t, 'batch_t')
    if edge_index is not None and edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.size())})")
    n_s = _side_nodes(batch_s, num_nodes_s, 0, edge_index, 's')
    n_t = _side_nodes(batch_t, num_nodes_t, 1, edge_index, 't')
    if num_graphs is None:
        b_s = int(batch_s[-1]) + 1 if batch_s is not None and n_s else 1
        b_t = b_s if batch_t is batch_s else (
            int(batch_t[-1]) + 1 if batch_t is not None and n_t else 1)
        if b_s != b_t:
            raise ValueError(f"'batch_s' and 'batch_t' describe different "
                             f"numbers of pairs ({b_s} and {b_t}); pass "
                             f"'num_graphs' if trailing graphs are empty")
        num_graphs = b_s
    elif (isinstance(num_graphs, bool) or not isinstance(num_graphs, int)
          or num_graphs < 0):
        raise ValueError(f"'num_graphs' must be a non-negative integer (got "
                         f"{num_graphs!r})")
    if batch_s is None and num_graphs != 1:
        raise ValueError(f"'batch_s' is required for {num_graphs} pairs")
    if batch_t is None and num_graphs != 1:
        raise ValueError(f"'batch_t' is required for {num_graphs} pairs")
    ptr_s = graph_blocks(batch_s, n_s, num_graphs=num_graphs).node_ptr
    ptr_t = ptr_s if batch_t is batch_s and batch_s is not None else (
        graph_blocks(batch_t, n_t, num_graphs=num_graphs).node_ptr)
    return ptr_s, ptr_t, num_graphs


def _candidate_pair(edge_index: OptTensor, batch_s: OptTensor,
                    ptr_s: np.ndarray, ptr_t: np.ndarray,
                    device: torch.device) -> Tensor:
    r"""The pair of every candidate pair."""
    if edge_index is None:
        sizes = torch.from_numpy(np.diff(ptr_s) * np.diff(ptr_t))
        pair = torch.arange(sizes.numel()).repeat_interleave(sizes)
        return pair.to(device)
    if batch_s is None:
        return torch.zeros(edge_index.size(1), dtype=torch.long,
                           device=device)
    return batch_s.index_select(0, edge_index[0]).to(device)


class _AssignmentSolver:
    r"""The solver of one validated batch of pairs, built by
    :func:`_assignment_solver`: :obj:`solver(cost)` solves every pair for the
    costs :obj:`cost` (one entry per candidate pair) and may be called
    again (*e.g.* by the Blackbox backward) without splitting the batch
    again."""
    def __init__(self, plan: _AssignmentPlan, ptr_s: np.ndarray,
                 ptr_t: np.ndarray, num_graphs: int, edge_index: OptTensor,
                 batch_s: OptTensor, unmatch_cost: Optional[float],
                 num_workers: int, timeout: Optional[float]) -> None:
        self.plan = plan
        self.ptr_s = ptr_s
        self.ptr_t = ptr_t
        self.num_graphs = num_graphs
        self.edge_index = edge_index
        self.batch_s = batch_s
        self.unmatch_cost = unmatch_cost
        self.num_workers = num_workers
        self.timeout = timeout

    @property
    def num_edges(self) -> int:
        return self.plan.num_edges

    def check_cost(self, cost: Any, name: str = 'cost',
                   finite: bool = True) -> None:
        r"""Raises a :class:`ValueError` unless :obj:`cost` is a (finite,
        unless :obj:`finite=False`) floating point vector with one entry per
        candidate pair."""
        _check_float(cost, name)
        if cost.dim() != 1:
            raise ValueError(f"'{name}' must be one-dimensional, one entry "
                             f"per candidate pair (got shape "
                             f"{list(cost.size())})")
        if cost.numel() != self.num_edges:
            if self.edge_index is None:
                raise ValueError(f"'{name}' must have one entry per pair of "
                                 f"source and target nodes of the same pair "
                                 f"({self.num_edges}) when 'edge_index' is "
                                 f"None (got {cost.numel()})")
            raise ValueError(f"'{name}' must have one entry per candidate "
                             f"pair ({self.num_edges}) (got "
                             f"{cost.numel()})")
        if not finite:
            return
        d = cost.detach()
        # The sum is non-finite whenever an entry is (or on overflow).
        if not bool(torch.isfinite(d.sum())) and not bool(
                torch.isfinite(d).all()):
            raise ValueError(f"'{name}' must be finite (got NaN or inf)")

    def pair_index(self, device: torch.device) -> Tensor:
        r"""The pair of every candidate pair, :obj:`[E]`."""
        return _candidate_pair(self.edge_index, self.batch_s, self.ptr_s,
                               self.ptr_t, device)

    def __call__(self, cost: Tensor) -> Tensor:
        c = cost.detach()
        if c.dtype not in (torch.float32, torch.float64):
            c = c.double()
        y = _solve_plan(c.cpu().numpy(), self.plan, self.unmatch_cost,
                        self.num_workers, self.timeout)
        return torch.from_numpy(y).to(device=cost.device, dtype=cost.dtype)


def _assignment_solver(
    edge_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    unmatch_cost: Optional[float] = None,
    method: str = 'auto',
    num_workers: int = 0,
    timeout: Optional[float] = None,
) -> _AssignmentSolver:
    r"""Validates the options and the batch of pairs, splits it into per-pair
    problems once and returns the per-call solver, shared by
    :func:`solve_assignment` and
    :func:`pyg_identity.nn.functional.matching` (see
    :func:`solve_assignment` for the arguments)."""
    _check_method(method)
    u = _check_unmatch_cost(unmatch_cost)
    check_num_workers(num_workers)
    timeout = check_timeout(timeout)
    ptr_s, ptr_t, num_graphs = _pair_ptr(edge_index, batch_s, batch_t,
                                         num_nodes_s, num_nodes_t, num_graphs)
    ei = None if edge_index is None else edge_index.detach().cpu().numpy()
    plan = _assignment_plan(ptr_s, ptr_t, ei, method)
    return _AssignmentSolver(plan, ptr_s, ptr_t, num_graphs, edge_index,
                             batch_s, u, num_workers, timeout)


@torch.no_grad()
def solve_assignment(
    cost: Tensor,
    edge_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    unmatch_cost: Optional[float] = None,
    method: str = 'auto',
    num_workers: int = 0,
    timeout: Optional[float] = None,
) -> Tensor:
    r"""Solves the linear assignment of every pair of a batch of graph pairs
    (see the module docstring) and returns the 0/1 indicator of the matched
    candidate pairs.

    Pairs follow PyG's :class:`PairData` + :obj:`follow_batch` convention:
    pair :math:`b` joins the source nodes with :obj:`batch_s == b` and the
    target nodes with :obj:`batch_t == b`.

    Args:
        cost (torch.Tensor): The finite cost of every candidate pair,
            :obj:`[E]`.
        edge_index (torch.Tensor, optional): Candidate pairs :obj:`[2, E]`
            (global source node, global target node), unique, each within
            one pair. :obj:`None` means all pairs of every pair in the order
            of :func:`pyg_identity.nn.functional.all_pairs`.
            (default: :obj:`None`)
        batch_s (torch.Tensor, optional): The sorted source batch vector;
            :obj:`None` means a single pair. (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The sorted target batch vector.
            (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes, if
            :obj:`batch_s` is not given. (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes, if
            :obj:`batch_t` is not given. (default: :obj:`None`)
        num_graphs (int, optional): The number of pairs.
            (default: :obj:`None`)
        unmatch_cost (float, optional): The cost :math:`u \geq 0` of leaving
            a node unmatched; :obj:`None` matches :math:`\min(n_s, n_t)`
            nodes per pair. (default: :obj:`None`)
        method (str, optional): :obj:`"dense"` (scipy's
            :obj:`linear_sum_assignment` on per-pair blocks, forbidden pairs
            at :math:`+\infty`), :obj:`"sparse"` (scipy's
            :obj:`min_weight_full_bipartite_matching`) or :obj:`"auto"`
            (dense for complete candidate sets and for blocks of at most
            :obj:`DENSE_MAX_ENTRIES` entries, sparse otherwise).
            (default: :obj:`"auto"`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`; it bounds the dense
            and sparse pairs together. (default: :obj:`None`)

    Returns:
        The indicator :math:`y \in \{0, 1\}^E`, a tensor of the dtype, shape
        and device of :obj:`cost`.

    Raises:
        InfeasibleMatchingError: If a pair has no matching that covers its
            smaller side within the candidates and no unmatch cost is given.
    """
    _check_float(cost, 'cost')
    solver = _assignment_solver(edge_index, batch_s, batch_t, num_nodes_s,
                                num_nodes_t, num_graphs,
                                unmatch_cost=unmatch_cost, method=method,
                                num_workers=num_workers, timeout=timeout)
    solver.check_cost(cost)
    return solver(cost)


__all__ = [
    'solve_assignment',
    'InfeasibleMatchingError',
    'DENSE_MAX_ENTRIES',
]
