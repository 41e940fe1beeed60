"""Every gradient estimator as a backward mode of the one mechanism (issue 13
item 1): perturbed optimizers (Berthet et al., 2020), I-MLE (Niepert et al.,
2021), their formulas on tiny solvers with known answers, seeded
determinism, solver-call counts, and every layer with every mode."""
import math

import pytest
import torch
from scipy.stats import norm
from torch import Tensor

from pyg_identity import GradientSettings, edge_batch, project
from pyg_identity.nn.functional import fy_loss, identity_solver

MODES = ('identity', 'blackbox', 'perturbed', 'imle')


def one_hot_min(w: Tensor) -> Tensor:
    """Per row (one graph per row), the one-hot argmin."""
    return torch.nn.functional.one_hot(w.argmin(-1), w.size(-1)).to(w.dtype)


def one_hot_max(w: Tensor) -> Tensor:
    return one_hot_min(-w)


class Counting:
    """A tiny solver that records its inputs."""
    def __init__(self, fn=one_hot_min):
        self.fn = fn
        self.inputs = []

    def __call__(self, w: Tensor) -> Tensor:
        self.inputs.append(w.clone())
        return self.fn(w)


def rows(w: Tensor) -> Tensor:
    return torch.arange(w.size(0))


def run(w, solver, sense='min', training=True, **kw):
    kw.setdefault('projection', None)
    return identity_solver(w, solver, rows(w), w.size(0), sense=sense,
                           training=training, **kw)


# Settings ##################################################################


def test_new_fields_defaults_and_repr():
    s = GradientSettings()
    assert (s.sigma, s.num_samples, s.imle_noise, s.imle_k) == (1.0, 1,
                                                                'gumbel', 1)
    assert repr(GradientSettings(backward='perturbed', sigma=0.5)) == (
        "GradientSettings(backward='perturbed', sigma=0.5)")


@pytest.mark.parametrize('field,value', [
    ('sigma', 0.0), ('sigma', -1.0), ('sigma', float('nan')),
    ('sigma', float('inf')), ('sigma', True), ('sigma', '1'),
    ('num_samples', 0), ('num_samples', -2), ('num_samples', 1.5),
    ('num_samples', True),
    ('imle_noise', 'gauss'), ('imle_noise', None),
    ('imle_k', 0), ('imle_k', 2.0),
    ('backward', 'perturb'), ('backward', 'IMLE'),
])
def test_bad_values_raise_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"'{field}'"):
        GradientSettings(**{field: value})
    with pytest.raises(ValueError, match=f"'{field}'"):
        identity_solver(torch.ones(1, 2), one_hot_min, **{field: value})


# Perturbed optimizers ######################################################


def two_choice(w1: float, w2: float, reps: int) -> Tensor:
    return torch.tensor([[w1, w2]], dtype=torch.float64).repeat(reps, 1)


@pytest.mark.parametrize('sense', ['min', 'max'])
def test_perturbed_mean_and_gradient_match_the_gaussian_formula(sense):
    # Two choices: y_1 = P(w_1 + s Z_1 < w_2 + s Z_2) = Phi((w_2 - w_1) /
    # (s sqrt 2)) for argmin (w_1 - w_2 for argmax), and its derivative.
    sigma, reps, num = 0.7, 5000, 4
    values = [(0.0, 0.3), (0.5, -0.4), (1.0, 1.0)]
    w = torch.cat([two_choice(a, b, reps) for a, b in values])
    w.requires_grad_()
    fn = one_hot_min if sense == 'min' else one_hot_max
    y = run(w, fn, sense, backward='perturbed', sigma=sigma,
            num_samples=num, generator=torch.Generator().manual_seed(0))
    g = torch.tensor([1.0, 0.0], dtype=torch.float64)
    (y * g).sum().backward()
    for i, (a, b) in enumerate(values):
        part = slice(i * reps, (i + 1) * reps)
        d = (b - a) if sense == 'min' else (a - b)
        s2 = sigma * math.sqrt(2.0)
        p = norm.cdf(d / s2)
        dens = norm.pdf(d / s2) / s2
        # d y_1 / d w_1 = -dens (argmin), +dens (argmax); d w_2 opposite.
        ref = torch.tensor([-dens, dens], dtype=torch.float64)
        if sense == 'max':
            ref = -ref
        assert abs(float(y[part, 0].detach().mean()) - p) < 0.015
        assert torch.allclose(w.grad[part].mean(0), ref, atol=0.02)


