import numpy as np
import pytest
import torch

from pyg_identity.nn.functional import (
    GradientSettings,
    all_pairs,
    knn_candidates,
    matched_pairs,
    matching,
    matching_accuracy,
    matching_f1,
    matching_hamming_loss,
    pair_cost,
    to_dense_matching,
)
from pyg_identity.nn.matching import IdentityMatching
from pyg_identity.projection import project
from pyg_identity.solvers import solve_assignment
from pyg_identity.solvers.linear_assignment import (
    _assignment_plan,
    _solve_plan,
)


def ragged(sizes_s, sizes_t, channels=4, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch_s = torch.repeat_interleave(torch.arange(len(sizes_s)),
                                      torch.tensor(sizes_s))
    batch_t = torch.repeat_interleave(torch.arange(len(sizes_t)),
                                      torch.tensor(sizes_t))
    x_s = torch.randn(int(sum(sizes_s)), channels, generator=gen,
                      dtype=dtype)
    x_t = torch.randn(int(sum(sizes_t)), channels, generator=gen,
                      dtype=dtype)
    return x_s, batch_s, x_t, batch_t


SIZES_S = [3, 5, 1, 6, 4]
SIZES_T = [4, 5, 2, 3, 4]


def reference(costs, batch_s, batch_t, edge_index=None, unmatch_cost=None):
    ptr_s = np.concatenate([[0], np.cumsum(np.bincount(batch_s.numpy()))])
    ptr_t = np.concatenate([[0], np.cumsum(np.bincount(batch_t.numpy()))])
    ei = None if edge_index is None else edge_index.numpy()
    plan = _assignment_plan(ptr_s, ptr_t, ei)
    return torch.from_numpy(
        _solve_plan(costs.detach().double().numpy(), plan,
                    unmatch_cost)).to(costs.dtype)


def test_all_pairs_order():
    ei = all_pairs(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]))
    assert ei.tolist() == [[0, 1, 2, 2], [0, 0, 1, 2]]
    ei = all_pairs(num_nodes_s=2, num_nodes_t=2)
    assert ei.tolist() == [[0, 0, 1, 1], [0, 1, 0, 1]]


def test_layer_on_embeddings_equals_functional_on_costs():
    x_s, batch_s, x_t, batch_t = ragged(SIZES_S, SIZES_T)
    for similarity in ('dot', 'cosine'):
        y = IdentityMatching(similarity)(x_s, x_t, batch_s, batch_t)
        ei = all_pairs(batch_s, batch_t)
        costs = pair_cost(x_s, x_t, ei, mode=similarity)
        assert torch.equal(y, matching(costs, None, batch_s,
                                                batch_t))
        assert torch.equal(y, reference(costs, batch_s, batch_t))
        # Each pair matches min(n_s, n_t) nodes.
        pair = batch_s[ei[0]]
        size = torch.zeros(5, dtype=y.dtype).index_add_(0, pair, y)
        assert size.tolist() == [min(a, b) for a, b in zip(SIZES_S, SIZES_T)]


def test_sparse_candidates_and_unmatch_cost():
    x_s, batch_s, x_t, batch_t = ragged(SIZES_S, SIZES_T)
    ei = knn_candidates(x_s, x_t, batch_s, batch_t, k=2)
    layer = IdentityMatching(unmatch_cost=0.5)
    y = layer(x_s, x_t, batch_s, batch_t, edge_index=ei)
    costs = pair_cost(x_s, x_t, ei)
    assert torch.equal(y, reference(costs, batch_s, batch_t, ei, 0.5))
    assert y.numel() == ei.size(1)


def test_n_s_larger_than_n_t_is_allowed():
    x_s, batch_s, x_t, batch_t = ragged([6], [2])
    y = IdentityMatching()(x_s, x_t, batch_s, batch_t)
    assert y.sum() == 2
    m = matched_pairs(y, batch_s=batch_s, batch_t=batch_t)
    assert m.size(1) == 2 and m[1].unique().numel() == 2


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_dtype_and_device_follow_costs(dtype):
    x_s, batch_s, x_t, batch_t = ragged(SIZES_S, SIZES_T, dtype=dtype)
    y = IdentityMatching()(x_s, x_t, batch_s, batch_t)
    assert y.dtype == dtype and y.device == x_s.device
    costs = pair_cost(x_s, x_t, all_pairs(batch_s, batch_t))
    y = matching(costs, None, batch_s, batch_t, unmatch_cost=0.1)
    assert y.dtype == dtype


