import warnings

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity import project
from pyg_identity.nn.shortest_path import IdentityShortestPath
from pyg_identity.solvers.shortest_path import (
    _shortest_path,
    _vertex_shortest_path,
)
from pyg_identity.utils.grid import grid_edge_index


def random_batch(rng, sizes):
    # A ragged batch of strongly connected graphs (Hamiltonian cycle plus
    # random and parallel edges); terminals as local node indices.
    eis, batch, off = [], [], 0
    for g, n in enumerate(sizes):
        perm = rng.permutation(n)
        cyc = np.stack([perm, np.roll(perm, -1)])
        extra = rng.integers(0, n, size=(2, int(rng.integers(0, 2 * n + 1))))
        ei = np.concatenate([cyc, extra, extra[:, :1]], axis=1)
        eis.append(ei[:, rng.permutation(ei.shape[1])] + off)
        batch += [g] * n
        off += n
    edge_index = torch.from_numpy(np.concatenate(eis, axis=1))
    source = torch.from_numpy(rng.integers(0, sizes))
    target = torch.from_numpy(rng.integers(0, sizes))
    return edge_index, torch.tensor(batch), source, target


def grid_batch(ks):
    eis, batch, off = [], [], 0
    for g, k in enumerate(ks):
        eis.append(grid_edge_index(k) + off)
        batch += [g] * (k * k)
        off += k * k
    return torch.cat(eis, dim=1), torch.tensor(batch)


def nx_length(edge_index, weight, n, s, t, directed):
    g = nx.MultiDiGraph() if directed else nx.MultiGraph()
    g.add_nodes_from(range(n))
    for (u, v), c in zip(edge_index.T.tolist(), weight.tolist()):
        g.add_edge(u, v, weight=c)
    return nx.shortest_path_length(g, s, t, weight='weight')


def per_graph(edge_index, batch, num_graphs):
    # Local edge indices, edge positions and node offsets of every graph.
    ptr = torch.cat([torch.zeros(1, dtype=torch.long),
                     torch.bincount(batch, minlength=num_graphs).cumsum(0)])
    for g in range(num_graphs):
        pos = (batch[edge_index[0]] == g).nonzero().view(-1)
        local = (edge_index[:, pos] - ptr[g]).numpy()
        yield g, pos, local, int(ptr[g]), int(ptr[g + 1] - ptr[g])


def reference(c, edge_index, batch, source, target, directed, vertex):
    # The pure solver on every graph of the batch, as one tensor.
    y = torch.zeros_like(c)
    num_graphs = source.numel()
    for g, pos, local, off, n in per_graph(edge_index, batch, num_graphs):
        s, t = int(source[g]), int(target[g])
        if vertex:
            cg = c[off:off + n].detach().numpy()
            y[off:off + n] = torch.from_numpy(
                _vertex_shortest_path(cg, local, n, source=s, target=t,
                                      directed=directed)).to(y)
        else:
            y[pos] = torch.from_numpy(
                _shortest_path(c[pos].detach().numpy(), local, n, source=s,
                               target=t, directed=directed)).to(y)
    return y


SIZES = [5, 1, 8, 3, 6]


@pytest.mark.parametrize('directed', [True, False])
def test_edge_costs_batch_matches_networkx(directed):
    rng = np.random.default_rng(0)
    edge_index, batch, source, target = random_batch(rng, SIZES)
    c = torch.from_numpy(rng.integers(0, 4, edge_index.size(1)).astype(
        np.float64))
    y = IdentityShortestPath(directed=directed)(c, edge_index, batch,
                                                source=source, target=target)
    for g, pos, local, _, n in per_graph(edge_index, batch, len(SIZES)):
        ref = nx_length(local, c[pos].numpy(), n, int(source[g]),
                        int(target[g]), directed)
        assert float(c[pos] @ y[pos]) == ref


def test_vertex_costs_grid_batch_matches_networkx():
    ks = [3, 6, 1, 4]
    edge_index, batch = grid_batch(ks)
    c = torch.rand(batch.numel(), dtype=torch.float64)
    source = torch.zeros(len(ks), dtype=torch.long)
    target = torch.tensor([k * k - 1 for k in ks])
    y = IdentityShortestPath(vertex_costs=True)(c, edge_index, batch,
                                                source=source, target=target)
    for _g, _, local, off, n in per_graph(edge_index, batch, len(ks)):
        cg = c[off:off + n].numpy()
        ref = nx_length(local, cg[local[1]], n, 0, n - 1, True) + cg[0]
        assert np.isclose(float(c[off:off + n] @ y[off:off + n]), ref)


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(1, 7), min_size=1, max_size=4),
       seed=st.integers(0, 2**31 - 1), directed=st.booleans())
