import warnings

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity.solvers.shortest_path import (
    _uneven_path_nodes,
    batched_shortest_paths,
    shortest_path,
    vertex_shortest_path,
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
        y = shortest_path(edge_index, cost, n, s, t, directed)
        assert_edge_path(edge_index, y, s, t, directed)
        assert np.isclose(y @ cost,
                          nx_length(edge_index, cost, n, s, t, directed))


def test_shortest_path_zero_costs_are_edges():
    # 0 -> 1 -> 2 costs 0; the direct edge 0 -> 2 costs 1.
    edge_index = np.array([[0, 1, 0], [1, 2, 2]])
    y = shortest_path(edge_index, np.array([0.0, 0.0, 1.0]), 3, 0, 2)
    assert y.tolist() == [1.0, 1.0, 0.0]
    y = shortest_path(edge_index, np.zeros(3), 3, 0, 2)
    assert y @ np.zeros(3) == 0 and y.sum() >= 1


def test_shortest_path_parallel_edges_keep_the_cheapest():
    edge_index = np.array([[0, 0, 0, 1], [1, 1, 1, 2]])
    y = shortest_path(edge_index, np.array([3.0, 1.0, 1.0, 2.0]), 3, 0, 2)
    assert y.tolist() == [0.0, 1.0, 0.0, 1.0]  # tie: the lowest index


def test_shortest_path_undirected_uses_edges_backwards():
    edge_index = np.array([[1, 2], [0, 1]])  # 1 -> 0, 2 -> 1
    cost = np.array([1.0, 2.0])
    assert shortest_path(edge_index, cost, 3, 0, 2,
                         directed=False).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match='unreachable'):
        shortest_path(edge_index, cost, 3, 0, 2, directed=True)


def test_shortest_path_undirected_both_directions_picks_cheaper_entry():
    edge_index = np.array([[0, 1], [1, 0]])
    y = shortest_path(edge_index, np.array([5.0, 2.0]), 2, 0, 1,
                      directed=False)
    assert y.tolist() == [0.0, 1.0]
    y = shortest_path(edge_index, np.array([5.0, 2.0]), 2, 0, 1)
    assert y.tolist() == [1.0, 0.0]


def test_shortest_path_source_equals_target_is_empty():
    edge_index = np.array([[0, 1], [1, 0]])
    assert shortest_path(edge_index, np.ones(2), 2, 1, 1).tolist() == [0, 0]
    assert vertex_shortest_path(edge_index, np.ones(2), 2, 1,
                                1).tolist() == [0, 1]


def test_shortest_path_self_loops_are_ignored():
    edge_index = np.array([[0, 0, 1], [0, 1, 1]])
    y = shortest_path(edge_index, np.zeros(3), 2, 0, 1)
    assert y.tolist() == [0.0, 1.0, 0.0]


def test_shortest_path_ties_are_deterministic():
    edge_index = grid_edge_index(6).numpy()
    cost = np.ones(edge_index.shape[1])
    y = shortest_path(edge_index, cost, 36, 0, 35)
    for _ in range(3):
        assert np.array_equal(shortest_path(edge_index, cost, 36, 0, 35), y)
    y = vertex_shortest_path(edge_index, np.ones(36), 36, 0, 35)
    assert np.array_equal(
        vertex_shortest_path(edge_index, np.ones(36), 36, 0, 35), y)


@pytest.mark.parametrize('k', [2, 5, 8])
def test_vertex_shortest_path_on_grid_matches_networkx(k):
    rng = np.random.default_rng(k)
    edge_index = grid_edge_index(k).numpy()
    for integer in (True, False):
        cost = (rng.integers(0, 5, size=k * k).astype(np.float64)
                if integer else rng.random(k * k))
        s, t = (int(v) for v in rng.integers(0, k * k, size=2))
        y = vertex_shortest_path(edge_index, cost, k * k, s, t)
        # Node weights as weights of the arcs into each node.
        ref = nx_length(edge_index, cost[edge_index[1]], k * k, s, t, True)
        assert np.isclose(y @ cost, ref + cost[s])
        assert y[s] == 1 and y[t] == 1


def test_vertex_shortest_path_warcraft_corner_to_corner():
    # A cheap diagonal through an expensive map.
    k = 5
    cost = np.full((k, k), 9.0)
    np.fill_diagonal(cost, 1.0)
    y = vertex_shortest_path(grid_edge_index(k).numpy(), cost.reshape(-1),
                             k * k, 0, k * k - 1)
    assert np.array_equal(y.reshape(k, k), np.eye(k))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 10),
       directed=st.booleans())
