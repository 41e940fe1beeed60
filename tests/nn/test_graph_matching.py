from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from pyg_identity.nn.functional import (
    GradientSettings,
    all_edge_pairs,
    all_node_pairs,
    graph_matching,
)
from pyg_identity.nn.graph_matching import IdentityGraphMatching
from pyg_identity.projection import project
from pyg_identity.solvers import solve_graph_matching
from pyg_identity.solvers.quadratic_assignment import (
    _quadratic_assignment_batch,
)


def make_batch(sizes: Sequence[Tuple[int, int]], seed: int = 0,
               density: float = 1.0, edge_p: float = 0.5,
               dtype: torch.dtype = torch.float64) -> Dict[str, Tensor]:
    r"""A ragged batch of graph pairs with random directed edges, candidate
    pairs (all, or a random subset), all edge pairs and random costs."""
    gen = torch.Generator().manual_seed(seed)
    batch_s, batch_t, es, et, cand = [], [], [], [], []
    off_s = off_t = 0
    for g, (n1, n2) in enumerate(sizes):
        batch_s += [g] * n1
        batch_t += [g] * n2
        for n, off, out in ((n1, off_s, es), (n2, off_t, et)):
            for i in range(n):
                for j in range(n):
                    if i != j and torch.rand(1, generator=gen) < edge_p:
                        out.append((off + i, off + j))
        for i in range(n1):
            for a in range(n2):
                if torch.rand(1, generator=gen) < density:
                    cand.append((off_s + i, off_t + a))
        off_s, off_t = off_s + n1, off_t + n2

    def index(pairs: List[Tuple[int, int]]) -> Tensor:
        return torch.tensor(pairs, dtype=torch.long).view(-1, 2).t()

    data = dict(batch_s=torch.tensor(batch_s, dtype=torch.long),
                batch_t=torch.tensor(batch_t, dtype=torch.long),
                edge_index_s=index(es), edge_index_t=index(et),
                edge_index=index(cand))
    data['edge_pair_index'] = all_edge_pairs(
        data['edge_index_s'], data['edge_index_t'], data['batch_s'],
        data['batch_t'], num_graphs=len(sizes))
    data['unary'] = torch.randn(len(cand), generator=gen, dtype=dtype)
    data['pairwise'] = torch.randn(data['edge_pair_index'].size(1),
                                   generator=gen, dtype=dtype)
    return data


def call(data: Dict[str, Tensor], num_graphs: Optional[int] = None,
         **kwargs) -> Tuple[Tensor, Tensor]:
    return graph_matching(
        data['unary'], data['pairwise'], data['edge_index_s'],
        data['edge_index_t'], data['edge_index'], data['edge_pair_index'],
        data['batch_s'], data['batch_t'], num_graphs=num_graphs, **kwargs)


