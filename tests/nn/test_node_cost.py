import pytest
import torch
from torch.autograd import gradcheck

from pyg_identity.nn.node_cost import NodeCost


def test_node_cost_shape_and_repr():
    head = NodeCost(4, hidden_channels=8)
    out = head(torch.randn(7, 4))
    assert out.size() == (7, )
    assert str(head) == 'NodeCost(4, num_layers=2, positive=False)'


def test_node_cost_linear_when_one_layer():
    head = NodeCost(4, num_layers=1)
    x = torch.randn(7, 4)
    assert torch.allclose(head(x), head.mlp.lins[0](x).view(-1))


def test_node_cost_positive_is_softplus():
    head = NodeCost(4, positive=True)
    raw = NodeCost(4)
    raw.load_state_dict(head.state_dict())
    x = 10 * torch.randn(7, 4)
    out = head(x)
    assert bool((out > 0).all())
    assert torch.allclose(out, torch.nn.functional.softplus(raw(x)))


def test_node_cost_nodes_are_independent_and_empty_input():
    head = NodeCost(4)
    x = torch.randn(7, 4)
    assert torch.allclose(head(x)[2:5], head(x[2:5]))
    assert head(torch.zeros(0, 4)).size() == (0, )


def test_node_cost_reset_parameters():
    head = NodeCost(4, hidden_channels=8)
    before = [p.detach().clone() for p in head.parameters()]
    head.reset_parameters()
    assert any(not torch.equal(a, b)
               for a, b in zip(before, head.parameters()))


@pytest.mark.parametrize('positive', [False, True])
def test_node_cost_gradcheck_float64(positive):
    head = NodeCost(4, hidden_channels=6, positive=positive,
                    act='tanh').double()
    x = torch.randn(7, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(head, (x, ))


@pytest.mark.parametrize('kwargs,x,match', [
    ({'in_channels': 0}, None, "'in_channels'"),
    ({'in_channels': 2.0}, None, "'in_channels'"),
    ({'in_channels': 4, 'num_layers': 0}, None, "'num_layers'"),
    ({'in_channels': 4, 'hidden_channels': 0}, None, "'hidden_channels'"),
    ({'in_channels': 4, 'dropout': -0.1}, None, "'dropout'"),
    ({'in_channels': 4}, torch.randn(7, 3), "'x' must have shape"),
    ({'in_channels': 4}, torch.randn(4), "'x' must have shape"),
])
def test_node_cost_bad_input(kwargs, x, match):
    with pytest.raises(ValueError, match=match):
        NodeCost(**kwargs)(x)
