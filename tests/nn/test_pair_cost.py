import pytest
import torch

from pyg_identity.nn.functional import all_pairs, pair_cost
from pyg_identity.nn.pair_cost import PairCost


def data(channels_s=5, channels_t=5, dtype=torch.float64):
    gen = torch.Generator().manual_seed(0)
    x_s = torch.randn(7, channels_s, generator=gen, dtype=dtype)
    x_t = torch.randn(6, channels_t, generator=gen, dtype=dtype)
    batch_s = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    batch_t = torch.tensor([0, 0, 1, 1, 1, 1])
    return x_s, x_t, batch_s, batch_t


@pytest.mark.parametrize('mode', ['dot', 'cosine', 'bilinear'])
def test_costs_are_negative_affinities(mode):
    x_s, x_t, batch_s, batch_t = data()
    head = PairCost(mode, in_channels=5).double()
    ei = all_pairs(batch_s, batch_t)
    out = head(x_s, x_t, ei)
    a, b = x_s[ei[0]], x_t[ei[1]]
    if mode == 'dot':
        expected = -(a * b).sum(-1)
    elif mode == 'cosine':
        expected = -torch.nn.functional.cosine_similarity(a, b)
    else:
        expected = -((a @ head.weight) * b).sum(-1)
    torch.testing.assert_close(out, expected)
    # Without edge_index: all pairs of the batch.
    torch.testing.assert_close(head(x_s, x_t, batch_s=batch_s,
                                    batch_t=batch_t), out)


@pytest.mark.parametrize('mode', ['dot', 'cosine', 'bilinear'])
def test_gradcheck(mode):
    x_s, x_t, batch_s, batch_t = data(4, 3 if mode == 'bilinear' else 4)
    ei = all_pairs(batch_s, batch_t)
    x_s.requires_grad_()
    x_t.requires_grad_()
    if mode == 'bilinear':
        w = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
        inputs = (x_s, x_t, w)

        def fn(a, b, w):
            return pair_cost(a, b, ei, mode=mode, weight=w)
    else:
        inputs = (x_s, x_t)

        def fn(a, b):
            return pair_cost(a, b, ei, mode=mode)
    assert torch.autograd.gradcheck(fn, inputs)


def test_cosine_of_zero_embedding_has_finite_gradient():
    x_s = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    x_t = torch.randn(2, 3, dtype=torch.float64)
    out = pair_cost(x_s, x_t, torch.tensor([[0, 0], [0, 1]]), mode='cosine')
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x_s.grad).all()


def test_bilinear_weight_starts_near_identity():
    torch.manual_seed(0)
    head = PairCost('bilinear', in_channels=16)
    assert head.weight.shape == (16, 16)
    dev = (head.weight - torch.eye(16)).abs().max()
    assert 0 < dev <= 1 / 4
    rect = PairCost('bilinear', in_channels=(4, 6))
    assert rect.weight.shape == (4, 6)
    old = head.weight.detach().clone()
    head.reset_parameters()
    assert not torch.equal(old, head.weight)
    assert 'bilinear' in repr(head) and 'in_channels=16' in repr(head)


def test_bilinear_is_learnable():
    x_s, x_t, batch_s, batch_t = data(3, 3, dtype=torch.float32)
    head = PairCost('bilinear', in_channels=3)
    head(x_s, x_t, batch_s=batch_s, batch_t=batch_t).sum().backward()
    assert head.weight.grad is not None
    assert list(dict(head.named_parameters())) == ['weight']
    assert list(dict(PairCost('dot').named_parameters())) == []


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_dtype(dtype):
    x_s, x_t, batch_s, batch_t = data(dtype=dtype)
    out = PairCost('cosine')(x_s, x_t, batch_s=batch_s, batch_t=batch_t)
    assert out.dtype == dtype and out.shape == (3 * 2 + 4 * 4, )


@pytest.mark.parametrize('kwargs, match', [
    (dict(mode='l2'), "'mode'"),
    (dict(mode='bilinear'), "'in_channels'"),
    (dict(mode='bilinear', in_channels=(3, 0)), "'in_channels'"),
    (dict(mode='dot', eps=0.0), "'eps'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PairCost(**kwargs)


def test_bad_inputs():
    x_s, x_t, batch_s, batch_t = data()
    ei = all_pairs(batch_s, batch_t)
    with pytest.raises(ValueError, match='same number of channels'):
        pair_cost(x_s, x_t[:, :3], ei)
    with pytest.raises(ValueError, match="'weight' must have shape"):
        pair_cost(x_s, x_t, ei, mode='bilinear', weight=torch.zeros(5, 4))
    with pytest.raises(ValueError, match='outside'):
        pair_cost(x_s, x_t, torch.tensor([[0], [6]]))
    with pytest.raises(ValueError, match=r'\[2, num_edges\]'):
        pair_cost(x_s, x_t, ei[:1])
    with pytest.raises(ValueError, match='floating point'):
        pair_cost(x_s.long(), x_t, ei)
    with pytest.raises(ValueError, match=r'\[num_nodes, channels\]'):
        pair_cost(x_s[0], x_t, ei)
