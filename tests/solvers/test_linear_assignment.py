import pickle
import sys
from typing import List, Optional, Tuple

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from pyg_identity.solvers.linear_assignment import (
    InfeasibleMatchingError,
    _assignment_plan,
    _dense_pair,
    _linear_assignment,
    _solve_plan,
    _sparse_linear_assignment,
    _sparse_pair,
)


def brute_force(cost: np.ndarray, allowed: np.ndarray,
                unmatch_cost: Optional[float]) -> Optional[float]:
    r"""Optimal objective over all matchings within `allowed` (size
    min(n_s, n_t) without unmatch cost), or None if there is none."""
    n_s, n_t = cost.shape
    best: List[Optional[float]] = [None]

    def rec(i: int, used: Tuple[int, ...], value: float, size: int) -> None:
        if i == n_s:
            if unmatch_cost is None:
                if size != min(n_s, n_t):
                    return
            else:
                value += unmatch_cost * (n_s + n_t - 2 * size)
            if best[0] is None or value < best[0]:
                best[0] = value
            return
        rec(i + 1, used, value, size)  # i unmatched
        for j in range(n_t):
            if allowed[i, j] and j not in used:
                rec(i + 1, used + (j, ), value + cost[i, j], size + 1)

    rec(0, (), 0.0, 0)
    return best[0]


def objective(cost: np.ndarray, row: np.ndarray, col: np.ndarray,
              unmatch_cost: Optional[float]) -> float:
    value = float(cost[row, col].sum())
    if unmatch_cost is not None:
        value += unmatch_cost * (sum(cost.shape) - 2 * len(row))
    return value


def random_batch(rng: np.random.Generator, sizes: List[Tuple[int, int]],
                 density: float = 1.0):
    n_s = np.array([a for a, _ in sizes])
    n_t = np.array([b for _, b in sizes])
    ptr_s = np.concatenate([[0], np.cumsum(n_s)])
    ptr_t = np.concatenate([[0], np.cumsum(n_t)])
    edges = []
    for b, (a, c) in enumerate(sizes):
        i, j = np.meshgrid(np.arange(a), np.arange(c), indexing='ij')
        keep = rng.random(i.shape) < density
        edges.append(np.stack([ptr_s[b] + i[keep], ptr_t[b] + j[keep]]))
    ei = np.concatenate(edges, axis=1) if edges else np.zeros((2, 0), int)
    perm = rng.permutation(ei.shape[1])  # Candidates in any order.
    return ptr_s, ptr_t, ei[:, perm]


def batch_objective(y: np.ndarray, cost: np.ndarray, ei: np.ndarray,
                    ptr_s: np.ndarray, ptr_t: np.ndarray,
                    unmatch_cost: Optional[float]) -> np.ndarray:
    pair = np.searchsorted(ptr_s, ei[0], side='right') - 1
    out = np.zeros(len(ptr_s) - 1)
    np.add.at(out, pair, y * cost)
    if unmatch_cost is not None:
        size = np.zeros(len(ptr_s) - 1)
        np.add.at(size, pair, y)
        out += unmatch_cost * (np.diff(ptr_s) + np.diff(ptr_t) - 2 * size)
    return out


def check_feasible(y: np.ndarray, ei: np.ndarray, ptr_s: np.ndarray,
                   ptr_t: np.ndarray, exact: bool) -> None:
    assert set(np.unique(y).tolist()) <= {0.0, 1.0}
    m = ei[:, y > 0.5]
    deg_s = np.bincount(m[0], minlength=ptr_s[-1])
    deg_t = np.bincount(m[1], minlength=ptr_t[-1])
    assert deg_s.max(initial=0) <= 1 and deg_t.max(initial=0) <= 1
    if exact:
        pair = np.searchsorted(ptr_s, m[0], side='right') - 1
        size = np.bincount(pair, minlength=len(ptr_s) - 1)
        k = np.minimum(np.diff(ptr_s), np.diff(ptr_t))
        np.testing.assert_array_equal(size, k)