def graph_of_costs(data: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
    index_u = data['batch_s'][data['edge_index'][0]]
    index_p = data['batch_s'][data['edge_index_s'][0,
                                                   data['edge_pair_index'][0]]]
    return index_u, index_p


def local_problems(data: Dict[str, Tensor], unary: Tensor, pairwise: Tensor,
                   num_graphs: int) -> List[tuple]:
    # The per-pair inputs of the pure solver, independently of the layer.
    bs, bt = data['batch_s'], data['batch_t']
    ptr_s = torch.cumsum(torch.bincount(bs, minlength=num_graphs), 0)
    ptr_t = torch.cumsum(torch.bincount(bt, minlength=num_graphs), 0)
    ptr_s = torch.cat([ptr_s.new_zeros(1), ptr_s])
    ptr_t = torch.cat([ptr_t.new_zeros(1), ptr_t])
    index_u, index_p = graph_of_costs(data)
    es = data['edge_index_s'][:, data['edge_pair_index'][0]]
    et = data['edge_index_t'][:, data['edge_pair_index'][1]]
    probs = []
    for g in range(num_graphs):
        mu, mp = index_u == g, index_p == g
        pairs = torch.stack([data['edge_index'][0, mu] - ptr_s[g],
                             data['edge_index'][1, mu] - ptr_t[g]], 1)
        quad = torch.stack([es[0, mp] - ptr_s[g], es[1, mp] - ptr_s[g],
                            et[0, mp] - ptr_t[g], et[1, mp] - ptr_t[g]], 1)
        probs.append((pairs.numpy(), unary[mu].double().numpy(),
                      quad.numpy(), pairwise[mp].double().numpy(),
                      int(ptr_s[g + 1] - ptr_s[g]),
                      int(ptr_t[g + 1] - ptr_t[g])))
    return probs


def reference(data: Dict[str, Tensor], unary: Tensor, pairwise: Tensor,
              num_graphs: int) -> Tuple[Tensor, Tensor]:
    index_u, index_p = graph_of_costs(data)
    y_u, y_p = torch.zeros_like(unary), torch.zeros_like(pairwise)
    probs = local_problems(data, unary, pairwise, num_graphs)
    for g, (a, b) in enumerate(_quadratic_assignment_batch(probs)):
        y_u[index_u == g] = torch.from_numpy(a).to(unary.dtype)
        y_p[index_p == g] = torch.from_numpy(b).to(pairwise.dtype)
    return y_u, y_p


def max_matching_size(n1: int, n2: int, pairs: np.ndarray) -> int:
    if n1 == 0 or n2 == 0 or len(pairs) == 0:
        return 0
    w = np.zeros((n1, n2))
    w[pairs[:, 0], pairs[:, 1]] = 1.0
    row, col = linear_sum_assignment(-w)
    return int(w[row, col].sum())


SIZES = [(3, 3), (2, 4), (4, 3), (1, 1)]


def test_all_node_pairs_order():
    batch_s = torch.tensor([0, 0, 1, 1, 1])
    batch_t = torch.tensor([0, 1, 1])
    expected = [(0, 0), (1, 0), (2, 1), (2, 2), (3, 1), (3, 2), (4, 1),
                (4, 2)]
    out = all_node_pairs(batch_s, batch_t)
    assert out.t().tolist() == [list(p) for p in expected]
    out = all_node_pairs(num_nodes_s=2, num_nodes_t=3)
    assert out.t().tolist() == [[i, a] for i in range(2) for a in range(3)]


def test_all_edge_pairs_order():
    batch_s = torch.tensor([0, 0, 1, 1])
    batch_t = torch.tensor([0, 0, 1, 1])
    # Edges deliberately not sorted by graph.
    edge_index_s = torch.tensor([[2, 0, 3, 1], [3, 1, 2, 0]])
    edge_index_t = torch.tensor([[0, 2], [1, 3]])
    out = all_edge_pairs(edge_index_s, edge_index_t, batch_s, batch_t)
    assert out.t().tolist() == [[1, 0], [3, 0], [0, 1], [2, 1]]


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)),
                   min_size=1, max_size=4),
    density=st.sampled_from([0.4, 1.0]),
    seed=st.integers(0, 2**16),
    solver=st.sampled_from(['rrwm', 'ipfp', 'sm']),
)
def test_output_is_feasible_maximum_matching(sizes, density, seed, solver):
    data = make_batch(sizes, seed, density)
    y_u, y_p = call(data, num_graphs=len(sizes), solver=solver)
    assert set(y_u.unique().tolist()) <= {0.0, 1.0}
    index_u, _ = graph_of_costs(data)
    ones = torch.ones_like(y_u)
    n_s = data['batch_s'].numel()
    n_t = data['batch_t'].numel()
    src_deg = torch.zeros(n_s, dtype=y_u.dtype).index_add_(
        0, data['edge_index'][0], y_u)
    dst_deg = torch.zeros(n_t, dtype=y_u.dtype).index_add_(
        0, data['edge_index'][1], y_u)
    assert bool((src_deg <= 1).all()) and bool((dst_deg <= 1).all())
    probs = local_problems(data, ones, torch.ones_like(y_p), len(sizes))
    for g, prob in enumerate(probs):
        assert int(y_u[index_u == g].sum()) == max_matching_size(
            prob[4], prob[5], prob[0])


