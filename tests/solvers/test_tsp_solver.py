import itertools
import sys
import types
import warnings

import numpy as np
import pytest
import torch
from _dispatch_helpers import crash
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity.solvers import map_graphs
from pyg_identity.solvers import tsp as tsp_module
from pyg_identity.solvers.tsp import (
    LOSSY_EXCESS,
    _greedy_tour,
    _integer_costs,
    _tsp_edges,
    held_karp,
    solve_tsp,
    tour_length,
    tsp_tour,
)


def _solve(cost, *args, **kwargs):
    """solve_tsp on numpy costs (as float64 tensors), the result as numpy."""
    return solve_tsp(torch.as_tensor(np.asarray(cost, dtype=np.float64)),
                     *args, **kwargs).numpy()


def complete_batch(sizes, both=True):
    """A PyG-style batch of complete graphs (both directions if `both`)."""
    eis, batch, off = [], [], 0
    for g, n in enumerate(sizes):
        i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing='ij')
        keep = (i != j) if both else (i < j)
        eis.append(torch.stack([i[keep], j[keep]]) + off)
        batch.append(torch.full((n, ), g))
        off += n
    return torch.cat(eis, 1), torch.cat(batch)


def sparse_batch(sizes, rng, extra=0.3):
    """Graphs with a hidden Hamiltonian cycle plus random chords, one
    direction per pair."""
    eis, batch, off = [], [], 0
    for g, n in enumerate(sizes):
        perm = rng.permutation(n)
        pairs = {tuple(sorted((int(perm[k]), int(perm[(k + 1) % n]))))
                 for k in range(n)}
        for a, b in itertools.combinations(range(n), 2):
            if rng.random() < extra:
                pairs.add((a, b))
        pairs = sorted(pairs)
        flip = rng.random(len(pairs)) < 0.5
        ei = np.array([(b, a) if f else (a, b) for (a, b), f in
                       zip(pairs, flip)]).T
        eis.append(torch.from_numpy(ei) + off)
        batch.append(torch.full((n, ), g))
        off += n
    return torch.cat(eis, 1), torch.cat(batch)


def assert_tours(y, edge_index, batch, ones_per_node):
    """Every graph's marked edges form one Hamiltonian cycle."""
    y = np.asarray(y)
    assert set(np.unique(y).tolist()) <= {0.0, 1.0}
    ei = edge_index.numpy()
    b = batch.numpy()
    for g in np.unique(b):
        nodes = np.nonzero(b == g)[0]
        n = nodes.size
        sel = (b[ei[0]] == g) & (y == 1)
        assert sel.sum() == ones_per_node * n
        pairs = {tuple(sorted(p)) for p in ei[:, sel].T.tolist()}
        assert len(pairs) == n
        adj = {v: [] for v in nodes.tolist()}
        for a, c in pairs:
            adj[a].append(c)
            adj[c].append(a)
        assert all(len(v) == 2 for v in adj.values())
        seen, prev, cur = {int(nodes[0])}, None, int(nodes[0])
        while True:  # walk the cycle: it must visit every node
            nxt = [v for v in adj[cur] if v != prev][0]
            if nxt == nodes[0]:
                break
            seen.add(nxt)
            prev, cur = cur, nxt
        assert len(seen) == n


def objective(cost, y, edge_index, batch):
    g = batch[edge_index[0]].numpy()
    return np.bincount(g, weights=np.asarray(cost) * np.asarray(y))


def test_held_karp_matches_brute_force():
    rng = np.random.default_rng(0)
    for n in range(3, 8):
        for _ in range(5):
            c = rng.normal(size=(n, n))
            best = min(tour_length(c, (0, ) + p)
                       for p in itertools.permutations(range(1, n)))
            tour, length = held_karp(c)
            assert sorted(tour.tolist()) == list(range(n)) and tour[0] == 0
            assert length == pytest.approx(best, abs=1e-12)
            assert tour_length(c, tour) == pytest.approx(length, abs=1e-12)


