import pytest
import torch
from torch.autograd import gradcheck
from torch_geometric.utils import to_undirected

from pyg_identity.nn.edge_cost import EdgeCost

X = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
EI = torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 0, 2]])


def test_edge_cost_shape_and_repr():
    head = EdgeCost(4, hidden_channels=8)
    out = head(X, EI)
    assert out.size() == (EI.size(1), )
    assert str(head) == ('EdgeCost(4, num_layers=2, edge_dim=None, '
                         'symmetric=False, positive=False)')


def test_edge_cost_uses_target_source_and_edge_features_in_order():
    head = EdgeCost(4, num_layers=1, edge_dim=3)
    e = torch.randn(EI.size(1), 3)
    lin = head.mlp.lins[0]
    ref = lin(torch.cat([X[EI[1]], X[EI[0]], e], dim=-1)).view(-1)
    assert torch.allclose(head(X, EI, e), ref)


def test_edge_cost_symmetric_gives_equal_costs_both_directions():
    edge_index = to_undirected(EI)
    rev = edge_index.flip(0)
    head = EdgeCost(4, hidden_channels=8, edge_dim=2, symmetric=True)
    e = torch.randn(edge_index.size(1), 2)
    # Symmetric edge features: the same for (i, j) and (j, i).
    key = torch.minimum(*edge_index) * 5 + torch.maximum(*edge_index)
    e = e[torch.unique(key, return_inverse=True)[1]]
    out = head(X, edge_index, e)
    out_rev = head(X, rev, e)
    assert torch.allclose(out, out_rev)
    plain = EdgeCost(4, hidden_channels=8, edge_dim=2)
    assert not torch.allclose(plain(X, edge_index, e), plain(X, rev, e))


def test_edge_cost_positive_and_one_dimensional_edge_attr():
    head = EdgeCost(4, edge_dim=1, positive=True)
    out = head(X, EI, torch.randn(EI.size(1)))
    assert bool((out > 0).all())


def test_edge_cost_empty_edge_set():
    out = EdgeCost(4)(X, torch.zeros(2, 0, dtype=torch.long))
    assert out.size() == (0, )


def test_edge_cost_reset_parameters():
    head = EdgeCost(4, hidden_channels=8)
    before = [p.detach().clone() for p in head.parameters()]
    head.reset_parameters()
    assert any(not torch.equal(a, b)
               for a, b in zip(before, head.parameters()))


@pytest.mark.parametrize('symmetric', [False, True])
def test_edge_cost_gradcheck_float64(symmetric):
    head = EdgeCost(4, hidden_channels=6, edge_dim=2, symmetric=symmetric,
                    positive=True, act='tanh').double()
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    e = torch.randn(EI.size(1), 2, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x, e: head(x, EI, e), (x, e))


@pytest.mark.parametrize('kwargs,args,match', [
    ({'in_channels': 0}, None, "'in_channels'"),
    ({'in_channels': 4, 'num_layers': 0}, None, "'num_layers'"),
    ({'in_channels': 4, 'hidden_channels': -1}, None, "'hidden_channels'"),
    ({'in_channels': 4, 'edge_dim': 0}, None, "'edge_dim'"),
    ({'in_channels': 4, 'dropout': 1.0}, None, "'dropout'"),
    ({'in_channels': 4}, (torch.randn(5, 3), EI), "'x' must have shape"),
    ({'in_channels': 4}, (X, EI[0]), "'edge_index' must have shape"),
    ({'in_channels': 4}, (X, EI, torch.randn(6, 2)), "'edge_dim' is None"),
    ({'in_channels': 4, 'edge_dim': 2}, (X, EI), "'edge_attr' is required"),
    ({'in_channels': 4, 'edge_dim': 2}, (X, EI, torch.randn(5, 2)),
     "'edge_attr' must have shape"),
])
def test_edge_cost_bad_input(kwargs, args, match):
    with pytest.raises(ValueError, match=match):
        head = EdgeCost(**kwargs)
        head(*args)
