r"""Quadratic (Lawler) graph matching of batched graph pairs with the
heuristic QAP solvers of :obj:`pygmtools` (RRWM, IPFP, spectral matching),
rounded to an exact matching by the Hungarian algorithm: torch in, 0/1
indicators out, no autograd.

Costs live on *candidate pairs* :math:`(i, a)` (source node :math:`i`,
target node :math:`a`) and on *edge pairs* :math:`(i \to j, a \to b)`
(a source edge and a target edge); an edge pair is active iff both
:math:`i \leftrightarrow a` and :math:`j \leftrightarrow b` are matched.
The solver minimises

.. math::
    \sum_{(i,a)} c^{u}_{ia}\, y_{ia} +
    \sum_{(i \to j, a \to b)} c^{p}_{ij,ab}\, y_{ia}\, y_{jb}

over the matchings :math:`y` inside the candidate set that match as many
nodes as the candidate set allows (:math:`\min(n_s, n_t)` when all pairs are
candidates). The affinity matrix :math:`\mathbf{K} = -\text{cost}` follows
:obj:`pygmtools`' column-major layout: variable :math:`(i, a)` has index
:math:`a\,n_s + i`.

The public solver is :func:`solve_graph_matching`; it and the functional
:func:`pyg_identity.nn.functional.graph_matching` share one builder,
:func:`_graph_matching_solver`, which validates and splits the batch once
and returns the per-call solver. The per-pair numpy kernels are private.
"""
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.solvers._checks import count_nodes
from pyg_identity.solvers._dispatch import (
    check_num_workers,
    check_timeout,
    graph_blocks,
    map_graphs,
    tile_ptr,
    to_numpy,
)
from pyg_identity.solvers.linear_assignment import (
    _check_float,
    _check_integer,
)
from pyg_identity.utils._checks import check_non_negative

# The positional order of every tier of graph matching, quoted by the errors
# on misplaced tensors.
ORDER = ('cost, pairwise_cost, edge_index_s, edge_index_t, edge_index, '
         'edge_pair_index, batch_s, batch_t, num_nodes_s, num_nodes_t, '
         'num_graphs')

QAP_SOLVERS = ('rrwm', 'ipfp', 'sm')


def _import_pygmtools() -> Any:
    try:
        import pygmtools
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ImportError("Graph matching needs 'pygmtools' (pip install "
                          "pyg_identity, or pip install pygmtools)") from e
    return pygmtools


