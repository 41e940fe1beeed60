import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity.solvers.ranking import solve_ranking


def ragged(sizes, dtype=torch.float64, shuffle=False, generator=None):
    index = torch.cat([torch.full((n, ), i, dtype=torch.long)
                       for i, n in enumerate(sizes)] +
                      [torch.zeros(0, dtype=torch.long)])
    if shuffle:
        index = index[torch.randperm(index.numel(), generator=generator)]
    x = torch.randn(index.numel(), dtype=dtype, generator=generator)
    return x, index


def reference_ranks(x, index, num_graphs):
    # Stable argsort per group: rank 1 for the highest score.
    out = torch.zeros_like(index)
    for g in range(num_graphs):
        pos = (index == g).nonzero().view(-1)
        order = torch.argsort(-x[pos], stable=True)
        out[pos[order]] = torch.arange(1, pos.numel() + 1)
    return out


def test_matches_argsort_on_ragged_batch_with_empty_groups():
    sizes = [5, 0, 1, 7, 0, 3, 12]
    x, index = ragged(sizes)
    y = solve_ranking(x, index, len(sizes))
    assert y.dtype == x.dtype and y.shape == x.shape
    assert torch.equal(y, reference_ranks(x, index, len(sizes)).to(x.dtype))


def test_unsorted_index_matches_argsort():
    sizes = [4, 6, 3, 8]
    x, index = ragged(sizes, shuffle=True)
    assert torch.equal(solve_ranking(x, index),
                       reference_ranks(x, index, 4).to(x.dtype))


def test_dense_rows_match_argsort():
    x = torch.randn(6, 9)
    y = solve_ranking(x)
    ref = torch.stack([reference_ranks(r, torch.zeros(9, dtype=torch.long),
                                       1) for r in x])
    assert torch.equal(y, ref.to(x.dtype))


@pytest.mark.parametrize('n', [1, 2, 3, 5])
def test_objective_matches_brute_force(n):
    x = torch.randn(n, dtype=torch.float64)
    y = solve_ranking(x)
    best = min(float((x * torch.tensor(p, dtype=x.dtype)).sum())
               for p in itertools.permutations(range(1, n + 1)))
    assert float((x * y).sum()) == pytest.approx(best, abs=1e-12)


def test_ties_go_to_lower_position():
    x = torch.tensor([1.0, 2.0, 2.0, 1.0, 0.0, -0.0, 0.0])
    index = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    assert solve_ranking(x, index).tolist() == [3, 1, 2, 4, 1, 2, 3]


def test_ties_in_dense_rows_go_to_lower_position():
    x = torch.tensor([[0.0, 0.0, 1.0], [-0.0, 0.0, -0.0]])
    assert solve_ranking(x).tolist() == [[2, 3, 1], [1, 2, 3]]


def test_float32_and_float64_agree():
    x, index = ragged([3, 4, 5], dtype=torch.float64)
    assert torch.equal(solve_ranking(x, index),
                       solve_ranking(x.float(), index).double())


def test_empty_input():
    assert solve_ranking(torch.zeros(0)).shape == (0, )
    assert solve_ranking(torch.zeros(0, 4)).shape == (0, 4)


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(0, 9), min_size=1, max_size=8),
       seed=st.integers(0, 2**31 - 1), ties=st.booleans())
def test_ranks_are_a_permutation_per_group(sizes, seed, ties):
    gen = torch.Generator().manual_seed(seed)
    x, index = ragged(sizes, dtype=torch.float32, shuffle=True,
                      generator=gen)
    if ties:
        x = x.round()
    y = solve_ranking(x, index, len(sizes)).long()
    for g, n in enumerate(sizes):
        m = index == g
        assert sorted(y[m].tolist()) == list(range(1, n + 1))
        # Higher score, better rank; ties by position.
        order = torch.argsort(y[m])
        xs = x[m][order]
        assert bool((xs[1:] <= xs[:-1]).all())
    assert torch.equal(y, reference_ranks(x, index, len(sizes)))