@pytest.mark.parametrize('unmatch_cost', [None, 0.0, 0.4])
@pytest.mark.parametrize('method', ['dense', 'sparse'])
def test_tiny_pairs_match_brute_force(unmatch_cost, method):
    rng = np.random.default_rng(0)
    sizes = [(1, 1), (2, 3), (3, 2), (3, 3), (4, 2), (2, 4), (4, 4), (1, 3)]
    for trial in range(6):
        density = 1.0 if trial < 2 else 0.6
        ptr_s, ptr_t, ei = random_batch(rng, sizes, density)
        cost = rng.normal(size=ei.shape[1])
        plan = _assignment_plan(ptr_s, ptr_t, ei, method)
        try:
            y = _solve_plan(cost, plan, unmatch_cost)
        except InfeasibleMatchingError:
            y = None
        got = None if y is None else batch_objective(
            y, cost, ei, ptr_s, ptr_t, unmatch_cost)
        for b, (a, c) in enumerate(sizes):
            dense = np.zeros((a, c))
            allowed = np.zeros((a, c), dtype=bool)
            sel = (ei[0] >= ptr_s[b]) & (ei[0] < ptr_s[b + 1])
            dense[ei[0, sel] - ptr_s[b], ei[1, sel] - ptr_t[b]] = cost[sel]
            allowed[ei[0, sel] - ptr_s[b], ei[1, sel] - ptr_t[b]] = True
            ref = brute_force(dense, allowed, unmatch_cost)
            # The pair alone: infeasible exactly when brute force finds none.
            sub = np.stack([ei[0, sel] - ptr_s[b], ei[1, sel] - ptr_t[b]])
            alone = _assignment_plan(np.array([0, a]), np.array([0, c]), sub,
                                    method)
            if ref is None:
                assert y is None
                with pytest.raises(InfeasibleMatchingError):
                    _solve_plan(cost[sel], alone, unmatch_cost)
                continue
            y_b = _solve_plan(cost[sel], alone, unmatch_cost)
            value = float((y_b * cost[sel]).sum())
            if unmatch_cost is not None:
                value += unmatch_cost * (a + c - 2 * y_b.sum())
            assert value == pytest.approx(ref, abs=1e-9)
            if y is not None:
                assert got[b] == pytest.approx(ref, abs=1e-9)
        if y is not None:
            check_feasible(y, ei, ptr_s, ptr_t, unmatch_cost is None)


def test_linear_assignment_matches_brute_force_with_unmatch_cost():
    rng = np.random.default_rng(1)
    for _ in range(30):
        a, c = rng.integers(1, 5, size=2)
        cost = rng.normal(size=(a, c))
        u = float(rng.uniform(0.0, 1.0))
        row, col = _linear_assignment(cost, u)
        ref = brute_force(cost, np.ones((a, c), bool), u)
        assert objective(cost, row, col, u) == pytest.approx(ref)


def test_unmatch_cost_agrees_with_pygmtools():
    pygm = pytest.importorskip('pygmtools')
    rng = np.random.default_rng(2)
    cost = rng.normal(size=(6, 9))
    u = 0.3
    # pygmtools maximises scores; an unmatched node scores -u.
    x = pygm.linear_solvers.hungarian(
        -cost[None], unmatch1=np.full((1, 6), -u),
        unmatch2=np.full((1, 9), -u), backend='numpy')[0]
    row, col = _linear_assignment(cost, u)
    r, c = np.nonzero(x)
    assert objective(cost, row, col, u) == pytest.approx(
        objective(cost, r, c, u))


def test_tie_at_twice_unmatch_cost_stays_unmatched():
    row, col = _linear_assignment(np.array([[1.0]]), unmatch_cost=0.5)
    assert row.size == 0 and col.size == 0
    row, col = _linear_assignment(np.array([[0.999]]), unmatch_cost=0.5)
    assert row.tolist() == [0] and col.tolist() == [0]


@pytest.mark.parametrize('method', ['auto', 'dense', 'sparse'])
def test_larger_ragged_batch_matches_scipy(method):
    rng = np.random.default_rng(3)
    sizes = [(int(a), int(b)) for a, b in rng.integers(1, 40, size=(12, 2))]
    ptr_s, ptr_t, _ = random_batch(rng, sizes)
    plan = _assignment_plan(ptr_s, ptr_t, None, method)
    cost = rng.normal(size=plan.num_edges)
    y = _solve_plan(cost, plan)
    got = batch_objective(y, cost, _all_pairs(ptr_s, ptr_t), ptr_s, ptr_t,
                          None)
    off = 0
    for b, (a, c) in enumerate(sizes):
        block = cost[off:off + a * c].reshape(a, c)
        r, cc = linear_sum_assignment(block)
        assert got[b] == pytest.approx(block[r, cc].sum())
        off += a * c