def test_pairwise_indicator_is_product_of_endpoints():
    data = make_batch(SIZES, seed=1, density=0.7)
    y_u, y_p = call(data)
    n_s, n_t = data['batch_s'].numel(), data['batch_t'].numel()
    x = torch.zeros(n_s, n_t, dtype=y_u.dtype)
    x[data['edge_index'][0], data['edge_index'][1]] = y_u
    es = data['edge_index_s'][:, data['edge_pair_index'][0]]
    et = data['edge_index_t'][:, data['edge_pair_index'][1]]
    assert torch.equal(y_p, x[es[0], et[0]] * x[es[1], et[1]])
    assert y_p.sum() > 0


def test_equals_pure_solver_per_pair():
    data = make_batch(SIZES, seed=2)
    y_u, y_p = call(data)
    r_u, r_p = reference(data, data['unary'], data['pairwise'], len(SIZES))
    assert torch.equal(y_u, r_u) and torch.equal(y_p, r_p)


def test_default_candidates_and_edge_pairs():
    data = make_batch(SIZES, seed=3)
    data['edge_index'] = all_node_pairs(data['batch_s'], data['batch_t'])
    data['unary'] = torch.randn(data['edge_index'].size(1),
                                dtype=torch.float64)
    y_u, y_p = call(data)
    d_u, d_p = graph_matching(data['unary'], data['pairwise'],
                              data['edge_index_s'], data['edge_index_t'],
                              batch_s=data['batch_s'],
                              batch_t=data['batch_t'])
    assert torch.equal(y_u, d_u) and torch.equal(y_p, d_p)


def test_zero_pairwise_equals_linear_assignment():
    sizes = [(5, 5), (3, 6), (6, 4)]
    data = make_batch(sizes, seed=4)
    data['pairwise'] = torch.zeros_like(data['pairwise'])
    y_u, _ = call(data)
    index_u, _ = graph_of_costs(data)
    for g, (n1, n2) in enumerate(sizes):
        c = data['unary'][index_u == g].view(n1, n2).numpy()
        row, col = linear_sum_assignment(c)
        got = float((data['unary'] * y_u)[index_u == g].sum())
        assert got == pytest.approx(c[row, col].sum(), abs=1e-12)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_identity_gradient_without_projection(dtype):
    data = make_batch(SIZES, seed=5, dtype=dtype)
    unary = data['unary'].clone().requires_grad_()
    pairwise = data['pairwise'].clone().requires_grad_()
    data.update(unary=unary, pairwise=pairwise)
    y_u, y_p = call(data)
    assert y_u.dtype == dtype and y_p.dtype == dtype
    g_u, g_p = torch.randn_like(y_u), torch.randn_like(y_p)
    ((y_u * g_u).sum() + (y_p * g_p).sum()).backward()
    assert torch.equal(unary.grad, -g_u)
    assert torch.equal(pairwise.grad, -g_p)


def test_identity_gradient_with_norm_projection():
    data = make_batch(SIZES, seed=6)
    unary = data['unary'].clone().requires_grad_()
    pairwise = data['pairwise'].clone().requires_grad_()
    data.update(unary=unary, pairwise=pairwise)
    y_u, y_p = call(data, projection='norm')
    g_u, g_p = torch.randn_like(y_u), torch.randn_like(y_p)
    ((y_u * g_u).sum() + (y_p * g_p).sum()).backward()
    index_u, index_p = graph_of_costs(data)
    for c, idx, g, grad in ((data['unary'], index_u, g_u, unary.grad),
                            (data['pairwise'], index_p, g_p, pairwise.grad)):
        c2 = c.detach().clone().requires_grad_()
        out = project(c2, idx, num_graphs=len(SIZES), mode='norm')
        expected, = torch.autograd.grad(out, c2, -g)
        assert torch.allclose(grad, expected)


