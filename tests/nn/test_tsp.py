import sys

import numpy as np
import pytest
import torch

from pyg_identity import project
from pyg_identity.nn.functional.tsp import tsp
from pyg_identity.nn.tsp import IdentityTSP
from pyg_identity.solvers.tsp import solve_tsp


def complete_batch(sizes):
    """PyG-style complete graphs, both directions of every pair."""
    eis, batch, off = [], [], 0
    for g, n in enumerate(sizes):
        i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing='ij')
        keep = i != j
        eis.append(torch.stack([i[keep], j[keep]]) + off)
        batch.append(torch.full((n, ), g))
        off += n
    return torch.cat(eis, 1), torch.cat(batch)


SIZES = [5, 8, 4, 10]


@pytest.fixture
def graphs():
    edge_index, batch = complete_batch(SIZES)
    return edge_index, batch, batch[edge_index[0]]


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_forward_tours_dtype_and_layout(graphs, dtype):
    edge_index, batch, index = graphs
    c = torch.rand(edge_index.size(1), dtype=dtype)
    y = IdentityTSP()(c, edge_index, batch)
    assert y.dtype == dtype and y.shape == c.shape
    ones = torch.zeros(len(SIZES), dtype=dtype).index_add_(0, index, y)
    assert ones.tolist() == [2.0 * n for n in SIZES]
    # The default P_std changes no tour.
    y_ref = solve_tsp(c.double(), edge_index, batch)
    np.testing.assert_array_equal(y.double().numpy(), y_ref.numpy())


def test_costs_of_shape_e_by_1(graphs):
    edge_index, batch, _ = graphs
    c = torch.rand(edge_index.size(1), 1)
    y = IdentityTSP()(c, edge_index, batch)
    assert y.shape == c.shape
    assert torch.equal(y.view(-1), IdentityTSP()(c.view(-1), edge_index,
                                                 batch))


def test_single_graph_without_batch():
    edge_index, _ = complete_batch([6])
    y = tsp(torch.rand(30), edge_index)
    assert y.sum() == 12


def test_identity_gradient_without_projection(graphs):
    edge_index, batch, _ = graphs
    c = torch.rand(edge_index.size(1), dtype=torch.float64,
                   requires_grad=True)
    g = torch.randn_like(c)
    (IdentityTSP(projection=None)(c, edge_index, batch) * g).sum().backward()
    assert torch.equal(c.grad, -g)


