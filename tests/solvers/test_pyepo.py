import itertools
import sys

import numpy as np
import pytest
import torch

from pyg_identity.nn import IdentitySolver
from pyg_identity.nn.functional import identity_solver
from pyg_identity.nn.functional import settings as settings_module
from pyg_identity.solvers import pyepo_solver, solve_shortest_path


def _gurobi_models():
    # PyEPO's Gurobi models need gurobipy and its pip licence (size-limited,
    # with an expiry date): skip, naming the cause, when either is missing.
    pytest.importorskip('pyepo', reason='PyEPO is not installed (pip '
                        "install 'pyg_identity[pyepo]')")
    gp = pytest.importorskip('gurobipy', reason='gurobipy is not installed '
                             '(pip install gurobipy): the PyEPO Gurobi '
                             'models need it')
    from pyepo.model import grb
    try:
        grb.shortestPathModel((2, 2))
    except gp.GurobiError as e:  # e.g. an expired pip licence
        pytest.skip(f'Gurobi cannot build a model here: {e}')
    return grb


@pytest.fixture(scope='module')
def grb():
    return _gurobi_models()


def pyepo_reference(model, cost):
    # PyEPO's own per-instance solve.
    out = []
    for c in cost.numpy():
        model.setObj(c)
        out.append(np.asarray(model.solve()[0], dtype=np.float64))
    return torch.from_numpy(np.stack(out))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_matches_pyepos_own_solve(grb, dtype):
    model = grb.shortestPathModel((5, 5))
    solver = pyepo_solver(model)
    assert solver.sense == 'min' and solver.num_cost == 40
    gen = torch.Generator().manual_seed(0)
    cost = torch.rand(16, solver.num_cost, generator=gen, dtype=dtype)
    y = solver(cost)
    assert y.shape == cost.shape and y.dtype == dtype
    ref = pyepo_reference(grb.shortestPathModel((5, 5)), cost.double())
    assert torch.allclose(y.double(), ref, atol=1e-6)
    # One instance (a 1-d cost) as well.
    assert torch.equal(solver(cost[3]), y[3])


def test_matches_solve_shortest_path_on_the_same_grid(grb):
    # PyEPO's grid: node i * w + j, arcs right and down, in model.arcs
    # order; the path runs from node 0 to the last node.
    h, w, B = 5, 6, 8
    model = grb.shortestPathModel((h, w))
    solver = pyepo_solver(model)
    edge_index = torch.tensor(model.arcs, dtype=torch.long).t()
    n, m = h * w, edge_index.size(1)
    gen = torch.Generator().manual_seed(1)
    cost = torch.rand(B, m, generator=gen, dtype=torch.float64)
    y = solver(cost)
    batched = torch.cat([edge_index + g * n for g in range(B)], dim=1)
    batch = torch.arange(B).repeat_interleave(n)
    ours = solve_shortest_path(cost.reshape(-1), batched, batch,
                               num_graphs=B, source=0, target=n - 1)
    assert torch.allclose(y.reshape(-1), ours, atol=1e-6)
    assert torch.equal(y.round().sum(1), torch.full((B, ), h + w - 2.0,
                                                    dtype=torch.float64))


def test_knapsack_maps_to_max(grb):
    weights = np.array([[3.0, 4.0, 5.0, 2.0, 6.0]])
    model = grb.knapsackModel(weights, [9.0])
    solver = pyepo_solver(model)
    assert solver.sense == 'max'
    value = torch.tensor([[4.0, 5.0, 6.0, 2.0, 7.0]])
    y = solver(value)
    best = max((s for s in itertools.product([0, 1], repeat=5)
                if np.dot(weights[0], s) <= 9),
               key=lambda s: float(np.dot(value[0].numpy(), s)))
    assert torch.allclose(y, torch.tensor([best], dtype=torch.float32),
                          atol=1e-6)


