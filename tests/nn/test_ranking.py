import math

import pytest
import torch

from pyg_identity import project
from pyg_identity.nn.functional import GradientSettings, SolverDiagnostics
from pyg_identity.nn.functional.ranking import (
    identity_recall_loss,
    ranking,
    recall_at_k,
    recall_loss,
)
from pyg_identity.nn.ranking import IdentityRanking, RecallLoss
from pyg_identity.solvers.ranking import solve_ranking

SIZES = [4, 0, 1, 6, 3]
INDEX = torch.cat([torch.full((n, ), i) for i, n in enumerate(SIZES)])
B = len(SIZES)


def costs(dtype=torch.float64, shape=None):
    c = torch.randn(shape or (INDEX.numel(), ), dtype=dtype)
    return c.requires_grad_()


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_forward_matches_solver_in_costs_dtype(dtype):
    c = costs(dtype)
    y = IdentityRanking()(c, INDEX, B)
    assert y.dtype == dtype and y.shape == c.shape
    assert torch.equal(y, solve_ranking(c.detach(), INDEX, B).to(dtype))


def test_dense_rows():
    c = costs(torch.float32, (6, 9))
    y = IdentityRanking()(c)
    assert torch.equal(y, solve_ranking(c.detach()).float())


def test_normalized_ranks():
    c = costs()
    y = IdentityRanking(normalize=True)(c, INDEX, B)
    sizes = torch.tensor(SIZES, dtype=c.dtype)[INDEX]
    ref = solve_ranking(c.detach(), INDEX, B).to(c.dtype) / sizes
    assert torch.allclose(y, ref)
    d = costs(shape=(3, 5))
    yd = IdentityRanking(normalize=True)(d)
    assert torch.allclose(yd, solve_ranking(d.detach()).double() / 5)


def test_surrogate_gradient_is_minus_g_without_projection():
    c = costs()
    g = torch.randn_like(c)
    (IdentityRanking(projection=None)(c, INDEX, B) * g).sum().backward()
    assert torch.equal(c.grad, -g)