def test_elkai_matches_exact_on_ragged_batches():
    rng = np.random.default_rng(1)
    for _ in range(4):
        sizes = rng.integers(5, 11, size=6).tolist()
        edge_index, batch = complete_batch(sizes)
        cost = rng.random(edge_index.size(1))
        y_lkh = _solve(cost, edge_index, batch)
        y_ex = _solve(cost, edge_index, batch, solver='exact')
        np.testing.assert_allclose(objective(cost, y_lkh, edge_index, batch),
                                   objective(cost, y_ex, edge_index, batch),
                                   rtol=1e-6)


def test_elkai_matches_exact_on_sparse_graphs():
    rng = np.random.default_rng(2)
    sizes = rng.integers(5, 11, size=8).tolist()
    edge_index, batch = sparse_batch(sizes, rng)
    cost = rng.normal(size=edge_index.size(1))
    y_lkh = _solve(cost, edge_index, batch)
    y_ex = _solve(cost, edge_index, batch, solver='exact')
    assert_tours(y_lkh, edge_index, batch, 1)
    np.testing.assert_allclose(objective(cost, y_lkh, edge_index, batch),
                               objective(cost, y_ex, edge_index, batch),
                               rtol=1e-6)


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(3, 14), min_size=1, max_size=4),
       seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([1e-3, 1.0,
                                                             1e4]))
def test_tours_are_hamiltonian_cycles_complete(sizes, seed, scale):
    rng = np.random.default_rng(seed)
    edge_index, batch = complete_batch(sizes)
    cost = scale * rng.normal(size=edge_index.size(1))
    y = _solve(cost, edge_index, batch, runs=2)
    assert_tours(y, edge_index, batch, 2)


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(3, 14), min_size=1, max_size=4),
       seed=st.integers(0, 2**31 - 1))
def test_tours_are_hamiltonian_cycles_sparse(sizes, seed):
    rng = np.random.default_rng(seed)
    edge_index, batch = sparse_batch(sizes, rng)
    cost = rng.normal(size=edge_index.size(1))
    y = _solve(cost, edge_index, batch, runs=2)
    assert_tours(y, edge_index, batch, 1)


def test_triangle_is_trivial():
    edge_index, batch = complete_batch([3])
    y = _solve(np.arange(6.0), edge_index, batch)
    assert y.tolist() == [1.0] * 6


def test_both_directions_marked_and_mean_cost():
    # The pair {0, 1} costs -10 one way and 12 the other: its mean cost 1
    # makes the tour avoid it (a single direction would make it the best).
    edge_index, batch = complete_batch([4])
    c = np.zeros((4, 4))
    c[0, 1], c[1, 0] = -10.0, 12.0
    c[0, 2] = c[2, 0] = c[1, 3] = c[3, 1] = 0.25
    cost = c[edge_index[0].numpy(), edge_index[1].numpy()]
    for solver in ('exact', 'elkai'):
        y = _solve(cost, edge_index, batch, solver=solver)
        used = {tuple(sorted(p)) for p in edge_index[:, y == 1].T.tolist()}
        assert used == {(0, 2), (1, 2), (1, 3), (0, 3)}
        assert y.sum() == 8  # both directions of the 4 tour edges


def test_self_loops_and_duplicates():
    edge_index, batch = complete_batch([5])
    loops = torch.arange(5).repeat(2, 1)
    ei = torch.cat([edge_index, loops, edge_index[:, :3]], 1)
    rng = np.random.default_rng(3)
    cost = rng.random(ei.size(1))
    y = _solve(cost, ei, batch)
    assert y[edge_index.size(1):edge_index.size(1) + 5].sum() == 0
    dup = y[-3:]
    np.testing.assert_array_equal(dup, y[:3])  # duplicates marked alike


def test_shift_and_scale_invariance():
    rng = np.random.default_rng(4)
    edge_index, batch = complete_batch([6, 9, 12])
    cost = rng.random(edge_index.size(1))
    y = _solve(cost, edge_index, batch)
    np.testing.assert_array_equal(_solve(cost + 3.0, edge_index, batch), y)
    for a in (1e-6, 7.0, 1e6):
        np.testing.assert_array_equal(_solve(a * cost, edge_index, batch),
                                      y)


