import pytest
import torch

from pyg_identity import project
from pyg_identity.nn.functional import GradientSettings
from pyg_identity.nn.functional.topk import topk
from pyg_identity.nn.topk import IdentityTopK
from pyg_identity.solvers.topk import solve_topk

SIZES = [4, 0, 1, 6, 3]
INDEX = torch.cat([torch.full((n, ), i) for i, n in enumerate(SIZES)])
B = len(SIZES)
K = torch.tensor([2, 0, 1, 3, 1])


def costs(dtype=torch.float64, shape=None):
    c = torch.randn(shape or (INDEX.numel(), ), dtype=dtype)
    return c.requires_grad_()


def rows_index(b, n):
    return torch.arange(b).repeat_interleave(n)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_forward_matches_solver_in_costs_dtype(dtype):
    layer = IdentityTopK(k=1)
    c = costs(dtype)
    y = layer(c, INDEX, B, k=K)
    assert y.dtype == dtype and y.shape == c.shape
    assert torch.equal(y, solve_topk(c.detach(), INDEX, B, k=K))


def test_dense_rows_as_in_the_discrete_vae():
    c = costs(torch.float32, (20, 20))
    y = IdentityTopK(k=10)(c)
    assert y.shape == (20, 20)
    assert torch.equal(y.sum(1), torch.full((20, ), 10.0))
    assert torch.equal(y, solve_topk(c.detach(), k=10))


def test_surrogate_gradient_is_plus_g_without_projection():
    c = costs()
    g = torch.randn_like(c)
    (IdentityTopK(1, projection=None)(c, INDEX, B, k=K) * g).sum().backward()
    assert torch.equal(c.grad, g)


