import warnings

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity.solvers import (
    solve_shortest_path,
    solve_vertex_shortest_path,
)
from pyg_identity.solvers.shortest_path import (
    _shortest_path,
    _uneven_path_nodes,
    _vertex_shortest_path,
)
from pyg_identity.utils.grid import grid_edge_index


def random_graph(rng, n, directed, integer=True, parallel=True):
    # A strongly connected graph (a random Hamiltonian cycle plus random
    # edges, some parallel), integer costs with ties and zeros, or
    # continuous costs.
    perm = rng.permutation(n)
    cyc = np.stack([perm, np.roll(perm, -1)]) if n > 1 else np.zeros((2, 0))
    m = int(rng.integers(0, 2 * n + 1))
    extra = rng.integers(0, n, size=(2, m))
    edge_index = np.concatenate([cyc, extra], axis=1).astype(np.int64)
    if parallel and edge_index.shape[1]:
        dup = edge_index[:, rng.integers(0, edge_index.shape[1], size=2)]
        edge_index = np.concatenate([edge_index, dup], axis=1)
    e = edge_index.shape[1]
    cost = (rng.integers(0, 4, size=e).astype(np.float64)
            if integer else rng.random(e))
    return edge_index[:, rng.permutation(e)], cost[rng.permutation(e)]


def nx_length(edge_index, cost, n, s, t, directed):
    g = nx.MultiDiGraph() if directed else nx.MultiGraph()
    g.add_nodes_from(range(n))
    for (u, v), c in zip(edge_index.T.tolist(), cost.tolist()):
        g.add_edge(u, v, weight=c)
    return nx.shortest_path_length(g, s, t, weight='weight')


def assert_edge_path(edge_index, y, s, t, directed):
    # The selected edges form a simple path from s to t.
    assert set(np.unique(y).tolist()) <= {0.0, 1.0}
    sel = [tuple(e) for e in edge_index[:, y == 1].T.tolist()]
    cur, seen, used = s, {s}, set()
    while cur != t:
        nxt = [(k, (v if u == cur else u)) for k, (u, v) in enumerate(sel)
               if k not in used and (u == cur or (not directed and v == cur))]
        assert len(nxt) == 1, f'no unique continuation at node {cur}'
        k, cur = nxt[0]
        assert cur not in seen, 'the path revisits a node'
        used.add(k)
        seen.add(cur)
    assert len(used) == len(sel), 'edges off the path are selected'


@pytest.mark.parametrize('directed', [True, False])
@pytest.mark.parametrize('integer', [True, False])
def test_shortest_path_matches_networkx(directed, integer):
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(2, 12))
        edge_index, cost = random_graph(rng, n, directed, integer)
        s, t = (int(v) for v in rng.integers(0, n, size=2))
        y = _shortest_path(cost, edge_index, n, source=s, target=t,
                           directed=directed)
        assert_edge_path(edge_index, y, s, t, directed)
        assert np.isclose(y @ cost,
                          nx_length(edge_index, cost, n, s, t, directed))


def test_shortest_path_zero_costs_are_edges():
    # 0 -> 1 -> 2 costs 0; the direct edge 0 -> 2 costs 1.
    edge_index = np.array([[0, 1, 0], [1, 2, 2]])
    y = _shortest_path(np.array([0.0, 0.0, 1.0]), edge_index, 3, source=0,
                       target=2)
    assert y.tolist() == [1.0, 1.0, 0.0]
    y = _shortest_path(np.zeros(3), edge_index, 3, source=0, target=2)
    assert y @ np.zeros(3) == 0 and y.sum() >= 1


def test_shortest_path_parallel_edges_keep_the_cheapest():
    edge_index = np.array([[0, 0, 0, 1], [1, 1, 1, 2]])
    y = _shortest_path(np.array([3.0, 1.0, 1.0, 2.0]), edge_index, 3, source=0,
                       target=2)
    assert y.tolist() == [0.0, 1.0, 0.0, 1.0]  # tie: the lowest index


def test_shortest_path_undirected_uses_edges_backwards():
    edge_index = np.array([[1, 2], [0, 1]])  # 1 -> 0, 2 -> 1
    cost = np.array([1.0, 2.0])
    assert _shortest_path(cost, edge_index, 3, source=0, target=2,
                          directed=False).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match='unreachable'):
        _shortest_path(cost, edge_index, 3, source=0, target=2, directed=True)


