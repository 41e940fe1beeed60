r"""Linear assignment on the one dispatch helper, its pygmtools backend and
pygmtools' dense layout: equal to scipy / pygmtools on seeded ragged
batches (ties-free random costs, rectangular pairs, sparse candidates,
unmatch costs)."""
import numpy as np
import pygmtools
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity.solvers import solve_assignment
from pyg_identity.solvers._dispatch import pair_blocks, split_pairs
from pyg_identity.solvers.linear_assignment import (
    InfeasibleMatchingError,
    _assignment_plan,
    _solve_plan,
)


def ragged(rng, num_pairs, max_n=7, square=False):
    n_s = rng.integers(0, max_n + 1, num_pairs)
    n_t = n_s.copy() if square else rng.integers(0, max_n + 1, num_pairs)
    batch_s = torch.from_numpy(np.repeat(np.arange(num_pairs), n_s))
    batch_t = torch.from_numpy(np.repeat(np.arange(num_pairs), n_t))
    return n_s, n_t, batch_s, batch_t


def padded(cost_flat, n_s, n_t):
    # The flat all-pairs costs (row-major per pair) as [b, n1max, n2max].
    b, m1, m2 = len(n_s), max(int(n_s.max()), 1), max(int(n_t.max()), 1)
    out = np.zeros((b, m1, m2))
    k = 0
    for g, (a, c) in enumerate(zip(n_s, n_t)):
        out[g, :a, :c] = cost_flat[k:k + a * c].reshape(a, c)
        k += a * c
    return out


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('unmatch_cost', [None, 0.4])
def test_pygmtools_solver_equals_scipy_on_ragged_batches(seed, unmatch_cost):
    rng = np.random.default_rng(seed)
    n_s, n_t, batch_s, batch_t = ragged(rng, 9)
    cost = torch.from_numpy(rng.standard_normal(int((n_s * n_t).sum())))
    kw = dict(num_graphs=9, unmatch_cost=unmatch_cost)
    y_scipy = solve_assignment(cost, None, batch_s, batch_t, **kw)
    y_pygm = solve_assignment(cost, None, batch_s, batch_t, solver='pygmtools',
                              **kw)
    assert torch.equal(y_scipy, y_pygm)
    # ... and both equal pygmtools itself on the padded scores -cost.
    s, m1, m2 = -padded(cost.numpy(), n_s, n_t), None, None
    u = None if unmatch_cost is None else np.full(s.shape[:2], -unmatch_cost)
    v = None if unmatch_cost is None else np.full(
        (s.shape[0], s.shape[2]), -unmatch_cost)
    ref = pygmtools.linear_solvers.hungarian(s, n_s, n_t, u, v,
                                             backend='numpy')
    assert np.array_equal(padded(y_scipy.numpy(), n_s, n_t), ref)
    del m1, m2


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('unmatch_cost', [None, 0.6])
def test_pygmtools_solver_on_sparse_candidates(seed, unmatch_cost):
    # Forbidden pairs become -inf scores for pygmtools.
    rng = np.random.default_rng(100 + seed)
    n_s, n_t, batch_s, batch_t = ragged(rng, 6, square=True)
    ptr_s = np.concatenate([[0], np.cumsum(n_s)])
    ptr_t = np.concatenate([[0], np.cumsum(n_t)])
    rows, cols = [], []
    for g in range(6):
        # A permutation (feasible) plus random extra candidates.
        perm = rng.permutation(n_t[g])
        keep = rng.random((n_s[g], n_t[g])) < 0.4
        keep[np.arange(n_s[g]), perm] = True
        i, j = np.nonzero(keep)
        rows.append(ptr_s[g] + i)
        cols.append(ptr_t[g] + j)
    ei = torch.from_numpy(np.stack([np.concatenate(rows),
                                    np.concatenate(cols)]))
    cost = torch.from_numpy(rng.standard_normal(ei.size(1)))
    ys = [solve_assignment(cost, ei, batch_s, batch_t, num_graphs=6,
                           unmatch_cost=unmatch_cost, method=m, solver=sv)
          for m, sv in (('auto', 'scipy'), ('sparse', 'scipy'),
                        ('dense', 'scipy'), ('auto', 'pygmtools'),
                        ('dense', 'pygmtools'))]
    for y in ys[1:]:
        assert torch.equal(ys[0], y)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6),
       st.sampled_from([None, 0.0, 0.3, 2.0]))
def test_dense_layout_equals_pygmtools_hungarian(seed, num_pairs, unmatch):
    # pygmtools maximises scores s; the dense layout minimises cost = -s.
    rng = np.random.default_rng(seed)
    m1, m2 = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    s = rng.standard_normal((num_pairs, m1, m2))
    n1 = rng.integers(0, m1 + 1, num_pairs)
    n2 = rng.integers(0, m2 + 1, num_pairs)
    u1 = u2 = None
    if unmatch is not None:
        u1 = np.full((num_pairs, m1), -unmatch)
        u2 = np.full((num_pairs, m2), -unmatch)
    ref = pygmtools.linear_solvers.hungarian(s, n1, n2, u1, u2,
                                             backend='numpy')
    for solver in ('scipy', 'pygmtools'):
        y = solve_assignment(torch.from_numpy(-s), n1=torch.from_numpy(n1),
                             n2=torch.from_numpy(n2), unmatch_cost=unmatch,
                             solver=solver)
        assert y.shape == s.shape and y.dtype == torch.float64
        assert np.array_equal(y.numpy(), ref)