def test_perturbed_gradient_matches_a_finite_difference():
    # Common random numbers: the same generator seed for every evaluation of
    # the smoothed objective <g, y_sigma(w)>, in float64.
    sigma, reps, h = 1.0, 20000, 0.1
    base = torch.tensor([0.2, -0.1, 0.4], dtype=torch.float64)
    g = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)

    def objective(v: Tensor) -> Tensor:
        w = v.repeat(reps, 1)
        y = run(w, one_hot_min, backward='perturbed', sigma=sigma,
                generator=torch.Generator().manual_seed(7))
        return (y * g).sum(-1).mean()

    v = base.clone().requires_grad_()
    objective(v).backward()
    fd = torch.stack([
        (objective(base + h * e) - objective(base - h * e)) / (2 * h)
        for e in torch.eye(3, dtype=torch.float64)])
    assert torch.allclose(v.grad, fd, atol=0.05)
    assert float(v.grad.abs().max()) > 0.2  # a non-trivial gradient


@pytest.mark.parametrize('per_graph', [True, False])
def test_perturbed_backward_by_hand_on_the_forward_samples(per_graph):
    solver = Counting()
    w = torch.tensor([[0.3, 0.1, 0.2], [1.0, 0.0, 0.5]],
                     requires_grad=True)
    g = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]])
    sigma, num = 0.5, 3
    if per_graph:
        y = run(w, solver, backward='perturbed', sigma=sigma,
                num_samples=num)
    else:  # no index: one graph, the inner product over everything
        y = identity_solver(w, solver, projection=None, training=True,
                            backward='perturbed', sigma=sigma,
                            num_samples=num)
    (y * g).sum().backward()
    assert len(solver.inputs) == num  # no call on the backward pass
    ys = [one_hot_min(x) for x in solver.inputs]
    assert torch.allclose(y, torch.stack(ys).mean(0))
    ref = torch.zeros_like(w)
    for x, y_m in zip(solver.inputs, ys):
        z = (x - w.detach()) / sigma
        dot = (g * y_m).sum(-1, keepdim=True) if per_graph else (g *
                                                                 y_m).sum()
        ref += dot * z
    assert torch.allclose(w.grad, ref / (num * sigma), atol=1e-6)


def test_perturbation_goes_after_projection_and_margin():
    # The gradient reaches the raw costs through P by autograd.
    c = torch.tensor([[3.0, 1.0, 2.0], [0.5, 2.0, 4.0]], dtype=torch.float64,
                     requires_grad=True)
    g = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    kw = dict(backward='perturbed', sigma=0.3, num_samples=5)
    idx = torch.tensor([0, 1])
    y = identity_solver(c, one_hot_min, idx, 2, projection='norm',
                        training=True, generator=torch.Generator().manual_seed(
                            3), **kw)
    (y * g).sum().backward()
    p = project(c.detach(), idx, num_graphs=2, mode='norm').requires_grad_()
    y2 = identity_solver(p, one_hot_min, idx, 2, projection=None,
                         training=True, generator=torch.Generator(
                         ).manual_seed(3), **kw)
    assert torch.equal(y, y2)
    (y2 * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    ref, = torch.autograd.grad(project(c2, idx, num_graphs=2, mode='norm'),
                               c2, p.grad)
    assert torch.allclose(c.grad, ref)
    # With a margin, the margin is drawn first from the same generator.
    solver = Counting()
    identity_solver(c, solver, idx, 2, projection='norm', noise=0.2,
                    training=True, generator=torch.Generator().manual_seed(1),
                    **kw)
    gen = torch.Generator().manual_seed(1)
    from pyg_identity.nn.functional import symmetric_noise
    xi = symmetric_noise(c, 0.2, gen)
    wt = project(c.detach() + xi, idx, num_graphs=2, mode='norm')
    z = torch.randn(c.shape, generator=gen, dtype=c.dtype)
    assert torch.allclose(solver.inputs[0], wt + 0.3 * z)


# I-MLE #####################################################################


@pytest.mark.parametrize('sense', ['min', 'max'])
@pytest.mark.parametrize('noise', ['gumbel', 'sum_of_gamma'])
def test_imle_gradient_by_hand_on_fixed_noise(sense, noise):
    fn = one_hot_min if sense == 'min' else one_hot_max
    s = -1.0 if sense == 'min' else 1.0
    solver = Counting(fn)
    w = torch.tensor([[0.3, 0.1, 0.2], [1.0, 0.0, 0.5]],
                     requires_grad=True)
    g = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]])
    lam, num = 10.0, 3
    y = run(w, solver, sense, backward='imle', lambda_=lam, sigma=0.5,
            num_samples=num, imle_noise=noise, imle_k=2)
    (y * g).sum().backward()
    assert len(solver.inputs) == 2 * num
    fwd, bwd = solver.inputs[:num], solver.inputs[num:]
    assert torch.allclose(y, torch.stack([fn(x) for x in fwd]).mean(0))
    target = w.detach() - s * lam * g  # argmax: theta - lam g
    ref = torch.zeros_like(w)
    for x, x_t in zip(fwd, bwd):
        eps = s * (x - w.detach())  # the solver saw w + s * eps
        assert torch.allclose(x_t, target + s * eps, atol=1e-6)  # same eps
        ref += s * (fn(x) - fn(target + s * eps))
    assert torch.allclose(w.grad, ref / (num * lam))


