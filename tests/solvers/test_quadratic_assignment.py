import itertools
from typing import List, Optional, Tuple

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from pyg_identity.solvers.quadratic_assignment import (
    QAP_SOLVERS,
    _quadratic_assignment,
    _quadratic_assignment_batch,
    affinity_matrix,
)

Problem = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]


def random_edges(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    e = [(i, j) for i in range(n) for j in range(n)
         if i != j and rng.random() < p]
    return np.array(e, dtype=np.int64).reshape(-1, 2)


def all_quads(es: np.ndarray, et: np.ndarray) -> np.ndarray:
    q = [(e[0], e[1], f[0], f[1]) for e in es for f in et]
    return np.array(q, dtype=np.int64).reshape(-1, 4)


def random_problem(rng: np.random.Generator, n1: int, n2: int,
                   density: float = 1.0) -> Problem:
    pairs = np.array([(i, a) for i in range(n1) for a in range(n2)
                      if rng.random() < density],
                     dtype=np.int64).reshape(-1, 2)
    quad = all_quads(random_edges(rng, n1, 0.5), random_edges(rng, n2, 0.5))
    return (pairs, rng.normal(size=len(pairs)), quad,
            rng.normal(size=len(quad)), n1, n2)


def planted_problem(rng: np.random.Generator, n: int, noise: float = 0.1,
                    offset: float = 0.0) -> Problem:
    pi = rng.permutation(n)
    pairs = np.array([(i, a) for i in range(n) for a in range(n)],
                     dtype=np.int64)
    es = random_edges(rng, n, 0.5)
    et = np.stack([pi[es[:, 0]], pi[es[:, 1]]], axis=1)
    quad = all_quads(es, et)
    unary = noise * rng.normal(size=len(pairs)) - (pairs[:, 1] ==
                                                   pi[pairs[:, 0]])
    hit = (quad[:, 2] == pi[quad[:, 0]]) & (quad[:, 3] == pi[quad[:, 1]])
    pairwise = noise * rng.normal(size=len(quad)) - hit
    return pairs, unary + offset, quad, pairwise + offset, n, n


def objective(prob: Problem, y_u: np.ndarray, y_p: np.ndarray) -> float:
    return float(prob[1] @ y_u + prob[3] @ y_p)


def brute_force(prob: Problem) -> Tuple[float, int]:
    # The optimum over the maximum-cardinality matchings inside the
    # candidate set, and that cardinality.
    pairs, unary, quad, pairwise, n1, n2 = prob
    allowed = {(int(i), int(a)) for i, a in pairs}
    for k in range(min(n1, n2), -1, -1):
        best: Optional[float] = None
        for S in itertools.combinations(range(n1), k):
            for T in itertools.permutations(range(n2), k):
                if not all(m in allowed for m in zip(S, T)):
                    continue
                x = np.zeros((n1, n2), dtype=bool)
                x[list(S), list(T)] = True
                y_u = x[pairs[:, 0], pairs[:, 1]]
                y_p = x[quad[:, 0], quad[:, 2]] & x[quad[:, 1], quad[:, 3]]
                val = objective(prob, y_u, y_p)
                best = val if best is None else min(best, val)
        if best is not None:
            return best, k
    raise AssertionError('unreachable')


def assert_feasible(prob: Problem, y_u: np.ndarray, y_p: np.ndarray,
                    size: Optional[int] = None) -> None:
    pairs, _, quad, _, n1, n2 = prob
    assert set(np.unique(y_u).tolist()) <= {0.0, 1.0}
    x = np.zeros((n1, n2))
    x[pairs[:, 0], pairs[:, 1]] = y_u
    assert (x.sum(axis=1) <= 1).all() and (x.sum(axis=0) <= 1).all()
    if size is not None:
        assert int(y_u.sum()) == size
    np.testing.assert_array_equal(
        y_p, x[quad[:, 0], quad[:, 2]] * x[quad[:, 1], quad[:, 3]])


def test_affinity_matrix_matches_pygmtools():
    import pygmtools as pygm

    rng = np.random.default_rng(0)
    n1, n2 = 4, 5
    e1, e2 = random_edges(rng, n1, 0.6), random_edges(rng, n2, 0.6)
    node = rng.normal(size=(n1, n2))
    edge = rng.normal(size=(len(e1), len(e2)))
    pairs = np.array([(i, a) for i in range(n1) for a in range(n2)])

    def lookup(table):  # Features are row ids: the affinity is a lookup.
        return lambda f1, f2: table[f1[..., 0].astype(int)[:, :, None],
                                    f2[..., 0].astype(int)[:, None, :]]

    K_ref = pygm.utils.build_aff_mat(
        np.arange(n1, dtype=float)[None, :, None],
        np.arange(len(e1), dtype=float)[None, :, None], e1[None],
        np.arange(n2, dtype=float)[None, :, None],
        np.arange(len(e2), dtype=float)[None, :, None], e2[None],
        node_aff_fn=lookup(node), edge_aff_fn=lookup(edge),
        backend='numpy')[0]
    K = affinity_matrix(pairs, -node.reshape(-1), all_quads(e1, e2),
                        -edge.reshape(-1), n1, n2)
    np.testing.assert_allclose(K, K_ref)


@pytest.mark.parametrize('solver', QAP_SOLVERS)
@pytest.mark.parametrize('offset', [0.0, 1.0])  # 1.0: costs mostly >= 0.
def test_planted_matching_reaches_brute_force_optimum(solver, offset):
    rng = np.random.default_rng(1)
    probs = [planted_problem(rng, int(n), offset=offset)
             for n in rng.integers(2, 6, 12)]
    for prob, (y_u, y_p) in zip(
            probs, _quadratic_assignment_batch(probs, solver=solver)):
        best, size = brute_force(prob)
        assert_feasible(prob, y_u, y_p, size)
        assert objective(prob, y_u, y_p) == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize('solver', QAP_SOLVERS)
def test_random_tiny_is_feasible_and_never_below_optimum(solver):
    rng = np.random.default_rng(2)
    probs = [
        random_problem(rng, int(n1), int(n2), density=float(d))
        for n1, n2, d in zip(rng.integers(1, 5, 16), rng.integers(1, 5, 16),
                             rng.choice([0.5, 1.0], 16))
    ]
    for prob, (y_u, y_p) in zip(
            probs, _quadratic_assignment_batch(probs, solver=solver)):
        best, size = brute_force(prob)
        assert_feasible(prob, y_u, y_p, size)
        assert objective(prob, y_u, y_p) >= best - 1e-9


@pytest.mark.parametrize('n1,n2', [(7, 7), (6, 11), (12, 5)])
def test_zero_pairwise_equals_linear_assignment(n1, n2):
    rng = np.random.default_rng(n1 * n2)
    pairs, unary, quad, _, _, _ = random_problem(rng, n1, n2)
    prob = (pairs, unary, quad, np.zeros(len(quad)), n1, n2)
    y_u, y_p = _quadratic_assignment(*prob)
    row, col = linear_sum_assignment(unary.reshape(n1, n2))
    assert_feasible(prob, y_u, y_p, min(n1, n2))
    assert objective(prob, y_u, y_p) == pytest.approx(
        unary.reshape(n1, n2)[row, col].sum(), abs=1e-12)


def test_sparse_candidates_are_respected():
    # Only a diagonal of candidates: the matching must use exactly them.
    n = 4
    pairs = np.array([(i, i) for i in range(n)])
    rng = np.random.default_rng(3)
    quad = all_quads(random_edges(rng, n, 0.7), random_edges(rng, n, 0.7))
    prob = (pairs, rng.normal(size=n), quad, rng.normal(size=len(quad)), n,
            n)
    y_u, y_p = _quadratic_assignment(*prob)
    np.testing.assert_array_equal(y_u, np.ones(n))
    assert_feasible(prob, y_u, y_p, n)


def test_batch_equals_single_calls():
    rng = np.random.default_rng(4)
    probs: List[Problem] = [random_problem(rng, n1, n2)
                            for n1, n2 in [(3, 4), (5, 5), (2, 2), (4, 3)]]
    batched = _quadratic_assignment_batch(probs)
    for prob, (y_u, y_p) in zip(probs, batched):
        y_u1, y_p1 = _quadratic_assignment(*prob)
        assert objective(prob, y_u, y_p) == pytest.approx(
            objective(prob, y_u1, y_p1), abs=1e-9)


def test_empty_and_single_node():
    empty = (np.zeros((0, 2)), np.zeros(0), np.zeros((0, 4)), np.zeros(0), 0,
             3)
    y_u, y_p = _quadratic_assignment(*empty)
    assert y_u.shape == (0, ) and y_p.shape == (0, )
    y_u, y_p = _quadratic_assignment(np.array([[0, 0]]), np.array([2.0]),
                                    np.zeros((0, 4)), np.zeros(0), 1, 1)
    np.testing.assert_array_equal(y_u, [1.0])


@pytest.mark.parametrize('kwargs,match', [
    (dict(solver='hungarian'), "'solver' must be one of"),
    (dict(max_iter=0), "'max_iter' must be a positive integer"),
])
def test_bad_arguments(kwargs, match):
    prob = random_problem(np.random.default_rng(5), 2, 2)
    with pytest.raises(ValueError, match=match):
        _quadratic_assignment(*prob, **kwargs)


def test_mismatched_cost_sizes():
    pairs, unary, quad, pairwise, n1, n2 = random_problem(
        np.random.default_rng(6), 3, 3)
    with pytest.raises(ValueError, match="'unary' must have one entry"):
        _quadratic_assignment(pairs, unary[1:], quad, pairwise, n1, n2)
    with pytest.raises(ValueError, match="'pairwise' must have one entry"):
        _quadratic_assignment(pairs, unary, quad, pairwise[1:], n1, n2)


@pytest.mark.parametrize('solver', ['rrwm', 'ipfp', 'sm'])
@pytest.mark.parametrize('value', [0.5, -0.5, 0.0])
def test_all_equal_costs_give_a_feasible_matching(solver, value):
    # Found by benchmarks/bench_reliability.py: all-equal costs on complete
    # digraphs made RRWM / IPFP divide by a zero maximum (NaN).
    from pyg_identity.nn import IdentityGraphMatching
    n = 3
    ei = torch.tensor([[i, j] for i in range(n) for j in range(n)
                       if i != j]).t()
    unary = torch.full((n * n, ), value, dtype=torch.float64)
    pairwise = torch.full((ei.size(1)**2, ), value, dtype=torch.float64)
    y, _ = IdentityGraphMatching(solver=solver)(unary, pairwise, ei, ei,
                                                num_nodes_s=n, num_nodes_t=n)
    x = y.view(n, n)
    assert torch.equal(x.sum(0), torch.ones(n, dtype=x.dtype))
    assert torch.equal(x.sum(1), torch.ones(n, dtype=x.dtype))