def test_dense_layout_without_sizes_is_full_and_maximises_minus_cost():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((4, 5, 3)).astype(np.float32)
    y = solve_assignment(torch.from_numpy(-s))
    ref = pygmtools.linear_solvers.hungarian(s, backend='numpy')
    assert y.dtype == torch.float32 and np.array_equal(y.numpy(), ref)
    # The sign matters: on +s the solution is pygmtools' on -s.
    y_neg = solve_assignment(torch.from_numpy(s))
    assert np.array_equal(
        y_neg.numpy(), pygmtools.linear_solvers.hungarian(-s,
                                                          backend='numpy'))
    assert not np.array_equal(y_neg.numpy(), ref)


def test_pygmtools_solver_in_a_pool_and_with_a_timeout():
    rng = np.random.default_rng(3)
    n_s, n_t, batch_s, batch_t = ragged(rng, 12)
    cost = torch.from_numpy(rng.standard_normal(int((n_s * n_t).sum())))
    ref = solve_assignment(cost, None, batch_s, batch_t, num_graphs=12)
    for kw in (dict(num_workers=2), dict(timeout=60.0)):
        y = solve_assignment(cost, None, batch_s, batch_t, num_graphs=12,
                             solver='pygmtools', **kw)
        assert torch.equal(y, ref)


def test_pygmtools_solver_names_an_infeasible_pair():
    # Pair 1 has two sources that can only take target 0.
    ei = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 2]])
    batch = torch.tensor([0, 0, 1, 1])
    with pytest.raises(InfeasibleMatchingError, match='pair 1'):
        solve_assignment(torch.zeros(4), ei, batch, batch,
                         solver='pygmtools')


@pytest.mark.parametrize('kwargs, match', [
    (dict(solver='lapjv'), "'solver' must be 'scipy' or 'pygmtools'"),
    (dict(solver='pygmtools', method='sparse'), 'needs solver=.scipy'),
])
def test_bad_solver(kwargs, match):
    with pytest.raises(ValueError, match=match):
        solve_assignment(torch.zeros(4), None, torch.tensor([0, 0]),
                         torch.tensor([0, 0]), **kwargs)


@pytest.mark.parametrize('kwargs, match', [
    (dict(n1=torch.tensor([1, 2])), r"'n1' must have shape \[3\]"),
    (dict(n1=torch.tensor([1, 2, 5])), r"'n1' must lie in \[0, 4\]"),
    (dict(n2=torch.tensor([1.0, 2.0, 2.0])), "'n2' must be an integer"),
    (dict(n2=np.array([0.5, 1, 1])), "'n2' must hold integers"),
    (dict(batch_s=torch.tensor([0, 1])), "do not pass 'batch_s'"),
    (dict(num_graphs=3), "do not pass 'num_graphs'"),
])
def test_bad_dense_layout(kwargs, match):
    with pytest.raises(ValueError, match=match):
        solve_assignment(torch.zeros(3, 4, 5), **kwargs)


def test_sizes_only_with_the_dense_layout():
    with pytest.raises(ValueError, match="'n1' belongs to the dense layout"):
        solve_assignment(torch.zeros(4), None, torch.tensor([0, 0]),
                         torch.tensor([0, 0]), n1=torch.tensor([2]))
    with pytest.raises(ValueError, match=r'\[b, n1max, n2max\]'):
        solve_assignment(torch.zeros(2, 2), None, None, None, 2, 1)


def test_plan_solves_through_pair_blocks():
    # The plan is built on the dispatch helper's blocks: the same solution
    # from boundaries and from batch vectors, dense and sparse.
    rng = np.random.default_rng(5)
    n_s, n_t, batch_s, batch_t = ragged(rng, 5)
    ptr_s = np.concatenate([[0], np.cumsum(n_s)])
    ptr_t = np.concatenate([[0], np.cumsum(n_t)])
    cost = rng.standard_normal(int((n_s * n_t).sum()))
    blocks = pair_blocks(batch_s, batch_t, int(n_s.sum()), int(n_t.sum()),
                         num_graphs=5)
    assert np.array_equal(blocks.node_ptr, ptr_s)
    assert np.array_equal(blocks.target_ptr, ptr_t)
    y = {m: _solve_plan(cost, _assignment_plan(ptr_s, ptr_t, None, m))
         for m in ('auto', 'dense', 'sparse')}
    assert np.array_equal(y['auto'], y['dense'])
    assert np.array_equal(y['auto'], y['sparse'])
    via = _assignment_plan(None, None, None, 'auto',
                           blocks=split_pairs(ptr_s, ptr_t))
    assert np.array_equal(_solve_plan(cost, via), y['auto'])