def test_imle_without_noise_effect_is_the_blackbox_update():
    # A tiny sigma: the I-MLE update equals the Blackbox update.
    w = torch.tensor([[0.3, 0.1, 0.2]], requires_grad=True)
    g = torch.tensor([[1.0, 2.0, -1.0]])
    grads = []
    for mode in ('blackbox', 'imle'):
        y = run(w, one_hot_min, backward=mode, lambda_=0.5, sigma=1e-6)
        (y * g).sum().backward()
        grads.append(w.grad.clone())
        w.grad = None
    assert torch.allclose(grads[0], grads[1])


def test_imle_gumbel_forward_is_the_softmax():
    # Perturb-and-MAP with Gumbel noise samples exp(-<w, y>)/Z (argmin).
    w = torch.tensor([0.0, 0.5, 1.5], dtype=torch.float64).repeat(20000, 1)
    y = run(w, one_hot_min, backward='imle', sigma=1.0, num_samples=2,
            generator=torch.Generator().manual_seed(0))
    assert torch.allclose(y.mean(0), torch.softmax(-w[0], 0), atol=0.01)


@pytest.mark.parametrize('k', [1, 3])
def test_sum_of_gamma_noise_moments(k):
    from pyg_identity._autograd import SOG_TERMS, _noise
    x = _noise(torch.zeros(400000, dtype=torch.float64), 'sum_of_gamma', k,
               torch.Generator().manual_seed(0))
    harmonic = sum(1.0 / i for i in range(1, SOG_TERMS + 1))
    mean = (harmonic - math.log(SOG_TERMS)) / k
    var = sum(1.0 / i**2 for i in range(1, SOG_TERMS + 1)) / k
    assert abs(float(x.mean()) - mean) < 0.01
    assert abs(float(x.var()) - var) < 0.02 * var
    gum = _noise(torch.zeros(400000, dtype=torch.float64), 'gumbel', 1,
                 torch.Generator().manual_seed(0))
    assert abs(float(gum.mean()) - 0.5772156649) < 0.01
    assert abs(float(gum.var()) - math.pi**2 / 6) < 0.03


# Determinism and solver calls ##############################################


@pytest.mark.parametrize('mode,noise', [('perturbed', 'gumbel'),
                                        ('imle', 'gumbel'),
                                        ('imle', 'sum_of_gamma')])
def test_seeded_determinism(mode, noise):
    w0 = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    g = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))

    def once(seed):
        w = w0.clone().requires_grad_()
        y = run(w, one_hot_min, backward=mode, imle_noise=noise, sigma=0.5,
                num_samples=3, generator=torch.Generator().manual_seed(seed))
        (y * g).sum().backward()
        return y.detach(), w.grad

    (y1, g1), (y2, g2), (y3, g3) = once(0), once(0), once(5)
    assert torch.equal(y1, y2) and torch.equal(g1, g2)
    assert not (torch.equal(y1, y3) and torch.equal(g1, g3))