def test_shortest_path_undirected_both_directions_picks_cheaper_entry():
    edge_index = np.array([[0, 1], [1, 0]])
    y = _shortest_path(np.array([5.0, 2.0]), edge_index, 2, source=0, target=1,
                       directed=False)
    assert y.tolist() == [0.0, 1.0]
    y = _shortest_path(np.array([5.0, 2.0]), edge_index, 2, source=0, target=1)
    assert y.tolist() == [1.0, 0.0]


def test_shortest_path_source_equals_target_is_empty():
    edge_index = np.array([[0, 1], [1, 0]])
    assert _shortest_path(np.ones(2), edge_index, 2, source=1,
                          target=1).tolist() == [0, 0]
    assert _vertex_shortest_path(np.ones(2), edge_index, 2, source=1,
                                 target=1).tolist() == [0, 1]


def test_shortest_path_self_loops_are_ignored():
    edge_index = np.array([[0, 0, 1], [0, 1, 1]])
    y = _shortest_path(np.zeros(3), edge_index, 2, source=0, target=1)
    assert y.tolist() == [0.0, 1.0, 0.0]


def test_shortest_path_ties_are_deterministic():
    edge_index = grid_edge_index(6).numpy()
    cost = np.ones(edge_index.shape[1])
    y = _shortest_path(cost, edge_index, 36, source=0, target=35)
    for _ in range(3):
        assert np.array_equal(_shortest_path(cost, edge_index, 36, source=0,
                                             target=35), y)
    y = _vertex_shortest_path(np.ones(36), edge_index, 36, source=0, target=35)
    assert np.array_equal(
        _vertex_shortest_path(np.ones(36), edge_index, 36, source=0,
                              target=35), y)


@pytest.mark.parametrize('k', [2, 5, 8])
def test_vertex_shortest_path_on_grid_matches_networkx(k):
    rng = np.random.default_rng(k)
    edge_index = grid_edge_index(k).numpy()
    for integer in (True, False):
        cost = (rng.integers(0, 5, size=k * k).astype(np.float64)
                if integer else rng.random(k * k))
        s, t = (int(v) for v in rng.integers(0, k * k, size=2))
        y = _vertex_shortest_path(cost, edge_index, k * k, source=s, target=t)
        # Node weights as weights of the arcs into each node.
        ref = nx_length(edge_index, cost[edge_index[1]], k * k, s, t, True)
        assert np.isclose(y @ cost, ref + cost[s])
        assert y[s] == 1 and y[t] == 1


def test_vertex_shortest_path_warcraft_corner_to_corner():
    # A cheap diagonal through an expensive map.
    k = 5
    cost = np.full((k, k), 9.0)
    np.fill_diagonal(cost, 1.0)
    y = _vertex_shortest_path(cost.reshape(-1), grid_edge_index(k).numpy(),
                              k * k, source=0, target=k * k - 1)
    assert np.array_equal(y.reshape(k, k), np.eye(k))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 10),
       directed=st.booleans())
def test_shortest_path_output_is_a_path(seed, n, directed):
    rng = np.random.default_rng(seed)
    edge_index, cost = random_graph(rng, n, directed)
    s, t = (int(v) for v in rng.integers(0, n, size=2))
    y = _shortest_path(cost, edge_index, n, source=s, target=t,
                       directed=directed)
    assert_edge_path(edge_index, y, s, t, directed)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 10),
       directed=st.booleans())
def test_vertex_shortest_path_output_is_a_path(seed, n, directed):
    rng = np.random.default_rng(seed)
    edge_index, _ = random_graph(rng, n, directed)
    cost = rng.integers(0, 3, size=n).astype(np.float64)
    s, t = (int(v) for v in rng.integers(0, n, size=2))
    y = _vertex_shortest_path(cost, edge_index, n, source=s, target=t,
                              directed=directed)
    nodes = set(np.flatnonzero(y).tolist())
    assert s in nodes and t in nodes
    g = nx.DiGraph() if directed else nx.Graph()
    g.add_nodes_from(nodes)
    g.add_edges_from((u, v) for u, v in edge_index.T.tolist()
                     if u in nodes and v in nodes)
    for v in nodes:  # every selected node lies on an s-t walk
        assert nx.has_path(g, s, v) and nx.has_path(g, v, t)


