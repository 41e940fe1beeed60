import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity.solvers.topk import solve_topk


def ragged(sizes, dtype=torch.float64, shuffle=False, generator=None):
    index = torch.cat([torch.full((n, ), i, dtype=torch.long)
                       for i, n in enumerate(sizes)] +
                      [torch.zeros(0, dtype=torch.long)])
    if shuffle:
        index = index[torch.randperm(index.numel(), generator=generator)]
    x = torch.randn(index.numel(), dtype=dtype, generator=generator)
    return x, index


def reference_topk(x, k, index, num_graphs):
    # torch.topk per group (continuous random scores: no ties).
    out = torch.zeros_like(x, dtype=torch.bool)
    for g in range(num_graphs):
        pos = (index == g).nonzero().view(-1)
        if int(k[g]) > 0:
            out[pos[x[pos].topk(int(k[g])).indices]] = True
    return out


def test_matches_torch_topk_on_ragged_batch_with_empty_groups():
    sizes = [5, 0, 1, 7, 0, 3, 12]
    x, index = ragged(sizes)
    k = torch.tensor([2, 0, 1, 7, 0, 0, 5])
    y = solve_topk(x, index, len(sizes), k=k)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert torch.equal(y, reference_topk(x, k, index, len(sizes)).to(x.dtype))


def test_unsorted_index_matches_torch_topk():
    sizes = [4, 6, 3, 8]
    x, index = ragged(sizes, shuffle=True)
    y = solve_topk(x, index, k=3)
    assert torch.equal(y, reference_topk(x, [3] * 4, index, 4).to(x.dtype))


def test_dense_rows_match_torch_topk():
    x = torch.randn(20, 20)
    y = solve_topk(x, k=10)
    ref = torch.zeros_like(y).scatter_(1, x.topk(10, dim=1).indices, 1.0)
    assert torch.equal(y, ref)


def test_dense_rows_with_per_row_k():
    x = torch.randn(4, 5)
    k = torch.tensor([0, 1, 3, 5])
    y = solve_topk(x, k=k).bool()
    assert torch.equal(y.sum(1), k)
    for i in range(4):
        kept = x[i][y[i]]
        dropped = x[i][~y[i]]
        if kept.numel() and dropped.numel():
            assert kept.min() > dropped.max()


def test_single_group_without_index():
    x = torch.tensor([0.1, 0.7, -0.3, 0.5])
    assert solve_topk(x, k=2).tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize('n', [1, 2, 4, 6])
def test_objective_matches_brute_force(n):
    x = torch.randn(n, dtype=torch.float64)
    for k in range(n + 1):
        y = solve_topk(x, k=k)
        best = max((float(x[list(s)].sum()) if s else 0.0)
                   for s in itertools.combinations(range(n), k))
        assert float((x * y).sum()) == pytest.approx(best, abs=1e-12)


def test_ties_go_to_lower_position():
    x = torch.tensor([1.0, 2.0, 2.0, 1.0, 2.0, 0.0, 0.0, -0.0, 0.0])
    index = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1])
    y = solve_topk(x, index, k=torch.tensor([2, 3]))
    assert y.bool().tolist() == [False, True, True, False, False,
                                 True, True, True, False]


def test_k_zero_gives_all_zeros():
    x, index = ragged([3, 0, 2])
    assert not solve_topk(x, index, 3, k=0).any()


def test_empty_input():
    x = torch.zeros(0)
    y = solve_topk(x, torch.zeros(0, dtype=torch.long), 2, k=0)
    assert y.shape == (0, )


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(0, 9), min_size=1, max_size=8),
       seed=st.integers(0, 2**31 - 1), data=st.data(),
       ties=st.booleans())