def _costs(seed=0, dtype=torch.float64):
    x_s, batch_s, x_t, batch_t = ragged(SIZES_S, SIZES_T, seed=seed,
                                        dtype=dtype)
    ei = all_pairs(batch_s, batch_t)
    costs = pair_cost(x_s, x_t, ei).detach()
    return costs, batch_s, batch_t, ei


@pytest.mark.parametrize('unmatch_cost', [None, 0.3])
def test_identity_gradient_is_minus_incoming_gradient(unmatch_cost):
    costs, batch_s, batch_t, _ = _costs()
    c = costs.clone().requires_grad_()
    g = torch.randn_like(c)
    layer = IdentityMatching(unmatch_cost=unmatch_cost)
    (layer(cost=c, batch_s=batch_s, batch_t=batch_t) * g).sum().backward()
    assert torch.equal(c.grad, -g)


@pytest.mark.parametrize('mode', ['norm', 'std', 'mean'])
def test_identity_gradient_through_projection(mode):
    costs, batch_s, batch_t, ei = _costs()
    index = batch_s[ei[0]]
    g = torch.randn_like(costs)
    c = costs.clone().requires_grad_()
    layer = IdentityMatching(projection=mode)
    (layer(cost=c, batch_s=batch_s, batch_t=batch_t) * g).sum().backward()
    c2 = costs.clone().requires_grad_()
    (expected, ) = torch.autograd.grad(
        project(c2, index, num_graphs=5, mode=mode), c2, -g)
    torch.testing.assert_close(c.grad, expected)


def test_blackbox_gradient():
    costs, batch_s, batch_t, _ = _costs()
    lam = 3.0
    g = torch.randn_like(costs)
    c = costs.clone().requires_grad_()
    layer = IdentityMatching(backward='blackbox', lambda_=lam)
    y = layer(cost=c, batch_s=batch_s, batch_t=batch_t)
    (y * g).sum().backward()
    y_lam = reference(costs + lam * g, batch_s, batch_t)
    assert not torch.equal(y.detach(), y_lam)
    torch.testing.assert_close(c.grad, -(y.detach() - y_lam) / lam)


def test_positive_scale_invariance():
    costs, batch_s, batch_t, ei = _costs(seed=1)
    for u in (None, 0.2):
        y = matching(costs, None, batch_s, batch_t, unmatch_cost=u)
        y2 = matching(costs * 7.5, None, batch_s, batch_t,
                               unmatch_cost=None if u is None else u * 7.5)
        assert torch.equal(y, y2)


def test_per_pair_shift_invariance_without_unmatch_cost():
    costs, batch_s, batch_t, ei = _costs(seed=2)
    shift = torch.tensor([5.0, -3.0, 100.0, 0.5, -40.0], dtype=costs.dtype)
    pair = batch_s[ei[0]]
    y = matching(costs, None, batch_s, batch_t)
    y2 = matching(costs + shift[pair], None, batch_s, batch_t)
    assert torch.equal(y, y2)
    x_s, _, x_t, _ = ragged(SIZES_S, SIZES_T, seed=2)
    knn = knn_candidates(x_s, x_t, batch_s, batch_t, k=2)
    # Add one full matching so that the sparse candidates are feasible.
    knn = torch.cat([knn, matched_pairs(y, ei)], 1).unique(dim=1)
    c = torch.randn(knn.size(1), dtype=torch.float64)
    y = matching(c, knn, batch_s, batch_t, method='sparse')
    y2 = matching(c + shift[batch_s[knn[0]]], knn, batch_s, batch_t,
                           method='sparse')
    assert torch.equal(y, y2)