def test_integer_scaling_survives_extreme_costs():
    rng = np.random.default_rng(5)
    c = rng.random((20, 20))
    c = c + c.T
    ref = tour_length(c, tsp_tour(c))
    for a in (1e-300, 1e300):
        assert tour_length(c, tsp_tour(a * c)) == pytest.approx(ref, rel=1e-6)
    cc = 1.7e308 * (c / c.max())
    cc[0, 1] = cc[1, 0] = -1.7e308  # a spread beyond the float range
    tour = tsp_tour(cc)
    assert sorted(tour.tolist()) == list(range(20))
    assert tour[1] == 1 or tour[-1] == 1  # the very cheap pair is used
    edge_index, batch = complete_batch([20])
    ei = edge_index.numpy()
    y = _solve(cc[ei[0], ei[1]], edge_index, batch)  # sums overflow
    assert tour_length(c, tsp_tour(c)) == pytest.approx(
        objective(c[ei[0], ei[1]], _solve(5e307 * c[ei[0], ei[1]],
                                             edge_index, batch), edge_index,
                  batch)[0] / 2, rel=1e-6)
    assert_tours(y, edge_index, batch, 2)


def test_runs_changes_nothing_on_small_graphs():
    rng = np.random.default_rng(6)
    c = rng.random((9, 9))
    c = c + c.T
    exact = held_karp(c)[1]
    for runs in (1, 3):
        assert tour_length(c, tsp_tour(c, runs=runs)) == pytest.approx(exact)


@pytest.mark.parametrize('solver', ['elkai', 'exact'])
def test_no_hamiltonian_cycle(solver):
    # A bow tie: connected, every degree >= 2, but no tour.
    ei = torch.tensor([[0, 1, 2, 2, 3, 4], [1, 2, 0, 3, 4, 2]])
    with pytest.raises(ValueError, match='No Hamiltonian cycle'):
        _solve(np.ones(6), ei, solver=solver)


@pytest.mark.parametrize('ei,batch,match', [
    ([[0, 1, 2], [1, 2, 3]], None, 'node 0 of graph 0 has 1 neighbour'),
    ([[0, 1, 2, 3, 4, 5], [1, 2, 0, 4, 5, 3]], None, 'graph 0 is not conn'),
    ([[0, 1], [1, 0]], None, 'at least 3 nodes'),
    ([[0, 1, 2, 3, 4], [1, 2, 0, 4, 3]], [0, 0, 0, 1, 1],
     r'graph 1 has 2\)'),
])
def test_bad_graphs(ei, batch, match):
    ei = torch.tensor(ei)
    batch = None if batch is None else torch.tensor(batch)
    with pytest.raises(ValueError, match=match):
        _solve(np.ones(ei.size(1)), ei, batch)


def test_bad_arguments():
    edge_index, batch = complete_batch([4])
    E = edge_index.size(1)
    with pytest.raises(ValueError, match="'solver'"):
        _solve(np.ones(E), edge_index, batch, solver='gurobi')
    with pytest.raises(ValueError, match="'runs'"):
        _solve(np.ones(E), edge_index, batch, runs=0)
    with pytest.raises(ValueError, match='finite'):
        _solve(np.full(E, np.nan), edge_index, batch)
    with pytest.raises(ValueError, match="'cost' must have shape"):
        _solve(np.ones(E - 1), edge_index, batch)
    with pytest.raises(ValueError, match='at most 12'):
        ei, b = complete_batch([13])
        _solve(np.ones(ei.size(1)), ei, b, solver='exact')
    with pytest.raises(ValueError, match='square'):
        tsp_tour(np.ones((3, 4)))
    with pytest.raises(ValueError, match='at least 3'):
        tsp_tour(np.ones((2, 2)))
    with pytest.raises(ValueError, match='finite'):
        tsp_tour(np.full((4, 4), np.inf))
    with pytest.raises(ValueError, match='Held-Karp'):
        held_karp(np.ones((13, 13)))


def test_lkh_backend_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'lkh', None)  # import lkh fails
    edge_index, batch = complete_batch([5])
    with pytest.raises(ImportError, match='pip install --no-deps lkh') as e:
        _solve(np.ones(20), edge_index, batch, solver='lkh')
    assert 'lkh_executable' in str(e.value)