def affinity_matrix(pairs: np.ndarray, unary: np.ndarray, quad: np.ndarray,
                    pairwise: np.ndarray, num_nodes_s: int,
                    num_nodes_t: int) -> np.ndarray:
    r"""Returns the Lawler affinity matrix :math:`\mathbf{K}` of shape
    :obj:`[n_s * n_t, n_s * n_t]` (negated costs), laid out as
    :func:`pygmtools.utils.build_aff_mat` does: variable :math:`(i, a)` has
    index :math:`a\,n_s + i`, the diagonal holds the unary affinities and
    :math:`\mathbf{K}_{(i,a),(j,b)}` the affinity of edge pair
    :math:`(i \to j, a \to b)`. Repeated entries are summed.

    Args:
        pairs (numpy.ndarray): Local candidate pairs :math:`(i, a)`, shape
            :obj:`[P, 2]`.
        unary (numpy.ndarray): Unary costs, shape :obj:`[P]`.
        quad (numpy.ndarray): Local edge pairs :math:`(i, j, a, b)`, shape
            :obj:`[Q, 4]`.
        pairwise (numpy.ndarray): Pairwise costs, shape :obj:`[Q]`.
        num_nodes_s (int): The number of source nodes :math:`n_s`.
        num_nodes_t (int): The number of target nodes :math:`n_t`.
    """
    n1, n2 = int(num_nodes_s), int(num_nodes_t)
    K = np.zeros((n1 * n2, n1 * n2), dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    quad = np.asarray(quad, dtype=np.int64).reshape(-1, 4)
    var = pairs[:, 1] * n1 + pairs[:, 0]
    np.add.at(K, (var, var), -np.asarray(unary, dtype=np.float64))
    row = quad[:, 2] * n1 + quad[:, 0]
    col = quad[:, 3] * n1 + quad[:, 1]
    np.add.at(K, (row, col), -np.asarray(pairwise, dtype=np.float64))
    return K


def _round(scores: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    # Hungarian rounding restricted to the candidate set: a forbidden pair
    # costs more than any score can gain, so the result is a maximum
    # cardinality matching inside the candidate set with the best score
    # among those; forbidden pairs it still had to use are dropped.
    n1, n2 = allowed.shape
    s = np.where(allowed, scores, 0.0)
    scale = float(np.abs(s).max())
    penalty = 4.0 * (min(n1, n2) + 1) * (scale if scale > 0 else 1.0)
    s = np.where(allowed, s, -penalty)
    x = _import_pygmtools().hungarian(s, backend='numpy')
    return (x > 0.5) & allowed


class _Problem:
    # One graph pair, prepared for the batched heuristic.
    def __init__(self, pairs: np.ndarray, unary: np.ndarray, quad: np.ndarray,
                 pairwise: np.ndarray, num_nodes_s: int,
                 num_nodes_t: int) -> None:
        self.pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self.quad = np.asarray(quad, dtype=np.int64).reshape(-1, 4)
        self.unary = np.asarray(unary, dtype=np.float64).reshape(-1)
        self.pairwise = np.asarray(pairwise, dtype=np.float64).reshape(-1)
        self.n1, self.n2 = int(num_nodes_s), int(num_nodes_t)
        if self.pairs.shape[0] != self.unary.shape[0]:
            raise ValueError(f"'unary' must have one entry per candidate "
                             f"pair (got {self.unary.shape[0]} for "
                             f"{self.pairs.shape[0]})")
        if self.quad.shape[0] != self.pairwise.shape[0]:
            raise ValueError(f"'pairwise' must have one entry per edge pair "
                             f"(got {self.pairwise.shape[0]} for "
                             f"{self.quad.shape[0]})")
        # Non-negative affinity matrices for the heuristic (scaled to a
        # maximum of one), each tried; the exact objective picks the best.
        self.Ks: List[np.ndarray] = []
        self.x = np.zeros((self.n1, self.n2), dtype=bool)
        if self.pairs.shape[0] == 0 or self.n1 == 0 or self.n2 == 0:
            self.allowed = self.x
            return

        n1, n2 = self.n1, self.n2
        self.allowed = np.zeros((n1, n2), dtype=bool)
        self.allowed[self.pairs[:, 0], self.pairs[:, 1]] = True
        K = affinity_matrix(self.pairs, self.unary, self.quad, self.pairwise,
                            n1, n2)
        K = 0.5 * (K + K.T)  # x^T K x is unchanged for every x.
        var = np.arange(n1 * n2)
        vi, va = var % n1, var // n1
        av = self.allowed.T.reshape(-1)
        compat = (vi[:, None] != vi[None, :]) & (va[:, None] != va[None, :])
        np.fill_diagonal(compat, True)
        compat &= av[:, None] & av[None, :]
        K = np.where(compat, K, 0.0)

        # The linear part alone, solved exactly.
        self.x = _round(np.diag(K).reshape(n2, n1).T, self.allowed)
        off = K.copy()
        np.fill_diagonal(off, 0.0)
        if not off.any():  # The problem is linear and x is exact.
            return
        # (1) Negative affinities clamped to zero, as the heuristics expect
        # (a relaxation, not the same problem).
        clamped = np.maximum(K, 0.0)
        if (clamped - np.diag(np.diag(clamped))).any():
            self.Ks.append(clamped / clamped.max())
        # (2) Every feasible matching has the same size m, so adding one
        # constant to all compatible entries adds the same m^2 to each
        # objective: the same problem, non-negative.
        # If all compatible entries are equal, every matching scores the
        # same and the linear solution is already optimal (nothing to add;
        # dividing by a zero maximum made RRWM/IPFP fail on NaN).
        low = float(K[compat].min())
        if low < 0:
            shifted = np.where(compat, K - low, 0.0)
            if shifted.max() > 0:
                self.Ks.append(shifted / shifted.max())

    def objective(self, x: np.ndarray) -> float:
        return float(self.unary @ x[self.pairs[:, 0], self.pairs[:, 1]] +
                     self.pairwise @ (x[self.quad[:, 0], self.quad[:, 2]] &
                                      x[self.quad[:, 1], self.quad[:, 3]]))

    def indicators(self) -> Tuple[np.ndarray, np.ndarray]:
        x, p, q = self.x, self.pairs, self.quad
        y_u = x[p[:, 0], p[:, 1]].astype(np.float64)
        y_p = (x[q[:, 0], q[:, 2]] & x[q[:, 1], q[:, 3]]).astype(np.float64)
        return y_u, y_p


def _run_heuristic(problems: Sequence[_Problem], solver: str,
                   max_iter: int) -> None:
    # One padded pygmtools call for all graph pairs and affinity matrices:
    # variable (i, a) sits at a * n1max + i, as pygmtools expects.
    todo = [(p, K) for p in problems for K in p.Ks]
    if not todo:
        return
    pygm = _import_pygmtools()
    n1 = np.array([p.n1 for p, _ in todo])
    n2 = np.array([p.n2 for p, _ in todo])
    n1max, n2max = int(n1.max()), int(n2.max())
    Kb = np.zeros((len(todo), n1max * n2max, n1max * n2max))
    x0 = np.zeros((len(todo), n1max, n2max))
    for b, (p, K) in enumerate(todo):
        var = np.arange(p.n1 * p.n2)
        idx = (var // p.n1) * n1max + var % p.n1
        Kb[b][np.ix_(idx, idx)] = K
        x0[b, :p.n1, :p.n2] = p.allowed / p.allowed.sum()
    fn = getattr(pygm.classic_solvers, solver)
    with np.errstate(divide='ignore', invalid='ignore'):
        X = fn(Kb, n1, n2, n1max, n2max, x0=x0, max_iter=max_iter,
               backend='numpy')
    for b, (p, _) in enumerate(todo):
        x = _round(np.nan_to_num(X[b, :p.n1, :p.n2]), p.allowed)
        # Keep the incumbent (the linear matching first) unless beaten.
        if p.objective(x) < p.objective(p.x):
            p.x = x


def _quadratic_assignment_batch(
    problems: Sequence[Tuple[Any, ...]],
    solver: str = 'rrwm',
    max_iter: int = 50,
) -> List[Tuple[np.ndarray, np.ndarray]]:
    r"""Solves several graph pairs with one (padded) call of the heuristic;
    each element of :obj:`problems` holds the first six arguments of
    :func:`_quadratic_assignment`. Returns one :obj:`(y_u, y_p)` per pair."""
    _check_solver(solver, max_iter)
    probs = [_Problem(*p) for p in problems]
    _run_heuristic(probs, solver, max_iter)
    return [p.indicators() for p in probs]


def _check_solver(solver: str, max_iter: int) -> None:
    if solver not in QAP_SOLVERS:
        raise ValueError(f"'solver' must be one of {QAP_SOLVERS} (got "
                         f"{solver!r})")
    if (not isinstance(max_iter, (int, np.integer)) or
            isinstance(max_iter, bool) or max_iter < 1):
        raise ValueError(f"'max_iter' must be a positive integer (got "
                         f"{max_iter!r})")


def _quadratic_assignment(
    pairs: np.ndarray,
    unary: np.ndarray,
    quad: np.ndarray,
    pairwise: np.ndarray,
    num_nodes_s: int,
    num_nodes_t: int,
    solver: str = 'rrwm',
    max_iter: int = 50,
) -> Tuple[np.ndarray, np.ndarray]:
    r"""Solves one Lawler QAP heuristically and returns an exact matching.

    The affinity matrix :math:`\mathbf{K} = -\text{cost}` is symmetrised and
    restricted to compatible variable pairs (distinct source *and* target
    nodes, both candidates). The heuristics of :obj:`pygmtools` expect
    non-negative affinities, so :obj:`pygmtools.classic_solvers.<solver>`
    (NumPy backend) runs on up to two non-negative versions of it, each
    scaled to a maximum of one: negative entries clamped to zero (a
    relaxation), and all compatible entries shifted by one constant (the
    same problem, since it adds the same :math:`m^2` to every matching of
    the fixed cardinality :math:`m`). Each continuous solution is rounded by
    :func:`pygmtools.hungarian` inside the candidate set, and the best of
    these matchings and of the exact linear assignment of the unary costs
    alone is returned, by the exact objective. The result is therefore
    optimal when all pairwise costs vanish, and otherwise a *feasible*
    matching from a heuristic, not necessarily the optimum.

    Args:
        pairs (numpy.ndarray): Local candidate pairs :math:`(i, a)`, shape
            :obj:`[P, 2]`, without duplicates.
        unary (numpy.ndarray): Unary costs, shape :obj:`[P]`.
        quad (numpy.ndarray): Local edge pairs :math:`(i, j, a, b)` (source
            edge :math:`i \to j`, target edge :math:`a \to b`), shape
            :obj:`[Q, 4]`.
        pairwise (numpy.ndarray): Pairwise costs, shape :obj:`[Q]`.
        num_nodes_s (int): The number of source nodes.
        num_nodes_t (int): The number of target nodes.
        solver (str, optional): :obj:`"rrwm"`, :obj:`"ipfp"` or :obj:`"sm"`.
            (default: :obj:`"rrwm"`)
        max_iter (int, optional): The iterations of the QAP heuristic.
            (default: :obj:`50`)

    Returns:
        The unary indicator of shape :obj:`[P]` and the pairwise indicator
        :math:`y_{ia} y_{jb}` of shape :obj:`[Q]` (float64, 0/1).
    """
    return _quadratic_assignment_batch(
        [(pairs, unary, quad, pairwise, num_nodes_s, num_nodes_t)], solver,
        max_iter)[0]



# Batches of graph pairs ####################################################

_INT_DTYPES = (torch.int64, torch.int32)


def _check_index(src: Optional[Tensor], name: str, rows: int = 2) -> None:
    if src is None:
        return
    _check_integer(src, name, ORDER, _INT_DTYPES)
    if src.dim() != rows or (rows == 2 and src.size(0) != 2):
        shape = '[2, N]' if rows == 2 else '[N]'
        raise ValueError(f"'{name}' must have shape {shape} (got "
                         f"{list(src.size())})")


def _check_batch(batch: OptTensor, name: str) -> None:
    _check_index(batch, name, rows=1)
    if batch is not None and batch.numel() > 1 and bool(
            (batch[1:] < batch[:-1]).any()):
        raise ValueError(f"'{name}' must be sorted (PyG's batch vector)")
    if batch is not None and batch.numel() > 0 and int(batch.min()) < 0:
        raise ValueError(f"'{name}' must be non-negative")


def _num_graphs(batch_s: OptTensor, batch_t: OptTensor,
                num_graphs: Optional[int]) -> int:
    if (batch_s is None) != (batch_t is None):
        raise ValueError("'batch_s' and 'batch_t' must be given together")
    if num_graphs is not None:
        return check_non_negative(num_graphs, 'num_graphs')
    if batch_s is None or batch_t is None:
        return 1
    return max([int(b.max()) + 1 for b in (batch_s, batch_t)
                if b.numel() > 0] or [0])


def _block_product(count_a: Tensor, count_b: Tensor) -> Tuple[Tensor, Tensor,
                                                              Tensor]:
    # For every group g, all (k_a, k_b) with k_a < count_a[g] and
    # k_b < count_b[g], ordered by group, then k_a, then k_b.
    sizes = count_a * count_b
    total = int(sizes.sum())
    group = torch.repeat_interleave(
        torch.arange(sizes.numel(), device=sizes.device), sizes,
        output_size=total)
    start = sizes.cumsum(0) - sizes
    off = torch.arange(total, device=sizes.device) - start[group]
    width = count_b[group]
    return group, torch.div(off, width, rounding_mode='floor'), off % width


def _all_node_pairs(
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
) -> Tensor:
    r"""See :func:`pyg_identity.nn.functional.all_node_pairs`."""
    _check_batch(batch_s, 'batch_s')
    _check_batch(batch_t, 'batch_t')
    B = _num_graphs(batch_s, batch_t, num_graphs)
    counts = []
    for batch, n, name in ((batch_s, num_nodes_s, 'num_nodes_s'),
                           (batch_t, num_nodes_t, 'num_nodes_t')):
        if batch is None:
            if n is None or not isinstance(n, int) or n < 0:
                raise ValueError(f"'{name}' must be a non-negative integer "
                                 f"when no batch vector is given (got {n!r})")
            c = torch.zeros(max(B, 1), dtype=torch.long)
            c[0] = n
            counts.append(c)
        else:
            count_nodes(batch, n, name=name,
                        batch_name=name.replace('num_nodes', 'batch'))
            counts.append(torch.bincount(batch.long(), minlength=B))
    device = batch_s.device if batch_s is not None else torch.device('cpu')
    cs, ct = counts[0].to(device), counts[1].to(device)
    if cs.numel() != B or ct.numel() != B:
        raise ValueError(f"The batch vectors refer to more than num_graphs "
                         f"= {B} graph pairs")
    group, i, a = _block_product(cs, ct)
    ptr_s = cs.cumsum(0) - cs
    ptr_t = ct.cumsum(0) - ct
    return torch.stack([i + ptr_s[group], a + ptr_t[group]], dim=0)


def _all_edge_pairs(
    edge_index_s: Tensor,
    edge_index_t: Tensor,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_graphs: Optional[int] = None,
) -> Tensor:
    r"""See :func:`pyg_identity.nn.functional.all_edge_pairs`."""
    _check_index(edge_index_s, 'edge_index_s')
    _check_index(edge_index_t, 'edge_index_t')
    _check_index(batch_s, 'batch_s', rows=1)
    _check_index(batch_t, 'batch_t', rows=1)
    B = _num_graphs(batch_s, batch_t, num_graphs)
    groups, perms, counts = [], [], []
    for ei, batch in ((edge_index_s, batch_s), (edge_index_t, batch_t)):
        ei = ei.long()
        if batch is None:
            g = torch.zeros(ei.size(1), dtype=torch.long, device=ei.device)
        else:
            if ei.numel() > 0 and int(ei.max()) >= batch.numel():
                raise ValueError(f"'edge_index' refers to nodes outside [0, "
                                 f"{batch.numel()})")
            g = batch.long().to(ei.device)[ei[0]]
        if g.numel() > 0 and int(g.max()) >= B:
            raise ValueError(f"The batch vectors refer to more than "
                             f"num_graphs = {B} graph pairs")
        groups.append(g)
        perms.append(torch.sort(g, stable=True)[1])
        counts.append(torch.bincount(g, minlength=B))
    device = edge_index_s.device
    cs, ct = counts[0].to(device), counts[1].to(device)
    group, ks, kt = _block_product(cs, ct)
    ptr_s, ptr_t = cs.cumsum(0) - cs, ct.cumsum(0) - ct
    return torch.stack([
        perms[0].to(device)[ptr_s[group] + ks],
        perms[1].to(device)[ptr_t[group] + kt],
    ], dim=0)


def _check_cost(src: Any, name: str, size: int, what: str) -> None:
    _check_float(src, name, ORDER)
    if src.dim() != 1:
        raise ValueError(f"'{name}' must be a one-dimensional floating point "
                         f"tensor (got {src.dtype} of shape "
                         f"{list(src.shape)})")
    if src.numel() != size:
        raise ValueError(f"'{name}' must have one entry per {what} ({size}) "
                         f"(got {src.numel()})")
    if not bool(torch.isfinite(src.detach()).all()):
        raise ValueError(f"'{name}' must be finite (got NaN or inf)")


class _GraphMatchingSolver:
    r"""The solver of one validated batch of graph pairs, built by
    :func:`_graph_matching_solver`: :obj:`solver(cost, pairwise_cost)`
    solves every pair and may be called again (*e.g.* by the Blackbox
    backward) without splitting the batch again."""
    def __init__(self, num_graphs: int, num_pairs: int, num_edge_pairs: int,
                 g_u: np.ndarray, g_p: np.ndarray, pairs: np.ndarray,
                 quad: np.ndarray, ptr_s: np.ndarray, ptr_t: np.ndarray, *,
                 solver: str, max_iter: int, num_workers: int,
                 timeout: Optional[float]) -> None:
        B = num_graphs
        self.num_graphs = B
        self._layout = (pairs, quad, ptr_s, ptr_t)
        self.num_pairs = num_pairs
        self.num_edge_pairs = num_edge_pairs
        self.g_u, self.g_p = g_u, g_p
        self.solver, self.max_iter = solver, max_iter
        self.num_workers, self.timeout = num_workers, timeout
        perm_u = np.argsort(g_u, kind='stable')
        perm_p = np.argsort(g_p, kind='stable')
        cut_u = np.concatenate([[0], np.cumsum(np.bincount(g_u,
                                                           minlength=B))])
        cut_p = np.concatenate([[0], np.cumsum(np.bincount(g_p,
                                                           minlength=B))])
        self.sel_u = [perm_u[cut_u[g]:cut_u[g + 1]] for g in range(B)]
        self.sel_p = [perm_p[cut_p[g]:cut_p[g + 1]] for g in range(B)]
        self.pairs_g = [pairs[s] for s in self.sel_u]
        self.quad_g = [quad[s] for s in self.sel_p]
        self.n_s = np.diff(ptr_s).tolist()
        self.n_t = np.diff(ptr_t).tolist()
        # One task per worker (one padded pygmtools call for all graph pairs
        # in this process): the heuristic is batched, so chunks are larger
        # than those of `map_graphs` over single problems.
        todo = [g for g in range(B) if self.sel_u[g].size > 0]
        n_chunks = min(max(num_workers, 1), len(todo)) or 1
        self.chunks: List[Sequence[int]] = [todo[k::n_chunks]
                                            for k in range(n_chunks)]

    def check_cost(self, cost: Any, pairwise_cost: Any) -> None:
        r"""Raises a :class:`ValueError` unless both costs are finite
        floating point vectors of the right sizes."""
        _check_cost(cost, 'cost', self.num_pairs,
                    'candidate pair (column of edge_index)')
        _check_cost(pairwise_cost, 'pairwise_cost', self.num_edge_pairs,
                    'edge pair (column of edge_pair_index)')

    def index(self, device: torch.device) -> Tuple[Tensor, Tensor]:
        r"""The graph pair of every candidate pair and of every edge pair."""
        return (torch.from_numpy(self.g_u).to(device),
                torch.from_numpy(self.g_p).to(device))

    def stack(self, times: int) -> '_GraphMatchingSolver':
        r"""The solver of :obj:`times` copies of the batch, both costs
        concatenated copy by copy (the perturbed and I-MLE samples in one
        padded pygmtools call per worker)."""
        pairs, quad, ptr_s, ptr_t = self._layout
        step = np.arange(times, dtype=np.int64)[:, None] * self.num_graphs
        return _GraphMatchingSolver(
            times * self.num_graphs, times * self.num_pairs,
            times * self.num_edge_pairs,
            (self.g_u[None, :] + step).reshape(-1),
            (self.g_p[None, :] + step).reshape(-1), np.tile(pairs, (times, 1)),
            np.tile(quad, (times, 1)), tile_ptr(ptr_s, times),
            tile_ptr(ptr_t, times), solver=self.solver,
            max_iter=self.max_iter, num_workers=self.num_workers,
            timeout=self.timeout)

    def __call__(self, cost: Tensor,
                 pairwise_cost: Tensor) -> Tuple[Tensor, Tensor]:
        u, p = to_numpy(cost), to_numpy(pairwise_cost)
        sel_u, sel_p = self.sel_u, self.sel_p
        tasks = [([(self.pairs_g[g], u[sel_u[g]], self.quad_g[g],
                    p[sel_p[g]], self.n_s[g], self.n_t[g]) for g in chunk],
                  self.solver, self.max_iter) for chunk in self.chunks]
        results = map_graphs(_quadratic_assignment_batch, tasks,
                             self.num_workers, self.timeout)
        y_u, y_p = np.zeros(self.num_pairs), np.zeros(self.num_edge_pairs)
        for chunk, res in zip(self.chunks, results):
            for g, (yu, yp) in zip(chunk, res):
                y_u[sel_u[g]] = yu
                y_p[sel_p[g]] = yp
        return (torch.from_numpy(y_u).to(cost.device, cost.dtype),
                torch.from_numpy(y_p).to(pairwise_cost.device,
                                         pairwise_cost.dtype))


def _graph_matching_solver(
    edge_index_s: Tensor,
    edge_index_t: Tensor,
    edge_index: OptTensor = None,
    edge_pair_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    solver: str = 'rrwm',
    max_iter: int = 50,
    num_workers: int = 0,
    timeout: Optional[float] = None,
    costs: Optional[Tuple[Any, Any]] = None,
) -> _GraphMatchingSolver:
    r"""Validates the options and the batch of graph pairs, splits it into
    per-pair problems once and returns the per-call solver, shared by
    :func:`solve_graph_matching` and
    :func:`pyg_identity.nn.functional.graph_matching` (see
    :func:`solve_graph_matching` for the arguments); :obj:`costs`, the
    call's :obj:`(cost, pairwise_cost)`, are checked against the batch
    too."""
    if costs is not None:
        _check_float(costs[0], 'cost', ORDER)
        _check_float(costs[1], 'pairwise_cost', ORDER)
    _check_solver(solver, max_iter)
    check_num_workers(num_workers)
    timeout = check_timeout(timeout)
    _check_index(edge_index_s, 'edge_index_s')
    _check_index(edge_index_t, 'edge_index_t')
    _check_index(edge_index, 'edge_index')
    _check_index(edge_pair_index, 'edge_pair_index')
    _check_batch(batch_s, 'batch_s')
    _check_batch(batch_t, 'batch_t')
    B = _num_graphs(batch_s, batch_t, num_graphs)
    cand = [] if edge_index is None else [edge_index[0]]
    n_s = count_nodes(batch_s, num_nodes_s, edge_index_s, *cand,
                      name='num_nodes_s', batch_name='batch_s')
    cand = [] if edge_index is None else [edge_index[1]]
    n_t = count_nodes(batch_t, num_nodes_t, edge_index_t, *cand,
                      name='num_nodes_t', batch_name='batch_t')
    if edge_index is None:
        edge_index = _all_node_pairs(batch_s, batch_t, n_s, n_t, B)
    if edge_pair_index is None:
        edge_pair_index = _all_edge_pairs(edge_index_s, edge_index_t,
                                          batch_s, batch_t, B)
    P, Q = edge_index.size(1), edge_pair_index.size(1)

    ptr_s = graph_blocks(batch_s, n_s, edge_index_s, B).node_ptr
    ptr_t = graph_blocks(batch_t, n_t, edge_index_t, B).node_ptr
    bs = np.repeat(np.arange(B), np.diff(ptr_s))
    bt = np.repeat(np.arange(B), np.diff(ptr_t))

    ei = edge_index.detach().cpu().numpy().astype(np.int64)
    if P and (ei[0].min() < 0 or ei[0].max() >= n_s or ei[1].min() < 0
              or ei[1].max() >= n_t):
        raise ValueError(f"'edge_index' refers to nodes outside [0, {n_s}) "
                         f"x [0, {n_t})")
    g_u = bs[ei[0]]
    if np.any(g_u != bt[ei[1]]):
        raise ValueError("'edge_index' pairs nodes of different graph pairs")
    if np.unique(ei[0] * max(n_t, 1) + ei[1]).size != P:
        raise ValueError("'edge_index' contains duplicate candidate pairs")

    eis = edge_index_s.detach().cpu().numpy().astype(np.int64)
    eit = edge_index_t.detach().cpu().numpy().astype(np.int64)
    epi = edge_pair_index.detach().cpu().numpy().astype(np.int64)
    if Q and (epi[0].min() < 0 or epi[0].max() >= eis.shape[1]
              or epi[1].min() < 0 or epi[1].max() >= eit.shape[1]):
        raise ValueError(f"'edge_pair_index' refers to edges outside [0, "
                         f"{eis.shape[1]}) x [0, {eit.shape[1]})")
    es, et = eis[:, epi[0]], eit[:, epi[1]]
    g_p = bs[es[0]]
    if np.any(g_p != bt[et[0]]):
        raise ValueError("'edge_pair_index' pairs edges of different graph "
                         "pairs")

    pairs = np.stack([ei[0] - ptr_s[g_u], ei[1] - ptr_t[g_u]], axis=1)
    quad = np.stack([es[0] - ptr_s[g_p], es[1] - ptr_s[g_p],
                     et[0] - ptr_t[g_p], et[1] - ptr_t[g_p]], axis=1)
    qap = _GraphMatchingSolver(B, P, Q, g_u, g_p, pairs, quad, ptr_s, ptr_t,
                               solver=solver, max_iter=max_iter,
                               num_workers=num_workers, timeout=timeout)
    if costs is not None:
        qap.check_cost(*costs)
    return qap


@torch.no_grad()
def solve_graph_matching(
    cost: Tensor,
    pairwise_cost: Tensor,
    edge_index_s: Tensor,
    edge_index_t: Tensor,
    edge_index: OptTensor = None,
    edge_pair_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    solver: str = 'rrwm',
    max_iter: int = 50,
    num_workers: int = 0,
    timeout: Optional[float] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Solves the Lawler QAP of every graph pair of a batch heuristically
    (see the module docstring) and returns an exact, feasible matching.

    The affinity matrix :math:`\mathbf{K} = -\text{cost}` of a pair is
    symmetrised and restricted to compatible variable pairs (distinct source
    *and* target nodes, both candidates). The heuristics of :obj:`pygmtools`
    expect non-negative affinities, so :obj:`pygmtools.classic_solvers.
    <solver>` (NumPy backend, one padded call for all pairs of a worker)
    runs on up to two non-negative versions of it, each scaled to a maximum
    of one: negative entries clamped to zero (a relaxation), and all
    compatible entries shifted by one constant (the same problem, since it
    adds the same :math:`m^2` to every matching of the fixed cardinality
    :math:`m`). Each continuous solution is rounded by
    :func:`pygmtools.hungarian` inside the candidate set, and the best of
    these matchings and of the exact linear assignment of the unary costs
    alone is returned, by the exact objective. The result is therefore
    optimal when all pairwise costs vanish, and otherwise a *feasible*
    matching from a heuristic, not necessarily the optimum.

    Args:
        cost (torch.Tensor): The finite unary cost of every candidate pair,
            :obj:`[P]`.
        pairwise_cost (torch.Tensor): The finite cost of every edge pair,
            :obj:`[Q]`.
        edge_index_s (torch.Tensor): The source graph edges.
        edge_index_t (torch.Tensor): The target graph edges.
        edge_index (torch.Tensor, optional): The candidate pairs
            :math:`(i, a)` of shape :obj:`[2, P]` (global indices); pairs
            outside it are never matched. :obj:`None` means all pairs of each
            graph pair, in the order of
            :func:`pyg_identity.nn.functional.all_node_pairs`.
            (default: :obj:`None`)
        edge_pair_index (torch.Tensor, optional): The edge pairs
            :math:`(e_s, e_t)` (columns of :obj:`edge_index_s` and
            :obj:`edge_index_t`) of shape :obj:`[2, Q]`. :obj:`None` means
            all edge pairs of each graph pair, in the order of
            :func:`pyg_identity.nn.functional.all_edge_pairs`.
            (default: :obj:`None`)
        batch_s (torch.Tensor, optional): The sorted batch vector of the
            source nodes. (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The sorted batch vector of the
            target nodes. (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes; without it
            and :obj:`batch_s`, inferred from the edge indices.
            (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes; without it
            and :obj:`batch_t`, inferred from the edge indices.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of graph pairs.
            (default: :obj:`None`)
        solver (str, optional): :obj:`"rrwm"`, :obj:`"ipfp"` or :obj:`"sm"`.
            (default: :obj:`"rrwm"`)
        max_iter (int, optional): The iterations of the QAP heuristic.
            (default: :obj:`50`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)

    Returns:
        The unary indicator :math:`y^u` (dtype, shape and device of
        :obj:`cost`) and the pairwise indicator :math:`y^p_{ij,ab} =
        y^u_{ia} y^u_{jb}` (those of :obj:`pairwise_cost`), 0/1 values.
    """
    qap = _graph_matching_solver(
        edge_index_s, edge_index_t, edge_index, edge_pair_index, batch_s,
        batch_t, num_nodes_s, num_nodes_t, num_graphs, solver=solver,
        max_iter=max_iter, num_workers=num_workers, timeout=timeout,
        costs=(cost, pairwise_cost))
    return qap(cost, pairwise_cost)


__all__ = ['solve_graph_matching', 'affinity_matrix', 'QAP_SOLVERS']