def test_batch_output_is_an_st_path_per_graph(sizes, seed, directed):
    rng = np.random.default_rng(seed)
    edge_index, batch, source, target = random_batch(rng, sizes)
    c = torch.from_numpy(rng.integers(0, 3, edge_index.size(1)).astype(
        np.float32))
    y = IdentityShortestPath(directed=directed)(c, edge_index, batch,
                                                source=source, target=target)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    for g, pos, local, _, n in per_graph(edge_index, batch, len(sizes)):
        s, t = int(source[g]), int(target[g])
        sel = local[:, y[pos].numpy() == 1]
        deg_out = np.bincount(sel[0], minlength=n)
        deg_in = np.bincount(sel[1], minlength=n)
        if s == t:
            assert sel.shape[1] == 0
            continue
        if directed:
            balance = deg_out - deg_in
            expected = np.zeros(n, dtype=np.int64)
            expected[s], expected[t] = 1, -1
            assert np.array_equal(balance, expected)
            assert deg_out.max() <= 1 and deg_in.max() <= 1
        else:
            deg = deg_out + deg_in
            assert deg[s] == 1 and deg[t] == 1
            assert set(deg.tolist()) <= {0, 1, 2}
        # Connected: one component holding s and t, covering all edges.
        graph = nx.Graph(sel.T.tolist())
        assert nx.is_connected(graph) and graph.has_node(t)
        assert graph.number_of_edges() == sel.shape[1]


@pytest.mark.parametrize('vertex', [False, True])
def test_identity_surrogate_gradient_is_minus_g(vertex):
    rng = np.random.default_rng(1)
    edge_index, batch, source, target = random_batch(rng, SIZES)
    size = batch.numel() if vertex else edge_index.size(1)
    c = torch.rand(size, dtype=torch.float64, requires_grad=True)
    g = torch.randn(size, dtype=torch.float64)
    layer = IdentityShortestPath(vertex_costs=vertex, projection=None)
    (layer(c, edge_index, batch, source=source,
           target=target) * g).sum().backward()
    assert torch.equal(c.grad, -g)