def _fake_lkh() -> types.ModuleType:
    # Stands in for the `lkh` package: parses the TSPLIB text it is given and
    # answers with a Held-Karp tour, 1-indexed, as `lkh.solve` does.
    mod = types.ModuleType('lkh')

    class LKHProblem:
        @staticmethod
        def parse(text):
            return text

    def solve(solver, problem, runs):
        lines = problem.split('\n')
        start = lines.index('EDGE_WEIGHT_SECTION') + 1
        n = int(lines[2].split(':')[1])
        rows = [list(map(int, ln.split())) for ln in lines[start:start + n]]
        return [(held_karp(np.array(rows, dtype=float))[0] + 1).tolist()]

    mod.LKHProblem = LKHProblem
    mod.solve = solve
    return mod


def test_lkh_backend_with_fake_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'lkh', _fake_lkh())
    rng = np.random.default_rng(7)
    edge_index, batch = complete_batch([5, 8])
    cost = rng.random(edge_index.size(1))
    with pytest.raises(ValueError, match="'lkh_executable'"):
        _solve(cost, edge_index, batch, solver='lkh',
                  lkh_executable='/nonexistent/LKH')
    y = _solve(cost, edge_index, batch, solver='lkh',
                  lkh_executable=sys.executable)
    y_ex = _solve(cost, edge_index, batch, solver='exact')
    np.testing.assert_allclose(objective(cost, y, edge_index, batch),
                               objective(cost, y_ex, edge_index, batch),
                               rtol=1e-6)


def test_num_workers_matches_serial():
    rng = np.random.default_rng(8)
    edge_index, batch = complete_batch(rng.integers(4, 20, size=12).tolist())
    cost = rng.random(edge_index.size(1))
    y0 = _solve(cost, edge_index, batch, num_workers=0)
    y2 = _solve(cost, edge_index, batch, num_workers=2)
    np.testing.assert_array_equal(y0, y2)


def test_worker_crash_is_an_error_and_the_pool_recovers():
    with pytest.raises(RuntimeError, match='worker process died'):
        map_graphs(crash, [(i, ) for i in range(6)], 2, timeout=120)
    edge_index, batch = complete_batch([5, 6, 7])
    cost = np.random.default_rng(9).random(edge_index.size(1))
    y = _solve(cost, edge_index, batch, num_workers=2)
    assert_tours(y, edge_index, batch, 2)


def test_tsp_edges_is_picklable_per_graph_task():
    import pickle

    assert pickle.loads(pickle.dumps(_tsp_edges)) is _tsp_edges


def _points(n=100, seed=0):
    xy = np.random.default_rng(seed).uniform(0, 1000, (n, 2))
    return np.rint(np.linalg.norm(xy[:, None] - xy[None], axis=-1))


def _knn_pairs(dist, k=8):
    n = dist.shape[0]
    nn = np.argsort(dist + np.diag(np.full(n, np.inf)), 1)[:, :k]
    adj = np.zeros((n, n), dtype=bool)
    adj[np.repeat(np.arange(n), k), nn.ravel()] = True
    return adj | adj.T


@pytest.mark.parametrize('graph', ['complete', 'sparse'])
def test_one_huge_cost_does_not_change_the_tour(graph):
    # A forbidden edge at 1e9 used to coarsen every other cost to ~240
    # distance units: tours 30% (complete) / 73% (sparse) too long.
    dist = _points()
    adj = (~np.eye(100, dtype=bool) if graph == 'complete' else
           _knn_pairs(dist))
    src, dst = np.nonzero(adj)
    edge_index = torch.from_numpy(np.stack([src, dst]))
    big = dist.copy()
    big[src[0], dst[0]] = big[dst[0], src[0]] = 1e9
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # nor is the resolution lossy now
        y = _solve(dist[src, dst], edge_index, runs=10)
        y_big = _solve(big[src, dst], edge_index, runs=10)
    length = (dist[src, dst] * y).sum() / 2
    length_big = (dist[src, dst] * y_big).sum() / 2
    assert not y_big[(src == src[0]) & (dst == dst[0])].any()
    assert length_big == pytest.approx(length, rel=1e-3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(4, 10),
       huge=st.sampled_from([1e6, 1e9, 1e15, 1e300]),
       num_huge=st.integers(1, 4), sparse=st.booleans(),
       shift=st.sampled_from([0.0, -5.0]))
