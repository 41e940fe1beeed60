import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity.solvers import solve_perfect_matching
from pyg_identity.solvers.perfect_matching import _perfect_matching


def all_perfect_matchings(n, edges):
    # Every perfect matching as a list of edge positions, by enumeration.
    adj = {}
    for k, (u, v) in enumerate(edges):
        adj.setdefault((min(u, v), max(u, v)), k)

    def rec(free):
        if not free:
            yield []
            return
        u, rest = free[0], free[1:]
        for v in rest:
            k = adj.get((u, v))
            if k is not None:
                for m in rec([w for w in rest if w != v]):
                    yield [k] + m

    return list(rec(list(range(n))))


def brute_force_cost(n, edge_index, cost):
    best = np.inf
    for m in all_perfect_matchings(n, edge_index.T.tolist()):
        best = min(best, cost[m].sum())
    return best


def random_graph(rng, n, p, both=False):
    # A random graph containing a random perfect matching; every undirected
    # edge listed once (random orientation), or in both directions.
    a, b = np.triu_indices(n, 1)
    keep = rng.random(a.size) < p
    perm = rng.permutation(n)
    pairs = {(min(u, v), max(u, v)) for u, v in perm.reshape(-1, 2).tolist()}
    keep |= np.array([(u, v) in pairs for u, v in zip(a, b)], dtype=bool)
    a, b = a[keep], b[keep]
    flip = rng.random(a.size) < 0.5
    edge_index = np.stack([np.where(flip, b, a), np.where(flip, a, b)])
    if both:
        edge_index = np.concatenate([edge_index, edge_index[::-1]], axis=1)
    edge_index = edge_index[:, rng.permutation(edge_index.shape[1])]
    return edge_index


def assert_perfect_matching(edge_index, y, n, both=False):
    assert set(np.unique(y).tolist()) <= {0.0, 1.0}
    sel = edge_index[:, y == 1]
    counts = np.bincount(sel.reshape(-1), minlength=n)
    assert np.all(counts == (2 if both else 1) * np.ones(n))


@pytest.mark.parametrize('p', [1.0, 0.5])
def test_perfect_matching_matches_brute_force(p):
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = 2 * int(rng.integers(1, 5))
        edge_index = random_graph(rng, n, p)
        cost = rng.normal(size=edge_index.shape[1])
        y = _perfect_matching(edge_index, cost, n)
        assert_perfect_matching(edge_index, y, n)
        assert np.isclose(y @ cost, brute_force_cost(n, edge_index, cost))


def test_perfect_matching_integer_costs_with_ties_match_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(30):
        n = 2 * int(rng.integers(1, 5))
        edge_index = random_graph(rng, n, 0.7)
        cost = rng.integers(-2, 3, size=edge_index.shape[1]).astype(float)
        y = _perfect_matching(edge_index, cost, n)
        assert y @ cost == brute_force_cost(n, edge_index, cost)


def test_perfect_matching_is_exact_for_tiny_cost_differences():
    # Large offsets and differences near float resolution.
    rng = np.random.default_rng(2)
    for _ in range(10):
        n = 8
        edge_index = random_graph(rng, n, 1.0)
        e = edge_index.shape[1]
        cost = 1e12 + rng.integers(0, 4, size=e) * 2**-8
        y = _perfect_matching(edge_index, cost, n)
        assert y @ cost == brute_force_cost(n, edge_index, cost)


def test_perfect_matching_both_directions_sums_costs():
    # Path 0-1-2-3 in both directions; {0,1},{2,3} is the only matching.
    edge_index = np.array([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    y = _perfect_matching(edge_index, np.arange(6.0), 4)
    assert y.tolist() == [1, 1, 0, 0, 1, 1]
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = 2 * int(rng.integers(1, 5))
        edge_index = random_graph(rng, n, 0.6, both=True)
        cost = rng.normal(size=edge_index.shape[1])
        y = _perfect_matching(edge_index, cost, n)
        assert_perfect_matching(edge_index, y, n, both=True)
        once = edge_index[0] < edge_index[1]
        key = np.minimum(*edge_index) * n + np.maximum(*edge_index)
        summed = np.array([cost[key == k].sum() for k in key[once]])
        assert np.isclose(y @ cost,
                          brute_force_cost(n, edge_index[:, once], summed))


def test_perfect_matching_bipartite_matches_linear_sum_assignment():
    from scipy.optimize import linear_sum_assignment
    rng = np.random.default_rng(4)
    for k in (6, 15):
        w = rng.random((k, k))
        rows, cols = np.meshgrid(np.arange(k), np.arange(k), indexing='ij')
        edge_index = np.stack([rows.reshape(-1), k + cols.reshape(-1)])
        y = _perfect_matching(edge_index, w.reshape(-1), 2 * k)
        r, c = linear_sum_assignment(w)
        assert np.isclose(y @ w.reshape(-1), w[r, c].sum())


def test_perfect_matching_ignores_self_loops_and_empty_graph():
    edge_index = np.array([[0, 0, 1], [0, 1, 1]])
    y = _perfect_matching(edge_index, np.array([-5.0, 1.0, -5.0]), 2)
    assert y.tolist() == [0.0, 1.0, 0.0]
    assert _perfect_matching(np.zeros((2, 0)), np.zeros(0), 0).size == 0


def test_perfect_matching_ties_are_deterministic():
    edge_index = np.stack(np.triu_indices(8, 1))
    cost = np.ones(edge_index.shape[1])
    y = _perfect_matching(edge_index, cost, 8)
    for _ in range(3):
        assert np.array_equal(_perfect_matching(edge_index, cost, 8), y)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), half=st.integers(1, 6),
       p=st.floats(0.0, 1.0), both=st.booleans())