@pytest.mark.parametrize('vertex', [False, True])
def test_identity_gradient_with_norm_projection_is_vjp(vertex):
    rng = np.random.default_rng(2)
    edge_index, batch, source, target = random_batch(rng, SIZES)
    index = batch if vertex else batch[edge_index[0]]
    c = torch.rand(index.numel(), dtype=torch.float64, requires_grad=True)
    g = torch.randn(index.numel(), dtype=torch.float64)
    layer = IdentityShortestPath(vertex_costs=vertex)
    assert layer.projection == 'norm'
    (layer(c, edge_index, batch, source=source,
           target=target) * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    ref, = torch.autograd.grad(project(c2, index, mode='norm'), c2, -g)
    assert torch.allclose(c.grad, ref)


@pytest.mark.parametrize('vertex', [False, True])
def test_blackbox_gradient_with_clamp_uses_clamped_perturbed_call(vertex):
    rng = np.random.default_rng(3)
    edge_index, batch, source, target = random_batch(rng, SIZES)
    size = batch.numel() if vertex else edge_index.size(1)
    c = torch.rand(size, dtype=torch.float64, requires_grad=True)
    g = torch.randn(size, dtype=torch.float64)
    lam = 2.0
    layer = IdentityShortestPath(vertex_costs=vertex, projection=None,
                                 backward='blackbox', lambda_=lam,
                                 negative_costs='clamp')
    y = layer(c, edge_index, batch, source=source, target=target)
    g = g + 2.0 * y.detach()  # make the current path expensive
    with pytest.warns(UserWarning, match="negative_costs='clamp'"):
        (y * g).sum().backward()
    # Opt-in: the perturbed costs, negative on cycles, are clamped at zero.
    y_lam = reference((c.detach() + lam * g).clamp(min=0), edge_index, batch,
                      source, target, True, vertex)
    assert not torch.equal(y, y_lam)  # the test exercises a change
    assert torch.allclose(c.grad, -(y.detach() - y_lam) / lam)


@pytest.mark.parametrize('vertex', [False, True])
def test_solution_invariant_to_positive_scaling(vertex):
    rng = np.random.default_rng(4)
    edge_index, batch, source, target = random_batch(rng, SIZES)
    size = batch.numel() if vertex else edge_index.size(1)
    c = torch.rand(size, dtype=torch.float64)
    layer = IdentityShortestPath(vertex_costs=vertex, projection=None)
    y = layer(c, edge_index, batch, source=source, target=target)
    for scale in (0.01, 3.0, 1000.0):
        assert torch.equal(layer(scale * c, edge_index, batch, source=source,
                                 target=target), y)


def test_clamp_opt_in_clamps_and_warns_once():
    rng = np.random.default_rng(5)
    edge_index, batch, source, target = random_batch(rng, SIZES)
    c = torch.randn(edge_index.size(1), dtype=torch.float64)
    layer = IdentityShortestPath(projection=None, negative_costs='clamp')
    with pytest.raises(ValueError, match='cycle of negative cost'):
        IdentityShortestPath(projection=None)(c, edge_index, batch,
                                              source=source, target=target)
    with pytest.warns(UserWarning, match="negative_costs='clamp'") as rec:
        y = layer(c, edge_index, batch, source=source, target=target)
    assert len(rec) == 1  # one warning per call, not one per graph
    ref = reference(c.clamp(min=0), edge_index, batch, source, target, True,
                    False)
    assert torch.equal(y, ref)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('default')  # Python's default filter
        for _ in range(3):
            layer(c, edge_index, batch, source=source, target=target)
    assert len(rec) == 1
    assert "negative_costs='clamp'" in repr(layer)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('vertex', [False, True])
def test_output_dtype_shape_and_reference(dtype, vertex):
    rng = np.random.default_rng(6)
    edge_index, batch, source, target = random_batch(rng, SIZES)
    size = batch.numel() if vertex else edge_index.size(1)
    c = torch.rand(size, dtype=dtype)
    y = IdentityShortestPath(vertex_costs=vertex, projection=None)(
        c, edge_index, batch, source=source, target=target)
    assert y.dtype == dtype and y.shape == c.shape and y.device == c.device
    ref = reference(c.double(), edge_index, batch, source, target, True,
                    vertex)
    assert torch.equal(y.double(), ref)


def test_single_graph_int_terminals_and_warcraft_diagonal():
    k = 6
    cost = torch.full((k, k), 5.0)
    cost.fill_diagonal_(0.5)
    layer = IdentityShortestPath(vertex_costs=True)
    y = layer(cost.view(-1), grid_edge_index(k), source=0, target=k * k - 1)
    assert torch.equal(y.view(k, k), torch.eye(k))
    y2 = layer(cost.view(-1), grid_edge_index(k), source=torch.tensor(0),
               target=torch.tensor([k * k - 1]))
    assert torch.equal(y, y2)


def test_terminals_are_local_per_graph():
    # Two copies of the path 0 -> 1 -> 2, different local targets.
    edge_index = torch.tensor([[0, 1, 3, 4], [1, 2, 4, 5]])
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    y = IdentityShortestPath()(torch.ones(4), edge_index, batch, source=0,
                               target=torch.tensor([2, 1]))
    assert y.tolist() == [1.0, 1.0, 1.0, 0.0]


def test_noise_only_in_training_and_diagnostics():
    rng = np.random.default_rng(7)
    edge_index, batch, source, target = random_batch(rng, SIZES)
    c = torch.rand(edge_index.size(1), requires_grad=True)
    layer = IdentityShortestPath(noise=10.0, diagnostics=True).eval()
    y = layer(c, edge_index, batch, source=source, target=target)
    assert torch.equal(y, reference(c.detach(), edge_index, batch, source,
                                    target, True, False))
    y.sum().backward()
    assert layer.diagnostics.grad_cosine is not None
    assert 'noise=10.0' in repr(layer)


def test_per_graph_solver_is_picklable_for_worker_pools():
    import pickle

    from pyg_identity.solvers.shortest_path import (
        _shortest_path_edges,
        _shortest_path_nodes,
    )
    for fn in (_shortest_path_edges, _shortest_path_nodes):
        assert pickle.loads(pickle.dumps(fn)) is fn


EI = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
B2 = torch.tensor([0, 0, 1, 1])
EI2 = torch.tensor([[0, 2], [1, 3]])
BAD = [
    # (layer kwargs, (cost, edge_index, source, target, *batch and sizes),
    # match)
    ({}, (torch.tensor([1.0, float('nan'), 1, 1]), EI, 0, 2), 'finite'),
    ({}, (torch.tensor([1.0, float('inf'), 1, 1]), EI, 0, 2), 'finite'),
    ({}, (torch.ones(4, dtype=torch.long), EI, 0, 2), 'floating point'),
    ({}, (torch.ones(3), EI, 0, 2), "'cost' must have num_edges"),
    ({}, (torch.ones(4, 1), EI, 0, 2), 'one-dimensional'),
    ({}, (torch.ones(4), EI.float(), 0, 2), "'edge_index' must be an int"),
    ({}, (torch.ones(4), EI[0], 0, 2), "'edge_index' must have shape"),
    ({}, (torch.ones(4), EI, 0, 5, None, 4), "'target' must be a local"),
    ({}, (torch.ones(4), EI, -1, 2), "'source' must be a local"),
    ({}, (torch.ones(4), EI, 0.0, 2), "'source' must be an integer"),
    ({}, (torch.ones(4), EI, torch.tensor([0.0]), 2), "'source' must hold"),
    ({}, (torch.ones(2), EI2, torch.tensor([0, 0, 0]), 1, B2),
     r"'source' must be an integer or a tensor of shape \[num_graphs\]"),
    ({}, (torch.ones(2), EI2, 0, 2, B2), "'target' must be a local"),
    ({}, (torch.ones(2), EI2, 1, 0, B2), 'unreachable'),
    ({}, (torch.ones(4), EI, 0, 2, torch.tensor([0, 0])), 'outside'),
    ({}, (torch.ones(4), EI, 0, 2, torch.tensor([[0, 0, 0, 0]])), "'batch'"),
    ({}, (torch.ones(4), EI, 0, 2, torch.tensor([1, 0, 0, 0])),
     "'batch' must be sorted"),
    ({}, (torch.ones(4), EI, 0, 2, B2), 'different graphs'),
    ({}, (torch.ones(4), EI, 0, 2, None, 3), 'outside'),
    ({}, (torch.ones(2), EI2, 0, 1, B2, 5), "'num_nodes'"),
    ({}, (torch.zeros(0), torch.zeros(2, 0, dtype=torch.long), 0, 1, None,
          2), 'unreachable'),
    ({}, (torch.ones(2), EI2, 0, 1, torch.tensor([0, 0, 2, 2])),
     "'source' must be a local node index in \\[0, 0\\) of graph 1"),
    ({'vertex_costs': True}, (torch.ones(3), EI, 0, 2),
     "'cost' must have one entry per node"),
    ({'vertex_costs': True}, (torch.ones(4), EI, 0, 2, B2),
     'different graphs'),
    ({'vertex_costs': True}, (torch.ones(1), torch.zeros(2, 0,
                                                         dtype=torch.long),
                              0, 1), "'target' must be a local"),
    ({'vertex_costs': True}, (torch.ones(4), EI, 0, 2, None, 5),
     "'num_nodes'"),
]


@pytest.mark.parametrize('kwargs,args,match', BAD)
def test_bad_input(kwargs, args, match):
    cost, edge_index, source, target, *rest = args
    with pytest.raises(ValueError, match=match):
        IdentityShortestPath(**kwargs)(cost, edge_index, *rest,
                                       source=source, target=target)


@pytest.mark.parametrize('kwargs,match', [
    ({'directed': 1}, "'directed'"),
    ({'vertex_costs': 'yes'}, "'vertex_costs'"),
    ({'projection': 'max'}, "'projection'"),
    ({'backward': 'bb'}, "'backward'"),
    ({'num_workers': -1}, "'num_workers'"),
    ({'negative_costs': 'clip'}, "'negative_costs' must be 'raise' or "
     "'clamp'"),
    ({'noise': -1.0}, "'noise'"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentityShortestPath(**kwargs)


def test_single_node_graph_gives_empty_path():
    y = IdentityShortestPath()(torch.zeros(0), torch.zeros(
        2, 0, dtype=torch.long), num_nodes=1, source=0, target=0)
    assert y.numel() == 0
    y = IdentityShortestPath(vertex_costs=True)(
        torch.ones(1), torch.zeros(2, 0, dtype=torch.long), source=0, target=0)
    assert y.tolist() == [1.0]



# Negative costs.


def random_dag_batch(rng, sizes, p=0.5):
    # A ragged batch of DAGs, each in a random topological order with the
    # chain through it (later nodes reachable from earlier ones) and random
    # other forward edges, no parallel edges; terminals s before t (s == t
    # possible).
    eis, batch, source, target, off = [], [], [], [], 0
    for g, n in enumerate(sizes):
        perm = rng.permutation(n)
        row, col = np.triu_indices(n, 1)
        keep = (col == row + 1) | (rng.random(row.size) < p)
        ei = np.stack([perm[row[keep]], perm[col[keep]]])
        eis.append(ei[:, rng.permutation(ei.shape[1])] + off)
        i, j = sorted(int(v) for v in rng.integers(0, n, size=2))
        source.append(int(perm[i]))
        target.append(int(perm[j]))
        batch += [g] * n
        off += n
    edge_index = np.concatenate([np.zeros((2, 0), dtype=np.int64), *eis],
                                axis=1)
    return (torch.from_numpy(edge_index), torch.tensor(batch),
            torch.tensor(source), torch.tensor(target))


def bellman_ford_reference(c, edge_index, batch, source, target, vertex):
    # Every graph's networkx Bellman-Ford path as an indicator (costs are
    # continuous, so the path is unique).
    y = torch.zeros_like(c)
    for g, pos, local, off, n in per_graph(edge_index, batch,
                                           source.numel()):
        w = c[off:off + n][local[1]] if vertex else c[pos]
        G = nx.DiGraph()
        G.add_nodes_from(range(n))
        for (u, v), x in zip(local.T.tolist(), w.tolist()):
            G.add_edge(u, v, weight=x)
        nodes = nx.bellman_ford_path(G, int(source[g]), int(target[g]))
        if vertex:
            y[[off + v for v in nodes]] = 1.0
        else:
            arcs = {e: k for k, e in enumerate(map(tuple, local.T.tolist()))}
            for e in zip(nodes[:-1], nodes[1:]):
                y[pos[arcs[e]]] = 1.0
    return y


def right_down_grid_batch(ks):
    # Grids with right and down edges only: every corner-to-corner path has
    # the same number of arcs.
    eis, batch, off = [], [], 0
    for g, k in enumerate(ks):
        node = torch.arange(k * k).view(k, k)
        right = torch.stack([node[:, :-1].reshape(-1),
                             node[:, 1:].reshape(-1)])
        down = torch.stack([node[:-1].reshape(-1), node[1:].reshape(-1)])
        eis.append(torch.cat([right, down], dim=1) + off)
        batch += [g] * (k * k)
        off += k * k
    return (torch.cat(eis, dim=1), torch.tensor(batch),
            torch.zeros(len(ks), dtype=torch.long),
            torch.tensor([k * k - 1 for k in ks]))


def test_negative_costs_issue_reproducer():
    ei = torch.tensor([[0, 1, 0, 2], [1, 3, 2, 3]])
    y = IdentityShortestPath(projection=None)(
        torch.tensor([-5.0, 1.0, 0.0, 0.5]), ei, source=0, target=3)
    assert y.tolist() == [1.0, 1.0, 0.0, 0.0]


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 8), min_size=1, max_size=5),
       seed=st.integers(0, 2**31 - 1), vertex=st.booleans())
def test_negative_cost_dag_batch_matches_bellman_ford(sizes, seed, vertex):
    rng = np.random.default_rng(seed)
    edge_index, batch, source, target = random_dag_batch(rng, sizes)
    size = batch.numel() if vertex else edge_index.size(1)
    c = torch.from_numpy(rng.normal(size=size))
    y = IdentityShortestPath(vertex_costs=vertex, projection=None)(
        c, edge_index, batch, source=source, target=target)
    ref = bellman_ford_reference(c, edge_index, batch, source, target,
                                 vertex)
    assert torch.equal(y, ref)


@pytest.mark.parametrize('vertex', [False, True])
def test_negative_cost_dag_batch_with_one_and_two_node_graphs(vertex):
    rng = np.random.default_rng(20)
    sizes = [1, 2, 7, 1, 2, 9]
    for _ in range(10):
        edge_index, batch, source, target = random_dag_batch(rng, sizes)
        size = batch.numel() if vertex else edge_index.size(1)
        c = torch.from_numpy(rng.normal(size=size) - 0.5)
        y = IdentityShortestPath(vertex_costs=vertex, projection=None)(
            c, edge_index, batch, source=source, target=target)
        assert torch.equal(y, bellman_ford_reference(
            c, edge_index, batch, source, target, vertex))


def test_negative_undirected_edge_raises_naming_the_graph():
    rng = np.random.default_rng(21)
    edge_index, batch, source, target = random_batch(rng, SIZES)
    c = torch.rand(edge_index.size(1), dtype=torch.float64)
    layer = IdentityShortestPath(directed=False, projection=None)
    layer(c, edge_index, batch, source=source, target=target)  # well-posed
    # One negative edge in graph 2 (graphs are strongly connected, so it
    # lies on a walk from its source to its target).
    c[(batch[edge_index[0]] == 2).nonzero()[0]] = -0.1
    with pytest.raises(ValueError, match=r"'cost' has a negative entry "
                       r"on a walk .* in graph 2; with directed=False"):
        layer(c, edge_index, batch, source=source, target=target)


def test_negative_directed_cycle_raises_naming_the_graph():
    # Graph 0: a DAG with negative costs; graph 1: 0 -> 1 <-> 2 -> 3 with
    # the cycle 1 <-> 2 of cost -0.5.
    edge_index = torch.tensor([[0, 1, 0, 3, 4, 5, 5], [1, 2, 2, 4, 5, 4, 6]])
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    c = torch.tensor([-1.0, -1.0, 0.0, 1.0, 0.5, -1.0, 1.0])
    layer = IdentityShortestPath(projection=None)
    with pytest.raises(ValueError, match=r"cycle of negative cost lies on a "
                       r"walk from 'source' \(node 0\) to 'target' \(node "
                       r"3\) in graph 1"):
        layer(c, edge_index, batch, source=0, target=torch.tensor([2, 3]))
    c[5] = 1.0  # the cycle costs 1.5: well-posed
    y = layer(c, edge_index, batch, source=0, target=torch.tensor([2, 3]))
    assert y.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]