def _all_pairs(ptr_s, ptr_t):
    out = []
    for b in range(len(ptr_s) - 1):
        i, j = np.meshgrid(np.arange(ptr_s[b], ptr_s[b + 1]),
                           np.arange(ptr_t[b], ptr_t[b + 1]), indexing='ij')
        out.append(np.stack([i.ravel(), j.ravel()]))
    return np.concatenate(out, axis=1)


def test_all_pairs_plan_equals_explicit_edge_index():
    rng = np.random.default_rng(4)
    sizes = [(3, 5), (0, 4), (6, 2), (4, 0), (5, 5)]
    ptr_s, ptr_t, _ = random_batch(rng, sizes)
    ei = _all_pairs(ptr_s, ptr_t)
    cost = rng.normal(size=ei.shape[1])
    y1 = _solve_plan(cost, _assignment_plan(ptr_s, ptr_t, None))
    y2 = _solve_plan(cost, _assignment_plan(ptr_s, ptr_t, ei))
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize('unmatch_cost', [None, 0.2])
def test_sparse_equals_dense_on_candidate_subsets(unmatch_cost):
    rng = np.random.default_rng(5)
    sizes = [(int(a), int(b)) for a, b in rng.integers(2, 30, size=(8, 2))]
    ptr_s, ptr_t, ei = random_batch(rng, sizes, density=0.7)
    cost = rng.normal(size=ei.shape[1])
    objs = []
    for method in ('dense', 'sparse'):
        plan = _assignment_plan(ptr_s, ptr_t, ei, method)
        try:
            y = _solve_plan(cost, plan, unmatch_cost)
        except InfeasibleMatchingError:
            assert unmatch_cost is None
            objs.append(None)
            continue
        check_feasible(y, ei, ptr_s, ptr_t, unmatch_cost is None)
        objs.append(batch_objective(y, cost, ei, ptr_s, ptr_t, unmatch_cost))
    if objs[0] is None or objs[1] is None:
        assert objs[0] is None and objs[1] is None
    else:
        np.testing.assert_allclose(objs[0], objs[1], atol=1e-9)


def test_large_sparse_pair_uses_sparse_solver():
    rng = np.random.default_rng(6)
    n, k = 150, 6
    src = np.repeat(np.arange(n), k)
    dst = (src + rng.integers(0, n, size=(n * k))) % n
    dst[::k] = np.arange(n)  # Ensure a perfect matching exists.
    ei = np.unique(np.stack([src, dst]), axis=1)
    ptr = np.array([0, n])
    plan = _assignment_plan(ptr, ptr, ei, 'auto')
    assert len(plan.sparse) == 1 and len(plan.dense) == 0
    cost = rng.normal(size=ei.shape[1])
    y = _solve_plan(cost, plan)
    dense = np.full((n, n), np.inf)
    dense[ei[0], ei[1]] = cost
    r, c = linear_sum_assignment(dense)
    assert float((y * cost).sum()) == pytest.approx(dense[r, c].sum())


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), num_pairs=st.integers(1, 6),
       density=st.sampled_from([1.0, 0.5, 0.2]),
       unmatch=st.sampled_from([None, 0.0, 0.5]),
       method=st.sampled_from(['auto', 'dense', 'sparse']))
def test_every_output_is_a_feasible_matching(seed, num_pairs, density,
                                              unmatch, method):
    rng = np.random.default_rng(seed)
    sizes = [(int(a), int(b)) for a, b in rng.integers(0, 9, (num_pairs, 2))]
    ptr_s, ptr_t, ei = random_batch(rng, sizes, density)
    cost = rng.normal(size=ei.shape[1]) * 10
    plan = _assignment_plan(ptr_s, ptr_t, ei, method)
    try:
        y = _solve_plan(cost, plan, unmatch)
    except InfeasibleMatchingError:
        assert unmatch is None and density < 1.0
        return
    check_feasible(y, ei, ptr_s, ptr_t, exact=unmatch is None)


# Solver calls that could hang run with a timeout (in a worker process), so
# that a regression fails instead of hanging the test session.
TIMEOUT = 60.0