def test_perfect_matching_output_is_a_perfect_matching(seed, half, p, both):
    rng = np.random.default_rng(seed)
    n = 2 * half
    edge_index = random_graph(rng, n, p, both)
    cost = rng.normal(size=edge_index.shape[1])
    y = _perfect_matching(edge_index, cost, n)
    assert_perfect_matching(edge_index, y, n, both)


@pytest.mark.parametrize('args,match', [
    (([[0, 1], [1, 2]], [1.0, 1.0], 3), 'even number of nodes'),
    (([[0], [0]], [1.0], 1), 'even number of nodes'),
    (([[0, 2], [1, 3]], [1.0, np.nan], 4), 'finite'),
    (([[0, 2], [1, 3]], [1.0, np.inf], 4), 'finite'),
    (([[0, 2], [1, 3]], [1.0], 4), "'cost' must have shape"),
    (([0, 2], [1.0], 4), "'edge_index'"),
    (([[0, 2], [1, 9]], [1.0, 1.0], 4), 'outside'),
    (([[0, 0, 0], [1, 2, 3]], [1.0] * 3, 4), 'no perfect matching'),
    (([[0, 0], [1, 1]], [1.0, 2.0], 2), 'duplicate'),
    (([[0, 1, 2], [1, 0, 3]], [1.0] * 3, 4), 'not a mix'),
    ((np.zeros((2, 0)), [], 2), 'no perfect matching'),
])
def test_perfect_matching_solver_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        _perfect_matching(*args)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_solve_perfect_matching_is_batched_and_returns_a_tensor(dtype):
    rng = np.random.default_rng(5)
    sizes = [4, 6, 0, 8]
    eis, off = [], 0
    for n in sizes:
        eis.append(random_graph(rng, n, 0.6) + off)
        off += n
    edge_index = torch.from_numpy(np.concatenate(eis, axis=1))
    batch = torch.repeat_interleave(torch.arange(len(sizes)),
                                    torch.tensor(sizes))
    cost = torch.randn(edge_index.size(1), dtype=dtype)
    y = solve_perfect_matching(cost, edge_index, batch, num_graphs=4)
    assert isinstance(y, torch.Tensor)
    assert y.dtype == dtype and y.shape == cost.shape
    assert y.device == cost.device
    off = 0
    for g, n in enumerate(sizes):
        pos = (batch[edge_index[0]] == g).nonzero().view(-1)
        local = (edge_index[:, pos] - off).numpy()
        ref = _perfect_matching(local, cost[pos].double().numpy(), n)
        np.testing.assert_array_equal(y[pos].double().numpy(), ref)
        off += n


def test_solve_perfect_matching_options_are_keyword_only():
    edge_index = torch.tensor([[0, 2], [1, 3]])
    with pytest.raises(TypeError):
        solve_perfect_matching(torch.ones(2), edge_index, None, 4, 1, 2)


@pytest.mark.parametrize('args,match', [
    (lambda c, ei, b: (b, ei), "'cost' must be a floating point tensor "
     r"\(got torch.int64; this looks like a batch vector"),
    (lambda c, ei, b: (ei, c, b), "'cost' must be a floating point tensor "
     r"\(got torch.int64; this looks like an edge_index"),
    (lambda c, ei, b: (c, ei, c), "'batch' must be an integer tensor "
     r"\(got torch.float32; this looks like edge costs"),
    (lambda c, ei, b: (torch.tensor([1.0, float('nan')]), ei, b), 'finite'),
])
def test_solve_perfect_matching_names_a_misplaced_argument(args, match):
    edge_index = torch.tensor([[0, 2], [1, 3]])
    batch = torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match=match):
        solve_perfect_matching(*args(torch.ones(2), edge_index, batch))