def test_empty_and_single_node_pairs():
    batch_s = torch.tensor([0, 2, 2])  # Pair 1 has no source nodes.
    batch_t = torch.tensor([0, 1, 2, 2])
    costs = torch.randn(1 + 0 + 4, dtype=torch.float64)
    y = matching(costs, None, batch_s, batch_t)
    assert y[0] == 1 and y[1:].sum() == 2
    y = matching(torch.zeros(0), torch.zeros(2, 0, dtype=torch.long),
                          num_nodes_s=0, num_nodes_t=0)
    assert y.numel() == 0
    # Trailing pair without target nodes.
    y = matching(torch.randn(2), None, torch.tensor([0, 1]),
                          torch.tensor([0, 0]), num_graphs=2)
    assert y.sum() == 1


def test_noise_and_diagnostics():
    costs, batch_s, batch_t, _ = _costs()
    layer = IdentityMatching(noise=100.0, diagnostics=True, projection='norm')
    c = costs.clone().requires_grad_()
    y = layer(cost=c, batch_s=batch_s, batch_t=batch_t)
    y.sum().backward()
    assert layer.diagnostics.cost_norm is not None
    assert layer.diagnostics.grad_cosine is not None
    layer.eval()
    assert torch.equal(layer(cost=costs, batch_s=batch_s, batch_t=batch_t),
                       IdentityMatching(projection='norm')(
                           cost=costs, batch_s=batch_s, batch_t=batch_t))
    assert 'IdentityMatching' in repr(layer)


def test_matched_pairs_and_dense_view():
    costs, batch_s, batch_t, ei = _costs()
    y = matching(costs, None, batch_s, batch_t)
    m = matched_pairs(y, ei)
    assert torch.equal(m, matched_pairs(y, batch_s=batch_s, batch_t=batch_t))
    assert m.size(1) == int(y.sum())
    dense, mask_s, mask_t = to_dense_matching(y, ei, batch_s, batch_t)
    assert dense.shape == (5, max(SIZES_S), max(SIZES_T))
    assert mask_s.sum(1).tolist() == SIZES_S
    assert mask_t.sum(1).tolist() == SIZES_T
    assert dense.sum() == y.sum()
    assert (dense.sum(-1) <= 1).all() and (dense.sum(-2) <= 1).all()
    ptr_s = torch.cat([torch.zeros(1, dtype=torch.long),
                       torch.tensor(SIZES_S).cumsum(0)])
    ptr_t = torch.cat([torch.zeros(1, dtype=torch.long),
                       torch.tensor(SIZES_T).cumsum(0)])
    b = batch_s[m[0]]
    assert (dense[b, m[0] - ptr_s[b], m[1] - ptr_t[b]] == 1).all()
    # Differentiable with respect to the values.
    v = costs.clone().requires_grad_()
    to_dense_matching(v, ei, batch_s, batch_t)[0].sum().backward()
    assert torch.equal(v.grad, torch.ones_like(v))


def test_knn_candidates_are_the_most_similar_targets():
    x_s, batch_s, x_t, batch_t = ragged(SIZES_S, SIZES_T)
    ei = knn_candidates(x_s, x_t, batch_s, batch_t, k=2, similarity='cosine')
    ptr_t = [0] + torch.tensor(SIZES_T).cumsum(0).tolist()
    for i in range(x_s.size(0)):
        b = int(batch_s[i])
        cand = torch.arange(ptr_t[b], ptr_t[b + 1])
        sim = torch.nn.functional.cosine_similarity(x_s[i:i + 1], x_t[cand])
        best = cand[sim.argsort(descending=True)[:2]]
        assert set(ei[1, ei[0] == i].tolist()) == set(best.tolist())
    assert (batch_s[ei[0]] == batch_t[ei[1]]).all()


