import math

import pytest
import torch

from pyg_identity.models.dvae import DVAE, sum_of_gamma_noise
from pyg_identity.projection import project


def small(**kwargs) -> DVAE:
    kwargs.setdefault('in_channels', 16)
    kwargs.setdefault('num_blocks', 3)
    kwargs.setdefault('block_size', 6)
    kwargs.setdefault('k', 2)
    kwargs.setdefault('encoder_channels', (8, ))
    kwargs.setdefault('decoder_channels', (8, ))
    return DVAE(**kwargs)


def test_default_architecture_and_shapes():
    model = DVAE()
    assert [lin.in_channels for lin in model.encoder.lins] == [784, 512, 256]
    assert model.encoder.lins[-1].out_channels == 400
    assert [lin.in_channels for lin in model.decoder.lins] == [400, 256, 512]
    assert model.decoder.lins[-1].out_channels == 784
    assert model.topk.projection == 'std' and model.topk.k == 10
    x = torch.rand(4, 1, 28, 28)
    x_logits, logits, z = model(x)
    assert x_logits.shape == (4, 784)
    assert logits.shape == z.shape == (4, 20, 20)
    assert str(model).startswith('DVAE(784, num_blocks=20')


@pytest.mark.parametrize('sample', [True, False])
def test_latent_blocks_are_k_hot(sample):
    model = small()
    _, logits, z = model(torch.rand(5, 16), sample=sample)
    assert set(z.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(z.sum(dim=-1), torch.full((5, 3), 2.0))
    if not sample:  # The mode: the top-k of the raw logits.
        top = logits.topk(2, dim=-1).indices
        assert torch.equal(z.gather(-1, top), torch.ones(5, 3, 2))


def test_gradient_reaches_the_encoder_through_topk():
    model = small()
    x = torch.rand(5, 16)
    x_logits, logits, _ = model(x)
    # Reconstruction only: the KL term alone would also reach the encoder.
    rec = torch.nn.functional.binary_cross_entropy_with_logits(
        x_logits, x, reduction='sum')
    rec.backward()
    for p in model.encoder.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_identity_gradient_on_logits_is_projected_vjp():
    model = small(projection='std')
    x = torch.rand(5, 16)
    logits = model.encode(x).detach().requires_grad_()
    z = model.sample(logits, sample=False)
    g = torch.randn_like(z)
    (z * g).sum().backward()
    c2 = logits.detach().reshape(-1, 6).requires_grad_()
    index = torch.arange(15).repeat_interleave(6)
    proj = project(c2.reshape(-1), index, num_graphs=15, mode='std')
    expected, = torch.autograd.grad(proj, c2, g.reshape(-1))  # argmax: +g
    assert torch.allclose(logits.grad.reshape(-1, 6), expected, atol=1e-6)


def test_grad_cosine_diagnostics():
    model = small(projection=None, diagnostics=True)
    x = torch.rand(5, 16)
    x_logits, logits, _ = model(x)
    torch.nn.functional.binary_cross_entropy_with_logits(
        x_logits, x).backward()
    assert float(model.topk.diagnostics.grad_cosine) == pytest.approx(1.0)

    model = small(projection='std', diagnostics=True)
    x_logits, logits, _ = model(x)
    model.n_elbo(x, x_logits, logits).backward()
    cosine = float(model.topk.diagnostics.grad_cosine)
    assert -1.0 <= cosine < 1.0 - 1e-4


def test_n_elbo_matches_manual_formula():
    model = small()
    x = torch.rand(5, 16)
    x_logits, logits, _ = model(x)
    p = torch.sigmoid(x_logits)
    rec = -(x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
    q = torch.softmax(logits, dim=-1)
    kl = (q * (q.log() - math.log(1 / 6))).sum(dim=(-2, -1))
    assert torch.allclose(model.n_elbo(x, x_logits, logits),
                          (rec + kl).mean(), rtol=1e-5)
    per_image = model.n_elbo(x, x_logits, logits, reduce=False)
    assert per_image.shape == (5, ) and bool((per_image > 0).all())


def test_kl_is_zero_for_uniform_logits():
    model = small()
    x = torch.rand(2, 16)
    zero = torch.zeros(2, 3, 6)
    x_logits = torch.zeros(2, 16)
    rec = 16 * math.log(2)  # BCE of p = 1/2, whatever the target.
    assert float(model.n_elbo(x, x_logits, zero)) == pytest.approx(rec,
                                                                  rel=1e-5)


def test_smooth_parts_gradcheck():
    model = small().double()
    x = torch.rand(3, 16, dtype=torch.float64)
    z = torch.rand(3, 3, 6, dtype=torch.float64, requires_grad=True)
    logits = torch.randn(3, 3, 6, dtype=torch.float64, requires_grad=True)

    def smooth(z, logits):
        return model.n_elbo(x, model.decode(z), logits)

    assert torch.autograd.gradcheck(smooth, (z, logits))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_forward_keeps_dtype(dtype):
    model = small().to(dtype)
    x_logits, logits, z = model(torch.rand(2, 16, dtype=dtype))
    assert x_logits.dtype == logits.dtype == z.dtype == dtype


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
def test_training_step_lowers_loss(backward):
    torch.manual_seed(0)
    model = small(backward=backward, lambda_=1.0)
    x = (torch.rand(32, 16) > 0.5).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        x_logits, logits, _ = model(x)
        loss = model.n_elbo(x, x_logits, logits)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) < sum(losses[:5])


def test_sum_of_gamma_mean_and_shape():
    torch.manual_seed(0)
    k, tau, s = 10, 10.0, 10
    noise = sum_of_gamma_noise((200, 100), k, tau, s)
    assert noise.shape == (200, 100) and noise.dtype == torch.float32
    harmonic = sum(1.0 / i for i in range(1, s + 1))
    mean = tau / k * (harmonic - math.log(s))
    assert float(noise.mean()) == pytest.approx(mean, abs=0.05)
    # k i.i.d. samples sum to about a Gumbel of scale tau (std tau pi/sqrt6).
    total = sum_of_gamma_noise((4000, k), k, tau, 50).sum(-1)
    assert float(total.std()) == pytest.approx(tau * math.pi / math.sqrt(6),
                                               rel=0.1)
    double = sum_of_gamma_noise((3, ), 2, dtype=torch.float64)
    assert double.dtype == torch.float64


@pytest.mark.parametrize('kwargs, match', [
    (dict(k=0), "'k' must be a positive integer"),
    (dict(k=2.5), "'k' must be a positive integer"),
    (dict(s=0), "'s' must be a positive integer"),
    (dict(tau=0.0), "'tau' must be positive"),
    (dict(tau=float('inf')), "'tau' must be positive and finite"),
])
def test_sum_of_gamma_bad_arguments(kwargs, match):
    args = dict(size=(2, ), k=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sum_of_gamma_noise(**args)


@pytest.mark.parametrize('kwargs, match', [
    (dict(k=6), r"'k' must be an integer in \[1, block_size\)"),
    (dict(k=0), r"'k' must be an integer in \[1, block_size\)"),
    (dict(num_blocks=0), "'num_blocks' must be a positive integer"),
    (dict(block_size=1.5), "'block_size' must be a positive integer"),
    (dict(s=0), "'s' must be a positive integer"),
    (dict(tau=-1.0), "'tau' must be positive"),
    (dict(projection='max'), "Invalid 'projection'"),
    (dict(backward='bb'), "'backward' must be"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small(**kwargs)


def test_wrong_image_size():
    with pytest.raises(ValueError, match="'x' must have 16 pixels"):
        small()(torch.rand(2, 15))


def test_gradient_settings_are_keyword_only_and_accept_a_settings_object():
    from pyg_identity.nn.functional import GradientSettings
    with pytest.raises(TypeError):
        DVAE(16, 3, 6, 2, (8, ), (8, ), 10.0, 10, 'std')
    model = small()
    assert model.topk.lambda_ == 10.0 and model.topk.projection == 'std'
    settings = GradientSettings(projection=None, noise=0.5)
    model = small(settings=settings, noise_position='after')
    assert model.topk.projection is None and model.topk.noise == 0.5
    assert model.topk.noise_position == 'after'
    with pytest.raises(ValueError, match='unknown gradient setting'):
        small(sample=True)


def test_state_dict_keys():
    assert list(small().state_dict()) == [
        'encoder.lins.0.weight', 'encoder.lins.0.bias',
        'encoder.lins.1.weight', 'encoder.lins.1.bias',
        'decoder.lins.0.weight', 'decoder.lins.0.bias',
        'decoder.lins.1.weight', 'decoder.lins.1.bias'
    ]


def test_imle_backward_draws_the_sampling_noise_once():
    # With backward='imle' the model leaves the Sum-of-Gamma sample to the
    # estimator (sigma = tau, imle_k = k), so training draws it exactly once;
    # evaluation keeps the model's own sampling.
    model = DVAE(num_blocks=2, block_size=6, k=2, tau=3.0,
                 encoder_channels=(8, ), decoder_channels=(8, ),
                 backward='imle', projection=None, diagnostics=True)
    s = model.topk.settings
    assert (s.imle_noise, s.sigma, s.imle_k) == ('sum_of_gamma', 3.0, 2)
    logits = torch.randn(4, 2, 6)
    torch.manual_seed(0)
    z = model.train().sample(logits)
    torch.manual_seed(0)
    eps = 3.0 * sum_of_gamma_noise((8, 6), 2, 1.0, 10)
    expected = torch.zeros(8, 6).scatter_(
        1, (logits.reshape(8, 6) + eps).topk(2, dim=1).indices, 1.0)
    assert torch.equal(z.reshape(8, 6), expected)
    assert model.topk.diagnostics.solver_calls == 1
    torch.manual_seed(0)
    z_eval = model.eval().sample(logits)
    torch.manual_seed(0)
    eps = sum_of_gamma_noise(logits.shape, 2, 3.0, 10)
    assert torch.equal(z_eval, torch.zeros_like(logits).scatter_(
        -1, (logits + eps).topk(2, dim=-1).indices, 1.0))
    with pytest.raises(ValueError, match="'s'"):
        DVAE(s=5, backward='imle')
