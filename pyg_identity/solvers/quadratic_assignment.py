r"""Quadratic (Lawler) graph matching of graph pairs with the heuristic QAP
solvers of :obj:`pygmtools` (RRWM, IPFP, spectral matching), rounded to an
exact matching by the Hungarian algorithm.

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
"""
from typing import Any, List, Sequence, Tuple

import numpy as np

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


def quadratic_assignment_batch(
    problems: Sequence[Tuple[Any, ...]],
    solver: str = 'rrwm',
    max_iter: int = 50,
) -> List[Tuple[np.ndarray, np.ndarray]]:
    r"""Solves several graph pairs with one (padded) call of the heuristic;
    each element of :obj:`problems` holds the first six arguments of
    :func:`quadratic_assignment`. Returns one :obj:`(y_u, y_p)` per pair."""
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


def quadratic_assignment(
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
    return quadratic_assignment_batch(
        [(pairs, unary, quad, pairwise, num_nodes_s, num_nodes_t)], solver,
        max_iter)[0]


__all__ = ['quadratic_assignment', 'quadratic_assignment_batch',
           'affinity_matrix', 'QAP_SOLVERS']