@pytest.mark.parametrize('form', ['squared', 'bbgm'])
def test_hamming_loss_matches_bb_gm_value_and_form_gradient(form):
    costs, batch_s, batch_t, ei = _costs()
    c = costs.clone().requires_grad_()
    y = IdentityMatching()(cost=c, batch_s=batch_s, batch_t=batch_t)
    y_star = reference(-costs, batch_s, batch_t)  # Some other matching.
    loss = matching_hamming_loss(y, y_star, ei, batch_s, batch_t, form=form)
    pair = batch_s[ei[0]]
    per_pair = torch.zeros(5, dtype=y.dtype).index_add_(
        0, pair, (y * (1 - y_star) + (1 - y) * y_star).detach())
    torch.testing.assert_close(loss.detach(), per_pair.mean())
    loss.backward()
    # Identity: dL/dc = -dL/dy; squared: 2(y - y*), bbgm: 1 - 2y*.
    grad = 2 * (y.detach() - y_star) if form == 'squared' else 1 - 2 * y_star
    torch.testing.assert_close(c.grad, -grad / 5)
    # Same loss from true pairs [2, K] and without edge_index (all pairs).
    true = matched_pairs(y_star, ei)
    torch.testing.assert_close(
        matching_hamming_loss(y.detach(), true, batch_s=batch_s,
                              batch_t=batch_t),
        loss.detach())
    assert matching_hamming_loss(y_star, y_star, ei, batch_s, batch_t) == 0


def test_true_pairs_outside_candidates_count_as_missed():
    batch = torch.tensor([0, 0])
    ei = torch.tensor([[0, 1], [0, 1]])
    y = torch.tensor([1.0, 1.0])
    true = torch.tensor([[0, 1], [1, 0]])  # Neither is a candidate.
    assert matching_hamming_loss(y, true, ei, batch, batch) == 4
    assert matching_accuracy(y, true, ei, batch, batch) == 0
    p, r, f1 = matching_f1(y, torch.tensor([[0, 1], [0, 0]]), ei, batch,
                           batch)
    assert (p, r, f1) == (0.5, 0.5, 0.5)


def test_accuracy_and_f1_per_pair():
    batch_s = torch.tensor([0, 0, 1, 1, 2])
    batch_t = torch.tensor([0, 0, 1, 1, 2])
    ei = all_pairs(batch_s, batch_t)
    # Pair 0 right, pair 1 swapped, pair 2 nothing predicted.
    pred = torch.tensor([[0, 1, 2, 3], [0, 1, 3, 2]])
    true = torch.tensor([[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]])
    key = ei[0] * 10 + ei[1]
    y = torch.isin(key, pred[0] * 10 + pred[1]).double()
    acc = matching_accuracy(y, true, ei, batch_s, batch_t, reduction='none')
    assert acc.tolist() == [1.0, 0.0, 0.0]
    p, r, f1 = matching_f1(y, true, ei, batch_s, batch_t, reduction='none')
    assert p.tolist() == [1.0, 0.0, 1.0]  # Nothing predicted: precision 1.
    assert r.tolist() == [1.0, 0.0, 0.0]
    assert f1.tolist() == [1.0, 0.0, 0.0]
    y_true = torch.isin(key, true[0] * 10 + true[1]).double()
    assert matching_accuracy(y, y_true, ei, batch_s, batch_t) == \
        pytest.approx(1 / 3)


def test_sparse_candidates_without_full_matching_raise():
    batch = torch.tensor([0, 0])
    ei = torch.tensor([[0, 1], [0, 0]])
    with pytest.raises(ValueError, match='pair 0 .*unmatch_cost'):
        matching(torch.zeros(2), ei, batch, batch)