@pytest.mark.parametrize('mode,train,with_backward,calls', [
    ('identity', True, True, 1),
    ('blackbox', True, True, 2),
    ('perturbed', True, True, 3),
    ('imle', True, True, 6),
    ('identity', False, False, 1),
    ('blackbox', False, False, 1),
    ('perturbed', False, False, 1),
    ('imle', False, False, 1),
    ('perturbed', False, True, 4),  # fresh samples on an eval backward
    ('imle', False, True, 7),
])
def test_solver_calls_are_counted(mode, train, with_backward, calls):
    solver = Counting()
    w = torch.randn(2, 4, requires_grad=True)
    settings = GradientSettings(projection=None, backward=mode,
                                num_samples=3, diagnostics=True)
    y = identity_solver(w, solver, rows(w), 2, settings=settings,
                        training=train)
    if with_backward:
        (y * torch.randn(2, 4)).sum().backward()
        assert torch.isfinite(w.grad).all()
    assert len(solver.inputs) == calls
    assert settings.diagnostics.solver_calls == calls
    if not train:
        assert torch.equal(y, one_hot_min(w.detach()))  # the exact solution


# The Fenchel-Young loss ####################################################


@pytest.mark.parametrize('sense', ['min', 'max'])
@pytest.mark.parametrize('mode', ['perturbed', 'imle', 'identity'])
def test_fy_loss_value_and_gradient_by_hand(sense, mode):
    fn = one_hot_min if sense == 'min' else one_hot_max
    solver = Counting(fn)
    w = torch.tensor([[0.3, 0.1, 0.2], [1.0, 0.0, 0.5]], dtype=torch.float64,
                     requires_grad=True)
    y_true = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
                          dtype=torch.float64)
    y = run(w, solver, sense, backward=mode, sigma=0.5, num_samples=4)
    loss = fy_loss(y, y_true, rows(w), reduction='none')
    loss.sum().backward()
    wd = w.detach()
    inputs = solver.inputs[:4] if mode != 'identity' else solver.inputs
    f = torch.stack([(fn(x) * x).sum(-1) for x in inputs]).mean(0)
    ref = (wd * y_true).sum(-1) - f
    if sense == 'max':
        ref = -ref
    assert torch.allclose(loss, ref)
    grad = y_true - y.detach() if sense == 'min' else y.detach() - y_true
    assert torch.allclose(w.grad, grad)
    # Mean over graphs and a view of the output.
    y = run(w, fn, sense, backward=mode)
    assert fy_loss(y.view(-1), y_true.view(-1)).dim() == 0
    assert fy_loss(y, y_true, rows(w), reduction='sum').dim() == 0


def test_fy_loss_is_nonnegative_in_expectation_and_flows_through_p():
    c = torch.tensor([[3.0, 1.0, 2.0], [0.5, 2.0, 4.0]], dtype=torch.float64,
                     requires_grad=True)
    idx = torch.tensor([0, 1])
    y_true = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]],
                          dtype=torch.float64)
    y = identity_solver(c, one_hot_min, idx, 2, projection='norm',
                        backward='perturbed', sigma=0.2, num_samples=200,
                        training=True)
    loss = fy_loss(y, y_true, idx, reduction='none')
    assert bool((loss > -0.05).all())
    loss.sum().backward()
    c2 = c.detach().clone().requires_grad_()
    ref, = torch.autograd.grad(project(c2, idx, num_graphs=2, mode='norm'),
                               c2, y_true - y.detach())
    assert torch.allclose(c.grad, ref)


def test_fy_loss_bad_input_raises():
    w = torch.randn(2, 3, requires_grad=True)
    y = run(w, one_hot_min, backward='perturbed')
    with pytest.raises(ValueError, match="'y_hat'"):
        fy_loss(y.detach(), y.detach())
    with pytest.raises(ValueError, match="'y_hat'"):
        fy_loss(y * 2, y.detach())
    with pytest.raises(ValueError, match="'y_true'"):
        fy_loss(y, y.detach()[:1])
    with pytest.raises(ValueError, match="'reduction'"):
        fy_loss(y, y.detach(), reduction='avg')
    with pytest.raises(ValueError, match="'batch'"):
        fy_loss(y, y.detach(), torch.zeros(5, dtype=torch.long))