def test_huge_costs_keep_the_optimum(seed, n, huge, num_huge, sparse, shift):
    # Capping never changes the optimum, also where the graph forces a tour
    # through a huge edge, and with negative costs.
    rng = np.random.default_rng(seed)
    if sparse:
        edge_index, _ = sparse_batch([n], rng, extra=0.3)
    else:
        edge_index, _ = complete_batch([n], both=False)
    ei = edge_index.numpy()
    cost = rng.random(ei.shape[1]) + shift
    cost[rng.choice(ei.shape[1], min(num_huge, ei.shape[1]),
                    replace=False)] = huge
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        got = (cost * _solve(cost, edge_index)).sum()
    y_ex = _solve(cost, edge_index, solver='exact')
    opt = (cost * y_ex).sum()
    if not y_ex[cost == huge].any():  # the others keep their precision
        assert got == pytest.approx(opt, rel=0, abs=1e-4)
    else:  # forced through huge edges: the documented relative bound
        assert got == pytest.approx(opt, rel=LOSSY_EXCESS)


def test_integer_costs_are_capped_at_a_feasible_tour():
    dist = _points()
    dist[0, 1] = dist[1, 0] = 1e9
    mask = ~np.eye(100, dtype=bool)
    c = dist / 1e9
    ref = _greedy_tour(c, mask)
    assert ref is not None and sorted(ref.tolist()) == list(range(100))
    ints = _integer_costs(c, mask, ref)
    shifted = c - c[mask].min()
    assert ints.upper == pytest.approx(tour_length(shifted, ref))
    assert ints.lower <= ints.upper
    top = ints.dist[mask].max()
    assert top == tsp_module.MAX_INT_COST  # the capped edge
    np.testing.assert_array_equal(ints.dist[mask] == top,
                                  shifted[mask] >= ints.upper * 1.01)
    assert ints.excess < LOSSY_EXCESS * ints.lower
    ints = _integer_costs(c, mask)  # without a tour: no cap, lossy
    assert ints.upper == np.inf and ints.excess > LOSSY_EXCESS * ints.lower


def test_greedy_tour_through_the_huge_edge_is_not_the_bound():
    # On a line the greedy tour 0, 1, ..., n - 1 closes through the huge
    # pair (n - 1, 0); an optimal tour (length 2 (n - 1)) avoids it.
    n = 30
    c = np.abs(np.arange(n)[:, None] - np.arange(n)[None]).astype(float)
    c[0, n - 1] = c[n - 1, 0] = 1e9
    assert _greedy_tour(c, ~np.eye(n, dtype=bool)).tolist() == list(range(n))
    assert tour_length(c, tsp_tour(c)) == 2 * (n - 1)


def test_lossy_integer_resolution_warns(monkeypatch):
    monkeypatch.setattr(tsp_module, 'LOSSY_EXCESS', 0.0)
    c = _points(14, seed=1)
    with pytest.warns(UserWarning, match='LKH reads the costs of this graph '
                      r'\(14 nodes\) as integers'):
        tour = tsp_tour(c)
    assert sorted(tour.tolist()) == list(range(14))
    # Up to MAX_EXACT_NODES a lossy graph is solved exactly instead.
    c = _points(12, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        tour = tsp_tour(c)
    assert tour_length(c, tour) == pytest.approx(held_karp(c)[1])


def test_greedy_tour_on_a_sparse_graph_may_get_stuck():
    # A cycle 0-1-2-3-4-5-0 with the chord 0-2 cheapest: the greedy tour
    # goes 0, 2, 1 and is stuck.
    mask = np.zeros((6, 6), dtype=bool)
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (0, 2)]:
        mask[a, b] = mask[b, a] = True
    c = np.where(mask, 1.0, 0.0)
    c[0, 2] = c[2, 0] = 0.1
    assert _greedy_tour(c, mask) is None
    assert _greedy_tour(np.ones((6, 6)), ~np.eye(6, dtype=bool)) is not None
    assert sorted(tsp_tour(c, mask).tolist()) == list(range(6))