def test_blackbox_gradient():
    data = make_batch(SIZES, seed=7)
    unary = data['unary'].clone().requires_grad_()
    pairwise = data['pairwise'].clone().requires_grad_()
    data.update(unary=unary, pairwise=pairwise)
    lam = 5.0
    y_u, y_p = call(data, backward='blackbox', lambda_=lam)
    g_u, g_p = torch.randn_like(y_u), torch.randn_like(y_p)
    ((y_u * g_u).sum() + (y_p * g_p).sum()).backward()
    l_u, l_p = reference(data, unary.detach() + lam * g_u,
                         pairwise.detach() + lam * g_p, len(SIZES))
    assert not torch.equal(y_u.detach(), l_u)  # The update is not zero.
    assert torch.allclose(unary.grad, -(y_u.detach() - l_u) / lam)
    assert torch.allclose(pairwise.grad, -(y_p.detach() - l_p) / lam)


@pytest.mark.parametrize('solver', ['rrwm', 'ipfp', 'sm'])
@pytest.mark.parametrize('scale', [0.1, 3.7])
def test_positive_scale_invariance(solver, scale):
    data = make_batch(SIZES, seed=8)
    y_u, y_p = call(data, solver=solver)
    data.update(unary=scale * data['unary'], pairwise=scale * data['pairwise'])
    s_u, s_p = call(data, solver=solver)
    assert torch.equal(y_u, s_u) and torch.equal(y_p, s_p)


def test_empty_batch():
    empty = torch.zeros(2, 0, dtype=torch.long)
    unary = torch.zeros(0, requires_grad=True)
    y_u, y_p = graph_matching(unary, torch.zeros(0), empty, empty, empty,
                              empty, num_nodes_s=0, num_nodes_t=0)
    assert y_u.shape == (0, ) and y_p.shape == (0, )
    y_u.sum().backward()
    assert unary.grad.shape == (0, )


def test_pair_with_empty_side_is_unmatched():
    data = make_batch([(0, 3), (2, 2)], seed=9)
    y_u, _ = call(data, num_graphs=2)
    assert int(y_u.sum()) == 2


def test_layer_matches_functional_and_repr():
    data = make_batch(SIZES, seed=10)
    layer = IdentityGraphMatching(solver='ipfp', max_iter=20)
    y_u, y_p = layer(data['unary'], data['pairwise'], data['edge_index_s'],
                     data['edge_index_t'], data['edge_index'],
                     data['edge_pair_index'], data['batch_s'],
                     data['batch_t'])
    r_u, r_p = call(data, solver='ipfp', max_iter=20)
    assert torch.equal(y_u, r_u) and torch.equal(y_p, r_p)
    assert layer.projection is None
    assert repr(layer) == ("IdentityGraphMatching(solver='ipfp', "
                           "projection=None, backward='identity')")


def test_noise_in_training_keeps_matchings_feasible():
    data = make_batch(SIZES, seed=13)
    layer = IdentityGraphMatching(noise=10.0).train()
    args = (data['unary'], data['pairwise'], data['edge_index_s'],
            data['edge_index_t'], data['edge_index'], data['edge_pair_index'],
            data['batch_s'], data['batch_t'])
    y_u, _ = layer(*args)
    e_u, _ = layer.eval()(*args)
    index_u, _ = graph_of_costs(data)
    for g, (n1, n2) in enumerate(SIZES):
        assert int(y_u[index_u == g].sum()) == min(n1, n2)
    assert not torch.equal(y_u, e_u)  # A margin of 10 changes the solution.


def test_num_workers_matches_in_process():
    data = make_batch(SIZES, seed=11)
    y_u, y_p = call(data)
    w_u, w_p = call(data, num_workers=2)
    assert torch.equal(y_u, w_u) and torch.equal(y_p, w_p)