def test_negative_vertex_costs_two_cycle_raises_naming_the_graph():
    ks = [3, 4]
    edge_index, batch = grid_batch(ks)  # 8-neighbour grids, both ways
    c = torch.ones(batch.numel())
    c[9 + 5] = c[9 + 6] = -1.0  # adjacent nodes of graph 1
    layer = IdentityShortestPath(vertex_costs=True, projection=None)
    with pytest.raises(ValueError, match='in graph 1'):
        layer(c, edge_index, batch, source=0, target=torch.tensor([8, 15]))
    c[9 + 6] = 2.0  # c_5 + c_v > 0 for all neighbours v: exact
    y = layer(c, edge_index, batch, source=0, target=torch.tensor([8, 15]))
    assert y[9:].nonzero().view(-1).tolist() == [0, 5, 10, 15]


@pytest.mark.parametrize('vertex', [False, True])
def test_blackbox_gradient_with_negative_costs_is_exact(vertex):
    # y_lam is the exact argmin of the (negative) perturbed costs, from an
    # independent Bellman-Ford: dl/dc = -(y - y_lam) / lam.
    rng = np.random.default_rng(22)
    edge_index, batch, source, target = random_dag_batch(rng, [6, 1, 9, 2,
                                                                 7])
    size = batch.numel() if vertex else edge_index.size(1)
    c = torch.from_numpy(rng.normal(size=size)).requires_grad_()
    lam = 3.0
    layer = IdentityShortestPath(vertex_costs=vertex, projection=None,
                                 backward='blackbox', lambda_=lam)
    y = layer(c, edge_index, batch, source=source, target=target)
    g = torch.from_numpy(rng.normal(size=size)) + 2.0 * y.detach()
    (y * g).sum().backward()
    y_lam = bellman_ford_reference(c.detach() + lam * g, edge_index, batch,
                                   source, target, vertex)
    assert not torch.equal(y, y_lam)  # the test exercises a change
    assert ((c.detach() + lam * g) < 0).any()
    assert torch.allclose(c.grad, -(y.detach() - y_lam) / lam)


