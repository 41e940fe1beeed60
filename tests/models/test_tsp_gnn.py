import pytest
import torch
from torch_geometric.data import Batch, Data

from pyg_identity.models.tsp_gnn import TSPEdgeGNN

SIZES = [5, 8, 6]


def complete_edges(n):
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing='ij')
    keep = i != j
    return torch.stack([i[keep], j[keep]])


def make_batch(sizes=SIZES, dtype=torch.float32):
    data_list = []
    for n in sizes:
        pos = torch.rand(n, 2, dtype=dtype)
        ei = complete_edges(n)
        dist = (pos[ei[0]] - pos[ei[1]]).norm(dim=-1, keepdim=True)
        data_list.append(Data(pos=pos, edge_index=ei, edge_attr=dist))
    return Batch.from_data_list(data_list)


def run(model, b):
    return model(b.pos, b.edge_index, b.edge_attr, b.batch, b.num_graphs)


def test_output_is_a_tour_per_graph():
    b = make_batch()
    y = run(TSPEdgeGNN(hidden_channels=8), b)
    assert y.shape == (b.edge_index.size(1), )
    ones = torch.zeros(len(SIZES)).index_add_(0, b.batch[b.edge_index[0]], y)
    assert ones.tolist() == [2.0 * n for n in SIZES]
    # Both directions of every tour edge are marked.
    dense = torch.zeros(b.num_nodes, b.num_nodes)
    dense[b.edge_index[0], b.edge_index[1]] = y
    assert torch.equal(dense, dense.t())


def test_edge_costs_are_symmetric():
    b = make_batch()
    model = TSPEdgeGNN(hidden_channels=8)
    c = model.edge_costs(b.pos, b.edge_index, b.edge_attr)
    dense = torch.zeros(b.num_nodes, b.num_nodes)
    dense[b.edge_index[0], b.edge_index[1]] = c.detach()
    torch.testing.assert_close(dense, dense.t())


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
def test_gradient_reaches_every_parameter(backward):
    b = make_batch()
    model = TSPEdgeGNN(hidden_channels=8, backward=backward, lambda_=5.0)
    y = run(model, b)
    ((y - 0.5)**2 * torch.rand_like(y)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


def test_without_edge_features():
    b = make_batch()
    model = TSPEdgeGNN(hidden_channels=8, edge_dim=None)
    y = model(b.pos, b.edge_index, batch=b.batch)
    y.sum().backward()
    assert model.lin.weight.grad is not None


def test_gradcheck_edge_costs_float64():
    b = make_batch([4, 3], dtype=torch.float64)
    model = TSPEdgeGNN(hidden_channels=4, num_layers=1).double()
    pos = b.pos.clone().requires_grad_()
    attr = b.edge_attr.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda p, a: model.edge_costs(p, b.edge_index, a), (pos, attr))


def test_noise_only_in_training_mode():
    b = make_batch()
    model = TSPEdgeGNN(hidden_channels=8, noise=5.0).eval()
    assert torch.equal(run(model, b), run(model, b))
    model.tsp.noise = 0.0
    assert torch.equal(run(model, b), run(model.eval(), b))


def test_diagnostics_record_cost_norm():
    b = make_batch()
    model = TSPEdgeGNN(hidden_channels=8, diagnostics=True)
    run(model, b)
    assert model.tsp.diagnostics.cost_norm > 0


def test_state_dict_roundtrip():
    b = make_batch()
    model = TSPEdgeGNN(hidden_channels=8)
    other = TSPEdgeGNN(hidden_channels=8)
    other.load_state_dict(model.state_dict())
    assert torch.equal(run(model, b), run(other, b))


@pytest.mark.parametrize('kwargs, match', [
    (dict(hidden_channels=0), 'hidden_channels'),
    (dict(in_channels=1.5), 'in_channels'),
    (dict(num_layers=-1), 'num_layers'),
    (dict(edge_dim=0), 'edge_dim'),
    (dict(projection='bad'), 'projection'),
    (dict(backward='bad'), 'backward'),
    (dict(runs=0), 'runs'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TSPEdgeGNN(**kwargs)


def test_repr():
    assert repr(TSPEdgeGNN()).startswith('TSPEdgeGNN(2, 32, num_layers=2')


def test_gradient_settings_object_and_keyword_only():
    from pyg_identity import GradientSettings

    model = TSPEdgeGNN(hidden_channels=8,
                       settings=GradientSettings(projection=None, noise=0.5))
    assert model.tsp.projection is None and model.tsp.noise == 0.5
    assert TSPEdgeGNN().tsp.projection == 'std'
    with pytest.raises(TypeError):  # the gradient settings are keywords
        TSPEdgeGNN(2, 32, 2, 1, 'elkai', 1, 'std')