def _bad_cases():
    bs, bt = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1])
    c = torch.zeros(3)
    ei = torch.tensor([[0, 1, 2], [0, 0, 2]])
    return [
        (dict(cost=torch.tensor([0.0, float('nan'), 0.0]), edge_index=ei,
              batch_s=bs, batch_t=bt), 'finite'),
        (dict(cost=torch.tensor([0.0, float('inf'), 0.0]), edge_index=ei,
              batch_s=bs, batch_t=bt), 'finite'),
        (dict(cost=torch.zeros(3, dtype=torch.long), edge_index=ei,
              batch_s=bs, batch_t=bt), 'floating point'),
        (dict(cost=torch.zeros(3, 1), edge_index=ei, batch_s=bs,
              batch_t=bt), 'one-dimensional'),
        (dict(cost=torch.zeros(4), edge_index=ei, batch_s=bs, batch_t=bt),
         'one entry per candidate'),
        (dict(cost=torch.zeros(5), batch_s=bs, batch_t=bt),
         'one entry per pair'),
        (dict(cost=c, edge_index=torch.tensor([[0, 1, 2], [0, 0, 0]]),
              batch_s=bs, batch_t=bt), 'different pair'),
        (dict(cost=c, edge_index=torch.tensor([[0, 0, 2], [0, 0, 2]]),
              batch_s=bs, batch_t=bt), 'duplicate'),
        (dict(cost=c, edge_index=torch.tensor([[0, 1, 5], [0, 0, 2]]),
              batch_s=bs, batch_t=bt), 'outside'),
        (dict(cost=c, edge_index=ei.float(), batch_s=bs, batch_t=bt),
         "'edge_index' must be an integer"),
        (dict(cost=c, edge_index=ei[:1], batch_s=bs, batch_t=bt),
         r'\[2, num_edges\]'),
        (dict(cost=c, edge_index=ei, batch_s=bs,
              batch_t=torch.tensor([0, 1, 2])), 'different numbers of pairs'),
        (dict(cost=c, edge_index=ei, batch_s=torch.tensor([1, 0, 1]),
              batch_t=bt), 'sorted'),
        (dict(cost=c, edge_index=ei, batch_s=bs.float(), batch_t=bt),
         "'batch_s' must be an integer"),
        (dict(cost=c, edge_index=ei, batch_s=bs, batch_t=bt,
              num_nodes_s=4),
         r"'num_nodes_s' \(4\) does not match the size of 'batch_s' \(3\)"),
        (dict(cost=c, edge_index=ei, batch_s=bs, batch_t=bt,
              unmatch_cost=-1.0), "'unmatch_cost'"),
        (dict(cost=c, edge_index=ei, batch_s=bs, batch_t=bt,
              method='hungarian'), "'method'"),
        (dict(cost=c, edge_index=ei, batch_s=bs, batch_t=bt,
              timeout=float('nan')), "'timeout' must be a positive"),
        (dict(cost=c, edge_index=ei, batch_s=bs, batch_t=bt,
              projection='l2'), "'projection'"),
        (dict(cost=torch.zeros(4)), "'num_nodes_s' is required"),
    ]


@pytest.mark.parametrize('kwargs, match', _bad_cases())
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        matching(**kwargs)


@pytest.mark.parametrize('kwargs, match', [
    (dict(similarity='l2'), "'similarity'"),
    (dict(unmatch_cost=-0.5), "'unmatch_cost'"),
    (dict(method='lap'), "'method'"),
    (dict(projection='l1'), "'projection'"),
    (dict(backward='bb'), "'backward'"),
    (dict(num_workers=-1), "'num_workers'"),
    (dict(timeout=-5), "'timeout' must be a positive"),
])
def test_bad_layer_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentityMatching(**kwargs)


def test_bad_layer_inputs():
    x_s, batch_s, x_t, batch_t = ragged(SIZES_S, SIZES_T)
    layer = IdentityMatching()
    with pytest.raises(ValueError, match='either'):
        layer(x_s, x_t, batch_s, batch_t, cost=torch.zeros(3))
    with pytest.raises(ValueError, match="'x_s' and 'x_t' are required"):
        layer(x_s)
    with pytest.raises(ValueError, match="'batch_s' must have one entry"):
        layer(x_s, x_t, batch_s[:-1], batch_t)
    with pytest.raises(ValueError, match='same number of channels'):
        layer(x_s, x_t[:, :2], batch_s, batch_t)
    with pytest.raises(ValueError, match='floating point'):
        layer(x_s.long(), x_t, batch_s, batch_t)
    with pytest.raises(ValueError, match="'y_true'"):
        matching_hamming_loss(torch.zeros(3), torch.zeros(2, 2), num_nodes_s=1,
                     num_nodes_t=3)
    with pytest.raises(ValueError, match="'reduction'"):
        matching_f1(torch.zeros(1), torch.zeros(1), num_nodes_s=1,
                    num_nodes_t=1, reduction='max')
    with pytest.raises(ValueError, match="'k'"):
        knn_candidates(x_s, x_t, batch_s, batch_t, k=0)