def test_blackbox_backward_raises_on_an_ill_posed_perturbation():
    # Both directions of every edge: a perturbation making a 2-cycle
    # negative is ill-posed under the default negative_costs='raise'.
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    c = torch.ones(4, requires_grad=True)
    layer = IdentityShortestPath(projection=None, backward='blackbox',
                                 lambda_=10.0)
    y = layer(c, edge_index, source=0, target=2)
    with pytest.raises(ValueError, match='cycle of negative cost'):
        (y * -1.0).sum().backward()


def test_worker_pool_path_handles_negative_costs(monkeypatch):
    # The per-graph branch (num_workers > 1), run in this process.
    import importlib

    # (The solvers module batches for the layer, its functional and the
    # public solver alike.)
    S = importlib.import_module('pyg_identity.solvers.shortest_path')
    monkeypatch.setattr(S, 'map_graphs',
                        lambda fn, tasks, n: [fn(*t) for t in tasks])
    rng = np.random.default_rng(23)
    edge_index, batch, source, target = random_dag_batch(rng, [5, 1, 2, 8])
    for vertex in (False, True):
        size = batch.numel() if vertex else edge_index.size(1)
        c = torch.from_numpy(rng.normal(size=size))
        y = IdentityShortestPath(vertex_costs=vertex, projection=None,
                                 num_workers=2)(c, edge_index, batch,
                                                source=source, target=target)
        assert torch.equal(y, bellman_ford_reference(
            c, edge_index, batch, source, target, vertex))
    ei = torch.tensor([[0, 2, 3], [1, 3, 2]])
    with pytest.raises(ValueError, match='in graph 1'):
        IdentityShortestPath(projection=None, num_workers=2)(
            torch.tensor([1.0, -1.0, 0.5]), ei, torch.tensor([0, 0, 1, 1]),
            source=0, target=1)


