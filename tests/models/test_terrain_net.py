import pytest
import torch
from torch_geometric.data import Batch, Data

from pyg_identity.models.terrain_net import TerrainNet
from pyg_identity.utils.grid import grid_edge_index

K = 4


def images(batch_size: int = 3, k: int = K, tile: int = 4,
           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(batch_size, 3, k * tile, k * tile, dtype=dtype)


def small(**kwargs) -> TerrainNet:
    kwargs.setdefault('grid_size', K)
    kwargs.setdefault('hidden_channels', 4)
    kwargs.setdefault('num_blocks', 1)
    return TerrainNet(**kwargs)


def pyg_batch(batch_size: int, k: int = K) -> Batch:
    return Batch.from_data_list([
        Data(edge_index=grid_edge_index(k), num_nodes=k * k)
        for _ in range(batch_size)
    ])


def test_output_is_one_path_per_map():
    model = small()
    y = model(images(3))
    assert y.shape == (3 * K * K, )
    assert y.dtype == torch.float32
    y = y.view(3, K * K)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    assert (y[:, 0] == 1).all() and (y[:, -1] == 1).all()
    # At least the Chebyshev distance in cells, at most all of them.
    assert (y.sum(1) >= K).all()


def test_costs_are_non_negative():
    model = small()
    cost = model.cost(images(2))
    assert cost.shape == (2 * K * K, )
    assert (cost >= 0).all()


def test_grid_matches_pyg_collation():
    model = small()
    edge_index, batch = model.grid(3)
    ref = pyg_batch(3)
    assert torch.equal(edge_index, ref.edge_index)
    assert torch.equal(batch, ref.batch)


def test_explicit_batch_gives_same_paths():
    model = small().eval()
    img = images(3)
    ref = pyg_batch(3)
    assert torch.equal(model(img), model(img, ref.edge_index, ref.batch))


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
@pytest.mark.parametrize('projection', [None, 'norm'])
def test_gradient_reaches_backbone(backward, projection):
    model = small(backward=backward, projection=projection)
    img = images(4)
    y = model(img)
    target = torch.zeros_like(y)
    target.view(4, -1)[:, [0, K + 1, 2 * K + 2, K * K - 1]] = 1.0
    loss = (y * (1 - target) + (1 - y) * target).sum()
    loss.backward()
    for name in ('stem.weight', 'blocks.0.conv1.weight', 'head.weight'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and torch.isfinite(grad).all()
    assert model.stem.weight.grad.abs().sum() > 0


def test_identity_gradient_on_costs():
    # No projection: d loss / d cost = -d loss / d y (argmin solver).
    model = small()
    img = images(2)
    cost = model.cost(img).detach().requires_grad_()
    edge_index, batch = model.grid(2)
    y = model.solver(cost, edge_index, batch, num_graphs=2, source=0,
                     target=K * K - 1)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    assert torch.allclose(cost.grad, -g)


def test_cost_gradcheck_float64():
    model = small(grid_size=2, hidden_channels=2).double().eval()
    torch.nn.init.uniform_(model.blocks[0].bn2.weight, 0.5, 1.5)
    img = images(1, k=2, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(model.cost, (img, ), eps=1e-6,
                                    atol=1e-5, fast_mode=True)


def test_float64_paths():
    model = small().double()
    y = model(images(2, dtype=torch.float64))
    assert y.dtype == torch.float64


def test_noise_only_in_training():
    model = small(noise=0.2)
    assert model.noise == 0.2 and model.solver.noise == 0.2
    model.eval()
    img = images(2)
    assert torch.equal(model(img), model(img))
    model.noise = 0.0
    assert model.solver.noise == 0.0


def test_reset_parameters_and_repr():
    model = small(backward='blackbox', lambda_=5.0)
    before = model.stem.weight.detach().clone()
    model.reset_parameters()
    assert not torch.equal(before, model.stem.weight)
    assert torch.equal(model.blocks[0].bn2.weight,
                       torch.zeros_like(model.blocks[0].bn2.weight))
    assert model.backward_mode == 'blackbox' and model.lambda_ == 5.0
    assert repr(model).startswith('TerrainNet(grid_size=4')


def test_state_dict_has_no_grid_buffer():
    assert 'grid_edge_index' not in small().state_dict()


@pytest.mark.parametrize('kwargs, match', [
    (dict(grid_size=1), 'grid_size'),
    (dict(grid_size=2.5), 'grid_size'),
    (dict(hidden_channels=0), 'hidden_channels'),
    (dict(in_channels=True), 'in_channels'),
    (dict(num_blocks=-1), 'num_blocks'),
    (dict(projection='mean'), 'projection'),
    (dict(projection='std'), 'projection'),
    (dict(projection='bogus'), 'projection'),
    (dict(noise=-0.1), 'noise'),
    (dict(backward='straight'), 'backward'),
    (dict(lambda_=0.0), 'lambda_'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small(**kwargs)


def test_bad_inputs():
    model = small()
    with pytest.raises(ValueError, match="'img'"):
        model(torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="'img'"):
        model(torch.rand(2, 1, 16, 16))
    with pytest.raises(ValueError, match="'img'"):
        model(torch.randint(0, 255, (2, 3, 16, 16)))
    with pytest.raises(ValueError, match="'batch'"):
        model(images(2), batch=torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match='node_cost|NaN|finite'):
        model.solver(torch.full((K * K, ), float('nan')), grid_edge_index(K),
                     source=0, target=K * K - 1)
    with pytest.raises(ValueError, match='noise'):
        model.noise = -1.0


def test_gradient_settings_reach_the_solver_layer():
    from pyg_identity.nn.functional import GradientSettings

    model = small()
    assert model.solver.negative_costs == 'clamp'  # the model's default
    assert model.projection is None and model.settings.projection is None
    s = GradientSettings(projection='norm', noise=0.1)
    model = small(settings=s, backward='blackbox', negative_costs='raise')
    assert model.settings == s.replace(backward='blackbox')
    assert model.solver.settings is model.settings
    assert model.solver.negative_costs == 'raise'
    with pytest.raises(ValueError, match="'projection' must be None or "
                       "'norm'"):
        small(settings=GradientSettings(projection='std'))
    with pytest.raises(TypeError):
        TerrainNet(K, 3, 4, 1, 'clamp', None)  # settings is keyword-only


def test_generator_makes_the_training_margin_reproducible():
    img = images(2)
    model = small(noise=5.0, generator=torch.Generator()).train()

    def run(seed, global_seed):
        model.solver.generator.manual_seed(seed)
        torch.manual_seed(global_seed)  # not the margin's generator
        return model(img)

    assert model.settings.generator is model.solver.generator
    assert torch.equal(run(0, 1), run(0, 2))