@pytest.mark.parametrize('mode', ['mean', 'norm', 'std'])
def test_gradient_with_projection_is_vjp_of_minus_g(mode):
    c = costs()
    g = torch.randn_like(c)
    (IdentityRanking(projection=mode)(c, INDEX, B) * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    ref, = torch.autograd.grad(project(c2, INDEX, num_graphs=B, mode=mode),
                               c2, -g)
    assert torch.allclose(c.grad, ref)


def test_dense_gradient_is_projected_per_row():
    c = costs(shape=(4, 6))
    g = torch.randn_like(c)
    (IdentityRanking(projection='std')(c) * g).sum().backward()
    c2 = c.detach().reshape(-1).clone().requires_grad_()
    index = torch.arange(4).repeat_interleave(6)
    ref, = torch.autograd.grad(project(c2, index, mode='std'), c2,
                               -g.reshape(-1))
    assert torch.allclose(c.grad, ref.view(4, 6))


@pytest.mark.parametrize('lam', [0.5, 20.0])
def test_blackbox_gradient(lam):
    c = costs()
    g = torch.randn_like(c)
    layer = IdentityRanking(projection=None, backward='blackbox', lambda_=lam)
    y = layer(c, INDEX, B)
    (y * g).sum().backward()
    # argmin: y_lam = y(w + lam * g), grad = -(y - y_lam) / lam.
    y_lam = solve_ranking(c.detach() + lam * g, INDEX, B).double()
    assert torch.allclose(c.grad, -(y.detach() - y_lam) / lam)


def test_shift_and_scale_invariance_per_group():
    c = costs().detach()
    shift = torch.randn(B, dtype=c.dtype)[INDEX]
    scale = torch.rand(B, dtype=c.dtype)[INDEX] + 0.1
    layer = IdentityRanking(projection=None)
    y = layer(c, INDEX, B)
    assert torch.equal(layer(c + shift, INDEX, B), y)
    assert torch.equal(layer(c * scale, INDEX, B), y)


def test_projection_ablation_does_not_change_solutions():
    c = costs().detach()
    ys = [IdentityRanking(projection=m)(c, INDEX, B)
          for m in (None, 'mean', 'norm', 'std')]
    for y in ys[1:]:
        assert torch.equal(y, ys[0])


def test_noise_only_in_training():
    c = costs().detach()
    layer = IdentityRanking(noise=100.0)
    ref = IdentityRanking()(c, INDEX, B)
    layer.eval()
    assert torch.equal(layer(c, INDEX, B), ref)
    layer.train()
    assert any(not torch.equal(layer(c, INDEX, B), ref) for _ in range(5))


def test_functional_matches_module():
    c = costs()
    assert torch.equal(ranking(c, INDEX, B),
                       IdentityRanking()(c, INDEX, B))


def test_repr():
    assert repr(IdentityRanking()) == (
        "IdentityRanking(projection='std', backward='identity')")
    assert repr(IdentityRanking(True, backward='blackbox', lambda_=0.2)) == (
        "IdentityRanking(normalize=True, projection='std', "
        "backward='blackbox', lambda_=0.2)")


@pytest.mark.parametrize('c,index,match', [
    (torch.tensor([1.0, float('nan')]), None, 'finite'),
    (torch.tensor([1.0, float('inf')]), None, 'finite'),
    (torch.tensor([1, 2]), None, 'floating point'),
    (torch.zeros(2, 2, 2), None, 'dimensional'),
    (torch.zeros(3), torch.tensor([0, 1]), "'batch' must be one-dim"),
    (torch.zeros(3), torch.tensor([0.0, 0.0, 1.0]), "'batch' must be an int"),
    (torch.zeros(3), torch.tensor([0, -2, 1]), "'batch' must be non-neg"),
    (torch.zeros(2, 3), torch.tensor([0, 1]), "'batch' must be None"),
])
def test_bad_inputs_raise(c, index, match):
    with pytest.raises(ValueError, match=match):
        IdentityRanking()(c, index)


def test_single_item_and_empty_groups():
    c = torch.tensor([0.3], requires_grad=True)
    assert IdentityRanking()(c).tolist() == [1.0]
    assert IdentityRanking()(torch.zeros(0), torch.zeros(
        0, dtype=torch.long), 2).shape == (0, )


def test_bad_normalize_raises():
    with pytest.raises(ValueError, match="'normalize'"):
        IdentityRanking(normalize=1)


# Recall loss (Eq. 26) and recall@k (Eq. 25) ---------------------------------

def loglog(d):
    return math.log(1 + math.log(1 + d))


def test_recall_loss_value_by_hand():
    # Group 0: relevant items at ranks 2 and 4 -> 1 and 2 irrelevant items
    # above them. Group 1: relevant item at rank 1. Group 2: no relevant.
    ranks = torch.tensor([2.0, 1.0, 4.0, 3.0, 1.0, 2.0, 1.0, 2.0])
    relevant = torch.tensor([1, 0, 1, 0, 1, 0, 0, 0], dtype=torch.bool)
    index = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    ranks_pos = torch.tensor([1.0, 2.0, 1.0])
    loss = recall_loss(ranks, ranks_pos, relevant, index, 3)
    expected = ((loglog(1) + loglog(2)) / 2 + 0.0) / 2
    assert float(loss) == pytest.approx(expected)
    # ranks_pos may also come in the shape of ranks.
    full = torch.zeros_like(ranks).masked_scatter(relevant, ranks_pos)
    assert torch.equal(recall_loss(ranks, full, relevant, index, 3), loss)


def test_recall_loss_is_zero_when_relevant_items_lead():
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0], [0.0, 5.0, 1.0, 4.0]])
    relevant = torch.tensor([[1, 1, 0, 0], [0, 1, 0, 1]], dtype=torch.bool)
    assert float(identity_recall_loss(scores, relevant)) == 0.0


def test_recall_loss_is_lower_when_relevant_scored_higher():
    scores, relevant = torch.randn(8, 12), torch.rand(8, 12) < 0.3
    relevant[:, 0] = True
    worse = identity_recall_loss(scores - 2.0 * relevant, relevant)
    base = identity_recall_loss(scores, relevant)
    better = identity_recall_loss(scores + 2.0 * relevant, relevant)
    assert float(worse) > float(base) > float(better)


@pytest.mark.parametrize('backward,factor', [('identity', 0.5),
                                              ('blackbox', 0.95)])