# Shift projections ('mean', 'std').


@pytest.mark.parametrize('projection', ['mean', 'std'])
@pytest.mark.parametrize('vertex', [False, True])
def test_shift_projections_keep_the_argmin_on_equal_length_paths(
        projection, vertex):
    edge_index, batch, source, target = right_down_grid_batch([3, 1, 5, 2])
    size = batch.numel() if vertex else edge_index.size(1)
    index = batch if vertex else batch[edge_index[0]]
    c = torch.rand(size, dtype=torch.float64, requires_grad=True)
    g = torch.randn(size, dtype=torch.float64)
    y = IdentityShortestPath(vertex_costs=vertex, projection=projection)(
        c, edge_index, batch, source=source, target=target)
    y0 = IdentityShortestPath(vertex_costs=vertex, projection=None)(
        c.detach(), edge_index, batch, source=source, target=target)
    assert torch.equal(y, y0)  # shifting by a constant keeps the argmin
    (y * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    ref, = torch.autograd.grad(project(c2, index, mode=projection), c2, -g)
    assert torch.allclose(c.grad, ref)


@pytest.mark.parametrize('projection', ['mean', 'std'])
def test_shift_projections_raise_on_paths_of_different_lengths(projection):
    # Graph 0 is a right/down grid; graph 1 has a shortcut 0 -> 2 beside
    # 0 -> 1 -> 2, where 'mean' would change the argmin.
    edge_index = torch.tensor([[0, 0, 1, 2, 4, 5, 4], [1, 2, 3, 3, 5, 6, 6]])
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    c = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 1.0])
    layer = IdentityShortestPath(projection=projection)
    with pytest.raises(ValueError, match=rf"Invalid 'projection' "
                       rf"'{projection}' for graph 1"):
        layer(c, edge_index, batch, source=0, target=torch.tensor([3, 2]))
    with pytest.raises(ValueError, match="'projection'"):
        IdentityShortestPath(vertex_costs=True, projection=projection)(
            torch.ones(7), edge_index, batch, source=0,
            target=torch.tensor([3, 2]))
    # Without the shortcut's graph both tiers accept the projection.
    IdentityShortestPath(projection=projection)(c[:4], edge_index[:, :4],
                                                batch[:4], source=0, target=3)


