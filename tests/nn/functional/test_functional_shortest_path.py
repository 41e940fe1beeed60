import pytest
import torch

from pyg_identity.nn.functional import shortest_path, vertex_shortest_path

EI = torch.tensor([[0, 1, 0, 2], [1, 3, 2, 3]])  # two paths 0 -> 3
COST = torch.tensor([-5.0, 1.0, 0.0, 0.5])


def test_functional_negative_costs_are_exact_by_default():
    y = shortest_path(COST, EI, 0, 3, projection=None)
    assert y.tolist() == [1.0, 1.0, 0.0, 0.0]
    y = vertex_shortest_path(torch.tensor([0.0, -2.0, 1.0, 0.0]), EI, 0, 3,
                             projection=None)
    assert y.tolist() == [1.0, 1.0, 0.0, 1.0]


def test_functional_clamp_is_opt_in():
    with pytest.warns(UserWarning, match="'edge_cost' has negative entries"):
        y = shortest_path(COST, EI, 0, 3, projection=None,
                          negative_costs='clamp')
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]  # the path of clamped costs
    with pytest.warns(UserWarning, match="'node_cost' has negative entries"):
        vertex_shortest_path(torch.tensor([0.0, -2.0, 1.0, 0.0]), EI, 0, 3,
                             projection=None, negative_costs='clamp')


@pytest.mark.parametrize('fn,cost', [(shortest_path, COST),
                                     (vertex_shortest_path, torch.ones(4))])
def test_functional_bad_negative_costs(fn, cost):
    with pytest.raises(ValueError, match=r"'negative_costs' must be 'raise' "
                       r"or 'clamp' \(got 'zero'\)"):
        fn(cost, EI, 0, 3, negative_costs='zero')


def test_functional_shift_projection_checks_path_lengths():
    # Both paths of EI have two arcs: 'mean' keeps the argmin; a shortcut
    # 0 -> 3 makes it invalid.
    y = shortest_path(COST, EI, 0, 3, projection='mean')
    assert y.tolist() == [1.0, 1.0, 0.0, 0.0]
    ei = torch.cat([EI, torch.tensor([[0], [3]])], dim=1)
    with pytest.raises(ValueError, match="Invalid 'projection' 'std' for "
                       "graph 0"):
        shortest_path(torch.rand(5), ei, 0, 3, projection='std')
    assert shortest_path(torch.rand(5), ei, 0, 3,
                         projection='none').sum() >= 1