@pytest.mark.parametrize('kwargs,match', [
    (dict(x=torch.tensor([1.0, float('nan')])), 'finite'),
    (dict(x=torch.tensor([1.0, -float('inf')])), 'finite'),
    (dict(x=torch.tensor([1, 2])), 'floating point'),
    (dict(x=[1.0, 2.0]), 'floating point'),
    (dict(x=torch.tensor(1.0)), 'dimensional'),
    (dict(x=torch.zeros(2, 2, 2)), 'dimensional'),
    (dict(x=torch.zeros(3), batch=torch.tensor([[0, 1, 1]])),
     "'batch' must be one-dimensional"),
    (dict(x=torch.zeros(3), batch=torch.tensor([0, 1])),
     "'batch' must be one-dimensional"),
    (dict(x=torch.zeros(3), batch=torch.tensor([True, False, True])),
     "'batch' must be an integer"),
    (dict(x=torch.zeros(3), batch=torch.tensor([0, -1, 1])),
     "'batch' must be non-negative"),
    (dict(x=torch.zeros(3), batch=torch.tensor([0, 1, 2]), num_graphs=2),
     'num_graphs is 2'),
    (dict(x=torch.zeros(3), num_graphs=2), "'num_graphs' must be 1"),
    (dict(x=torch.zeros(3), num_graphs=-1), "'num_graphs' must be a non"),
    (dict(x=torch.zeros(2, 3), batch=torch.tensor([0, 1])),
     "'batch' must be None"),
    (dict(x=torch.zeros(3), normalize=1), "'normalize' must be a bool"),
])
def test_bad_inputs_raise(kwargs, match):
    x = kwargs.pop('x')
    with pytest.raises(ValueError, match=match):
        solve_ranking(x, **kwargs)


@pytest.mark.parametrize('sizes', [[1000] + [1] * 100, [5, 7, 3, 9]])
def test_dense_and_sorting_paths_agree_with_reference(sizes):
    # A skewed batch takes the two-sort path, a balanced one the padded path.
    index = torch.repeat_interleave(torch.arange(len(sizes)),
                                    torch.tensor(sizes))
    scores = torch.randint(0, 5, (index.numel(), )).double()  # many ties
    ranks = solve_ranking(scores, index).long()
    start = 0
    for n in sizes:
        x = scores[start:start + n]
        order = torch.sort(x, descending=True, stable=True).indices
        ref = torch.empty(n, dtype=torch.long)
        ref[order] = torch.arange(1, n + 1)
        assert torch.equal(ranks[start:start + n], ref)
        start += n


def test_normalized_ranks():
    x, index = ragged([4, 0, 2, 5])
    y = solve_ranking(x, index, 4, normalize=True)
    sizes = torch.tensor([4, 0, 2, 5], dtype=x.dtype)[index]
    assert torch.equal(y, solve_ranking(x, index, 4) / sizes)
    d = torch.randn(3, 5)
    assert torch.equal(solve_ranking(d, normalize=True), solve_ranking(d) / 5)


def test_options_are_keyword_only():
    x = torch.randn(5)
    with pytest.raises(TypeError):
        solve_ranking(x, None, None, True)
    with pytest.raises(TypeError, match="options .* are keyword-only"):
        solve_ranking(x, True)


def test_misplaced_integer_tensor_says_what_it_looks_like():
    x, index = ragged([3, 4])
    with pytest.raises(ValueError, match="'cost' must be a floating point "
                       "tensor .*looks like a batch vector"):
        solve_ranking(index, x)
    with pytest.raises(ValueError, match="'batch' must be an integer tensor "
                       ".*looks like a cost"):
        solve_ranking(x, x)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16,
                                   torch.float32, torch.float64])
@pytest.mark.parametrize('shape', [(12, ), (3, 4)])
def test_returns_a_tensor_in_the_costs_dtype_and_layout(dtype, shape):
    x = torch.randn(shape).to(dtype)
    y = solve_ranking(x)
    assert isinstance(y, torch.Tensor)
    assert y.dtype == dtype and y.shape == x.shape and y.device == x.device
    assert torch.equal(y, solve_ranking(x.double()).to(dtype))
    assert not y.requires_grad