@pytest.mark.parametrize('projection', ['mean', 'std'])
def test_shift_projections_raise_on_undirected_and_two_way_graphs(
        projection):
    ks = [3]
    edge_index, batch = grid_batch(ks)  # both directions listed
    with pytest.raises(ValueError, match="'projection'"):
        IdentityShortestPath(vertex_costs=True, projection=projection)(
            torch.rand(9), edge_index, batch, source=0, target=8)
    edge_index, batch, source, target = right_down_grid_batch([3])
    with pytest.raises(ValueError, match="'projection'"):
        IdentityShortestPath(directed=False, projection=projection)(
            torch.rand(edge_index.size(1)), edge_index, batch, source=source,
            target=target)


@pytest.mark.parametrize('projection', ['mean', 'std'])
def test_shift_projections_accept_single_paths_and_source_equals_target(
        projection):
    # A one-node graph, and s == t on a cycle: one (empty) path each.
    edge_index = torch.tensor([[1, 2], [2, 1]])
    batch = torch.tensor([0, 1, 1])
    y = IdentityShortestPath(vertex_costs=True, projection=projection)(
        torch.rand(3), edge_index, batch, source=0, target=0)
    assert y.tolist() == [1.0, 1.0, 0.0]


# The API shape: keyword-only terminals, settings, validated attributes.


