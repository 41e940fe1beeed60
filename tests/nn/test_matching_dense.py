r"""IdentityMatching and the matching functional in pygmtools' dense layout
([b, n1max, n2max] costs with per-pair sizes n1, n2) and with the
pygmtools solver backend."""
import numpy as np
import pygmtools
import pytest
import torch

from pyg_identity.nn import IdentityMatching
from pyg_identity.nn.functional import matching


def dense_batch(seed, b=5, m1=6, m2=5):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((b, m1, m2))
    n1 = rng.integers(0, m1 + 1, b)
    n2 = rng.integers(0, m2 + 1, b)
    return s, n1, n2


def flat(s, n1, n2):
    # The pair layout of the same problems: all pairs, row-major per pair.
    cost = np.concatenate([s[g, :a, :c].ravel()
                           for g, (a, c) in enumerate(zip(n1, n2))])
    batch_s = torch.from_numpy(np.repeat(np.arange(len(n1)), n1))
    batch_t = torch.from_numpy(np.repeat(np.arange(len(n2)), n2))
    return torch.from_numpy(cost), batch_s, batch_t


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('solver', ['scipy', 'pygmtools'])
def test_dense_in_dense_out_equals_pygmtools_and_the_sparse_layout(seed,
                                                                   solver):
    s, n1, n2 = dense_batch(seed)
    ref = pygmtools.linear_solvers.hungarian(s, n1, n2, backend='numpy')
    layer = IdentityMatching(solver=solver)
    # Convention: the layer minimises cost, pygmtools maximises scores.
    y = layer(cost=torch.from_numpy(-s), n1=torch.from_numpy(n1),
              n2=torch.from_numpy(n2))
    assert y.shape == s.shape
    assert np.array_equal(y.numpy(), ref)
    cost, batch_s, batch_t = flat(-s, n1, n2)
    y_flat = matching(cost, None, batch_s, batch_t, num_graphs=len(n1),
                      solver=solver)
    assert np.array_equal(flat(y.numpy(), n1, n2)[0].numpy(),
                          y_flat.numpy())


def test_dense_padding_is_zero_and_gets_no_gradient():
    s, n1, n2 = dense_batch(1)
    cost = torch.from_numpy(-s).requires_grad_()
    y = matching(cost, n1=torch.from_numpy(n1), n2=torch.from_numpy(n2))
    real = torch.zeros(s.shape, dtype=torch.bool)
    for g, (a, c) in enumerate(zip(n1, n2)):
        real[g, :a, :c] = True
    assert not y[~real].any()
    grad = torch.randn(s.shape, dtype=torch.float64)
    (y * grad).sum().backward()
    # Identity: dl/dc = -dl/dy on the real entries, 0 in the padding.
    assert torch.equal(cost.grad[real], -grad[real])
    assert not cost.grad[~real].any()


def test_dense_without_sizes_is_a_view_of_the_flat_solution():
    s, _, _ = dense_batch(2)
    cost = torch.from_numpy(-s).requires_grad_()
    y = matching(cost)
    assert np.array_equal(
        y.detach().numpy(),
        pygmtools.linear_solvers.hungarian(s, backend='numpy'))
    y.sum().backward()
    assert torch.equal(cost.grad, -torch.ones_like(cost))


@pytest.mark.parametrize('projection', ['norm', 'std'])
def test_dense_projection_is_per_pair_on_the_real_entries(projection):
    # The padding (here huge) must not enter the per-pair statistics.
    s, n1, n2 = dense_batch(3)
    s_pad = s.copy()
    for g, (a, c) in enumerate(zip(n1, n2)):
        mask = np.ones(s.shape[1:], dtype=bool)
        mask[:a, :c] = False
        s_pad[g][mask] = 1e6
    cost = torch.from_numpy(-s_pad).requires_grad_()
    y = matching(cost, n1=torch.from_numpy(n1), n2=torch.from_numpy(n2),
                 projection=projection)
    grad = torch.from_numpy(np.random.default_rng(0).standard_normal(
        s.shape))
    (y * grad).sum().backward()
    c_flat, batch_s, batch_t = flat(-s, n1, n2)
    c_flat.requires_grad_()
    y_flat = matching(c_flat, None, batch_s, batch_t, num_graphs=len(n1),
                      projection=projection)
    (y_flat * flat(grad.numpy(), n1, n2)[0]).sum().backward()
    assert torch.equal(flat(y.detach().numpy(), n1, n2)[0], y_flat.detach())
    assert torch.allclose(flat(cost.grad.numpy(), n1, n2)[0], c_flat.grad)


@pytest.mark.parametrize('solver', ['scipy', 'pygmtools'])
def test_dense_unmatch_cost_is_pygmtools_minus_unmatch_score(solver):
    s, n1, n2 = dense_batch(4)
    u = 0.5
    ref = pygmtools.linear_solvers.hungarian(
        s, n1, n2, np.full(s.shape[:2], -u), np.full((5, 5), -u),
        backend='numpy')
    y = IdentityMatching(unmatch_cost=u, solver=solver)(
        cost=torch.from_numpy(-s), n1=n1, n2=n2)
    assert np.array_equal(y.numpy(), ref)


def test_blackbox_backward_in_the_dense_layout():
    s, n1, n2 = dense_batch(5)
    cost = torch.from_numpy(-s).requires_grad_()
    layer = IdentityMatching(backward='blackbox', lambda_=10.0,
                             solver='pygmtools')
    y = layer(cost=cost, n1=n1, n2=n2)
    y.sum().backward()
    assert cost.grad.shape == s.shape and torch.isfinite(cost.grad).all()


def test_layer_solver_option_is_validated():
    layer = IdentityMatching()
    assert layer.solver == 'scipy'
    with pytest.raises(ValueError, match="'solver' must be"):
        layer.solver = 'auction'
    layer.method = 'sparse'
    with pytest.raises(ValueError, match="needs solver='scipy'"):
        layer.solver = 'pygmtools'
    layer.method = 'auto'
    layer.solver = 'pygmtools'
    with pytest.raises(ValueError, match="needs solver='scipy'"):
        layer.method = 'sparse'
    with pytest.raises(TypeError):
        IdentityMatching('dot', None, 'auto', 0, None, 'pygmtools')


def test_dense_layout_refuses_sparse_arguments():
    with pytest.raises(ValueError, match="do not pass 'batch_s'"):
        IdentityMatching()(cost=torch.zeros(2, 3, 3),
                           batch_s=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="'n1' belongs to the dense layout"):
        IdentityMatching()(torch.randn(3, 2), torch.randn(3, 2),
                           n1=torch.tensor([3]))