def test_recall_loss_gradient_raises_relevant_scores(backward, factor):
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(16, 20, dtype=torch.float64, generator=gen)
    relevant = torch.rand(16, 20, generator=gen) < 0.25
    relevant[:, 0] = True
    scores.requires_grad_()
    loss_fn = RecallLoss(backward=backward, lambda_=20.0)
    loss = loss_fn(scores, relevant)
    loss.backward()
    assert torch.isfinite(scores.grad).all()
    # SGD raises relevant scores and lowers irrelevant ones on average.
    assert float(scores.grad[relevant].mean()) < 0.0
    assert float(scores.grad[~relevant].mean()) > 0.0
    # A few optimisation steps decrease the loss.
    x = scores.detach().clone().requires_grad_()
    opt = torch.optim.Adam([x], lr=0.2)
    for _ in range(20):
        opt.zero_grad()
        loss_fn(x, relevant).backward()
        opt.step()
    assert float(loss_fn(x.detach(), relevant)) < factor * float(loss.detach())


def test_recall_loss_without_projection_has_cancelling_gradient():
    scores = torch.randn(3, 8, requires_grad=True)
    relevant = torch.rand(3, 8) < 0.5
    RecallLoss(projection=None)(scores, relevant).backward()
    assert torch.equal(scores.grad, torch.zeros_like(scores))


def test_recall_loss_ragged_equals_dense_rows():
    scores = torch.randn(5, 7, dtype=torch.float64)
    relevant = torch.rand(5, 7) < 0.4
    relevant[2] = False  # a query without relevant items is skipped
    dense = identity_recall_loss(scores, relevant)
    index = torch.arange(5).repeat_interleave(7)
    ragged = identity_recall_loss(scores.reshape(-1), relevant.reshape(-1),
                                  index, 5)
    assert torch.allclose(dense, ragged)