def test_timeout_matches_in_process():
    rng = np.random.default_rng(10)
    edge_index, batch = complete_batch([5, 7, 9])
    cost = rng.random(edge_index.size(1))
    np.testing.assert_array_equal(
        _solve(cost, edge_index, batch, timeout=120),
        _solve(cost, edge_index, batch))
    with pytest.raises(ValueError, match="'timeout' must be a positive"):
        _solve(cost, edge_index, batch, timeout=-1)


def test_one_hugely_negative_cost_keeps_the_optimum():
    # Found by benchmarks/bench_reliability.py: after the shift by the
    # minimum, one cost of -1e9 among O(1) ones made every other cost round
    # to the same integer; small graphs are now solved exactly instead, and
    # the LKH tour equals Held-Karp's.
    rng = np.random.default_rng(3)
    for n in (5, 8, 12):
        cost = rng.uniform(-1, 1, (n, n))
        cost = 0.5 * (cost + cost.T)
        cost[0, 2] = cost[2, 0] = -1e9
        ref = tour_length(cost, held_karp(cost)[0])
        tour = tsp_tour(cost, solver='elkai', runs=1)
        assert tour_length(cost, tour) == pytest.approx(ref, abs=1e-6)


def test_coarse_integer_step_warns_on_large_graphs():
    rng = np.random.default_rng(0)
    n = 30
    cost = rng.uniform(0, 1, (n, n))
    cost = 0.5 * (cost + cost.T)
    cost[0, 1] = cost[1, 0] = -1e12
    with pytest.warns(UserWarning, match='integer step'):
        tsp_tour(cost, solver='elkai', runs=1)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('column', [False, True])
def test_solve_tsp_returns_a_tensor_in_the_cost_layout(dtype, column):
    edge_index, batch = complete_batch([5, 7])
    cost = torch.rand(edge_index.size(1), dtype=dtype)
    if column:
        cost = cost.view(-1, 1)
    y = solve_tsp(cost, edge_index, batch)
    assert isinstance(y, torch.Tensor)
    assert y.dtype == dtype and y.shape == cost.shape
    assert y.device == cost.device and not y.requires_grad
    assert_tours(y.view(-1).double().numpy(), edge_index, batch, 2)
    ref = _solve(cost.double().view(-1).numpy(), edge_index, batch)
    np.testing.assert_array_equal(y.view(-1).double().numpy(), ref)


def test_solve_tsp_detaches_costs_that_require_grad():
    edge_index, batch = complete_batch([5])
    cost = torch.rand(edge_index.size(1), requires_grad=True)
    y = solve_tsp(cost, edge_index, batch)
    assert not y.requires_grad and y.sum() == 10


def test_solve_tsp_options_are_keyword_only():
    edge_index, batch = complete_batch([5])
    cost = torch.rand(edge_index.size(1))
    with pytest.raises(TypeError):
        solve_tsp(cost, edge_index, batch, None, None, 'exact')


@pytest.mark.parametrize('args,match', [
    (lambda c, ei, b: (b, ei, None), "'cost' must be a floating point tensor "
     r"\(got torch.int64; this looks like a batch vector"),
    (lambda c, ei, b: (ei, c, b), "'cost' must be a floating point tensor "
     r"\(got torch.int64; this looks like an edge_index"),
    (lambda c, ei, b: (c, c, b), "'edge_index' must be an integer tensor "
     r"\(got torch.float32; this looks like edge costs"),
    (lambda c, ei, b: (c, ei, c), "'batch' must be an integer tensor "
     r"\(got torch.float32; this looks like edge costs"),
    (lambda c, ei, b: (c.numpy(), ei, b), "'cost' must be a floating point "
     'tensor'),
])
def test_solve_tsp_names_a_misplaced_argument(args, match):
    edge_index, batch = complete_batch([5])
    cost = torch.rand(edge_index.size(1))
    with pytest.raises(ValueError, match=match):
        solve_tsp(*args(cost, edge_index, batch))