@pytest.mark.parametrize('mode', ['std', 'mean', 'norm'])
def test_identity_gradient_through_projection(graphs, mode):
    edge_index, batch, index = graphs
    c = torch.rand(edge_index.size(1), dtype=torch.float64,
                   requires_grad=True)
    g = torch.randn_like(c)
    layer = IdentityTSP(projection=mode)
    (layer(c, edge_index, batch) * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    expected, = torch.autograd.grad(
        project(c2, index, num_graphs=len(SIZES), mode=mode), c2, -g)
    torch.testing.assert_close(c.grad, expected)


def test_blackbox_gradient(graphs):
    edge_index, batch, _ = graphs
    lam = 5.0
    c = torch.rand(edge_index.size(1), dtype=torch.float64,
                   requires_grad=True)
    g = torch.randn_like(c)
    layer = IdentityTSP(projection=None, backward='blackbox', lambda_=lam)
    y = layer(c, edge_index, batch)
    (y * g).sum().backward()
    y_lam = solve_tsp((c + lam * g).detach(), edge_index, batch)
    expected = -(y.detach() - y_lam) / lam
    torch.testing.assert_close(c.grad, expected)


def test_shift_invariance(graphs):
    edge_index, batch, index = graphs
    c = torch.rand(edge_index.size(1), dtype=torch.float64)
    layer = IdentityTSP(projection=None)
    y = layer(c, edge_index, batch)
    shift = torch.tensor([3.0, -2.0, 0.5, 10.0], dtype=torch.float64)[index]
    assert torch.equal(layer(c + shift, edge_index, batch), y)


@pytest.mark.parametrize('projection', [None, 'std'])
def test_scale_invariance(graphs, projection):
    edge_index, batch, index = graphs
    c = torch.rand(edge_index.size(1), dtype=torch.float64)
    layer = IdentityTSP(projection=projection)
    y = layer(c, edge_index, batch)
    scale = torch.tensor([1e-3, 7.0, 0.5, 1e4], dtype=torch.float64)[index]
    assert torch.equal(layer(c * scale, edge_index, batch), y)


def test_exact_solver_and_noise(graphs):
    edge_index, batch, index = graphs
    c = torch.rand(edge_index.size(1))
    layer = IdentityTSP(solver='exact', noise=0.5).train()
    y = layer(c, edge_index, batch)
    ones = torch.zeros(len(SIZES)).index_add_(0, index, y)
    assert ones.tolist() == [2.0 * n for n in SIZES]
    layer.eval()
    assert torch.equal(layer(c, edge_index, batch),
                       IdentityTSP()(c, edge_index, batch))


def test_num_workers_matches_serial(graphs):
    edge_index, batch, _ = graphs
    c = torch.rand(edge_index.size(1))
    assert torch.equal(IdentityTSP(num_workers=2)(c, edge_index, batch),
                       IdentityTSP(num_workers=0)(c, edge_index, batch))


def test_diagnostics(graphs):
    edge_index, batch, _ = graphs
    c = torch.rand(edge_index.size(1), requires_grad=True)
    layer = IdentityTSP(diagnostics=True)
    layer(c, edge_index, batch).sum().backward()
    assert layer.diagnostics.cost_norm is not None
    assert layer.diagnostics.grad_cosine is not None


def test_repr():
    assert repr(IdentityTSP()) == (
        "IdentityTSP(solver='elkai', runs=10, projection='std', "
        "backward='identity')")
    assert 'timeout=30' in repr(IdentityTSP(timeout=30))


def test_timeout_matches_in_process(graphs):
    edge_index, batch, _ = graphs
    c = torch.rand(edge_index.size(1))
    assert torch.equal(IdentityTSP(timeout=120)(c, edge_index, batch),
                       IdentityTSP()(c, edge_index, batch))


def _bad_cases():
    ei, batch = complete_batch([4, 5])
    E = ei.size(1)
    c = torch.rand(E)
    nan = c.clone()
    nan[3] = float('nan')
    inf = c.clone()
    inf[0] = float('inf')
    ei2, b2 = complete_batch([2, 4])
    return [
        ((nan, ei, batch), {}, 'finite'),
        ((inf, ei, batch), {}, 'finite'),
        ((c.long(), ei, batch), {}, "'cost' must be a floating point"),
        ((c[:-1], ei, batch), {}, "'cost' must have shape"),
        ((c.view(-1, 2), ei, batch), {}, "'cost' must have shape"),
        ((c, ei[0], batch), {}, "'edge_index' must have shape"),
        ((c, ei.float(), batch), {}, "'edge_index' must be an integer"),
        ((c, ei, batch[:-1]), {'num_nodes': 9},
         r"'num_nodes' \(9\) does not match the size of 'batch' \(8\)"),
        ((c, ei, batch.view(1, -1)), {}, "'batch' must be a one-dim"),
        ((c, ei, batch.float()), {}, "'batch' must be an integer"),
        ((c, ei, batch.flip(0)), {}, "'batch' must be sorted"),
        ((c, ei, batch), {'num_graphs': 1}, 'num_graphs is 1'),
        ((c, ei, torch.zeros(9, dtype=torch.long)), {'num_graphs': 2},
         'graph 1 has 0'),
        ((torch.rand(14), ei2, b2), {}, 'at least 3 nodes'),
        ((torch.rand(0), torch.zeros(2, 0, dtype=torch.long), None), {},
         'at least 3 nodes'),
        ((c, ei, batch), {'solver': 'concorde'}, "'solver'"),
        ((c, ei, batch), {'runs': 0}, "'runs'"),
        ((c, ei, batch), {'num_workers': -1}, "'num_workers'"),
        ((c, ei, batch), {'timeout': -1}, "'timeout' must be a positive"),
        ((c, ei, batch), {'projection': 'l1'}, "'projection'"),
        ((c, ei, batch), {'backward': 'ste'}, "'backward'"),
        ((c, ei, batch), {'noise': -1.0}, "'noise'"),
    ]


@pytest.mark.parametrize('args,kwargs,match', _bad_cases())
def test_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tsp(*args, **kwargs)


def test_disconnected_sparse_graph():
    ei = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 0, 4, 5, 3]])
    with pytest.raises(ValueError, match='not connected'):
        IdentityTSP()(torch.rand(6), ei)