# Every layer with every mode ###############################################


def _complete(sizes):
    eis, batch, off = [], [], 0
    for g, n in enumerate(sizes):
        i, j = torch.meshgrid(torch.arange(n), torch.arange(n),
                              indexing='ij')
        keep = i != j
        eis.append(torch.stack([i[keep], j[keep]]) + off)
        batch.append(torch.full((n, ), g))
        off += n
    return torch.cat(eis, 1), torch.cat(batch)


def _dag(sizes):
    # Edges i -> j for i < j (no cycles, so perturbed costs of any sign are
    # solved exactly).
    eis, batch, off = [], [], 0
    for g, n in enumerate(sizes):
        i, j = torch.triu_indices(n, n, 1)
        eis.append(torch.stack([i, j]) + off)
        batch.append(torch.full((n, ), g))
        off += n
    return torch.cat(eis, 1), torch.cat(batch)


def _case(name):
    """(layer factory, cost, call(layer, cost) -> output tensor, index of
    the cost rows or None, whether the output is a solution)."""
    from pyg_identity import nn
    gen = torch.Generator().manual_seed(0)
    if name == 'IdentitySolver':
        c = torch.rand(4, 3, generator=gen, dtype=torch.float64)
        return (lambda **kw: nn.IdentitySolver(one_hot_min, **kw), c,
                lambda m, c: m(c, rows(c), 4), rows(c))
    if name == 'IdentityMatching':
        from pyg_identity.nn.functional import all_pairs
        batch_s = torch.tensor([0, 0, 1, 1, 1])
        batch_t = torch.tensor([0, 0, 0, 1, 1])
        ei = all_pairs(batch_s, batch_t)
        c = torch.rand(ei.size(1), generator=gen, dtype=torch.float64)
        return (lambda **kw: nn.IdentityMatching(**kw), c,
                lambda m, c: m(batch_s=batch_s, batch_t=batch_t, cost=c,
                               edge_index=ei), batch_s[ei[0]])
    if name == 'IdentityGraphMatching':
        from pyg_identity.nn.functional import all_edge_pairs, all_pairs
        batch_s = torch.tensor([0, 0, 0, 1, 1])
        batch_t = torch.tensor([0, 0, 0, 1, 1])
        es = torch.tensor([[0, 1, 3], [1, 2, 4]])
        et = torch.tensor([[0, 2, 3], [1, 1, 4]])
        ei = all_pairs(batch_s, batch_t)
        epi = all_edge_pairs(es, et, batch_s, batch_t, num_graphs=2)
        c = torch.rand(ei.size(1), generator=gen, dtype=torch.float64)
        cp = torch.rand(epi.size(1), generator=gen, dtype=torch.float64)
        return (lambda **kw: nn.IdentityGraphMatching(max_iter=5, **kw), c,
                lambda m, c: m(c, cp, es, et, ei, epi, batch_s,
                               batch_t)[0], batch_s[ei[0]])
    if name == 'IdentityShortestPath':
        ei, batch = _dag([4, 5])
        c = torch.rand(ei.size(1), generator=gen, dtype=torch.float64)
        return (lambda **kw: nn.IdentityShortestPath(**kw), c,
                lambda m, c: m(c, ei, batch, source=0,
                               target=torch.tensor([3, 4])),
                edge_batch(batch, ei))
    if name == 'IdentityTSP':
        ei, batch = _complete([4, 5])
        c = torch.rand(ei.size(1), generator=gen, dtype=torch.float64)
        return (lambda **kw: nn.IdentityTSP(runs=1, **kw), c,
                lambda m, c: m(c, ei, batch), edge_batch(batch, ei))
    if name == 'IdentityPerfectMatching':
        ei, batch = _complete([4, 2])
        c = torch.rand(ei.size(1), generator=gen, dtype=torch.float64)
        return (lambda **kw: nn.IdentityPerfectMatching(**kw), c,
                lambda m, c: m(c, ei, batch), edge_batch(batch, ei))
    if name == 'IdentityTopK':
        c = torch.rand(3, 5, generator=gen, dtype=torch.float64)
        return (lambda **kw: nn.IdentityTopK(2, **kw), c,
                lambda m, c: m(c), None)
    if name == 'IdentityRanking':
        c = torch.rand(3, 5, generator=gen, dtype=torch.float64)
        return (lambda **kw: nn.IdentityRanking(**kw), c,
                lambda m, c: m(c), None)
    assert name == 'RecallLoss'
    c = torch.rand(3, 5, generator=gen, dtype=torch.float64)
    rel = torch.tensor([[1, 0, 1, 0, 0], [0, 1, 0, 0, 0],
                        [1, 1, 0, 0, 1]]).bool()
    return (lambda **kw: nn.RecallLoss(**kw), c, lambda m, c: m(c, rel),
            None)