@pytest.mark.parametrize('fn,args,kwargs,match', [
    (_shortest_path, ([1.0], [[0], [1]], 2),
     dict(source=0, target=1, directed=True, negative_costs='clip'),
     "'negative_costs' must be 'raise' or 'clamp'"),
    (_shortest_path, ([-1.0, 0.5], [[0, 1], [1, 0]], 2),
     dict(source=0, target=1), 'cycle of negative cost'),
    (_shortest_path, ([np.nan], [[0], [1]], 2), dict(source=0, target=1),
     'finite'),
    (_shortest_path, ([np.inf], [[0], [1]], 2), dict(source=0, target=1),
     'finite'),
    (_shortest_path, ([1.0, 2.0], [[0], [1]], 2), dict(source=0, target=1),
     r"'cost' must have shape \[1\] \(one entry per edge"),
    (_shortest_path, ([1.0], [0, 1], 2), dict(source=0, target=1),
     "'edge_index'"),
    (_shortest_path, ([1.0], [[0], [5]], 2), dict(source=0, target=1),
     'outside'),
    (_shortest_path, ([1.0], [[0], [1]], 2), dict(source=2, target=1),
     "'source'"),
    (_shortest_path, ([1.0], [[0], [1]], 2), dict(source=0, target=-1),
     "'target'"),
    (_shortest_path, ([1.0], [[0], [1]], 2), dict(source=1, target=0),
     'unreachable'),
    (_shortest_path, ([], np.zeros((2, 0)), 2), dict(source=0, target=1),
     'unreachable'),
    (_vertex_shortest_path, ([1.0], [[0], [1]], 2), dict(source=0, target=1),
     r"'cost' must have shape \[2\] \(one entry per node"),
    (_vertex_shortest_path, ([1.0, 1.0], [[0], [1]], 2),
     dict(source=0, target=1, directed=True, negative_costs=None),
     "'negative_costs'"),
    (_vertex_shortest_path, ([1.0, -2.0], [[0, 1], [1, 0]], 2),
     dict(source=0, target=1), 'cycle of negative cost'),
    (_vertex_shortest_path, ([1.0, 1.0], [[0], [1]], 2),
     dict(source=1, target=0), 'unreachable'),
])
def test_shortest_path_solver_bad_input(fn, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)


# Negative costs.


def random_dag(rng, n, p=0.5):
    # A DAG on n nodes in a random topological order perm, with the chain
    # perm[0] -> ... -> perm[n - 1] (later nodes are reachable from earlier
    # ones) and each other pair with probability p; no parallel edges.
    perm = rng.permutation(n)
    row, col = np.triu_indices(n, 1)
    keep = (col == row + 1) | (rng.random(row.size) < p)
    edge_index = np.stack([perm[row[keep]], perm[col[keep]]])
    return edge_index[:, rng.permutation(edge_index.shape[1])], perm


def nx_path(edge_index, weight, n, s, t):
    # The node list of a Bellman-Ford shortest path (no parallel edges).
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for (u, v), c in zip(edge_index.T.tolist(), weight.tolist()):
        g.add_edge(u, v, weight=c)
    return nx.bellman_ford_path(g, s, t, weight='weight')


def edge_indicator(edge_index, nodes):
    pos = {e: k for k, e in enumerate(map(tuple, edge_index.T.tolist()))}
    y = np.zeros(edge_index.shape[1])
    y[[pos[e] for e in zip(nodes[:-1], nodes[1:])]] = 1.0
    return y


def test_negative_costs_issue_reproducer():
    edge_index = np.array([[0, 1, 0, 2], [1, 3, 2, 3]])
    y = _shortest_path(np.array([-5.0, 1.0, 0.0, 0.5]), edge_index, 4,
                       source=0, target=3)
    assert y.tolist() == [1.0, 1.0, 0.0, 0.0]  # cost -4 < 0.5


@pytest.mark.parametrize('vertex', [False, True])
def test_negative_costs_on_dags_match_bellman_ford(vertex):
    rng = np.random.default_rng(10)
    for _ in range(40):
        n = int(rng.integers(1, 10))
        edge_index, perm = random_dag(rng, n)
        i, j = sorted(int(v) for v in rng.integers(0, n, size=2))
        s, t = int(perm[i]), int(perm[j])
        cost = rng.normal(size=n if vertex else edge_index.shape[1])
        if vertex:
            y = _vertex_shortest_path(cost, edge_index, n, source=s, target=t)
            ref = np.zeros(n)
            ref[nx_path(edge_index, cost[edge_index[1]], n, s, t)] = 1.0
        else:
            y = _shortest_path(cost, edge_index, n, source=s, target=t)
            ref = edge_indicator(edge_index,
                                 nx_path(edge_index, cost, n, s, t))
        assert np.array_equal(y, ref)