def regime_costs(rng: np.random.Generator, regime: str, size: int,
                 unmatch: Optional[float]) -> np.ndarray:
    if regime == 'tiny':
        return rng.normal(size=size) * 1e-9
    if regime == 'mixed':  # both signs, 18 orders of magnitude
        return rng.choice([-1.0, 1.0], size) * 10**rng.uniform(-9, 9, size)
    if regime == 'huge':
        return rng.normal(size=size) * 10.0**rng.choice([12, 150])
    # Ties: few distinct values, and pairs exactly at the 2u threshold.
    cost = rng.integers(-1, 2, size) * rng.choice([1e-9, 1.0, 1e9])
    if unmatch is not None:
        cost = np.where(rng.random(size) < 0.3, 2 * unmatch, cost)
    return cost


def test_sparse_tiny_costs_beside_unmatch_cost_do_not_hang():
    # scipy's LAPJVsp looped forever on this pair (issue 10).
    cost = np.array([-2.1e-9, 8.3e-10, 4.9e-10, 5.2e-10, -1.1e-9, -5.1e-10])
    plan = _assignment_plan(np.array([0, 3]), np.array([0, 2]), None,
                           'sparse')
    y = _solve_plan(cost, plan, 3.0, timeout=TIMEOUT)
    ref = brute_force(cost.reshape(3, 2), np.ones((3, 2), bool), 3.0)
    assert objective(cost.reshape(3, 2), *np.nonzero(y.reshape(3, 2)),
                     3.0) == pytest.approx(ref, rel=0, abs=1e-20)
    assert y.tolist() == [1, 0, 0, 0, 0, 1]