@pytest.mark.parametrize('layer', [False, True])
def test_identity_gradient_through_the_pyepo_solver(grb, layer):
    solver = pyepo_solver(grb.shortestPathModel((4, 4)))
    gen = torch.Generator().manual_seed(2)
    cost = torch.rand(3, solver.num_cost, generator=gen,
                      dtype=torch.float64).requires_grad_()
    target = torch.rand(3, solver.num_cost, generator=gen,
                        dtype=torch.float64)
    index = torch.arange(3)
    if layer:
        y = IdentitySolver(solver, sense=solver.sense,
                           projection='none')(cost, index, 3)
    else:
        y = identity_solver(cost, solver, index, 3, sense=solver.sense,
                            projection='none')
    assert torch.equal(y.detach(), solver(cost.detach()))
    loss = ((y - target) ** 2).sum()
    loss.backward()
    # Identity backward, sense "min": d loss / d cost = -d loss / d y.
    assert torch.allclose(cost.grad, -2 * (y.detach() - target))


@pytest.mark.parametrize('backward', settings_module.BACKWARDS)
def test_every_backward_of_the_mechanism_runs_through_it(grb, backward):
    solver = pyepo_solver(grb.shortestPathModel((3, 3)))
    gen = torch.Generator().manual_seed(4)
    cost = torch.rand(4, solver.num_cost, generator=gen).requires_grad_()
    batch = solver.batch_vector(4)
    layer = IdentitySolver(solver, sense=solver.sense, backward=backward,
                           projection='norm').train()
    y = layer(cost.view(-1), batch, 4).view_as(cost)
    assert torch.equal(y.detach().round().sum(1), torch.full((4, ), 4.0))
    y.sum().backward()
    assert cost.grad.shape == cost.shape
    assert torch.isfinite(cost.grad).all()


def test_training_through_the_layer_reaches_the_target(grb):
    # Two instances trained through the layer, flat with the solver's batch
    # vector (one std projection per instance): from the path along the top
    # row and down the right column toward the path down the left column and
    # along the bottom row, and the other way round; a few Identity steps
    # make the solver return the targets.
    model = grb.shortestPathModel((4, 4))
    solver = pyepo_solver(model)
    u, v = torch.tensor(model.arcs).t()
    right = v == u + 1
    top_right = torch.where(right, u // 4 == 0, u % 4 == 3)
    left_bottom = torch.where(right, u // 4 == 3, u % 4 == 0)
    target = solver(torch.stack([~left_bottom, ~top_right]).float())
    cost = torch.stack([~top_right, ~left_bottom]).float().requires_grad_()
    layer = IdentitySolver(solver, sense=solver.sense, projection='std')
    batch = solver.batch_vector(2)
    assert batch.tolist() == [0] * 24 + [1] * 24
    opt = torch.optim.SGD([cost], lr=0.5)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        y = layer(cost.view(-1), batch, 2).view_as(cost)
        loss = (y - target).abs().sum()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[0] == 24.0 and losses[-1] == 0.0


def test_bad_cost_shape_names_the_argument(grb):
    solver = pyepo_solver(grb.shortestPathModel((3, 3)))
    with pytest.raises(ValueError, match="'cost'.*num_cost"):
        solver(torch.rand(2, solver.num_cost + 1))
    with pytest.raises(ValueError, match="'cost'"):
        solver(torch.rand(solver.num_cost + 1))
    assert solver(torch.rand(3 * solver.num_cost)).shape == (36, )
    assert solver(torch.rand(2, 3, solver.num_cost)).shape == (2, 3, 12)
    with pytest.raises(ValueError, match="'cost'"):
        solver(torch.ones(2, solver.num_cost, dtype=torch.long))
    with pytest.raises(ValueError, match="'opt_model'"):
        pyepo_solver(object())


def test_missing_pyepo_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pyepo', None)
    with pytest.raises(ImportError, match=r'pyg_identity\[pyepo\]'):
        pyepo_solver(object())