def test_recall_loss_without_relevant_items_is_zero_and_connected():
    scores = torch.randn(2, 4, requires_grad=True)
    loss = RecallLoss()(scores, torch.zeros(2, 4, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert torch.equal(scores.grad, torch.zeros_like(scores))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_recall_loss_dtype(dtype):
    scores = torch.randn(3, 5, dtype=dtype, requires_grad=True)
    relevant = torch.rand(3, 5) < 0.5
    loss = RecallLoss()(scores, relevant)
    assert loss.dtype == dtype and loss.dim() == 0


def test_recall_at_k_matches_loop():
    gen = torch.Generator().manual_seed(1)
    sizes = [5, 0, 3, 8, 6]
    index = torch.cat([torch.full((n, ), i) for i, n in enumerate(sizes)])
    scores = torch.randn(index.numel(), generator=gen)
    relevant = torch.rand(index.numel(), generator=gen) < 0.3
    relevant[index == 4] = False
    for k in (1, 2, 4):
        hits, queries = 0, 0
        for g in range(len(sizes)):
            m = index == g
            if not relevant[m].any():
                continue
            queries += 1
            top = scores[m].argsort(descending=True)[:k]
            hits += int(relevant[m][top].any())
        out = recall_at_k(scores, relevant, index, len(sizes), k=k)
        assert float(out) == pytest.approx(hits / queries)


@pytest.mark.parametrize('fn,args,match', [
    (recall_at_k, (torch.zeros(3), torch.ones(3, dtype=torch.bool)),
     None),
    (recall_at_k, (torch.zeros(3), torch.ones(3)), "'relevant' must be a b"),
    (recall_at_k, (torch.zeros(3), torch.ones(2, dtype=torch.bool)),
     "'relevant' must have the shape"),
    (identity_recall_loss, (torch.zeros(3), torch.ones(2, dtype=torch.bool)),
     "'relevant' must have the shape"),
    (recall_loss, (torch.zeros(3), torch.zeros(1), torch.ones(
        3, dtype=torch.bool)), "'ranks_pos' must have the shape"),
    (recall_loss, (torch.zeros(3), torch.zeros(3, dtype=torch.long),
                   torch.ones(3, dtype=torch.bool)), "'ranks_pos' must be"),
    (identity_recall_loss, (torch.tensor([0.0, float('nan')]),
                            torch.ones(2, dtype=torch.bool)), 'finite'),
])
def test_recall_bad_inputs_raise(fn, args, match):
    if match is None:  # recall_at_k with k = 0
        with pytest.raises(ValueError, match="'k' must be a positive"):
            fn(*args, k=0)
        return
    with pytest.raises(ValueError, match=match):
        fn(*args)


def test_options_are_keyword_only():
    c = costs()
    rel = torch.rand(c.shape) < 0.5
    with pytest.raises(TypeError):
        ranking(c, INDEX, B, True)
    with pytest.raises(TypeError):
        IdentityRanking()(c, INDEX, B, True)
    with pytest.raises(TypeError):
        IdentityRanking(True, 'std')
    with pytest.raises(TypeError):
        RecallLoss('std')
    with pytest.raises(TypeError):
        identity_recall_loss(c, rel, INDEX, B, 'std')
    with pytest.raises(TypeError):
        recall_at_k(c, rel, INDEX, B, 1)
    with pytest.raises(TypeError, match="keyword-only"):
        ranking(c, True)


def test_misplaced_integer_tensor_says_what_it_looks_like():
    c = costs()
    rel = torch.rand(c.shape) < 0.5
    with pytest.raises(ValueError, match="'cost' must be a floating point "
                       "tensor .*looks like a batch vector.*the order is "
                       "cost, batch, num_graphs"):
        IdentityRanking()(INDEX, c)
    with pytest.raises(ValueError, match="'relevant' must be a boolean "
                       "tensor .*looks like a batch vector.*the order is "
                       "cost, relevant, batch, num_graphs"):
        RecallLoss()(c, INDEX, rel)
    with pytest.raises(ValueError, match="'batch' must be an integer tensor "
                       ".*looks like boolean labels"):
        recall_at_k(c, rel, rel)
    with pytest.raises(ValueError, match="'cost' must be a floating point "
                       "tensor .*looks like boolean labels"):
        identity_recall_loss(rel, c)


def test_invalid_assignment_raises():
    layer = IdentityRanking(noise=0.5)
    with pytest.raises(ValueError, match="'noise' must be non-negative"):
        layer.noise = -1
    with pytest.raises(ValueError, match="'normalize' must be a bool"):
        layer.normalize = 1
    assert layer.noise == 0.5 and layer.normalize is False
    layer.normalize = True
    assert torch.allclose(layer(costs(shape=(2, 4))).detach().sum(1),
                          torch.full((2, ), 2.5, dtype=torch.float64))
    loss = RecallLoss()
    with pytest.raises(ValueError, match="'noise' must be non-negative"):
        loss.noise = -1


def test_generator_makes_the_margin_reproducible():
    c = costs().detach()
    rel = torch.rand(c.shape, generator=torch.Generator().manual_seed(1))
    rel = rel < 0.5
    out = []
    for _ in range(2):
        gen = torch.Generator().manual_seed(0)
        layer = IdentityRanking(noise=100.0, generator=gen).train()
        loss = RecallLoss(noise=100.0, generator=gen).train()
        out.append((torch.stack([layer(c, INDEX, B) for _ in range(4)]),
                    torch.stack([loss(c, rel, INDEX, B) for _ in range(4)])))
    assert torch.equal(out[0][0], out[1][0])
    assert torch.equal(out[0][1], out[1][1])
    ref = IdentityRanking()(c, INDEX, B)
    assert any(not torch.equal(y, ref) for y in out[0][0])


def test_settings_object_and_recall_diagnostics():
    scores = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    relevant = torch.rand(4, 6) < 0.4
    relevant[:, 0] = True
    diag = SolverDiagnostics()
    settings = GradientSettings(projection='mean', diagnostics=diag)
    loss_fn = RecallLoss(settings=settings)
    assert loss_fn.settings is settings and not hasattr(loss_fn, 'sense')
    loss = loss_fn(scores, relevant)
    loss.backward()
    # The diagnostics record the ranking of all items (the 4 x 6 scores).
    ref = scores.detach().norm(dim=1).mean()
    assert torch.allclose(diag.cost_norm, ref)
    assert diag.grad_cosine is not None
    s2 = scores.detach().clone().requires_grad_()
    identity_recall_loss(s2, relevant, projection='mean').backward()
    assert torch.allclose(scores.grad, s2.grad)
    layer = IdentityRanking(settings=settings, projection=None)
    assert layer.projection is None and settings.projection == 'mean'