def test_terminals_and_settings_are_keyword_only():
    ei = torch.tensor([[0, 1], [1, 2]])
    layer = IdentityShortestPath()
    with pytest.raises(TypeError):
        layer(torch.ones(2), ei, 0, 2)  # the old order (source, target)
    with pytest.raises(TypeError):
        layer(torch.ones(2), ei, None, None, None, 0, 2)
    with pytest.raises(TypeError):
        IdentityShortestPath(True, False, 'raise', 0, None)  # settings
    assert layer(torch.ones(2), ei, None, 3, 1, source=0,
                 target=2).tolist() == [1.0, 1.0]


@pytest.mark.parametrize('vertex', [False, True])
def test_misplaced_integer_tensor_is_named(vertex):
    ei = torch.tensor([[0, 1], [1, 2]])
    batch = torch.zeros(3, dtype=torch.long)
    layer = IdentityShortestPath(vertex_costs=vertex)
    with pytest.raises(ValueError, match=r"'cost' must be a floating point "
                       r"tensor \(got torch.int64; this looks like a batch "
                       r"vector"):
        layer(batch, ei, source=0, target=2)
    with pytest.raises(ValueError, match=r"'cost' .* this looks like an "
                       r"edge_index"):
        layer(ei, torch.ones(3), source=0, target=2)
    with pytest.raises(ValueError, match=r"'batch' must be an integer "
                       r"tensor or None \(got torch.float32; this looks like "
                       r"costs"):
        layer(torch.ones(3), ei, torch.ones(3), source=0, target=2)


@pytest.mark.parametrize('name,value', [
    ('noise', -1), ('lambda_', 0.0), ('projection', 'max'),
    ('backward_mode', 'bb'), ('noise_position', 'middle'), ('directed', 1),
    ('vertex_costs', 'yes'), ('negative_costs', 'clip'),
    ('num_workers', -1),
])
def test_invalid_assignment_raises(name, value):
    layer = IdentityShortestPath()
    before = getattr(layer, name)
    with pytest.raises(ValueError, match=f"'{name.replace('_mode', '')}'"):
        setattr(layer, name, value)
    assert getattr(layer, name) == before


def test_valid_assignment_changes_the_layer():
    layer = IdentityShortestPath()
    layer.directed = False
    layer.vertex_costs = True
    layer.negative_costs = 'clamp'
    layer.num_workers = 2
    layer.noise = 0.5
    assert (layer.directed, layer.vertex_costs, layer.negative_costs,
            layer.num_workers, layer.settings.noise) == (False, True,
                                                          'clamp', 2, 0.5)
    assert 'sense' not in vars(IdentityShortestPath)
    assert IdentityShortestPath.default_projection == 'norm'


def test_settings_object_and_overrides():
    from pyg_identity.nn.functional import GradientSettings

    s = GradientSettings(projection=None, noise=0.3, backward='blackbox')
    layer = IdentityShortestPath(vertex_costs=True, settings=s, lambda_=5.0)
    assert layer.settings == s.replace(lambda_=5.0)
    assert (layer.projection, layer.noise, layer.backward_mode,
            layer.lambda_) == (None, 0.3, 'blackbox', 5.0)
    with pytest.raises(ValueError, match='unknown gradient setting'):
        IdentityShortestPath(sense='min')


def test_generator_makes_the_margin_reproducible():
    # Equal costs on a grid: every monotone corner path ties, so the noise
    # margin decides the path.
    k = 6
    edge_index, batch = grid_batch([k, k, k])
    c = torch.ones(batch.numel())

    def run(seed):
        layer = IdentityShortestPath(
            vertex_costs=True, projection=None, noise=1.0,
            generator=torch.Generator().manual_seed(seed)).train()
        return torch.stack([layer(c, edge_index, batch, source=0,
                                  target=k * k - 1) for _ in range(2)])

    y = run(0)
    assert torch.equal(y, run(0))
    assert any(not torch.equal(y, run(seed)) for seed in range(1, 6))
