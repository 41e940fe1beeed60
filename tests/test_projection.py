import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck

from pyg_identity import edge_batch, group_norm, project

MODES = [None, 'mean', 'norm', 'std']


def ragged(sizes, dtype=torch.float64, zero_group=None):
    index = torch.cat([torch.full((n, ), i) for i, n in enumerate(sizes)])
    src = torch.randn(index.numel(), dtype=dtype)
    if zero_group is not None:
        src[index == zero_group] = 0.0
    return src, index


def loop_reference(src, index, num_graphs, mode):
    out = src.clone()
    for g in range(num_graphs):
        m = index == g
        x = src[m]
        if mode in ('mean', 'std'):
            x = x - x.mean(0, keepdim=True)
        if mode in ('norm', 'std'):
            x = x / (x * x).sum(0, keepdim=True).clamp(min=1e-12).sqrt()
        out[m] = x
    return out


@pytest.mark.parametrize('mode', MODES)
def test_project_matches_per_graph_loop(mode):
    src, index = ragged([3, 1, 5, 2])
    out = project(src, index, mode=mode)
    assert torch.allclose(out, loop_reference(src, index, 4, mode))


@pytest.mark.parametrize('mode', MODES)
def test_project_ptr_equals_index(mode):
    src, index = ragged([3, 1, 5, 2])
    ptr = torch.tensor([0, 3, 4, 9, 11])
    assert torch.allclose(project(src, ptr=ptr, mode=mode),
                          project(src, index, mode=mode))


def test_project_std_properties():
    src, index = ragged([4, 6, 2])
    out = project(src, index, mode='std')
    for g in range(3):
        x = out[index == g]
        assert abs(float(x.sum())) < 1e-10
        assert abs(float(x.norm()) - 1) < 1e-10


def test_project_none_returns_input():
    src, index = ragged([2, 3])
    assert project(src, index, mode=None) is src
    assert project(src, index, mode='none') is src


def test_project_single_group_without_index():
    src = torch.randn(7, dtype=torch.float64)
    out = project(src, mode='std')
    ref = src - src.mean()
    assert torch.allclose(out, ref / ref.norm())


@pytest.mark.parametrize('mode', ['mean', 'norm', 'std'])
def test_project_gradcheck_ragged_with_zero_norm_group(mode):
    src, index = ragged([3, 4, 2, 5], zero_group=2)
    src.requires_grad_()
    assert gradcheck(lambda s: project(s, index, num_graphs=4, mode=mode),
                     (src, ))


@pytest.mark.parametrize('mode', ['mean', 'norm', 'std'])
def test_project_gradcheck_ptr_and_dim(mode):
    src = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
    ptr = torch.tensor([0, 2, 2, 7])  # includes an empty group
    assert gradcheck(lambda s: project(s, ptr=ptr, dim=1, mode=mode),
                     (src, ))


@pytest.mark.parametrize('mode', ['norm', 'std'])
def test_project_zero_group_is_finite(mode):
    src, index = ragged([3, 3], zero_group=0)
    src.requires_grad_()
    out = project(src, index, mode=mode)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(src.grad).all()
    assert torch.equal(out[:3], torch.zeros(3, dtype=out.dtype))


def test_project_empty_groups_and_empty_input():
    src, index = ragged([2, 3])
    out = project(src, index + 1, num_graphs=4, mode='std')  # groups 0, 3
    assert torch.allclose(out, project(src, index, mode='std'))
    empty = torch.empty(0)
    assert project(empty, torch.empty(0, dtype=torch.long),
                   mode='std').numel() == 0


def test_project_multi_column_is_per_column():
    src = torch.randn(5, 2, dtype=torch.float64)
    index = torch.tensor([0, 0, 1, 1, 1])
    out = project(src, index, mode='std')
    for c in range(2):
        assert torch.allclose(out[:, c], project(src[:, c], index))


def test_project_edge_level_costs():
    batch = torch.tensor([0, 0, 0, 1, 1])
    edge_index = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 0, 4, 3]])
    eb = edge_batch(batch, edge_index)
    assert eb.tolist() == [0, 0, 0, 1, 1]
    costs = torch.randn(5, dtype=torch.float64)
    assert torch.allclose(project(costs, eb, mode='norm')[3:],
                          costs[3:] / costs[3:].norm())


def test_group_norm():
    src, index = ragged([2, 3])
    ref = torch.stack([src[:2].norm(), src[2:].norm()])
    assert torch.allclose(group_norm(src, index), ref)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 6), min_size=1, max_size=6),
       mode=st.sampled_from(MODES))
def test_project_property_batched_equals_loop(sizes, mode):
    src, index = ragged(sizes)
    out = project(src, index, num_graphs=len(sizes), mode=mode)
    assert torch.allclose(out, loop_reference(src, index, len(sizes), mode))


@pytest.mark.parametrize('kwargs,match', [
    (dict(mode='max'), "Invalid 'mode'"),
    (dict(index=torch.tensor([0, 1])), "'index' must be one-dimensional"),
    (dict(ptr=torch.tensor([[0, 3]])), "'ptr' must be"),
    (dict(ptr=torch.tensor([0, 3]), num_graphs=2), "'ptr' must have"),
    (dict(dim=3), "'dim' must lie"),
    (dict(eps=0.0), "'eps' must be positive"),
])
def test_project_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        project(torch.randn(3), **kwargs)


def test_project_rejects_integer_src():
    with pytest.raises(ValueError, match="'src' must be a floating"):
        project(torch.arange(3))


def test_edge_batch_bad_edge_index():
    with pytest.raises(ValueError, match="'edge_index' must have shape"):
        edge_batch(torch.zeros(3, dtype=torch.long), torch.zeros(3).long())