def test_negative_costs_without_negative_cycles_match_dijkstra():
    # Reduced costs c'(u, v) = c(u, v) + pi(u) - pi(v) are negative on many
    # arcs but keep every cycle's cost, and shift every s-t path by
    # pi(s) - pi(t): the shortest path is that of c >= 0.
    rng = np.random.default_rng(11)
    num_negative = 0
    for _ in range(30):
        n = int(rng.integers(2, 12))
        edge_index, cost = random_graph(rng, n, True, integer=False,
                                        parallel=False)
        pi = 10.0 * rng.random(n)
        reduced = cost + pi[edge_index[0]] - pi[edge_index[1]]
        num_negative += int((reduced < 0).sum())
        s, t = (int(v) for v in rng.integers(0, n, size=2))
        y = _shortest_path(reduced, edge_index, n, source=s, target=t)
        assert_edge_path(edge_index, y, s, t, True)
        assert np.isclose(y @ cost, nx_length(edge_index, cost, n, s, t,
                                              True))
    assert num_negative > 100


def test_negative_undirected_edge_is_a_negative_cycle():
    edge_index = np.array([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="directed=False its edge can be "
                       "traversed both ways"):
        _shortest_path(np.array([1.0, -0.5]), edge_index, 3, source=0,
                       target=2, directed=False)
    # One-way, the same costs are well-posed.
    y = _shortest_path(np.array([1.0, -0.5]), edge_index, 3, source=0,
                       target=2)
    assert y.tolist() == [1.0, 1.0]


def test_negative_directed_cycle_raises():
    # 0 -> 1 -> 2 -> 1 (cycle 1 -> 2 -> 1 of cost -1), 2 -> 3.
    edge_index = np.array([[0, 1, 2, 2], [1, 2, 1, 3]])
    cost = np.array([1.0, 1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match=r"cycle of negative cost lies on "
                       r"a walk from 'source' \(node 0\) to 'target' "
                       r"\(node 3\)"):
        _shortest_path(cost, edge_index, 4, source=0, target=3)
    with pytest.raises(ValueError, match='negative_costs'):
        _vertex_shortest_path(np.array([0.0, 1.0, -2.0, 0.0]), edge_index, 4,
                              source=0, target=3)


def test_negative_cycle_off_every_walk_is_ignored():
    # The negative cycle 2 <-> 3 is reachable from s = 0 but cannot reach
    # t = 1; the cycle 4 <-> 5 reaches t but is unreachable from s.
    edge_index = np.array([[0, 0, 2, 3, 4, 5, 4], [1, 2, 3, 2, 5, 4, 1]])
    cost = np.array([1.0, -1.0, -3.0, -3.0, -3.0, -3.0, 0.0])
    y = _shortest_path(cost, edge_index, 6, source=0, target=1)
    assert y.tolist() == [1.0, 0, 0, 0, 0, 0, 0]


def test_source_equals_target_ignores_negative_cycles():
    edge_index = np.array([[0, 1], [1, 0]])
    assert _shortest_path(-np.ones(2), edge_index, 2, source=0,
                          target=0).tolist() == [0, 0]
    assert _vertex_shortest_path(-np.ones(2), edge_index, 2, source=1,
                                 target=1).tolist() == [0, 1]


def test_negative_self_loops_are_never_on_a_path():
    edge_index = np.array([[0, 1, 1], [1, 1, 2]])
    y = _shortest_path(np.array([-1.0, -5.0, 2.0]), edge_index, 3, source=0,
                       target=2)
    assert y.tolist() == [1.0, 0.0, 1.0]


def test_vertex_costs_negative_two_cycle_raises_only_if_negative():
    # Grid edges both ways: adjacent nodes u, v form the cycle u -> v -> u
    # of cost c_u + c_v.
    edge_index = grid_edge_index(3).numpy()
    cost = np.ones(9)
    cost[4] = -0.5  # c_4 + c_v > 0 for every neighbour v: well-posed
    y = _vertex_shortest_path(cost, edge_index, 9, source=0, target=8)
    assert y.tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    cost[5] = -0.6
    with pytest.raises(ValueError, match='cycle of negative cost'):
        _vertex_shortest_path(cost, edge_index, 9, source=0, target=8)


def test_clamp_opt_in_warns_and_solves_the_clamped_costs():
    edge_index = np.array([[0, 1, 0, 2], [1, 3, 2, 3]])
    cost = np.array([-5.0, 1.0, 0.0, 0.5])
    with pytest.warns(UserWarning, match="negative_costs='clamp'") as rec:
        y = _shortest_path(cost, edge_index, 4, source=0, target=3,
                           negative_costs='clamp')
    assert len(rec) == 1
    assert np.array_equal(y, _shortest_path(cost.clip(0), edge_index, 4,
                                            source=0, target=3))
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no warning without a negative cost
        _shortest_path(cost.clip(0), edge_index, 4, source=0, target=3,
                       negative_costs='clamp')
    # The old behaviour, now opt-in, on an ill-posed problem: no error.
    with pytest.warns(UserWarning):
        y = _shortest_path(np.array([-1.0, 0.5]), np.array([[0, 1], [1, 0]]),
                           2, source=0, target=1, negative_costs='clamp')
    assert y.tolist() == [1.0, 0.0]


def test_batched_solver_names_the_graph_with_a_negative_cycle():
    # Graph 0: 0 -> 1 (fine); graph 1: 2 <-> 3 of cost -1 (ill-posed);
    # graph 2: 4 -> 5 (fine).
    edge_index = torch.tensor([[0, 2, 3, 4], [1, 3, 2, 5]])
    batch = torch.tensor([0, 0, 1, 1, 2, 2])
    cost = torch.tensor([-1.0, -1.0, 0.5, -2.0], dtype=torch.float64)
    with pytest.raises(ValueError, match='in graph 1'):
        solve_shortest_path(cost, edge_index, batch, source=0, target=1)
    cost[2] = 1.5
    # No graph is unreachable (that would raise, naming the graph).
    y = solve_shortest_path(cost, edge_index, batch, source=0, target=1)
    assert y.tolist() == [1.0, 1.0, 0.0, 1.0]


def test_uneven_path_nodes_finds_walks_of_different_lengths():
    # Right/down 3x3 grid: every corner-to-corner walk has 4 arcs.
    k = 3
    node = np.arange(k * k).reshape(k, k)
    right = np.stack([node[:, :-1].ravel(), node[:, 1:].ravel()])
    down = np.stack([node[:-1].ravel(), node[1:].ravel()])
    grid = np.concatenate([right, down], axis=1)
    s, t = np.array([0]), np.array([8])
    assert _uneven_path_nodes(grid, 9, s, t).size == 0
    assert _uneven_path_nodes(grid, 9, s, t, directed=False).size > 0
    # A diagonal shortcut 0 -> 4 gives walks of 3 and 4 arcs.
    diag = np.concatenate([grid, [[0], [4]]], axis=1)
    assert _uneven_path_nodes(diag, 9, s, t).size > 0
    # ... but not if it is off every walk (8 -> 4 leaves the target).
    off = np.concatenate([grid, [[8], [4]]], axis=1)
    assert _uneven_path_nodes(off, 9, s, np.array([2])).size == 0
    # Source == target: one (empty) path.
    assert _uneven_path_nodes(diag, 9, t, t).size == 0


# The public batched solvers (torch in, torch out).


def ragged_batch(rng, sizes):
    # Strongly connected random graphs of the given sizes as one PyG batch,
    # with their per-graph pieces.
    eis, parts, batch, off = [], [], [], 0
    for g, n in enumerate(sizes):
        ei, _ = random_graph(rng, n, True)
        eis.append(ei + off)
        parts.append((ei, n, off))
        batch += [g] * n
        off += n
    edge_index = np.concatenate([np.zeros((2, 0), dtype=np.int64), *eis], 1)
    return torch.from_numpy(edge_index), torch.tensor(batch), parts


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('vertex', [False, True])
def test_public_solver_returns_torch_in_the_costs_layout(dtype, vertex):
    rng = np.random.default_rng(30)
    sizes = [4, 1, 7, 3]
    edge_index, batch, parts = ragged_batch(rng, sizes)
    source = torch.from_numpy(rng.integers(0, sizes))
    target = torch.from_numpy(rng.integers(0, sizes))
    size = batch.numel() if vertex else edge_index.size(1)
    cost = torch.from_numpy(rng.integers(0, 4, size).astype(np.float64)).to(
        dtype).requires_grad_()
    fn = solve_vertex_shortest_path if vertex else solve_shortest_path
    y = fn(cost, edge_index, batch, source=source, target=target)
    assert isinstance(y, torch.Tensor) and not y.requires_grad
    assert y.dtype == dtype and y.shape == cost.shape
    assert y.device == cost.device and y.is_contiguous()
    # The per-graph numpy kernels on every graph give the same indicator.
    ref, e = [], 0
    for g, (ei, n, off) in enumerate(parts):
        kw = dict(source=int(source[g]), target=int(target[g]))
        if vertex:
            c = cost.detach()[off:off + n].double().numpy()
            ref.append(_vertex_shortest_path(c, ei, n, **kw))
        else:
            c = cost.detach()[e:e + ei.shape[1]].double().numpy()
            ref.append(_shortest_path(c, ei, n, **kw))
            e += ei.shape[1]
    assert np.array_equal(y.double().numpy(), np.concatenate(ref))


def test_public_solver_single_graph_and_clamp():
    ei = torch.tensor([[0, 1, 0, 2], [1, 3, 2, 3]])
    cost = torch.tensor([-5.0, 1.0, 0.0, 0.5])
    assert solve_shortest_path(cost, ei, source=0, target=3).tolist() == [
        1.0, 1.0, 0.0, 0.0]
    with pytest.warns(UserWarning, match=r"'cost' \(the edge costs\) has "
                      r"negative entries"):
        y = solve_shortest_path(cost, ei, source=0, target=3,
                                negative_costs='clamp')
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]
    node_cost = torch.tensor([0.0, -2.0, 1.0, 0.0])
    assert solve_vertex_shortest_path(node_cost, ei, num_nodes=4, source=0,
                                      target=3).tolist() == [1, 1, 0, 1]


@pytest.mark.parametrize('fn', [solve_shortest_path,
                                solve_vertex_shortest_path])
def test_public_solver_options_are_keyword_only(fn):
    ei = torch.tensor([[0, 1], [1, 2]])
    cost = torch.ones(3 if fn is solve_vertex_shortest_path else 2)
    with pytest.raises(TypeError):
        fn(cost, ei, None, None, None, 0, 2)
    with pytest.raises(TypeError):
        fn(cost, ei, None, None, None, True, source=0, target=2)
    assert fn(cost, ei, None, None, None, source=0, target=2).sum() >= 2


EI3 = torch.tensor([[0, 1], [1, 2]])
BATCH3 = torch.tensor([0, 0, 0])


@pytest.mark.parametrize('args,match', [
    ((BATCH3, EI3), r"'cost' must be a floating point tensor \(got "
     r"torch.int64; this looks like a batch vector .* the order is cost, "
     r"edge_index, batch"),
    ((EI3, torch.ones(2)), r"'cost' must be a floating point tensor \(got "
     r"torch.int64; this looks like an edge_index"),
    ((torch.ones(2), torch.ones(2)), r"'edge_index' must be an integer "
     r"tensor \(got torch.float32; this looks like costs"),
    ((torch.ones(2), BATCH3), r"'edge_index' must have shape \[2, "
     r"num_edges\] \(got \[3\]; this looks like a batch vector"),
    ((torch.ones(2), EI3, torch.ones(3)), r"'batch' must be an integer "
     r"tensor or None \(got torch.float32; this looks like costs"),
    ((torch.ones(2), EI3, EI3), r"'batch' must be one-dimensional \(got "
     r"shape \[2, 2\]; this looks like an edge_index"),
    ((torch.ones(2), EI3, 0), r"'batch' must be an integer tensor or None "
     r"\(got int; the order is .* source= and target= are keyword-only"),
    ((torch.ones(2), EI3, BATCH3, BATCH3), r"'num_nodes' must be a "
     r"non-negative integer \(got tensor.*this looks like a batch vector"),
    ((torch.ones(2), EI3, None, None, torch.tensor([1])),
     r"'num_graphs' must be a non-negative integer"),
])
def test_public_solver_names_a_misplaced_tensor(args, match):
    with pytest.raises(ValueError, match=match):
        solve_shortest_path(*args, source=0, target=2)


def test_public_solver_rejects_non_finite_costs():
    with pytest.raises(ValueError, match="'cost' must be finite"):
        solve_shortest_path(torch.tensor([1.0, float('nan')]), EI3, source=0,
                            target=2)
    with pytest.raises(ValueError, match="'num_workers'"):
        solve_vertex_shortest_path(torch.ones(3), EI3, source=0, target=2,
                                   num_workers=-1)