@pytest.mark.parametrize('kwargs,match', [
    ({'solver': 'gurobi'}, "'solver'"),
    ({'runs': 0}, "'runs'"),
    ({'num_workers': 1.5}, "'num_workers'"),
    ({'timeout': 0}, "'timeout' must be a positive"),
    ({'projection': 'l2'}, "'projection'"),
    ({'lambda_': 0.0}, "'lambda_'"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentityTSP(**kwargs)


def test_lkh_solver_needs_the_lkh_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'lkh', None)  # import lkh fails
    with pytest.raises(ImportError, match='pip install --no-deps lkh'):
        IdentityTSP(solver='lkh', lkh_executable='/opt/LKH-3/LKH')


def test_options_are_keyword_only(graphs):
    edge_index, batch, _ = graphs
    c = torch.rand(edge_index.size(1))
    with pytest.raises(TypeError):
        tsp(c, edge_index, batch, None, None, 'exact')
    with pytest.raises(TypeError):
        IdentityTSP()(c, edge_index, batch, None, None, 'exact')


@pytest.mark.parametrize('args,match', [
    (lambda c, ei, b: (b, ei), 'looks like a batch vector'),
    (lambda c, ei, b: (ei, c, b), 'looks like an edge_index'),
    (lambda c, ei, b: (c, b, ei), "'edge_index' must have shape"),
    (lambda c, ei, b: (c, ei, c), "'batch' must be an integer tensor .*"
     'looks like edge costs'),
])
def test_misplaced_integer_tensor_is_named(graphs, args, match):
    edge_index, batch, _ = graphs
    c = torch.rand(edge_index.size(1))
    with pytest.raises(ValueError, match=match):
        IdentityTSP()(*args(c, edge_index, batch))


@pytest.mark.parametrize('name,value,match', [
    ('noise', -1, "'noise'"),
    ('projection', 'l1', "'projection'"),
    ('solver', 'gurobi', "'solver'"),
    ('runs', 0, "'runs'"),
    ('num_workers', -1, "'num_workers'"),
    ('timeout', 0, "'timeout' must be a positive"),
])
def test_invalid_assignment_raises(name, value, match):
    layer = IdentityTSP()
    before = getattr(layer, name)
    with pytest.raises(ValueError, match=match):
        setattr(layer, name, value)
    assert getattr(layer, name) == before


def test_valid_assignment_is_used():
    layer = IdentityTSP()
    layer.solver, layer.runs, layer.timeout = 'exact', 3, 60
    assert (layer.solver, layer.runs, layer.timeout) == ('exact', 3, 60.0)
    assert 'timeout=60' in repr(layer)


def test_generator_makes_the_margin_reproducible(graphs):
    edge_index, batch, _ = graphs
    c = torch.rand(edge_index.size(1), dtype=torch.float64)

    def run(seed):
        layer = IdentityTSP(solver='exact', noise=2.0,
                            generator=torch.Generator().manual_seed(seed))
        layer.train()
        return [layer(c, edge_index, batch) for _ in range(3)]

    first, again = run(0), run(0)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert any(not torch.equal(a, b) for a, b in zip(first, run(1)))


def test_settings_object_and_overrides(graphs):
    from pyg_identity import GradientSettings

    edge_index, batch, _ = graphs
    c = torch.rand(edge_index.size(1), dtype=torch.float64,
                   requires_grad=True)
    settings = GradientSettings(projection=None, backward='blackbox')
    layer = IdentityTSP(settings=settings, lambda_=5.0)
    assert layer.projection is None and layer.lambda_ == 5.0
    assert IdentityTSP.default_projection == 'std'
    y = tsp(c, edge_index, batch, settings=layer.settings)
    assert torch.equal(y, layer(c, edge_index, batch))
    g = torch.randn_like(c)
    (y * g).sum().backward()
    y_lam = solve_tsp((c + 5.0 * g).detach(), edge_index, batch)
    torch.testing.assert_close(c.grad, -(y.detach() - y_lam) / 5.0)