@settings(max_examples=150, deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # A hang
# would time out once per shrinking step: report the first failure instead.
@given(seed=st.integers(0, 2**31 - 1),
       regime=st.sampled_from(['tiny', 'mixed', 'huge', 'tied']),
       unmatch=st.sampled_from([None, 0.0, 1e-9, 3.0, 1e12]),
       density=st.sampled_from([1.0, 0.6]))
def test_sparse_solver_is_exact_and_terminates_in_every_cost_regime(
        seed, regime, unmatch, density):
    rng = np.random.default_rng(seed)
    sizes = [(int(a), int(b)) for a, b in rng.integers(1, 5, (3, 2))]
    ptr_s, ptr_t, ei = random_batch(rng, sizes, density)
    cost = regime_costs(rng, regime, ei.shape[1], unmatch)
    plan = _assignment_plan(ptr_s, ptr_t, ei, 'sparse')
    try:
        y = _solve_plan(cost, plan, unmatch, timeout=TIMEOUT)
    except InfeasibleMatchingError:
        y = None
    got = None if y is None else batch_objective(y, cost, ei, ptr_s, ptr_t,
                                                 unmatch)
    for b, (a, c) in enumerate(sizes):
        sel = (ei[0] >= ptr_s[b]) & (ei[0] < ptr_s[b + 1])
        block = np.zeros((a, c))
        allowed = np.zeros((a, c), dtype=bool)
        block[ei[0, sel] - ptr_s[b], ei[1, sel] - ptr_t[b]] = cost[sel]
        allowed[ei[0, sel] - ptr_s[b], ei[1, sel] - ptr_t[b]] = True
        ref = brute_force(block, allowed, unmatch)
        if ref is None:
            assert y is None
            continue
        if got is not None:
            # Exact up to the rounding of sums at the costs' magnitude.
            scale = max(np.abs(cost[sel]).max(initial=0), unmatch or 0.0)
            assert got[b] == pytest.approx(ref, rel=0, abs=1e-12 * scale)
    if y is not None:
        check_feasible(y, ei, ptr_s, ptr_t, exact=unmatch is None)


@pytest.mark.parametrize('unmatch_cost', [None, 0.5])
def test_timeout_matches_in_process(unmatch_cost):
    rng = np.random.default_rng(7)
    sizes = [(3, 4), (5, 5), (2, 1)]
    ptr_s, ptr_t, ei = random_batch(rng, sizes, 0.8)
    cost = rng.normal(size=ei.shape[1])
    for method in ('dense', 'sparse'):
        plan = _assignment_plan(ptr_s, ptr_t, ei, method)
        np.testing.assert_array_equal(
            _solve_plan(cost, plan, unmatch_cost, timeout=TIMEOUT),
            _solve_plan(cost, plan, unmatch_cost))
    plan = _assignment_plan(ptr_s, ptr_t, None, 'auto')  # the hot path
    cost = rng.normal(size=plan.num_edges)
    np.testing.assert_array_equal(
        _solve_plan(cost, plan, unmatch_cost, timeout=TIMEOUT),
        _solve_plan(cost, plan, unmatch_cost))


def test_float32_costs_give_float32_solution():
    ptr = np.array([0, 3, 5])
    plan = _assignment_plan(ptr, ptr)
    y = _solve_plan(np.arange(13, dtype=np.float32), plan)
    assert y.dtype == np.float32 and y.sum() == 5


def test_infeasible_candidates_raise():
    ptr = np.array([0, 2])
    ei = np.array([[0, 1], [0, 0]])  # Both sources only to target 0.
    for method in ('dense', 'sparse'):
        plan = _assignment_plan(ptr, ptr, ei, method)
        with pytest.raises(ValueError, match='pair 0 .*admit no matching'):
            _solve_plan(np.zeros(2), plan)
        y = _solve_plan(np.zeros(2) - 1.0, plan, unmatch_cost=0.0)
        assert y.sum() == 1
    with pytest.raises(ValueError, match='no matching of size'):
        _linear_assignment(np.array([[0.0, np.inf], [1.0, np.inf]]))
    with pytest.raises(ValueError, match='admit no matching'):
        _sparse_linear_assignment(ei[0], ei[1], np.zeros(2), 2, 2)


def test_per_pair_functions_are_picklable():
    for fn in (_dense_pair, _sparse_pair):
        assert pickle.loads(pickle.dumps(fn)) is fn


@pytest.mark.parametrize('ptr_s, ptr_t, ei, method, match', [
    ([0, 2, 4], [0, 2, 4], [[0], [3]], 'auto', 'different pair'),
    ([0, 2], [0, 2], [[0, 0], [1, 1]], 'auto', 'duplicate'),
    ([0, 2], [0, 2], [[0], [2]], 'auto', 'outside'),
    ([0, 2], [0, 2], [[0, 1]], 'auto', r'shape \[2, num_edges\]'),
    ([0, 2], [0, 2], None, 'hungarian', "'method'"),
])
def test_bad_plan_input(ptr_s, ptr_t, ei, method, match):
    ei = None if ei is None else np.array(ei)
    with pytest.raises(ValueError, match=match):
        _assignment_plan(np.array(ptr_s), np.array(ptr_t), ei, method)


@pytest.mark.parametrize('unmatch_cost', [-0.1, float('nan'), float('inf'),
                                          'a'])
def test_bad_unmatch_cost(unmatch_cost):
    with pytest.raises(ValueError, match="'unmatch_cost'"):
        _linear_assignment(np.zeros((2, 2)), unmatch_cost)


def test_bad_solver_input():
    with pytest.raises(ValueError, match='NaN'):
        _linear_assignment(np.array([[np.nan]]))
    with pytest.raises(ValueError, match='two-dimensional'):
        _linear_assignment(np.zeros(3))
    with pytest.raises(ValueError, match='finite'):
        _sparse_linear_assignment([0], [0], [np.inf], 1, 1)
    with pytest.raises(ValueError, match='duplicate'):
        _sparse_linear_assignment([0, 0], [0, 0], [1.0, 2.0], 1, 1)
    plan = _assignment_plan(np.array([0, 2]), np.array([0, 2]))
    with pytest.raises(ValueError, match=r"'cost' must have shape \[4\]"):
        _solve_plan(np.zeros(3), plan)


def test_timeout_bounds_dense_and_sparse_pairs_together(monkeypatch):
    # (the package re-exports a function under the module's name)
    la = sys.modules['pyg_identity.solvers.linear_assignment']
    calls = []

    def fake_map(fn, tasks, num_workers, timeout):
        calls.append(timeout)
        if fn is la._sparse_pair:
            raise TimeoutError('stuck')
        return [fn(*task) for task in tasks]

    monkeypatch.setattr(la, '_map', fake_map)
    ptr_s, ptr_t = np.array([0, 2, 202]), np.array([0, 2, 202])
    ei = np.concatenate([[[0, 0, 1, 1], [0, 1, 0, 1]],
                         np.stack([np.arange(2, 202)] * 2)], axis=1)
    plan = _assignment_plan(ptr_s, ptr_t, ei, 'auto')
    assert plan.dense.graphs.tolist() == [0] and len(plan.sparse) == 1
    with pytest.raises(TimeoutError, match=r'within timeout=5 s \(stuck\)'):
        _solve_plan(np.zeros(ei.shape[1]), plan, timeout=5)
    assert calls[0] == 5 and 0 < calls[1] <= 5


# The public, batched torch solver ###########################################

def _torch_batch(sizes, seed=0):
    import torch
    gen = torch.Generator().manual_seed(seed)
    n_s = torch.tensor([a for a, _ in sizes])
    n_t = torch.tensor([b for _, b in sizes])
    batch_s = torch.repeat_interleave(torch.arange(len(sizes)), n_s)
    batch_t = torch.repeat_interleave(torch.arange(len(sizes)), n_t)
    cost = torch.randn(int((n_s * n_t).sum()), generator=gen,
                       dtype=torch.float64)
    return cost, batch_s, batch_t


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16', 'float32',
                                   'float64'])