def test_timeout_matches_in_process():
    data = make_batch(SIZES, seed=11)
    y_u, y_p = call(data)
    w_u, w_p = IdentityGraphMatching(timeout=60)(
        data['unary'], data['pairwise'], data['edge_index_s'],
        data['edge_index_t'], data['edge_index'], data['edge_pair_index'],
        data['batch_s'], data['batch_t'])
    assert torch.equal(y_u, w_u) and torch.equal(y_p, w_p)


def _bad(data: Dict[str, Tensor], **changes) -> Dict[str, Tensor]:
    out = dict(data)
    out.update(changes)
    return out


BAD = [
    ('nan unary', lambda d: _bad(d, unary=d['unary'].clone().fill_(
        float('nan'))), {}, "'cost' must be finite"),
    ('inf pairwise', lambda d: _bad(d, pairwise=d['pairwise'] + float(
        'inf')), {}, "'pairwise_cost' must be finite"),
    ('int unary', lambda d: _bad(d, unary=d['unary'].long()), {},
     "'cost' must be a floating point tensor"),
    ('2d unary', lambda d: _bad(d, unary=d['unary'].view(-1, 1)), {},
     "'cost' must be a one-dimensional floating point"),
    ('short unary', lambda d: _bad(d, unary=d['unary'][1:]), {},
     "'cost' must have one entry per candidate pair"),
    ('short pairwise', lambda d: _bad(d, pairwise=d['pairwise'][1:]), {},
     "'pairwise_cost' must have one entry per edge pair"),
    ('edge_index shape', lambda d: _bad(d, edge_index=d['edge_index'][0]),
     {}, r"'edge_index' must have shape \[2, N\]"),
    ('float edge_index', lambda d: _bad(
        d, edge_index=d['edge_index'].double()), {},
     "'edge_index' must be an integer tensor"),
    ('cross-pair candidate', lambda d: _bad(d, edge_index=torch.cat(
        [d['edge_index'][:, :-1], torch.tensor([[0], [3]])], 1)), {},
     "'edge_index' pairs nodes of different graph pairs"),
    ('duplicate candidate', lambda d: _bad(d, edge_index=torch.cat(
        [d['edge_index'][:, :-1], d['edge_index'][:, :1]], 1)), {},
     "'edge_index' contains duplicate candidate pairs"),
    ('candidate out of range', lambda d: _bad(d, edge_index=torch.cat(
        [d['edge_index'][:, :-1], torch.tensor([[0], [99]])], 1)), {},
     "'edge_index' refers to nodes outside"),
    ('edge pair out of range', lambda d: _bad(
        d, edge_pair_index=d['edge_pair_index'] + 1000), {},
     "'edge_pair_index' refers to edges outside"),
    ('cross-pair edge pair', lambda d: _bad(d, edge_pair_index=torch.cat([
        d['edge_pair_index'][:, :-1],
        torch.tensor([[0], [d['edge_index_t'].size(1) - 1]])], 1)), {},
     "'edge_pair_index' pairs edges of different graph pairs"),
    ('short batch_s', lambda d: _bad(d, batch_s=d['batch_s'][:-1]), {},
     "refers to nodes outside"),
    ('unsorted batch', lambda d: _bad(d, batch_s=d['batch_s'].flip(0)), {},
     "'batch_s' must be sorted"),
    ('one batch vector', lambda d: _bad(d, batch_t=None), {},
     "'batch_s' and 'batch_t' must be given together"),
    ('solver', lambda d: d, dict(solver='lpmp'), "'solver' must be one of"),
    ('max_iter', lambda d: d, dict(max_iter=0),
     "'max_iter' must be a positive integer"),
    ('num_workers', lambda d: d, dict(num_workers=-1),
     "'num_workers' must be a non-negative integer"),
    ('timeout', lambda d: d, dict(timeout=0),
     "'timeout' must be a positive number of seconds"),
    ('projection', lambda d: d, dict(projection='l1'),
     "Invalid 'projection'"),
    ('num_nodes', lambda d: d, dict(num_nodes_s=1),
     "'num_nodes_s' \\(1\\) does not match the size of 'batch_s'"),
]