def _layer_names():
    import pyg_identity.nn as nn
    out = sorted(n for n in nn.__all__
                 if isinstance(getattr(nn, n), type)
                 and issubclass(getattr(nn, n), nn.SolverLayer)
                 and getattr(nn, n) is not nn.SolverLayer)
    return out


LAYERS = _layer_names()


def test_every_solver_layer_is_covered():
    assert len(LAYERS) == 9 and 'RecallLoss' in LAYERS


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('name', LAYERS)
def test_every_layer_with_every_mode(name, mode):
    make, c0, call, _ = _case(name)
    layer = make(backward=mode, sigma=0.3, num_samples=2, diagnostics=True,
                 generator=torch.Generator().manual_seed(0))
    c = c0.clone().requires_grad_()
    out = call(layer.train(), c)
    assert torch.isfinite(out).all()
    g = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    (out * g).sum().backward()
    assert c.grad is not None and c.grad.shape == c.shape
    assert torch.isfinite(c.grad).all()
    if name != 'RecallLoss':  # two solver calls of its own per step
        expected = {'identity': 1, 'blackbox': 2, 'perturbed': 2,
                    'imle': 4}[mode]
        assert layer.diagnostics.solver_calls == expected
    # Eval: the exact solution, as the Identity layer computes it.
    with torch.no_grad():
        e = call(layer.eval(), c0)
        ref = call(make(backward='identity').eval(), c0)
    assert torch.equal(e, ref)


@pytest.mark.parametrize('mode', ['perturbed', 'imle'])
@pytest.mark.parametrize('name', LAYERS)
def test_stacked_samples_equal_one_call_per_sample(name, mode, monkeypatch):
    # The M samples (and I-MLE's M targets) solved in one stacked call give
    # the outputs and gradients of one call per sample, bit for bit.
    from pyg_identity import _autograd
    make, c0, call, _ = _case(name)

    def once():
        layer = make(backward=mode, sigma=0.3, num_samples=3,
                     diagnostics=True,
                     generator=torch.Generator().manual_seed(0))
        c = c0.clone().requires_grad_()
        out = call(layer.train(), c)
        g = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
        (out * g).sum().backward()
        d = layer.diagnostics
        return out.detach(), c.grad, d.solver_calls, d.solver_batches

    y1, g1, calls1, batches1 = once()
    monkeypatch.setattr(_autograd, 'stacked_solver', lambda s, times: None)
    y2, g2, calls2, batches2 = once()
    assert torch.equal(y1, y2) and torch.equal(g1, g2)
    per = {'perturbed': 1, 'imle': 2}[mode]
    assert calls1 == calls2 == 3 * per  # solutions of the batch
    assert batches2 == calls2  # one call per sample without a stack
    if name == 'IdentitySolver':  # a plain user function: no stack
        assert batches1 == calls1
    else:
        assert batches1 == per


