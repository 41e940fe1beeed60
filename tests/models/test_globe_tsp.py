import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from pyg_identity.models.globe_tsp import GlobeTSPNet

SIZES = [5, 4]
IMAGE = 12


def complete_edges(n):
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing='ij')
    keep = i != j
    return torch.stack([i[keep], j[keep]])


def make_batch(sizes=SIZES, dtype=torch.float32):
    return Batch.from_data_list([
        Data(x=torch.rand(n, 3, IMAGE, IMAGE, dtype=dtype),
             edge_index=complete_edges(n)) for n in sizes
    ])


def test_points_lie_on_the_unit_sphere():
    b = make_batch()
    p = GlobeTSPNet(image_size=IMAGE, hidden_channels=16).points(b.x)
    assert p.shape == (b.num_nodes, 3)
    torch.testing.assert_close(p.norm(dim=-1), torch.ones(b.num_nodes))


@pytest.mark.parametrize('distance', ['geodesic', 'chord'])
def test_edge_costs_are_sphere_distances(distance):
    b = make_batch()
    model = GlobeTSPNet(image_size=IMAGE, hidden_channels=16,
                        distance=distance)
    p = model.points(b.x)
    chord = (p[b.edge_index[0]] - p[b.edge_index[1]]).norm(dim=-1)
    ref = chord if distance == 'chord' else 2 * torch.asin(chord / 2)
    c = model.edge_costs(b.x, b.edge_index)
    torch.testing.assert_close(c, ref)
    assert (c >= 0).all() and (c <= math.pi).all()


def test_output_is_a_tour_per_graph():
    b = make_batch()
    y = GlobeTSPNet(image_size=IMAGE, hidden_channels=16)(
        b.x, b.edge_index, b.batch, b.num_graphs)
    assert y.shape == (b.edge_index.size(1), )
    ones = torch.zeros(len(SIZES)).index_add_(0, b.batch[b.edge_index[0]], y)
    assert ones.tolist() == [2.0 * n for n in SIZES]


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
def test_gradient_reaches_the_cnn(backward):
    b = make_batch()
    model = GlobeTSPNet(image_size=IMAGE, hidden_channels=16,
                        backward=backward, lambda_=20.0)
    y = model(b.x, b.edge_index, b.batch, b.num_graphs)
    (y - torch.bernoulli(torch.full_like(y, 0.5))).abs().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert model.conv1.weight.grad.abs().sum() > 0


class _Costs(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, edge_index):
        return self.model.edge_costs(x, edge_index)


def test_gradcheck_edge_costs_float64():
    # Through the whole smooth part (CNN, sphere, distances), w.r.t. a few
    # parameters at both ends of the CNN (gradcheck over pixels is slow).
    b = make_batch([3, 3], dtype=torch.float64)
    wrapper = _Costs(GlobeTSPNet(image_size=IMAGE, hidden_channels=4).double())
    names = ['model.conv1.bias', 'model.lin2.weight', 'model.lin2.bias']
    state = dict(wrapper.named_parameters())

    def f(*ps):
        return torch.func.functional_call(wrapper, {
            **state,
            **dict(zip(names, ps))
        }, (b.x, b.edge_index))

    inputs = tuple(state[k].detach().clone().requires_grad_() for k in names)
    assert torch.autograd.gradcheck(f, inputs)


def test_coinciding_points_give_finite_gradients():
    x = torch.rand(1, 3, IMAGE, IMAGE).expand(3, -1, -1, -1).contiguous()
    model = GlobeTSPNet(image_size=IMAGE, hidden_channels=8)
    model.edge_costs(x, complete_edges(3)).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_default_checkpoint_size_is_small():
    # The experiment's 16 x 16 flags keep the FC layer under 2 MB.
    model = GlobeTSPNet(image_size=16)
    assert sum(p.numel() for p in model.parameters()) * 4 < 1_000_000


@pytest.mark.parametrize('kwargs, match', [
    (dict(image_size=8), 'image_size'),
    (dict(hidden_channels=0), 'hidden_channels'),
    (dict(in_channels=True), 'in_channels'),
    (dict(distance='euclid'), 'distance'),
    (dict(projection='bad'), 'projection'),
    (dict(noise=-1.0), 'noise'),
    (dict(input_scale=0.0), 'input_scale'),
    (dict(input_scale=float('inf')), 'input_scale'),
    (dict(input_scale=True), 'input_scale'),
    (dict(input_scale='255'), 'input_scale'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GlobeTSPNet(**kwargs)


def test_input_scale_multiplies_the_flags():
    # The Blackbox code's unnormalised [0, 255] flags: the same network fed
    # the flags times 255.
    b = make_batch()
    torch.manual_seed(0)
    scaled = GlobeTSPNet(image_size=IMAGE, hidden_channels=16,
                         input_scale=255.0)
    plain = GlobeTSPNet(image_size=IMAGE, hidden_channels=16)
    plain.load_state_dict(scaled.state_dict())
    torch.testing.assert_close(scaled.points(b.x), plain.points(255.0 * b.x))
    assert 'input_scale=255' in repr(scaled)
    assert 'input_scale' not in repr(plain)
    with pytest.raises(TypeError):  # a keyword, after the positional ones
        GlobeTSPNet(IMAGE, 3, 8, 'geodesic', 'elkai', 1, 255.0)


def test_bad_image_shape():
    model = GlobeTSPNet(image_size=IMAGE, hidden_channels=8)
    with pytest.raises(ValueError, match="'x' must have shape"):
        model.points(torch.rand(4, 3, IMAGE + 1, IMAGE))


def test_gradient_settings_object_and_keyword_only():
    from pyg_identity import GradientSettings

    model = GlobeTSPNet(image_size=IMAGE, hidden_channels=8,
                        settings=GradientSettings(backward='blackbox'),
                        lambda_=5.0)
    assert model.tsp.backward_mode == 'blackbox'
    assert model.tsp.lambda_ == 5.0 and model.tsp.projection == 'norm'
    assert GlobeTSPNet(image_size=IMAGE).tsp.projection == 'std'
    with pytest.raises(TypeError):  # the gradient settings are keywords
        GlobeTSPNet(IMAGE, 3, 8, 'geodesic', 'elkai', 1, 'std')