@pytest.mark.parametrize('name,change,kwargs,match', BAD,
                         ids=[b[0] for b in BAD])
def test_bad_input(name, change, kwargs, match):
    data = change(make_batch([(2, 2), (3, 3)], seed=12, edge_p=1.0))
    with pytest.raises(ValueError, match=match):
        call(data, **kwargs)


@pytest.mark.parametrize('kwargs,match', [
    (dict(solver='astar'), "'solver' must be one of"),
    (dict(max_iter=-3), "'max_iter' must be a positive integer"),
    (dict(num_workers=1.5), "'num_workers' must be a non-negative integer"),
    (dict(timeout='1'), "'timeout' must be a positive number of seconds"),
    (dict(projection='max'), "Invalid 'projection'"),
    (dict(backward='ste'), "'backward' must be"),
])
def test_bad_layer_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentityGraphMatching(**kwargs)


# One argument order, settings, the public solver (issue 11) ################

ARGS = ('unary', 'pairwise', 'edge_index_s', 'edge_index_t', 'edge_index',
        'edge_pair_index', 'batch_s', 'batch_t')


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_public_solver_equals_functional_in_the_costs_dtype(dtype):
    data = make_batch(SIZES, seed=14, dtype=dtype)
    y_u, y_p = solve_graph_matching(*[data[k] for k in ARGS])
    assert isinstance(y_u, Tensor) and isinstance(y_p, Tensor)
    assert y_u.dtype == dtype and y_p.dtype == dtype
    assert y_u.shape == data['unary'].shape
    assert y_p.shape == data['pairwise'].shape
    r_u, r_p = call(data)
    assert torch.equal(y_u, r_u) and torch.equal(y_p, r_p)
    r_u, r_p = reference(data, data['unary'], data['pairwise'], len(SIZES))
    assert torch.equal(y_u, r_u) and torch.equal(y_p, r_p)


def test_options_are_keyword_only():
    data = make_batch(SIZES, seed=15)
    args = [data[k] for k in ARGS]
    with pytest.raises(TypeError):
        graph_matching(*args, None, None, None, 'ipfp')
    with pytest.raises(TypeError):
        solve_graph_matching(*args, None, None, None, 'ipfp')


def test_misplaced_tensors_are_named():
    data = make_batch(SIZES, seed=16)
    with pytest.raises(ValueError, match="'cost' must be a floating point "
                       "tensor .*looks like an edge_index — the order is "
                       "cost, pairwise_cost, edge_index_s"):
        graph_matching(data['edge_index_s'], data['edge_index_t'],
                       data['unary'], data['pairwise'])
    with pytest.raises(ValueError, match="'edge_index_s' must be an integer "
                       "tensor .*looks like a cost vector"):
        solve_graph_matching(data['unary'], data['pairwise'],
                             data['pairwise'], data['edge_index_t'])


def test_layer_options_are_validated_on_assignment():
    layer = IdentityGraphMatching()
    for name, value in (('noise', -1), ('solver', 'lpmp'), ('max_iter', 0),
                        ('num_workers', -2), ('timeout', -1.0),
                        ('backward_mode', 'ste')):
        with pytest.raises(ValueError):
            setattr(layer, name, value)
    assert layer.solver == 'rrwm' and layer.max_iter == 50
    layer = IdentityGraphMatching(
        settings=GradientSettings(projection='norm'))
    assert layer.projection == 'norm'


def test_generator_makes_the_margin_reproducible():
    data = make_batch(SIZES, seed=17)
    args = [data[k] for k in ARGS]

    def run(seed):
        layer = IdentityGraphMatching(
            noise=10.0, generator=torch.Generator().manual_seed(seed))
        return torch.cat([layer.train()(*args)[0] for _ in range(2)])

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))