def test_exactly_k_ones_per_group(sizes, seed, data, ties):
    gen = torch.Generator().manual_seed(seed)
    x, index = ragged(sizes, dtype=torch.float32, shuffle=True,
                      generator=gen)
    if ties:
        x = x.round()
    k = torch.tensor([data.draw(st.integers(0, n)) for n in sizes])
    y = solve_topk(x, index, len(sizes), k=k).bool()
    count = torch.zeros(len(sizes), dtype=torch.long).index_add_(
        0, index, y.long())
    assert torch.equal(count, k)
    # Optimal: every selected score is at least every unselected one.
    for g in range(len(sizes)):
        m = index == g
        sel, rest = x[m & y], x[m & ~y]
        if sel.numel() and rest.numel():
            assert sel.min() >= rest.max()


@pytest.mark.parametrize('kwargs,match', [
    (dict(x=torch.tensor([1.0, float('nan')]), k=1), 'finite'),
    (dict(x=torch.tensor([1.0, float('inf')]), k=1), 'finite'),
    (dict(x=torch.tensor([1, 2]), k=1), 'floating point'),
    (dict(x=torch.zeros(2, 2, 2), k=1), 'dimensional'),
    (dict(x=torch.zeros(3), k=4), "'k' must not exceed"),
    (dict(x=torch.zeros(3), k=-1), "'k' must be non-negative"),
    (dict(x=torch.zeros(3), k=1.5), "'k' must be an integer"),
    (dict(x=torch.zeros(3), k=True), "'k' must be an integer"),
    (dict(x=torch.zeros(3), k=torch.tensor([1.0])), "'k' must be an int"),
    (dict(x=torch.zeros(2, 3), k=torch.tensor([1, 1, 1])), 'one entry per'),
    (dict(x=torch.zeros(2, 3), k=torch.tensor([1, 4])), 'group 1 of size'),
    (dict(x=torch.zeros(3), k=1, batch=torch.tensor([0, 1])),
     "'batch' must be one-dimensional"),
    (dict(x=torch.zeros(3), k=1, batch=torch.tensor([0., 1., 1.])),
     "'batch' must be an integer"),
    (dict(x=torch.zeros(3), k=1, batch=torch.tensor([0, -1, 1])),
     "'batch' must be non-negative"),
    (dict(x=torch.zeros(3), k=1, batch=torch.tensor([0, 1, 2]),
          num_graphs=2), 'num_graphs is 2'),
    (dict(x=torch.zeros(3), k=1, batch=torch.tensor([0, 0, 1]),
          num_graphs=3), "'k' must not exceed"),
    (dict(x=torch.zeros(2, 3), k=1, batch=torch.tensor([0, 1])),
     "'batch' must be None"),
    (dict(x=torch.zeros(2, 3), k=1, num_graphs=3), "'num_graphs' must"),
])
def test_bad_inputs_raise(kwargs, match):
    x = kwargs.pop('x')
    with pytest.raises(ValueError, match=match):
        solve_topk(x, **kwargs)


def test_options_are_keyword_only():
    x = torch.randn(5)
    with pytest.raises(TypeError):
        solve_topk(x, None, None, 2)
    with pytest.raises(TypeError, match="options .* are keyword-only"):
        solve_topk(x, 2, k=2)  # the old order solve_topk(scores, k, ...)
    with pytest.raises(TypeError, match="'k'"):
        solve_topk(x)


def test_misplaced_integer_tensor_says_what_it_looks_like():
    x, index = ragged([3, 4])
    with pytest.raises(ValueError, match="'cost' must be a floating point "
                       "tensor .*looks like a batch vector"):
        solve_topk(index, x, k=1)
    with pytest.raises(ValueError, match="'batch' must be an integer tensor "
                       ".*looks like a cost"):
        solve_topk(x, x, k=1)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16,
                                   torch.float32, torch.float64])
@pytest.mark.parametrize('shape', [(12, ), (3, 4)])
def test_returns_a_tensor_in_the_costs_dtype_and_layout(dtype, shape):
    x = torch.randn(shape).to(dtype)
    y = solve_topk(x, k=2)
    assert isinstance(y, torch.Tensor)
    assert y.dtype == dtype and y.shape == x.shape and y.device == x.device
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    assert not y.requires_grad
