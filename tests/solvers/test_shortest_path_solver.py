import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity.solvers.shortest_path import (
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
    (shortest_path, ([[0], [1]], [-1.0], 2, 0, 1), 'non-negative'),
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
    (vertex_shortest_path, ([[0], [1]], [1.0, -2.0], 2, 0, 1),
     'non-negative'),
    (vertex_shortest_path, ([[0], [1]], [1.0, 1.0], 2, 1, 0), 'unreachable'),
])
def test_shortest_path_solver_bad_input(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)