def test_shortest_path_output_is_a_path(seed, n, directed):
    rng = np.random.default_rng(seed)
    edge_index, cost = random_graph(rng, n, directed)
    s, t = (int(v) for v in rng.integers(0, n, size=2))
    y = shortest_path(edge_index, cost, n, s, t, directed)
    assert_edge_path(edge_index, y, s, t, directed)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 10),
       directed=st.booleans())
def test_vertex_shortest_path_output_is_a_path(seed, n, directed):
    rng = np.random.default_rng(seed)
    edge_index, _ = random_graph(rng, n, directed)
    cost = rng.integers(0, 3, size=n).astype(np.float64)
    s, t = (int(v) for v in rng.integers(0, n, size=2))
    y = vertex_shortest_path(edge_index, cost, n, s, t, directed)
    nodes = set(np.flatnonzero(y).tolist())
    assert s in nodes and t in nodes
    g = nx.DiGraph() if directed else nx.Graph()
    g.add_nodes_from(nodes)
    g.add_edges_from((u, v) for u, v in edge_index.T.tolist()
                     if u in nodes and v in nodes)
    for v in nodes:  # every selected node lies on an s-t walk
        assert nx.has_path(g, s, v) and nx.has_path(g, v, t)


@pytest.mark.parametrize('fn,args,match', [
    (shortest_path, ([[0], [1]], [1.0], 2, 0, 1, True, 'clip'),
     "'negative_costs' must be 'raise' or 'clamp'"),
    (shortest_path, ([[0, 1], [1, 0]], [-1.0, 0.5], 2, 0, 1),
     'cycle of negative cost'),
    (shortest_path, ([[0], [1]], [np.nan], 2, 0, 1), 'finite'),
    (shortest_path, ([[0], [1]], [np.inf], 2, 0, 1), 'finite'),
    (shortest_path, ([[0], [1]], [1.0, 2.0], 2, 0, 1), "'edge_cost'"),
    (shortest_path, ([0, 1], [1.0], 2, 0, 1), "'edge_index'"),
    (shortest_path, ([[0], [5]], [1.0], 2, 0, 1), 'outside'),
    (shortest_path, ([[0], [1]], [1.0], 2, 2, 1), "'source'"),
    (shortest_path, ([[0], [1]], [1.0], 2, 0, -1), "'target'"),
    (shortest_path, ([[0], [1]], [1.0], 2, 1, 0), 'unreachable'),
    (shortest_path, (np.zeros((2, 0)), [], 2, 0, 1), 'unreachable'),
    (vertex_shortest_path, ([[0], [1]], [1.0], 2, 0, 1), "'node_cost'"),
    (vertex_shortest_path, ([[0], [1]], [1.0, 1.0], 2, 0, 1, True, None),
     "'negative_costs'"),
    (vertex_shortest_path, ([[0, 1], [1, 0]], [1.0, -2.0], 2, 0, 1),
     'cycle of negative cost'),
    (vertex_shortest_path, ([[0], [1]], [1.0, 1.0], 2, 1, 0), 'unreachable'),
])
def test_shortest_path_solver_bad_input(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)


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
    y = shortest_path(edge_index, np.array([-5.0, 1.0, 0.0, 0.5]), 4, 0, 3)
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
            y = vertex_shortest_path(edge_index, cost, n, s, t)
            ref = np.zeros(n)
            ref[nx_path(edge_index, cost[edge_index[1]], n, s, t)] = 1.0
        else:
            y = shortest_path(edge_index, cost, n, s, t)
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
        y = shortest_path(edge_index, reduced, n, s, t)
        assert_edge_path(edge_index, y, s, t, True)
        assert np.isclose(y @ cost, nx_length(edge_index, cost, n, s, t,
                                              True))
    assert num_negative > 100