def test_a_user_solver_with_a_stack_is_called_once():
    solver = Counting()

    def stack(times):
        return solver  # one_hot_min works row by row on any number of rows

    solver.stack = stack
    w = torch.randn(2, 4, requires_grad=True)
    s = GradientSettings(projection=None, backward='imle', num_samples=5,
                         diagnostics=True,
                         generator=torch.Generator().manual_seed(0))
    y = identity_solver(w, solver, rows(w), 2, settings=s, training=True)
    (y * torch.randn(2, 4)).sum().backward()
    assert len(solver.inputs) == 2  # samples, then targets
    assert [x.shape for x in solver.inputs] == [torch.Size([10, 4])] * 2
    assert (s.diagnostics.solver_calls, s.diagnostics.solver_batches) == (
        10, 2)
    solver.stack = lambda times: 'not a solver'
    with pytest.raises(ValueError, match='solver.stack'):
        identity_solver(w, solver, rows(w), 2, settings=s, training=True)


def test_graph_blocks_tile():
    from pyg_identity.solvers._dispatch import graph_blocks
    ei = torch.tensor([[0, 1, 3, 2], [1, 0, 4, 3]])
    batch = torch.tensor([0, 0, 1, 1, 1])
    b = graph_blocks(batch, 5, ei, 2)
    t = b.tile(3)
    assert t.num_graphs == 6
    assert t.node_ptr.tolist() == [0, 2, 5, 7, 10, 12, 15]
    for g in range(6):
        r, h = divmod(g, 2)
        assert (t.edges(g) == b.edges(h) + 4 * r).all()
        assert (t.edge_index(g) == b.edge_index(h)).all()
    assert b.tile(1) is b


@pytest.mark.parametrize('method', ['auto', 'dense', 'sparse'])
def test_assignment_stack_tiles_the_plan_for_a_pool(method):
    # In process the copies reuse the batch's plan one by one; for a pool
    # the stack is one tiled plan. Both give the per-copy solutions.
    from pyg_identity.nn.functional import all_pairs
    from pyg_identity.solvers.linear_assignment import _assignment_solver
    batch_s = torch.tensor([0, 0, 1, 1, 1, 2])
    batch_t = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    ei = all_pairs(batch_s, batch_t)
    keep = torch.arange(ei.size(1)) % 5 != 3  # some pairs are no candidate
    ei = ei[:, keep]
    fn = _assignment_solver(ei, batch_s, batch_t, method=method)
    costs = torch.randn(3, ei.size(1), dtype=torch.float64)
    ref = torch.cat([fn(c) for c in costs])
    assert torch.equal(fn.stack(3)(costs.reshape(-1)), ref)
    fn.num_workers = 2  # as a pooled layer would build it ...
    tiled = fn.stack(3)
    assert tiled.plan.blocks.num_graphs == 9
    tiled.num_workers = 0  # ... solved here
    assert torch.equal(tiled(costs.reshape(-1)), ref)


@pytest.mark.parametrize('name', [n for n in LAYERS if n != 'RecallLoss'])
def test_fy_loss_with_every_layer(name):
    make, c0, call, index = _case(name)
    layer = make(backward='perturbed', sigma=0.3, num_samples=2,
                 generator=torch.Generator().manual_seed(1)).train()
    with torch.no_grad():
        y_true = call(make().eval(), c0.flip(0).contiguous())
    c = c0.clone().requires_grad_()
    y_hat = call(layer, c)
    rows_index = index if index is not None and y_hat.dim() == 1 else None
    loss = fy_loss(y_hat, y_true, rows_index)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert c.grad.shape == c.shape and torch.isfinite(c.grad).all()


def test_experiment_flags_give_valid_settings():
    from pyg_identity.experiments._common import (
        base_parser,
        gradient_kwargs,
        solver_calls,
    )
    p = base_parser('x', epochs=1, projection='std')
    args = p.parse_args(['--backward', 'imle', '--sigma', '0.5',
                         '--num-samples', '3', '--imle-noise',
                         'sum_of_gamma', '--lambda', '50'])
    s = GradientSettings(**gradient_kwargs(args))
    assert (s.backward, s.sigma, s.num_samples, s.imle_noise, s.lambda_,
            s.projection) == ('imle', 0.5, 3, 'sum_of_gamma', 50.0, 'std')
    assert solver_calls(s.diagnostics) == 0 and solver_calls(None) is None
    for bad in (['--sigma', '0'], ['--num-samples', '0'],
                ['--imle-noise', 'x'], ['--backward', 'spo']):
        with pytest.raises(SystemExit):
            p.parse_args(bad)
