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

With :obj:`solver="pygmtools"` every pair is solved densely with
:obj:`pygmtools.linear_solvers.hungarian` (numpy backend) instead; both
backends return the same matching wherever it is unique. Costs come in PyG's
sparse layout (one per candidate pair) or in :obj:`pygmtools`' dense one
(:obj:`[b, n1max, n2max]` with sizes :obj:`n1`, :obj:`n2`), and are always
*minimised* (pygmtools maximises scores: :obj:`cost = -s`).

The public solver is :func:`solve_assignment`; it and the functional
:func:`pyg_identity.nn.functional.matching` share one builder,
:func:`_assignment_solver`, which validates the batch once and splits it
with the one dispatch helper (:func:`~pyg_identity.solvers._dispatch.
pair_blocks`, :class:`~pyg_identity.solvers._dispatch.DenseBlocks`), and
returns the per-call solver. The per-pair numpy kernels are private.
"""
import functools
import operator
import time
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.solvers._checks import count_nodes
from pyg_identity.solvers._dispatch import (
    DenseBlocks,
    GraphBlocks,
    check_num_workers,
    check_timeout,
    copy_by_copy,
    dense_edge_index,
    map_graphs,
    pair_blocks,
    split_pairs,
)
from pyg_identity.utils._checks import (
    check_non_negative,
    check_tensor,
    is_integer_tensor,
)

METHODS = ('auto', 'dense', 'sparse')

# The per-pair solver backends: scipy's linear_sum_assignment (and its
# sparse LAPJVsp), or pygmtools' hungarian (numpy backend, dense only).
SOLVERS = ('scipy', 'pygmtools')

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


def _looks_like(src: Tensor) -> str:
    r"""What a tensor in the wrong argument most likely is."""
    if is_integer_tensor(src):
        if src.dim() == 2 and src.size(0) == 2:
            return 'an edge_index'
        return 'a batch vector' if src.dim() == 1 else 'an index tensor'
    if src.dim() == 2:
        return 'node embeddings'
    return 'a cost vector'


def _order_hint(order: str, src: Any) -> Optional[str]:
    # The hint of a check_tensor message: what a tensor looks like.
    if not isinstance(src, Tensor):
        return None
    return f'this looks like {_looks_like(src)} — the order is {order}'


def _hint(order: str) -> Callable[[Any], Optional[str]]:
    return functools.partial(_order_hint, order)


def _check_float(src: Any, name: str, order: str = ORDER) -> None:
    r"""Raises a :class:`ValueError` unless :obj:`src` is a floating point
    tensor; an integer tensor gets told what it looks like."""
    check_tensor(src, name, 'float', _hint(order))


def _check_integer(src: Any, name: str, order: str = ORDER,
                   dtypes: Optional[Sequence[torch.dtype]] = None) -> None:
    r"""Raises a :class:`ValueError` unless :obj:`src` is an integer tensor
    (of one of :obj:`dtypes`, if given); a floating point tensor gets told
    what it looks like."""
    check_tensor(src, name, 'integer', _hint(order))
    if dtypes is not None and src.dtype not in dtypes:
        raise ValueError(f"'{name}' must be an integer tensor of dtype "
                         f"{' or '.join(map(str, dtypes))} (got {src.dtype})")


def _check_index(src: OptTensor, name: str, dim: int = 1,
                 order: str = ORDER) -> None:
    r"""Raises a :class:`ValueError` unless :obj:`src` is :obj:`None` or an
    integer tensor with :obj:`dim` dimensions (see
    :func:`_check_integer`)."""
    if src is None:
        return
    _check_integer(src, name, order)
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


def _check_solver(solver: str, method: str = 'auto') -> str:
    if solver not in SOLVERS:
        raise ValueError(f"'solver' must be 'scipy' or 'pygmtools' (got "
                         f"{solver!r})")
    if solver == 'pygmtools' and method == 'sparse':
        raise ValueError("'method' 'sparse' needs solver='scipy' "
                         "(pygmtools' hungarian solves dense blocks only)")
    return solver


def _check_sizes(sizes: Any, name: str, num_pairs: int,
                 max_size: int) -> Optional[np.ndarray]:
    r"""The per-pair sizes :obj:`n1` or :obj:`n2` of the dense layout as a
    host array, or :obj:`None` if every pair has :obj:`max_size` nodes."""
    if sizes is None:
        return None
    if isinstance(sizes, Tensor):
        if not is_integer_tensor(sizes):
            raise ValueError(f"'{name}' must be an integer tensor (got "
                             f"{sizes.dtype})")
        arr = sizes.detach().cpu().numpy()
    else:
        arr = np.asarray(sizes)
        if arr.dtype.kind not in 'iu':
            raise ValueError(f"'{name}' must hold integers (got "
                             f"{arr.dtype})")
    if arr.shape != (num_pairs, ):
        raise ValueError(f"'{name}' must have shape [{num_pairs}], one size "
                         f"per pair (got {list(arr.shape)})")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() > max_size):
        raise ValueError(f"'{name}' must lie in [0, {max_size}] (got values "
                         f"in [{int(arr.min())}, {int(arr.max())}])")
    return None if bool((arr == max_size).all()) else arr


def _dense_layout(
    cost: Tensor,
    n1: Any,
    n2: Any,
    given: Sequence[Tuple[str, Any]] = (),
) -> Tuple[Tensor, GraphBlocks, OptTensor]:
    r"""Turns pygmtools' dense layout (a cost tensor :obj:`[b, n1max,
    n2max]` with per-pair sizes :obj:`n1`, :obj:`n2`) into the pair layout:
    the flat costs (all pairs of every pair, row-major, differentiable),
    the pair blocks and the flat positions of the real entries
    (:obj:`None` if all are real)."""
    for name, value in given:
        if value is not None:
            raise ValueError(f"A dense cost [b, n1max, n2max] describes the "
                             f"pairs by itself (with 'n1' and 'n2'); do not "
                             f"pass '{name}'")
    b, m1, m2 = cost.shape
    s1 = _check_sizes(n1, 'n1', b, m1)
    s2 = _check_sizes(n2, 'n2', b, m2)
    c1 = np.full(b, m1, dtype=np.int64) if s1 is None else s1
    c2 = np.full(b, m2, dtype=np.int64) if s2 is None else s2
    ptr_s = np.zeros(b + 1, dtype=np.int64)
    ptr_t = np.zeros(b + 1, dtype=np.int64)
    np.cumsum(c1, out=ptr_s[1:])
    np.cumsum(c2, out=ptr_t[1:])
    blocks = split_pairs(ptr_s, ptr_t)
    if s1 is None and s2 is None:
        return cost.reshape(-1), blocks, None
    # Flat positions of the real entries, row-major per pair (the order of
    # the pair layout); index_select / index_copy keep autograd cheap.
    index = blocks.dense().padded_index(m1, m2, by_graph=True)
    index_t = torch.from_numpy(index).to(cost.device)
    return cost.reshape(-1).index_select(0, index_t), blocks, index_t


def _to_dense(y: Tensor, index: OptTensor, shape: Sequence[int]) -> Tensor:
    r"""The pair-layout solution :obj:`y` back in the dense layout, zeros in
    the padding (differentiable)."""
    if index is None:
        return y.view(*shape)
    numel = 1
    for n in shape:
        numel *= n
    return y.new_zeros(numel).index_copy_(0, index, y).view(*shape)


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


_HUNGARIAN: Any = None


def _pygmtools_hungarian() -> Any:
    global _HUNGARIAN
    if _HUNGARIAN is None:
        try:
            import pygmtools.linear_solvers
        except ImportError as e:  # pragma: no cover - a core dependency
            raise ImportError("solver='pygmtools' needs 'pygmtools' (pip "
                              "install pyg_identity, or pip install "
                              "pygmtools)") from e
        _HUNGARIAN = pygmtools.linear_solvers.hungarian
    return _HUNGARIAN


def _pygmtools_chunk(
    score: np.ndarray,
    n1: np.ndarray,
    n2: np.ndarray,
    index: np.ndarray,
    unmatch_cost: Optional[float],
) -> Optional[np.ndarray]:
    # One padded call of pygmtools' hungarian (numpy backend), which
    # *maximises* the scores: score = -cost, and leaving a node unmatched
    # scores -unmatch_cost. Returns the matched positions among the real
    # entries `index` of the padded array (row-major per pair), or None if
    # a pair is infeasible. Module-level for `map_graphs`.
    u1 = u2 = None
    if unmatch_cost is not None:
        u1 = np.full(score.shape[:2], -unmatch_cost)
        u2 = np.full((score.shape[0], score.shape[2]), -unmatch_cost)
    try:
        x = _pygmtools_hungarian()(score, n1, n2, u1, u2, backend='numpy')
    except ValueError:  # scipy's "cost matrix is infeasible"
        return None
    return np.flatnonzero(x.reshape(-1)[index])


def _solve_dense_pygmtools(buf: np.ndarray, plan: '_AssignmentPlan',
                           unmatch_cost: Optional[float], num_workers: int,
                           timeout: Optional[float]) -> np.ndarray:
    # The dense blocks as pygmtools' padded [D, n1max, n2max] scores, one
    # call per chunk of pairs; buffer positions of the matches.
    dense = plan.dense
    r, c = dense.rows, dense.cols
    m1, m2 = int(r.max()), int(c.max())
    index = dense.padded_index(m1, m2)
    score = np.zeros((len(dense), m1, m2))
    score.reshape(-1)[index] = -buf
    size = len(dense) if num_workers <= 1 else max(
        1, -(-len(dense) // (4 * num_workers)))
    starts = list(range(0, len(dense), size))
    # Buffer range of every chunk (blocks are contiguous in the buffer).
    bounds = np.append(dense.offset, dense.size)[
        np.minimum(np.arange(0, len(dense) + size, size), len(dense))]
    tasks = [(score[k:k + size], r[k:k + size], c[k:k + size],
              index[lo:hi] - k * m1 * m2, unmatch_cost)
             for k, lo, hi in zip(starts, bounds[:-1].tolist(),
                                  bounds[1:].tolist())]
    sols = _map(_pygmtools_chunk, tasks, num_workers, timeout)
    for k, sol in zip(starts, sols):
        if sol is None:  # name the infeasible pair
            views = dense.views(buf)[k:k + size]
            for i, v in enumerate(views):
                if _dense_pair(v, None) is None:
                    raise _infeasible(int(dense.graphs[k + i]),
                                      int(r[k + i]), int(c[k + i]))
    return np.concatenate([sol + lo for sol, lo in zip(
        sols, bounds[:-1].tolist())])


class _AssignmentPlan(NamedTuple):
    r"""How a batch of pairs is split into per-pair problems, on the blocks
    of :mod:`pyg_identity.solvers._dispatch`; built once per forward pass by
    :func:`_assignment_plan` and reused by every solver call (*e.g.* the
    second one of the Blackbox backward)."""
    num_edges: int
    blocks: GraphBlocks  # the pairs (edges in CSR order inside every pair)
    dense: DenseBlocks  # the pairs solved densely (forbidden pairs at inf)
    sparse: List[int]  # the pairs solved sparsely


def _assignment_plan(
    ptr_s: np.ndarray,
    ptr_t: np.ndarray,
    edge_index: Optional[np.ndarray] = None,
    method: str = 'auto',
    blocks: Optional[GraphBlocks] = None,
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
        blocks (GraphBlocks, optional): The output of
            :func:`~pyg_identity.solvers._dispatch.split_pairs` for these
            arguments, if already computed. (default: :obj:`None`)
    """
    _check_method(method)
    if blocks is None:
        blocks = split_pairs(ptr_s, ptr_t, edge_index)
    if blocks.edge_perm is None and method != 'sparse':
        dense_blocks = blocks.dense()
        return _AssignmentPlan(dense_blocks.num_edges, blocks, dense_blocks,
                               [])
    ptr_s, ptr_t = blocks.node_ptr, blocks.col_ptr
    sizes = (ptr_s[1:] - ptr_s[:-1]) * (ptr_t[1:] - ptr_t[:-1])
    if blocks.edge_perm is None:
        # Forced sparse on all pairs: materialise the edge list.
        blocks = split_pairs(blocks.node_ptr, blocks.col_ptr,
                             dense_edge_index(blocks.node_ptr,
                                              blocks.col_ptr))
    assert blocks.edge_ptr is not None and blocks.edge_perm is not None
    if method == 'dense':
        dense = np.ones(sizes.size, dtype=bool)
    elif method == 'sparse':
        dense = np.zeros(sizes.size, dtype=bool)
    else:
        dense = ((np.diff(blocks.edge_ptr) == sizes)
                 | (sizes <= DENSE_MAX_ENTRIES))
    sparse = np.flatnonzero(~dense & (sizes > 0)).tolist()
    return _AssignmentPlan(blocks.edge_perm.size, blocks,
                           blocks.dense(np.flatnonzero(dense)), sparse)


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
    dense = plan.dense
    for i, sol in enumerate(sols):
        if sol is None:
            raise _infeasible(int(dense.graphs[i]), int(dense.rows[i]),
                              int(dense.cols[i]))


_SECOND = operator.itemgetter(1)


def _solve_dense_hot(buf: np.ndarray, plan: _AssignmentPlan) -> np.ndarray:
    # No unmatch cost, in process: only scipy calls in the per-pair loop.
    # The short side is the rows, so scipy returns rows == arange and the
    # columns alone give the buffer positions.
    blocks = plan.dense.views(buf, short_rows=True)
    try:
        sols = list(map(_linear_sum_assignment(), blocks))
    except ValueError:  # An infeasible pair (forbidden pairs at inf).
        _raise_infeasible([_dense_pair(c, None) for c in blocks], plan)
        raise
    cols = np.concatenate(list(map(_SECOND, sols)))
    base, mult = plan.dense.short_row_positions()
    return base + cols * mult


def _solve_plan(
    cost: np.ndarray,
    plan: _AssignmentPlan,
    unmatch_cost: Optional[float] = None,
    num_workers: int = 0,
    timeout: Optional[float] = None,
    solver: str = 'scipy',
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
        solver (str, optional): :obj:`"scipy"` or :obj:`"pygmtools"` (dense
            pairs only). (default: :obj:`"scipy"`)

    Raises:
        InfeasibleMatchingError: If a pair has no full matching and no
            unmatch cost is given.
    """
    _check_solver(solver)
    if solver == 'pygmtools' and plan.sparse:
        raise ValueError("solver='pygmtools' solves dense blocks only; build "
                         "the plan with method='dense' or 'auto'")
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

    dense = plan.dense
    if len(dense):
        buf = dense.fill(cost, np.inf, dtype)
        if solver == 'pygmtools':
            flat = _solve_dense_pygmtools(buf, plan, u, num_workers, timeout)
        elif u is None and num_workers <= 1 and timeout is None:
            flat = _solve_dense_hot(buf, plan)
        else:
            blocks = dense.views(buf)
            sols = _map(_dense_pair, [(c, u) for c in blocks], num_workers,
                        timeout)
            _raise_infeasible(sols, plan)
            flat = dense.positions([s[0] for s in sols],
                                   [s[1] for s in sols])
        y[dense.to_edges(flat)] = 1

    if plan.sparse:
        pb = plan.blocks
        tasks = []
        for pair in plan.sparse:
            sel = pb.edges(pair)
            loc = pb.edge_index(pair)
            a, b = pb.num_nodes(pair), pb.num_targets(pair)
            indptr = np.zeros(a + 1, dtype=np.int64)
            np.cumsum(np.bincount(loc[0], minlength=a), out=indptr[1:])
            tasks.append((indptr, loc[1], cost[sel].astype(np.float64), a, b,
                          u))
        left = None if deadline is None else max(
            deadline - time.monotonic(), 1e-3)  # what the dense pairs left
        try:
            sols = _map(_sparse_pair, tasks, num_workers, left)
        except TimeoutError as e:
            if timeout is None:
                raise
            raise TimeoutError(f"The linear assignment did not finish within "
                               f"timeout={timeout:g} s ({e})") from None
        for pair, task, pos in zip(plan.sparse, tasks, sols):
            if pos is None:
                raise _infeasible(pair, task[3], task[4])
            y[pb.edges(pair)[pos]] = 1
    return y




# The batch of pairs #########################################################

def _side_nodes(batch: OptTensor, num_nodes: Optional[int], row: int,
                edge_index: OptTensor, side: str) -> int:
    if batch is None and num_nodes is None and edge_index is None:
        raise ValueError(f"'batch_{side}' or 'num_nodes_{side}' is required "
                         f"(got neither)")
    index = () if edge_index is None else (edge_index[row], )
    return count_nodes(batch, num_nodes, *index, name=f'num_nodes_{side}',
                       batch_name=f'batch_{side}')


def _pair_batch(
    edge_index: OptTensor,
    batch_s: OptTensor,
    batch_t: OptTensor,
    num_nodes_s: Optional[int],
    num_nodes_t: Optional[int],
    num_graphs: Optional[int],
    split_edges: bool = True,
) -> GraphBlocks:
    r"""Validates a batch of pairs and splits it with
    :func:`~pyg_identity.solvers._dispatch.pair_blocks` (the candidate
    pairs too, unless :obj:`split_edges=False`)."""
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
    else:
        num_graphs = check_non_negative(num_graphs, 'num_graphs')
    if batch_s is None and num_graphs != 1:
        raise ValueError(f"'batch_s' is required for {num_graphs} pairs")
    if batch_t is None and num_graphs != 1:
        raise ValueError(f"'batch_t' is required for {num_graphs} pairs")
    return pair_blocks(batch_s, batch_t, n_s, n_t,
                       edge_index if split_edges else None, num_graphs)


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
    helpers of :mod:`pyg_identity.nn.functional` share it); the candidate
    pairs :obj:`edge_index` are only checked for their layout."""
    blocks = _pair_batch(edge_index, batch_s, batch_t, num_nodes_s,
                         num_nodes_t, num_graphs, split_edges=False)
    return blocks.node_ptr, blocks.col_ptr, blocks.num_graphs


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
    def __init__(self, plan: _AssignmentPlan, edge_index: OptTensor,
                 batch_s: OptTensor, unmatch_cost: Optional[float],
                 num_workers: int, timeout: Optional[float],
                 solver: str = 'scipy', method: str = 'auto') -> None:
        self.plan = plan
        self.solver = solver
        self.method = method
        self.ptr_s = plan.blocks.node_ptr
        self.ptr_t = plan.blocks.col_ptr
        self.num_graphs = plan.blocks.num_graphs
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
                             f"per candidate pair, or [b, n1max, n2max] "
                             f"(pygmtools' dense layout) (got shape "
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

    def stack(self, times: int) -> Callable[[Tensor], Tensor]:
        r"""The solver of :obj:`times` copies of the batch, their costs
        concatenated (the perturbed and I-MLE samples in one call): in a
        worker pool one tiled plan, so that the pool gets every copy's pairs
        at once; in process the copies one by one on this plan (its cached
        layout makes that the faster way, measured by
        benchmarks/bench_estimators.py)."""
        if self.num_workers <= 1 and self.timeout is None:
            return copy_by_copy(self, times)
        blocks = self.plan.blocks.tile(times)
        plan = _assignment_plan(blocks.node_ptr, blocks.col_ptr, None,
                                self.method, blocks=blocks)
        return _AssignmentSolver(plan, None, None, self.unmatch_cost,
                                 self.num_workers, self.timeout, self.solver,
                                 self.method)

    def __call__(self, cost: Tensor) -> Tensor:
        c = cost.detach()
        if c.dtype not in (torch.float32, torch.float64):
            c = c.double()
        y = _solve_plan(c.cpu().numpy(), self.plan, self.unmatch_cost,
                        self.num_workers, self.timeout, self.solver)
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
    solver: str = 'scipy',
    num_workers: int = 0,
    timeout: Optional[float] = None,
    blocks: Optional[GraphBlocks] = None,
) -> _AssignmentSolver:
    r"""Validates the options and the batch of pairs, splits it into per-pair
    problems once and returns the per-call solver, shared by
    :func:`solve_assignment` and
    :func:`pyg_identity.nn.functional.matching` (see
    :func:`solve_assignment` for the arguments; :obj:`blocks` are the
    already split pairs of the dense layout)."""
    _check_method(method)
    _check_solver(solver, method)
    u = _check_unmatch_cost(unmatch_cost)
    check_num_workers(num_workers)
    timeout = check_timeout(timeout)
    if blocks is None:
        blocks = _pair_batch(edge_index, batch_s, batch_t, num_nodes_s,
                             num_nodes_t, num_graphs)
    if solver == 'pygmtools' and method == 'auto':
        method = 'dense'  # pygmtools has no sparse solver
    plan = _assignment_plan(blocks.node_ptr, blocks.col_ptr, None, method,
                            blocks=blocks)
    return _AssignmentSolver(plan, edge_index, batch_s, u, num_workers,
                             timeout, solver, method)


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
    n1: Any = None,
    n2: Any = None,
    unmatch_cost: Optional[float] = None,
    method: str = 'auto',
    solver: str = 'scipy',
    num_workers: int = 0,
    timeout: Optional[float] = None,
) -> Tensor:
    r"""Solves the linear assignment of every pair of a batch of graph pairs
    (see the module docstring) and returns the 0/1 indicator of the matched
    candidate pairs, in the layout of :obj:`cost`.

    Two layouts: PyG's sparse one, where pairs follow the :class:`PairData`
    + :obj:`follow_batch` convention (pair :math:`b` joins the source nodes
    with :obj:`batch_s == b` and the target nodes with :obj:`batch_t == b`)
    and :obj:`cost` holds one entry per candidate pair; or
    :obj:`pygmtools`' dense one, a cost tensor :obj:`[b, n1max, n2max]`
    with the per-pair sizes :obj:`n1`, :obj:`n2` (the solution is then
    :obj:`[b, n1max, n2max]` too, zeros in the padding). Costs are
    *minimised* in both: the solution for :obj:`cost = -s` is that of
    :obj:`pygmtools.linear_solvers.hungarian(s, n1, n2)`, which maximises
    the scores :obj:`s`.

    Args:
        cost (torch.Tensor): The finite cost of every candidate pair,
            :obj:`[E]`, or the dense costs :obj:`[b, n1max, n2max]`.
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
        n1 (torch.Tensor, optional): With a dense :obj:`cost`: the number of
            source nodes of every pair, :obj:`[b]` (the first rows of its
            block are real); :obj:`None` means :obj:`n1max` each. Only with a
            dense :obj:`cost`. (default: :obj:`None`)
        n2 (torch.Tensor, optional): The number of target nodes of every
            pair, likewise. (default: :obj:`None`)
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
        solver (str, optional): The per-pair backend: :obj:`"scipy"`
            (:func:`scipy.optimize.linear_sum_assignment`, and scipy's
            sparse solver for :obj:`method="sparse"`) or :obj:`"pygmtools"`
            (:obj:`pygmtools.linear_solvers.hungarian`, numpy backend; every
            pair dense, so not with :obj:`method="sparse"`). Both return
            the same matching wherever it is unique.
            (default: :obj:`"scipy"`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`; it bounds the dense
            and sparse pairs together. (default: :obj:`None`)

    Returns:
        The indicator :math:`y \in \{0, 1\}^E` (or :obj:`[b, n1max,
        n2max]`), a tensor of the dtype, shape and device of :obj:`cost`.

    Raises:
        InfeasibleMatchingError: If a pair has no matching that covers its
            smaller side within the candidates and no unmatch cost is given.
    """
    cost, fn, restore = _layout_solver(
        cost, edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
        num_graphs, n1=n1, n2=n2, unmatch_cost=unmatch_cost, method=method,
        solver=solver, num_workers=num_workers, timeout=timeout)
    fn.check_cost(cost)
    return restore(fn(cost))


def _layout_solver(
    cost: Tensor,
    edge_index: OptTensor,
    batch_s: OptTensor,
    batch_t: OptTensor,
    num_nodes_s: Optional[int],
    num_nodes_t: Optional[int],
    num_graphs: Optional[int],
    *,
    n1: Any,
    n2: Any,
    **options: Any,
) -> Tuple[Tensor, '_AssignmentSolver', Callable[[Tensor], Tensor]]:
    r"""The one builder of :func:`solve_assignment` and the matching
    functional: the costs in PyG's sparse layout (from pygmtools' dense
    :obj:`[b, n1max, n2max]` layout if given so), the per-call solver, and
    the map of its solution back to the costs' layout."""
    _check_float(cost, 'cost')
    if cost.dim() != 3:
        _check_no_sizes(n1, n2)
        return cost, _assignment_solver(
            edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
            num_graphs, **options), lambda y: y
    shape = cost.shape
    cost, blocks, dense_index = _dense_layout(cost, n1, n2, _given(
        edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t, num_graphs))
    fn = _assignment_solver(edge_index, batch_s, batch_t, num_nodes_s,
                            num_nodes_t, num_graphs, blocks=blocks, **options)
    return cost, fn, lambda y: _to_dense(y, dense_index, shape)


def _given(edge_index: OptTensor, batch_s: OptTensor, batch_t: OptTensor,
           num_nodes_s: Optional[int], num_nodes_t: Optional[int],
           num_graphs: Optional[int]) -> List[Tuple[str, Any]]:
    return [('edge_index', edge_index), ('batch_s', batch_s),
            ('batch_t', batch_t), ('num_nodes_s', num_nodes_s),
            ('num_nodes_t', num_nodes_t), ('num_graphs', num_graphs)]


def _check_no_sizes(n1: Any, n2: Any) -> None:
    for name, value in (('n1', n1), ('n2', n2)):
        if value is not None:
            raise ValueError(f"'{name}' belongs to the dense layout: a cost "
                             f"of shape [b, n1max, n2max]")


__all__ = [
    'solve_assignment',
    'SOLVERS',
    'InfeasibleMatchingError',
    'DENSE_MAX_ENTRIES',
]