def test_hamming_loss_bad_form():
    costs, batch_s, batch_t, ei = _costs()
    y = IdentityMatching()(cost=costs, batch_s=batch_s, batch_t=batch_t)
    with pytest.raises(ValueError, match="'form' must be"):
        matching_hamming_loss(y, y, ei, batch_s, batch_t, form='l1')


def test_sparse_tiny_costs_beside_an_unmatch_cost_terminate():
    # This call never returned (scipy's LAPJVsp looped, deaf to Ctrl-C); the
    # timeout turns a regression into a failure instead of a hang.
    c = torch.tensor([-2.1e-9, 8.3e-10, 4.9e-10, 5.2e-10, -1.1e-9, -5.1e-10],
                     dtype=torch.float64)
    y = IdentityMatching(unmatch_cost=3.0, method='sparse', timeout=60)(
        cost=c, num_nodes_s=3, num_nodes_t=2)
    dense = IdentityMatching(unmatch_cost=3.0, method='dense')(
        cost=c, num_nodes_s=3, num_nodes_t=2)
    assert torch.equal(y, dense)
    assert y.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize('projection', ['mean', 'std'])
def test_shift_projection_with_unmatch_cost_raises(projection):
    with pytest.raises(ValueError, match=f"'projection' '{projection}' "
                       "changes the solution of a partial matching"):
        IdentityMatching(projection=projection, unmatch_cost=0.5)
    layer = IdentityMatching(projection='norm', unmatch_cost=0.5)
    layer.projection = projection  # assigned later: refused at call time
    with pytest.raises(ValueError, match="'unmatch_cost' = 0.5"):
        layer(cost=torch.randn(6), num_nodes_s=3, num_nodes_t=2)


# One argument order, pair batches, settings (issue 11) #####################

def pair_batch(sizes_s=SIZES_S, sizes_t=SIZES_T, follow=True):
    from torch_geometric.loader import DataLoader

    from pyg_identity.datasets import PairData
    x_s, batch_s, x_t, batch_t = ragged(sizes_s, sizes_t)
    pairs = [PairData(x_s=x_s[batch_s == b], x_t=x_t[batch_t == b])
             for b in range(len(sizes_s))]
    follow_batch = ['x_s', 'x_t'] if follow else None
    return next(iter(DataLoader(pairs, batch_size=len(pairs),
                                follow_batch=follow_batch)))


def test_layer_accepts_a_pair_batch():
    batch = pair_batch()
    layer = IdentityMatching()
    y = layer(batch.x_s, batch.x_t, batch.x_s_batch, batch.x_t_batch)
    assert torch.equal(layer(batch), y)
    assert torch.equal(layer(batch=batch), y)
    assert torch.equal(layer(batch.x_s, batch.x_t, batch=batch), y)
    cost = pair_cost(batch.x_s, batch.x_t,
                     all_pairs(batch.x_s_batch, batch.x_t_batch))
    assert torch.equal(layer(cost=cost, batch=batch), y)
    # One pair, without batch vectors.
    single = pair_batch([3], [4], follow=False)[0]
    assert layer(single).sum() == 3
    with pytest.raises(ValueError, match="follow_batch=\\['x_s', 'x_t'\\]"):
        layer(pair_batch(follow=False))
    with pytest.raises(ValueError, match="either 'batch' or 'batch_s'"):
        layer(batch.x_s, batch.x_t, batch.x_s_batch, batch=batch)
    with pytest.raises(ValueError, match='once'):
        layer(batch, batch=batch)