def test_negative_undirected_edge_is_a_negative_cycle():
    edge_index = np.array([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="directed=False its edge can be "
                       "traversed both ways"):
        shortest_path(edge_index, np.array([1.0, -0.5]), 3, 0, 2,
                      directed=False)
    # One-way, the same costs are well-posed.
    y = shortest_path(edge_index, np.array([1.0, -0.5]), 3, 0, 2)
    assert y.tolist() == [1.0, 1.0]


def test_negative_directed_cycle_raises():
    # 0 -> 1 -> 2 -> 1 (cycle 1 -> 2 -> 1 of cost -1), 2 -> 3.
    edge_index = np.array([[0, 1, 2, 2], [1, 2, 1, 3]])
    cost = np.array([1.0, 1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match=r"cycle of negative cost lies on "
                       r"a walk from 'source' \(node 0\) to 'target' "
                       r"\(node 3\)"):
        shortest_path(edge_index, cost, 4, 0, 3)
    with pytest.raises(ValueError, match='negative_costs'):
        vertex_shortest_path(edge_index, np.array([0.0, 1.0, -2.0, 0.0]), 4,
                             0, 3)


def test_negative_cycle_off_every_walk_is_ignored():
    # The negative cycle 2 <-> 3 is reachable from s = 0 but cannot reach
    # t = 1; the cycle 4 <-> 5 reaches t but is unreachable from s.
    edge_index = np.array([[0, 0, 2, 3, 4, 5, 4], [1, 2, 3, 2, 5, 4, 1]])
    cost = np.array([1.0, -1.0, -3.0, -3.0, -3.0, -3.0, 0.0])
    y = shortest_path(edge_index, cost, 6, 0, 1)
    assert y.tolist() == [1.0, 0, 0, 0, 0, 0, 0]


def test_source_equals_target_ignores_negative_cycles():
    edge_index = np.array([[0, 1], [1, 0]])
    assert shortest_path(edge_index, -np.ones(2), 2, 0, 0).tolist() == [0, 0]
    assert vertex_shortest_path(edge_index, -np.ones(2), 2, 1,
                                1).tolist() == [0, 1]


def test_negative_self_loops_are_never_on_a_path():
    edge_index = np.array([[0, 1, 1], [1, 1, 2]])
    y = shortest_path(edge_index, np.array([-1.0, -5.0, 2.0]), 3, 0, 2)
    assert y.tolist() == [1.0, 0.0, 1.0]


def test_vertex_costs_negative_two_cycle_raises_only_if_negative():
    # Grid edges both ways: adjacent nodes u, v form the cycle u -> v -> u
    # of cost c_u + c_v.
    edge_index = grid_edge_index(3).numpy()
    cost = np.ones(9)
    cost[4] = -0.5  # c_4 + c_v > 0 for every neighbour v: well-posed
    y = vertex_shortest_path(edge_index, cost, 9, 0, 8)
    assert y.tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    cost[5] = -0.6
    with pytest.raises(ValueError, match='cycle of negative cost'):
        vertex_shortest_path(edge_index, cost, 9, 0, 8)


def test_clamp_opt_in_warns_and_solves_the_clamped_costs():
    edge_index = np.array([[0, 1, 0, 2], [1, 3, 2, 3]])
    cost = np.array([-5.0, 1.0, 0.0, 0.5])
    with pytest.warns(UserWarning, match="negative_costs='clamp'") as rec:
        y = shortest_path(edge_index, cost, 4, 0, 3, negative_costs='clamp')
    assert len(rec) == 1
    assert np.array_equal(y, shortest_path(edge_index, cost.clip(0), 4, 0,
                                           3))
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no warning without a negative cost
        shortest_path(edge_index, cost.clip(0), 4, 0, 3,
                      negative_costs='clamp')
    # The old behaviour, now opt-in, on an ill-posed problem: no error.
    with pytest.warns(UserWarning):
        y = shortest_path(np.array([[0, 1], [1, 0]]), np.array([-1.0, 0.5]),
                          2, 0, 1, negative_costs='clamp')
    assert y.tolist() == [1.0, 0.0]


def test_batched_shortest_paths_names_the_graph_with_a_negative_cycle():
    # Graph 0: 0 -> 1 (fine); graph 1: 2 <-> 3 of cost -1 (ill-posed);
    # graph 2: 4 -> 5 (fine).
    edge_index = np.array([[0, 2, 3, 4], [1, 3, 2, 5]])
    cost = np.array([-1.0, -1.0, 0.5, -2.0])
    with pytest.raises(ValueError, match='in graph 1'):
        batched_shortest_paths(edge_index, cost, 6, np.array([0, 2, 4]),
                               np.array([1, 3, 5]))
    cost[2] = 1.5
    y, unreachable = batched_shortest_paths(
        edge_index, cost, 6, np.array([0, 2, 4]), np.array([1, 3, 5]))
    assert y.tolist() == [1.0, 1.0, 0.0, 1.0] and not unreachable.any()


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
