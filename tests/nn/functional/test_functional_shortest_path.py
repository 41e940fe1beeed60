import pytest
import torch

from pyg_identity.nn.functional import (
    GradientSettings,
    shortest_path,
    vertex_shortest_path,
)
from pyg_identity.solvers import (
    solve_shortest_path,
    solve_vertex_shortest_path,
)

EI = torch.tensor([[0, 1, 0, 2], [1, 3, 2, 3]])  # two paths 0 -> 3
COST = torch.tensor([-5.0, 1.0, 0.0, 0.5])


def test_functional_negative_costs_are_exact_by_default():
    y = shortest_path(COST, EI, source=0, target=3, projection=None)
    assert y.tolist() == [1.0, 1.0, 0.0, 0.0]
    y = vertex_shortest_path(torch.tensor([0.0, -2.0, 1.0, 0.0]), EI,
                             source=0, target=3, projection=None)
    assert y.tolist() == [1.0, 1.0, 0.0, 1.0]


def test_functional_clamp_is_opt_in():
    with pytest.warns(UserWarning, match=r"'cost' \(the edge costs\) has "
                      r"negative entries"):
        y = shortest_path(COST, EI, source=0, target=3, projection=None,
                          negative_costs='clamp')
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]  # the path of clamped costs
    with pytest.warns(UserWarning, match=r"'cost' \(the node costs\) has "
                      r"negative entries"):
        vertex_shortest_path(torch.tensor([0.0, -2.0, 1.0, 0.0]), EI,
                             source=0, target=3, projection=None,
                             negative_costs='clamp')


@pytest.mark.parametrize('fn,cost', [(shortest_path, COST),
                                     (vertex_shortest_path, torch.ones(4))])
def test_functional_bad_negative_costs(fn, cost):
    with pytest.raises(ValueError, match=r"'negative_costs' must be 'raise' "
                       r"or 'clamp' \(got 'zero'\)"):
        fn(cost, EI, source=0, target=3, negative_costs='zero')


def test_functional_shift_projection_checks_path_lengths():
    # Both paths of EI have two arcs: 'mean' keeps the argmin; a shortcut
    # 0 -> 3 makes it invalid.
    y = shortest_path(COST, EI, source=0, target=3, projection='mean')
    assert y.tolist() == [1.0, 1.0, 0.0, 0.0]
    ei = torch.cat([EI, torch.tensor([[0], [3]])], dim=1)
    with pytest.raises(ValueError, match="Invalid 'projection' 'std' for "
                       "graph 0"):
        shortest_path(torch.rand(5), ei, source=0, target=3,
                      projection='std')
    with pytest.raises(ValueError, match="Invalid 'projection' 'std' for "
                       "graph 0"):
        shortest_path(torch.rand(5), ei, source=0, target=3,
                      settings=GradientSettings(projection='std'))
    assert shortest_path(torch.rand(5), ei, source=0, target=3,
                         projection='none').sum() >= 1


@pytest.mark.parametrize('fn', [shortest_path, vertex_shortest_path])
def test_functional_options_are_keyword_only(fn):
    with pytest.raises(TypeError):
        fn(torch.ones(4), EI, 0, 3)  # source and target are keyword-only
    with pytest.raises(TypeError):
        fn(torch.ones(4), EI, None, None, None, True, source=0, target=3)
    with pytest.raises(ValueError, match=r"'batch' must be an integer "
                       r"tensor or None \(got int; the order is cost, "
                       r"edge_index, batch"):
        fn(torch.ones(4), EI, 0, source=0, target=3)


@pytest.mark.parametrize('vertex', [False, True])
def test_functional_and_public_solver_agree(vertex):
    # One builder: the same batch (two DAGs, negative costs), the same
    # paths (no autograd in the public solver, the gradient in the
    # functional).
    ei = torch.tensor([[0, 1, 0, 2, 4, 5, 4], [1, 3, 2, 3, 5, 6, 6]])
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    target = torch.tensor([3, 2])
    gen = torch.Generator().manual_seed(0)
    size = 7 if vertex else ei.size(1)
    c = torch.randn(size, generator=gen, dtype=torch.float64)
    fn = vertex_shortest_path if vertex else shortest_path
    ref = solve_vertex_shortest_path if vertex else solve_shortest_path
    x = c.clone().requires_grad_()
    y = fn(x, ei, batch, source=0, target=target, projection=None)
    assert torch.equal(y.detach(), ref(c, ei, batch, source=0,
                                       target=target))
    y.sum().backward()
    assert torch.equal(x.grad, -torch.ones_like(c))


def test_functional_settings_and_overrides():
    s = GradientSettings(projection=None, noise=100.0)
    # training=False: no margin, the exact path of the raw costs.
    assert shortest_path(COST, EI, source=0, target=3, settings=s).tolist(
    ) == [1.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="'noise'"):
        shortest_path(COST, EI, source=0, target=3, settings=s, noise=-1.0)
    with pytest.raises(ValueError, match='unknown gradient setting'):
        shortest_path(COST, EI, source=0, target=3, sense='max')