def test_solve_assignment_returns_torch_in_the_costs_dtype(dtype):
    import torch

    from pyg_identity.solvers import solve_assignment
    sizes = [(3, 4), (5, 5), (2, 1)]
    cost, batch_s, batch_t = _torch_batch(sizes)
    c = cost.to(getattr(torch, dtype))
    y = solve_assignment(c, None, batch_s, batch_t)
    assert isinstance(y, torch.Tensor)
    assert y.dtype == c.dtype and y.shape == c.shape
    assert y.device == c.device
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    if dtype == 'float64':  # the numpy path, pair by pair
        ptr_s = np.concatenate([[0], np.cumsum([a for a, _ in sizes])])
        ptr_t = np.concatenate([[0], np.cumsum([b for _, b in sizes])])
        expected = _solve_plan(cost.numpy(),
                               _assignment_plan(ptr_s, ptr_t, None))
        np.testing.assert_array_equal(y.numpy(), expected)


def test_solve_assignment_equals_the_functional():
    import torch

    from pyg_identity.nn.functional import knn_candidates, matching
    from pyg_identity.solvers import solve_assignment
    cost, batch_s, batch_t = _torch_batch([(4, 6), (3, 3), (6, 4)], seed=1)
    for u in (None, 0.4):
        assert torch.equal(
            solve_assignment(cost, None, batch_s, batch_t, unmatch_cost=u),
            matching(cost, None, batch_s, batch_t, unmatch_cost=u))
    x = torch.randn(batch_s.numel(), 3, dtype=torch.float64)
    z = torch.randn(batch_t.numel(), 3, dtype=torch.float64)
    ei = knn_candidates(x, z, batch_s, batch_t, k=2)
    c = torch.randn(ei.size(1), dtype=torch.float64)
    for method in ('dense', 'sparse'):
        assert torch.equal(
            solve_assignment(c, ei, batch_s, batch_t, unmatch_cost=0.1,
                             method=method),
            matching(c, ei, batch_s, batch_t, unmatch_cost=0.1,
                     method=method))


def test_solve_assignment_options_are_keyword_only():

    from pyg_identity.solvers import solve_assignment
    cost, batch_s, batch_t = _torch_batch([(2, 2)])
    with pytest.raises(TypeError):
        solve_assignment(cost, None, batch_s, batch_t, None, None, None, 0.5)


def test_solve_assignment_names_a_misplaced_tensor():
    import torch

    from pyg_identity.solvers import solve_assignment
    cost, batch_s, batch_t = _torch_batch([(2, 3), (2, 2)])
    with pytest.raises(ValueError, match="'cost' must be a floating point "
                       "tensor .*looks like a batch vector — the order is "
                       "cost, edge_index, batch_s"):
        solve_assignment(batch_s, None, batch_s, batch_t)
    ei = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="'cost' .*looks like an "
                       "edge_index"):
        solve_assignment(ei, cost, batch_s, batch_t)
    with pytest.raises(ValueError, match="'batch_s' must be an integer "
                       "tensor .*looks like a cost vector"):
        solve_assignment(cost, None, cost, batch_t)
    with pytest.raises(ValueError, match="'cost' must be finite"):
        solve_assignment(cost + float('inf'), None, batch_s, batch_t)
    with pytest.raises(InfeasibleMatchingError):
        solve_assignment(torch.zeros(2), torch.tensor([[0, 1], [0, 0]]),
                         num_nodes_s=2, num_nodes_t=2)