def test_old_argument_order_names_the_misplaced_tensor():
    x_s, batch_s, x_t, batch_t = ragged(SIZES_S, SIZES_T)
    layer = IdentityMatching()
    # The order before issue 11, (x_s, batch_s, x_t, batch_t):
    with pytest.raises(ValueError, match="'x_t' must be a floating point "
                       "tensor \\(got torch.int64; this looks like a batch "
                       "vector — the order is x_s, x_t, batch_s, batch_t"):
        layer(x_s, batch_s, x_t, batch_t)
    with pytest.raises(ValueError, match="'batch_s' must be an integer "
                       "tensor .*looks like node embeddings"):
        layer(x_s, x_t, x_t, batch_t)
    with pytest.raises(ValueError, match="'num_nodes_s' must be an integer "
                       "\\(got a tensor; this looks like an edge_index"):
        layer(x_s, x_t, batch_s, batch_t, all_pairs(batch_s, batch_t))
    costs, bs, bt, _ = _costs()
    with pytest.raises(ValueError, match="'cost' must be a floating point "
                       "tensor .*looks like a batch vector — the order is "
                       "cost, edge_index, batch_s, batch_t"):
        matching(bs, None, costs, bt)


def test_options_are_keyword_only():
    costs, batch_s, batch_t, _ = _costs()
    x_s, _, x_t, _ = ragged(SIZES_S, SIZES_T)
    with pytest.raises(TypeError):
        matching(costs, None, batch_s, batch_t, None, None, None, 0.5)
    with pytest.raises(TypeError):
        IdentityMatching()(x_s, x_t, batch_s, batch_t, None, None, None,
                           costs)
    with pytest.raises(TypeError):
        knn_candidates(x_s, x_t, batch_s, batch_t, None, 2)
    with pytest.raises(TypeError):
        pair_cost(x_s, x_t, all_pairs(batch_s, batch_t), 'cosine')
    with pytest.raises(TypeError):
        matching_hamming_loss(costs, costs, None, batch_s, batch_t, None,
                              None, None, 'sum')


def test_own_options_and_settings_are_validated_on_assignment():
    layer = IdentityMatching()
    for name, value in (('noise', -1), ('similarity', 'l2'),
                        ('unmatch_cost', -0.5), ('method', 'lap'),
                        ('num_workers', -1), ('timeout', 0),
                        ('projection', 'l1')):
        with pytest.raises(ValueError, match=f"'{name}'"):
            setattr(layer, name, value)
    layer.projection = 'std'
    with pytest.raises(ValueError, match="changes the solution of a "
                       "partial matching"):
        layer.unmatch_cost = 0.5
    assert layer.unmatch_cost is None
    layer = IdentityMatching(settings=GradientSettings(projection='norm',
                                                       noise=0.5),
                             noise=0.25)
    assert layer.projection == 'norm' and layer.noise == 0.25
    assert IdentityMatching().projection is None


def test_generator_makes_the_margin_reproducible():
    costs, batch_s, batch_t, _ = _costs()

    def run(seed):
        layer = IdentityMatching(
            noise=5.0, generator=torch.Generator().manual_seed(seed)).train()
        return torch.stack([layer(cost=costs, batch_s=batch_s,
                                  batch_t=batch_t) for _ in range(3)])

    a, b = run(0), run(0)
    assert torch.equal(a, b)
    assert not torch.equal(a[0], a[1]) or not torch.equal(a[1], a[2])
    assert not torch.equal(a, run(1))


def test_functional_takes_settings():
    costs, batch_s, batch_t, ei = _costs()
    g = torch.randn_like(costs)
    c1 = costs.clone().requires_grad_()
    c2 = costs.clone().requires_grad_()
    y1 = matching(c1, None, batch_s, batch_t,
                  settings=GradientSettings(projection='norm'))
    y2 = matching(c2, None, batch_s, batch_t, projection='norm')
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    assert torch.equal(y1, y2) and torch.equal(c1.grad, c2.grad)
    assert not torch.equal(c1.grad, -g)  # the projection was applied


def test_public_solver_returns_the_costs_dtype_and_layout():
    costs, batch_s, batch_t, _ = _costs()
    for dtype in (torch.float32, torch.float64):
        y = solve_assignment(costs.to(dtype), None, batch_s, batch_t)
        assert isinstance(y, torch.Tensor) and y.dtype == dtype
        assert y.shape == costs.shape
        assert torch.equal(y, matching(costs.to(dtype), None, batch_s,
                                       batch_t))