@pytest.mark.parametrize('mode', ['mean', 'norm', 'std'])
def test_gradient_with_projection_is_vjp_of_plus_g(mode):
    c = costs()
    g = torch.randn_like(c)
    (IdentityTopK(1, projection=mode)(c, INDEX, B, k=K) * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    ref, = torch.autograd.grad(project(c2, INDEX, num_graphs=B, mode=mode),
                               c2, g)
    assert torch.allclose(c.grad, ref)


@pytest.mark.parametrize('mode', ['mean', 'std'])
def test_dense_gradient_is_projected_per_row(mode):
    c = costs(shape=(5, 7))
    g = torch.randn_like(c)
    (IdentityTopK(3, projection=mode)(c) * g).sum().backward()
    c2 = c.detach().reshape(-1).clone().requires_grad_()
    ref, = torch.autograd.grad(project(c2, rows_index(5, 7), mode=mode), c2,
                               g.reshape(-1))
    assert torch.allclose(c.grad, ref.view(5, 7))


@pytest.mark.parametrize('lam', [0.5, 20.0])
def test_blackbox_gradient(lam):
    c = costs()
    g = torch.randn_like(c)
    layer = IdentityTopK(1, projection=None, backward='blackbox', lambda_=lam)
    y = layer(c, INDEX, B, k=K)
    (y * g).sum().backward()
    # argmax: y_lam = y(w - lam * g), grad = (y - y_lam) / lam.
    y_lam = solve_topk(c.detach() - lam * g, INDEX, B, k=K)
    assert torch.allclose(c.grad, (y.detach() - y_lam) / lam)


def test_shift_and_scale_invariance_per_group():
    c = costs().detach()
    shift = torch.randn(B, dtype=c.dtype)[INDEX]
    scale = torch.rand(B, dtype=c.dtype)[INDEX] + 0.1
    layer = IdentityTopK(1, projection=None)
    y = layer(c, INDEX, B, k=K)
    assert torch.equal(layer(c + shift, INDEX, B, k=K), y)
    assert torch.equal(layer(c * scale, INDEX, B, k=K), y)


def test_projection_ablation_does_not_change_solutions():
    c = costs().detach()
    ys = [IdentityTopK(1, projection=m)(c, INDEX, B, k=K)
          for m in (None, 'mean', 'norm', 'std')]
    for y in ys[1:]:
        assert torch.equal(y, ys[0])


def test_global_k_from_the_constructor():
    index = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    c = torch.randn(7, requires_grad=True)
    y = IdentityTopK(k=2)(c, index)
    assert y.tolist() == solve_topk(c.detach(), index, k=2).tolist()
    assert torch.equal(torch.zeros(3).index_add_(0, index, y),
                       torch.full((3, ), 2.0))


def test_noise_only_in_training():
    c = costs().detach()
    layer = IdentityTopK(1, projection='std', noise=100.0)
    ref = IdentityTopK(1, projection='std')(c, INDEX, B, k=K)
    layer.eval()
    assert torch.equal(layer(c, INDEX, B, k=K), ref)
    layer.train()
    ys = [layer(c, INDEX, B, k=K) for _ in range(5)]
    assert any(not torch.equal(y, ref) for y in ys)
    for y in ys:  # still feasible
        assert torch.equal(torch.zeros(B, dtype=y.dtype).index_add_(
            0, INDEX, y), K.to(y.dtype))


def test_functional_matches_module():
    c = costs()
    y = topk(c, INDEX, B, k=K, projection='std')
    assert torch.equal(y, IdentityTopK(0)(c, INDEX, B, k=K))


def test_repr():
    assert repr(IdentityTopK(3)) == (
        "IdentityTopK(k=3, projection='std', backward='identity')")


@pytest.mark.parametrize('c,kwargs,match', [
    (torch.tensor([1.0, float('nan'), 0.0]), {}, 'finite'),
    (torch.tensor([1.0, float('inf'), 0.0]), {}, 'finite'),
    (torch.tensor([1, 2, 3]), {}, 'floating point'),
    (torch.zeros(2, 2, 2), {}, 'dimensional'),
    (torch.zeros(3), dict(k=4), "'k' must not exceed"),
    (torch.zeros(1), dict(k=2), "'k' must not exceed"),
    (torch.zeros(0), dict(k=1), "'k' must not exceed"),
    (torch.zeros(3), dict(k=-1), "'k' must be non-negative"),
    (torch.zeros(3), dict(k=torch.tensor([1.0])), "'k' must be an integer"),
    (torch.zeros(3), dict(batch=torch.tensor([0, 1]), k=1),
     "'batch' must be one-dimensional"),
    (torch.zeros(3), dict(batch=torch.tensor([0.0, 0.0, 0.0]), k=1),
     "'batch' must be an integer"),
    (torch.zeros(3), dict(batch=torch.tensor([0, 0, 1]), k=torch.tensor(
        [1, 1, 1])), 'one entry per group'),
    (torch.zeros(2, 3), dict(batch=torch.tensor([0, 1]), k=1),
     "'batch' must be None"),
])
def test_bad_inputs_raise(c, kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentityTopK(1)(c, kwargs.get('batch'), k=kwargs.get('k'))


@pytest.mark.parametrize('kwargs,match', [
    (dict(k=-1), "'k' must be a non-negative integer"),
    (dict(k=2.0), "'k' must be a non-negative integer"),
    (dict(k=1, projection='l1'), "'projection'"),
    (dict(k=1, backward='sfe'), "'backward'"),
    (dict(k=1, lambda_=0.0), "'lambda_'"),
    (dict(k=1, noise=-1.0), "'noise'"),
    (dict(k=1, lambda_=float('inf')), "'lambda_' must be positive and fin"),
    (dict(k=1, noise=float('inf')), "'noise' must be non-negative and fin"),
])
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentityTopK(**kwargs)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_zero_costs_get_the_mean_free_gradient(dtype):
    # A zero-initialised head: the eps clamp used to give [1e6, -1e6, ...].
    c = torch.zeros(5, dtype=dtype, requires_grad=True)
    g = torch.tensor([1.0, -1.0, 0.5, 0.0, 0.0], dtype=dtype)
    IdentityTopK(2, projection='std')(c).backward(g)
    assert torch.allclose(c.grad, g - g.mean())


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_costs_get_a_gradient(dtype):
    # 380 costs at |c| ~ 13 overflowed the float16 sum of squares: every
    # projected cost was 0 and the gradient exactly 0.
    torch.manual_seed(0)
    c = (torch.randn(380) * 13).to(dtype).requires_grad_()
    y = IdentityTopK(20, projection='std')(c)
    assert y.dtype == dtype
    assert torch.equal(y, solve_topk(c.detach().float(), k=20).to(dtype))
    g = torch.randn(380).to(dtype)
    y.backward(g)
    c64 = c.detach().double().requires_grad_()
    ref, = torch.autograd.grad(project(c64, mode='std'), c64, g.double())
    assert c.grad.abs().sum() > 0
    assert torch.allclose(c.grad.double(), ref, rtol=2e-2,
                          atol=2e-2 * float(ref.abs().max()))


def test_options_are_keyword_only():
    c = costs()
    with pytest.raises(TypeError):
        topk(c, INDEX, B, K)
    with pytest.raises(TypeError):
        IdentityTopK(1)(c, INDEX, B, K)
    with pytest.raises(TypeError):
        IdentityTopK(1, None)  # projection is a keyword (a settings field)
    with pytest.raises(TypeError, match="keyword-only"):
        topk(c, 1, INDEX, k=1)  # the old order topk(scores, k, index)


def test_misplaced_integer_tensor_says_what_it_looks_like():
    c = costs()
    with pytest.raises(ValueError, match="'cost' must be a floating point "
                       "tensor .*looks like a batch vector.*the order is "
                       "cost, batch, num_graphs"):
        IdentityTopK(1)(INDEX, c)
    with pytest.raises(ValueError, match="'batch' must be an integer tensor "
                       ".*looks like a cost"):
        IdentityTopK(1)(c, c.detach())


def test_invalid_assignment_raises():
    layer = IdentityTopK(2, noise=0.5)
    with pytest.raises(ValueError, match="'noise' must be non-negative"):
        layer.noise = -1
    assert layer.noise == 0.5
    with pytest.raises(ValueError, match="'k' must be a non-negative"):
        layer.k = -1
    with pytest.raises(ValueError, match="'k' must be a non-negative"):
        layer.k = 1.5
    assert layer.k == 2
    layer.k = 3
    assert layer.k == 3 and repr(layer).startswith('IdentityTopK(k=3,')


def test_generator_makes_the_margin_reproducible():
    c = costs().detach()
    ys = []
    for _ in range(2):
        gen = torch.Generator().manual_seed(0)
        layer = IdentityTopK(1, noise=100.0, generator=gen).train()
        ys.append(torch.stack([layer(c, INDEX, B, k=K) for _ in range(4)]))
    assert torch.equal(ys[0], ys[1])
    ref = IdentityTopK(1)(c, INDEX, B, k=K)
    assert any(not torch.equal(y, ref) for y in ys[0])


def test_settings_object():
    c = costs()
    settings = GradientSettings(projection=None, backward='blackbox',
                                lambda_=0.5)
    layer = IdentityTopK(1, settings=settings)
    assert layer.settings is settings and layer.projection is None
    assert not hasattr(layer, 'sense')
    g = torch.randn_like(c)
    (layer(c, INDEX, B, k=K) * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    (topk(c2, INDEX, B, k=K, settings=settings) * g).sum().backward()
    assert torch.equal(c.grad, c2.grad)
    # Keyword fields override the settings.
    assert IdentityTopK(1, settings=settings, lambda_=2.0).lambda_ == 2.0
