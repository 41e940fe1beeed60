import pytest
import torch
from _toy_solvers import argmin_one_hot, brute_force_subsets, top2

from pyg_identity import project
from pyg_identity.nn import IdentitySolver
from pyg_identity.nn.functional.identity_solver import identity_solver
from pyg_identity.nn.functional.noise import symmetric_noise

SIZES = [3, 1, 4, 2]
INDEX = torch.cat([torch.full((n, ), i) for i, n in enumerate(SIZES)])
B = len(SIZES)


def make(sense='min', **kwargs):
    fn = argmin_one_hot if sense == 'min' else top2
    lay = IdentitySolver(fn, sense=sense, **kwargs)
    return lambda c: lay(c, INDEX, B, group=INDEX, num_groups=B), lay


@pytest.mark.parametrize('sense,sign', [('min', -1.0), ('max', 1.0)])
def test_identity_surrogate_gradient_exact(sense, sign):
    f, _ = make(sense, projection=None)
    c = torch.randn(INDEX.numel(), dtype=torch.float64, requires_grad=True)
    g = torch.randn(INDEX.numel(), dtype=torch.float64)
    (f(c) * g).sum().backward()
    assert torch.equal(c.grad, sign * g)


@pytest.mark.parametrize('mode', ['mean', 'norm', 'std'])
@pytest.mark.parametrize('sense,sign', [('min', -1.0), ('max', 1.0)])
def test_identity_gradient_with_projection_is_vjp(mode, sense, sign):
    f, _ = make(sense, projection=mode)
    c = torch.randn(INDEX.numel(), dtype=torch.float64, requires_grad=True)
    g = torch.randn(INDEX.numel(), dtype=torch.float64)
    (f(c) * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    ref, = torch.autograd.grad(project(c2, INDEX, mode=mode), c2, sign * g)
    assert torch.allclose(c.grad, ref)


def test_solution_dtype_and_shape_follow_costs():
    f, _ = make('min', projection='norm')
    for dtype in (torch.float32, torch.float64):
        c = torch.randn(INDEX.numel(), dtype=dtype)
        y = f(c)
        assert y.dtype == dtype and y.shape == c.shape
        assert torch.equal(y, argmin_one_hot(c, INDEX, B).to(dtype))


def test_batched_equals_per_graph_loop():
    f, _ = make('max', projection='std')
    c = torch.randn(INDEX.numel(), dtype=torch.float64, requires_grad=True)
    g = torch.randn(INDEX.numel(), dtype=torch.float64)
    y = f(c)
    (y * g).sum().backward()
    lay = IdentitySolver(top2, sense='max', projection='std')
    for i in range(B):
        m = INDEX == i
        ci = c.detach()[m].clone().requires_grad_()
        zero = torch.zeros(int(m.sum()), dtype=torch.long)
        yi = lay(ci, zero, 1, group=zero, num_groups=1)
        (yi * g[m]).sum().backward()
        assert torch.equal(yi, y[m])
        assert torch.allclose(ci.grad, c.grad[m])


@pytest.mark.parametrize('mode', [None, 'norm'])
def test_blackbox_backward_equals_formula(mode):
    lam = 3.0
    f, _ = make('min', projection=mode, backward='blackbox', lambda_=lam)
    c = torch.randn(INDEX.numel(), dtype=torch.float64, requires_grad=True)
    g = torch.randn(INDEX.numel(), dtype=torch.float64)
    (f(c) * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    w = project(c2, INDEX, mode=mode)
    y = argmin_one_hot(w.detach(), INDEX, B)
    y_lam = argmin_one_hot(w.detach() + lam * g, INDEX, B)
    ref, = torch.autograd.grad(w, c2, -(y - y_lam) / lam)
    assert torch.allclose(c.grad, ref)


def test_blackbox_known_answer_argmax():
    # argmax top-2 of [3, 2, 1] is {0, 1}; with lambda = 1 and g = [0, 5, 0]
    # the perturbed costs w - lambda g = [3, -3, 1] select {0, 2}.
    lay = IdentitySolver(top2, sense='max', projection=None,
                         backward='blackbox', lambda_=1.0)
    c = torch.tensor([3.0, 2.0, 1.0], requires_grad=True)
    idx = torch.zeros(3, dtype=torch.long)
    y = lay(c, idx, 1, group=idx, num_groups=1)
    assert y.tolist() == [1.0, 1.0, 0.0]
    (y * torch.tensor([0.0, 5.0, 0.0])).sum().backward()
    assert c.grad.tolist() == [0.0, 1.0, -1.0]  # (y - y_lam) / lambda


def test_blackbox_calls_solver_once_more():
    calls = []

    def solver(c):
        calls.append(1)
        return brute_force_subsets(c, 2)

    lay = IdentitySolver(solver, projection=None, backward='blackbox')
    c = torch.randn(5, requires_grad=True)
    lay(c).sum().backward()
    assert len(calls) == 2
    calls.clear()
    lay = IdentitySolver(solver, projection=None)
    lay(c).sum().backward()
    assert len(calls) == 1  # Identity: no solver call on the backward pass


@pytest.mark.parametrize('mode', ['mean', 'norm', 'std'])
def test_projection_keeps_solution_for_fixed_size_solver(mode):
    c = torch.randn(6, dtype=torch.float64) * 5 + 3
    lay = IdentitySolver(lambda w: brute_force_subsets(w, 3), projection=mode)
    assert torch.equal(lay(c), brute_force_subsets(c, 3))


def test_noise_absent_in_eval_mode():
    seen = []
    lay = IdentitySolver(lambda w: seen.append(w) or w * 0, projection=None,
                         noise=0.5)
    lay.eval()
    c = torch.randn(50)
    lay(c)
    assert torch.equal(seen[0], c)


def test_noise_support_and_seed_in_training_mode():
    seen = []
    lay = IdentitySolver(lambda w: seen.append(w) or w * 0, projection=None,
                         noise=0.5)
    lay.train()
    c = torch.randn(2000, dtype=torch.float64)
    torch.manual_seed(0)
    lay(c)
    torch.manual_seed(0)
    lay(c)
    xi = seen[0] - c
    assert set(xi.round(decimals=9).unique().tolist()) == {-0.25, 0.25}
    assert 0.4 < float((xi > 0).double().mean()) < 0.6
    assert torch.equal(seen[0], seen[1])
    lay.noise = 0.0  # switched off at run time
    lay(c)
    assert torch.equal(seen[2], c)


def test_noise_is_added_before_projection_by_default():
    seen = []
    lay = IdentitySolver(lambda w: seen.append(w) or w * 0, projection='std',
                         noise=1.0)
    lay.train()
    c = torch.randn(10, dtype=torch.float64) * 100
    torch.manual_seed(1)
    lay(c)
    torch.manual_seed(1)
    xi = torch.randint(0, 2, c.shape).to(c.dtype) - 0.5
    assert torch.allclose(seen[0], project(c + xi, mode='std'))
    assert abs(float(seen[0].norm()) - 1.0) < 1e-9  # noise went before P
    lay = IdentitySolver(lambda w: seen.append(w) or w * 0, projection='std',
                         noise=1.0, noise_position='after')
    lay.train()
    lay(c)
    xi = seen[1] - project(c, mode='std')
    assert torch.allclose(xi.abs(), torch.full_like(xi, 0.5))


def _expected_margin_loss(scale, noise_position, num_graphs=4000):
    # One-hot argmin over 3 items with raw costs scale * [0, 1, 2] (item 0 is
    # the right answer), P_std, margin alpha = 1: the Hamming loss averaged
    # over many graphs, each with its own noise, estimates the expected loss
    # under the margin.
    base = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    c = (scale * base).repeat(num_graphs)
    index = torch.arange(num_graphs).repeat_interleave(3)
    lay = IdentitySolver(argmin_one_hot, projection='std', noise=1.0,
                         noise_position=noise_position).train()
    torch.manual_seed(0)
    y = lay(c, index, num_graphs, group=index, num_groups=num_graphs)
    y_true = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    return float((y - y_true.repeat(num_graphs)).abs().sum() / num_graphs)


def test_margin_before_projection_penalises_shrinking_raw_costs():
    # The mechanism of the noise margin (paper Sec. 3.6): on the raw costs it
    # makes small costs costly, so the loss pushes them away from zero; after
    # P_std the solver input does not depend on the raw scale, so neither
    # does the loss, and nothing stops the raw costs from collapsing.
    scales = [10.0, 1.0, 0.5, 0.2, 0.05, 0.01]
    before = [_expected_margin_loss(s, 'before') for s in scales]
    after = [_expected_margin_loss(s, 'after') for s in scales]
    assert all(a <= b + 1e-12 for a, b in zip(before, before[1:]))
    assert before[0] == 0.0 and before[-1] > 0.7
    assert max(after) - min(after) < 1e-12  # scale-invariant
    assert after[0] < before[-1]


def test_multiple_cost_tensors():
    def solver(a, b):
        return (a < 0).to(a.dtype), (b > 0).to(b.dtype)

    lay = IdentitySolver(solver, projection=None)
    a = torch.randn(4, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    ya, yb = lay((a, b))
    ga, gb = torch.randn(4), torch.randn(3)
    ((ya * ga).sum() + (yb * gb).sum()).backward()
    assert torch.equal(a.grad, -ga) and torch.equal(b.grad, -gb)


def test_diagnostics_cost_norm_and_cosine():
    f, lay = make('min', projection=None, diagnostics=True)
    c = torch.randn(INDEX.numel(), dtype=torch.float64, requires_grad=True)
    (f(c) * torch.randn_like(c)).sum().backward()
    norms = torch.stack([c.detach()[INDEX == i].norm() for i in range(B)])
    assert torch.allclose(lay.diagnostics.cost_norm, norms.mean())
    assert torch.allclose(lay.diagnostics.grad_cosine,
                          torch.tensor(1.0, dtype=torch.float64))
    f, lay = make('min', projection='std', diagnostics=True)
    (f(c) * torch.randn_like(c)).sum().backward()
    assert float(lay.diagnostics.grad_cosine) < 1.0 - 1e-6


def test_diagnostics_off_by_default():
    _, lay = make('min')
    assert lay.diagnostics is None


def test_repr():
    assert repr(IdentitySolver(top2, sense='max', projection='std')) == (
        "IdentitySolver(top2, sense='max', projection='std', "
        "backward='identity')")


@pytest.mark.parametrize('kwargs,match', [
    (dict(projection='max'), "Invalid 'projection'"),
    (dict(sense='argmin'), "'sense' must be"),
    (dict(backward='bb'), "'backward' must be"),
    (dict(lambda_=0.0), "'lambda_' must be positive"),
    (dict(noise=-1.0), "'noise' must be non-negative"),
    (dict(noise_position='middle'), "'noise_position' must be"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentitySolver(top2, **kwargs)


def test_bad_solve_fn():
    with pytest.raises(ValueError, match="'solve_fn' must be callable"):
        IdentitySolver(3)


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_costs(bad):
    c = torch.randn(INDEX.numel())
    c[2] = bad
    with pytest.raises(ValueError, match="'costs' must be finite"):
        make('min')[0](c)


def test_integer_costs_rejected():
    with pytest.raises(ValueError, match="'costs' must be floating"):
        IdentitySolver(top2)(torch.arange(3))


def test_mismatched_index_length():
    lay = IdentitySolver(lambda c: c * 0)
    with pytest.raises(ValueError, match="'index' must be one-dimensional"):
        lay(torch.randn(5), torch.zeros(4, dtype=torch.long))


def test_solver_returning_wrong_shape():
    lay = IdentitySolver(lambda c: c[:-1])
    with pytest.raises(ValueError, match="'solver' must return solutions"):
        lay(torch.randn(5))


def test_inputs_not_mutated():
    f, _ = make('min', projection='std', backward='blackbox')
    c = torch.randn(INDEX.numel(), requires_grad=True)
    before = c.detach().clone()
    g = torch.randn(INDEX.numel())
    (f(c) * g).sum().backward()
    assert torch.equal(c.detach(), before)


# Inputs that used to get the wrong kind of error, or none.

@pytest.mark.parametrize('kwargs,match', [
    (dict(lambda_=float('inf')), "'lambda_' must be positive and finite"),
    (dict(lambda_=float('nan')), "'lambda_' must be positive and finite"),
    (dict(lambda_=float('inf'), backward='blackbox'), "'lambda_'"),
    (dict(noise=float('inf')), "'noise' must be non-negative and finite"),
    (dict(noise=float('nan')), "'noise' must be non-negative and finite"),
    (dict(noise=None), "'noise' must be non-negative and finite"),
    (dict(noise='0.1'), "'noise' must be non-negative and finite"),
])
def test_non_finite_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentitySolver(top2, **kwargs)
    with pytest.raises(ValueError, match=match):
        identity_solver(torch.randn(3), lambda c: c * 0, **kwargs)


@pytest.mark.parametrize('name,value,match', [
    ('noise', float('inf'), "'noise' must be non-negative"),
    ('noise', -1, "'noise' must be non-negative"),
    ('lambda_', 0.0, "'lambda_' must be positive"),
    ('projection', 'l2', "'projection'"),
    ('backward_mode', 'sgd', "'backward'"),
    ('noise_position', 'middle', "'noise_position'"),
])
def test_invalid_value_assigned_at_run_time_raises(name, value, match):
    lay = IdentitySolver(lambda c: c * 0, noise=0.1).train()
    with pytest.raises(ValueError, match=match):
        setattr(lay, name, value)
    lay.noise = 0.0  # valid assignments still work
    assert lay.noise == 0.0


def test_symmetric_noise_rejects_infinite_alpha():
    with pytest.raises(ValueError, match="'alpha' must be non-negative and "
                       "finite"):
        symmetric_noise(torch.ones(4), float('inf'))


@pytest.mark.parametrize('index,kwargs,match', [
    (torch.tensor([0, 0, -1, -1]), {}, r"'index' must lie in \[0, "),
    (torch.tensor([0, 0, 1, 1]), dict(num_graphs=1),
     r"'index' must lie in \[0, num_graphs - 1\] with num_graphs = 1"),
    (torch.tensor([0, 0, 1, 1]), dict(num_graphs=1, projection=None,
                                      diagnostics=True), "'index' must lie"),
    (torch.tensor([0.0, 0, 1, 1]), {}, "'index' must be an integer"),
    (torch.tensor([0, 0, 1, 1]), dict(num_graphs=-1),
     "'num_graphs' must be a non-negative integer"),
    (torch.tensor([0, 0, 1, 1]), dict(num_graphs=2.0),
     "'num_graphs' must be a non-negative integer"),
])
def test_bad_index(index, kwargs, match):
    kwargs = {'projection': 'std', **kwargs}
    num_graphs = kwargs.pop('num_graphs', None)
    lay = IdentitySolver(lambda c: c * 0, **kwargs)
    with pytest.raises(ValueError, match=match):
        lay(torch.randn(4), index, num_graphs)


def test_costs_on_another_device_than_index():
    lay = IdentitySolver(lambda c: c * 0, projection='std')
    with pytest.raises(ValueError, match="'index' must be on the device of "
                       "its costs"):
        lay(torch.randn(4, device='meta'), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match="'costs' must hold values"):
        lay(torch.randn(4, device='meta'))


@pytest.mark.parametrize('out,match', [
    (None, "'solver' must return a tensor .* \\(got NoneType\\)"),
    ('y', "'solver' must return a tensor .* \\(got str\\)"),
    ({'y': 0}, "'solver' must return a tensor .* \\(got dict\\)"),
    ((None, ), "'solver' must return a tensor .* \\(got NoneType\\)"),
])
def test_solver_returning_no_tensor(out, match):
    lay = IdentitySolver(lambda c: out)
    with pytest.raises(ValueError, match=match):
        lay(torch.randn(3))


def test_solver_may_return_a_numpy_array():
    lay = IdentitySolver(lambda c: (c.numpy() > 0).astype('float32'))
    c = torch.randn(5, dtype=torch.float64)
    assert torch.equal(lay(c), (c > 0).double())


def test_zero_costs_get_a_bounded_gradient():
    # A zero-initialised cost head: the gradient is P_mean(-g) (argmin),
    # not 1e6 * P_mean(-g).
    c = torch.zeros(INDEX.numel(), dtype=torch.float64, requires_grad=True)
    g = torch.randn(INDEX.numel(), dtype=torch.float64)
    (make('min', projection='std')[0](c) * g).sum().backward()
    ref = torch.cat([-(g[INDEX == i] - g[INDEX == i].mean())
                     for i in range(B)])
    assert torch.allclose(c.grad, ref)
