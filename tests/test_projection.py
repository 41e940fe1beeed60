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
def test_project_gradcheck_ragged_next_to_zero_norm_group(mode):
    # P_norm is not differentiable at a zero group (see the zero-group tests
    # for its rule), so the zero group is held fixed: it must not disturb
    # the gradients of the other groups.
    src, index = ragged([3, 4, 2, 5], zero_group=2)
    keep = index != 2

    def fn(s):
        return project(src.masked_scatter(keep, s), index, num_graphs=4,
                       mode=mode)

    assert gradcheck(fn, (src[keep].clone().requires_grad_(), ))


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
        assert torch.allclose(out[:, c], project(src[:, c], index, mode='std'))


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


# Low precision, extreme magnitudes and degenerate groups. The reference is
# the plain per-graph formula in float64 on the costs divided by a constant
# per group (every projection is invariant to it up to the factor itself).


def scaled_reference(src, index, num_graphs, mode, scale):
    ref = loop_reference(src.double() / scale, index, num_graphs, mode)
    return ref * scale if mode == 'mean' else ref


@pytest.mark.parametrize('mode', MODES[1:])
@pytest.mark.parametrize('dtype,tol', [(torch.float16, 2e-3),
                                       (torch.bfloat16, 1.6e-2)])
def test_project_half_types_match_float64(dtype, tol, mode):
    # TSP20: 380 edges at |c| ~ 13 overflow a float16 sum of squares; the
    # third group is near the largest float16 (65504).
    sizes = [380, 0, 380, 7]
    src, index = ragged(sizes)
    src = src * torch.tensor([13.0, 1.0, 3e4, 1e-3]).index_select(0, index)
    src = src.clamp(-6e4, 6e4).to(dtype)
    out = project(src, index, num_graphs=4, mode=mode)
    assert out.dtype == dtype and torch.isfinite(out).all()
    ref = loop_reference(src.double(), index, 4, mode)
    scale = 1.0 if mode != 'mean' else ref.abs().max()
    assert torch.allclose(out.double(), ref, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_project_half_types_gradient_is_not_zero(dtype):
    c = (torch.randn(380) * 13).to(dtype).requires_grad_()
    g = torch.randn(380).to(dtype)
    project(c, mode='std').backward(g)
    c64 = c.detach().double().requires_grad_()
    ref, = torch.autograd.grad(project(c64, mode='std'), c64, g.double())
    assert c.grad.dtype == dtype
    assert torch.allclose(c.grad.double(), ref, rtol=2e-2,
                          atol=2e-2 * float(ref.abs().max()))


@pytest.mark.parametrize('mode', MODES[1:])
@pytest.mark.parametrize('magnitude', [1e200, 1e300, 1.5e308])
def test_project_float64_huge_values(magnitude, mode):
    src, index = ragged([5, 3, 4])
    src = src / src.abs().max() * magnitude
    out = project(src, index, mode=mode)
    ref = scaled_reference(src, index, 3, mode, magnitude)
    if mode == 'mean':  # x - mean(x) itself may not fit a float64
        assert torch.allclose(out / magnitude, ref / magnitude)
    else:
        assert torch.isfinite(out).all() and torch.allclose(out, ref)


@pytest.mark.parametrize('dtype,magnitude', [
    (torch.float32, 1e-8),
    (torch.float32, 1e-40),  # subnormal
    (torch.float64, 1e-8),
    (torch.float64, 1e-300),
    (torch.float64, 1e-320),  # subnormal
    (torch.float16, 1e-6),  # subnormal
])
@pytest.mark.parametrize('mode', ['norm', 'std'])
def test_project_tiny_groups_are_normalised(dtype, magnitude, mode):
    src, index = ragged([200, 6, 2])
    src = (src * magnitude).to(dtype)
    out = project(src, index, num_graphs=3, mode=mode)
    x = src.double()
    ref = loop_reference(x / x.abs().max(), index, 3, mode)
    tol = 1e-3 if dtype == torch.float16 else 1e-5
    assert torch.allclose(out.double(), ref, atol=tol)
    norms = group_norm(out.double(), index, 3)
    assert torch.allclose(norms, torch.ones(3, dtype=torch.float64),
                          atol=tol)


def test_project_tiny_group_keeps_the_top_k():
    # Costs ~1e-8 used to project to norm 0.043, far below a margin of 0.1.
    torch.manual_seed(0)
    c = torch.randn(200, 20, dtype=torch.float64) * 1e-8
    index = torch.arange(20).repeat(200)
    out = project(c.view(-1), index, num_graphs=20, mode='std')
    ref = project(c.view(-1) * 1e8, index, num_graphs=20, mode='std')
    assert torch.allclose(out, ref)


@pytest.mark.parametrize('mode', MODES[1:])
def test_project_ragged_batch_of_mixed_magnitudes(mode):
    magnitudes = torch.tensor([1e-300, 1e-8, 1.0, 1e8, 1e300],
                              dtype=torch.float64)
    src, index = ragged([4, 1, 6, 3, 5])
    src = src * magnitudes.index_select(0, index)
    out = project(src, index, num_graphs=5, mode=mode)
    for g in range(5):
        m = index == g
        ref = scaled_reference(src[m], torch.zeros(int(m.sum()),
                                                   dtype=torch.long), 1,
                               mode, float(magnitudes[g]))
        assert torch.allclose(out[m] / (magnitudes[g] if mode == 'mean'
                                        else 1.0),
                              ref / (magnitudes[g] if mode == 'mean'
                                     else 1.0))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16,
                                   torch.float32, torch.float64])
@pytest.mark.parametrize('value', [0.0, 0.1, -7.0, 1e-30, 3e4])
@pytest.mark.parametrize('mode', ['mean', 'std'])
def test_project_all_equal_group_is_zero_with_mean_free_gradient(
        mode, value, dtype):
    # Exactly 0, not round-off blown up to unit norm; the gradient is
    # P_mean(g), bounded by |g| whatever the value (the eps clamp gave
    # 1e6 * P_mean(g)).
    src, index = ragged([3, 5, 4])
    src = src.to(dtype)
    src[index == 1] = value
    src.requires_grad_()
    g = torch.randn(src.numel()).to(dtype)
    out = project(src, index, num_graphs=3, mode=mode)
    out.backward(g)
    m = index == 1
    assert torch.equal(out[m].detach(), torch.zeros(5, dtype=dtype))
    gm = g[m].double()
    tol = 1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-6
    assert torch.allclose(src.grad[m].double(), gm - gm.mean(), atol=tol)


@pytest.mark.parametrize('value', [0.1, -7.0, 1e-300, 1e300])
def test_project_all_equal_group_under_norm_is_a_unit_vector(value):
    src = torch.full((4, ), value, dtype=torch.float64)
    assert torch.allclose(project(src, mode='norm'),
                          torch.full_like(src, 0.5 if value > 0 else -0.5))


@pytest.mark.parametrize('dtype', [torch.float16, torch.float32,
                                   torch.float64])
@pytest.mark.parametrize('mode,passed', [('norm', lambda g: g),
                                         ('std', lambda g: g - g.mean())])
def test_project_zero_group_passes_a_bounded_gradient(mode, passed, dtype):
    src, index = ragged([3, 4, 2], dtype=dtype, zero_group=1)
    src.requires_grad_()
    g = torch.randn(src.numel()).to(dtype)
    out = project(src, index, num_graphs=3, mode=mode)
    out.backward(g)
    m = index == 1
    assert torch.equal(out[m].detach(), torch.zeros(4, dtype=dtype))
    assert torch.allclose(src.grad[m].double(), passed(g[m].double()),
                          atol=1e-3)
    # The other groups get their usual vector-Jacobian product.
    s2 = src.detach()[~m].double().requires_grad_()
    ref, = torch.autograd.grad(project(s2, index[~m], mode=mode), s2,
                               g[~m].double())
    assert torch.allclose(src.grad[~m].double(), ref, atol=1e-2)


def test_project_zero_group_without_index():
    c = torch.zeros(5, requires_grad=True)
    g = torch.tensor([1.0, -1.0, 0.5, 0.0, 0.0])
    out = project(c, mode='std')
    out.backward(g)
    assert torch.equal(out.detach(), torch.zeros(5))
    assert torch.allclose(c.grad, g - g.mean())


@pytest.mark.parametrize('mode', MODES[1:])
def test_project_gradient_is_scale_equivariant(mode):
    # J(s x) = J(x) / s for 'norm' and 'std' (J(x) for 'mean'), checked far
    # outside where gradcheck's finite differences work.
    src, index = ragged([4, 3])
    g = torch.randn_like(src)
    grads = []
    for s in (1.0, 1e-250, 1e250):
        x = (src * s).requires_grad_()
        project(x, index, mode=mode).backward(g)
        grads.append(x.grad * (1.0 if mode == 'mean' else s))
    assert torch.allclose(grads[1], grads[0])
    assert torch.allclose(grads[2], grads[0])


@pytest.mark.parametrize('mode', ['mean', 'norm', 'std'])
def test_project_gradcheck_at_ordinary_scale_with_empty_groups(mode):
    src, index = ragged([3, 0, 4, 0, 2])
    src.requires_grad_()
    assert gradcheck(lambda s: project(s, index, num_graphs=5, mode=mode),
                     (src, ))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_project_half_types_empty_input_and_groups(dtype):
    assert project(torch.empty(0, dtype=dtype), torch.empty(
        0, dtype=torch.long), num_graphs=2).dtype == dtype
    src = torch.randn(3, 6).to(dtype)
    ptr = torch.tensor([0, 2, 2, 6])
    out = project(src, ptr=ptr, dim=1, mode='std')
    assert out.dtype == dtype
    assert torch.allclose(out.double(), project(src.double(), ptr=ptr,
                                                dim=1, mode='std'),
                          atol=1e-2)


def test_group_norm_of_half_and_huge_values():
    src = (torch.ones(380) * 13).half()
    assert torch.allclose(group_norm(src).double(),
                          torch.tensor([13 * 380**0.5], dtype=torch.float64),
                          rtol=1e-3)
    big = torch.tensor([1e300, 1e300], dtype=torch.float64)
    assert torch.allclose(group_norm(big, torch.tensor([0, 1])),
                          big)


@pytest.mark.parametrize('kwargs,match', [
    (dict(index=torch.tensor([0, 0, 1]), num_graphs=1),
     r"'index' must lie in \[0, num_graphs - 1\] with num_graphs = 1"),
    (dict(index=torch.tensor([0, 0, -1])), "'index' must lie in"),
    (dict(index=torch.tensor([0.0, 0.0, 1.0])),
     "'index' must be an integer tensor"),
    (dict(index=torch.zeros(3, dtype=torch.long, device='meta')),
     "'index' must be on the device of 'src'"),
    (dict(ptr=torch.tensor([0, 2])), "'ptr' must be non-decreasing from 0"),
    (dict(ptr=torch.tensor([0, 2, 1, 3])), "'ptr' must be non-decreasing"),
    (dict(ptr=torch.tensor([0, 3], device='meta')),
     "'ptr' must be on the device"),
    (dict(num_graphs=-1), "'num_graphs' must be a non-negative integer"),
    (dict(num_graphs=2.0), "'num_graphs' must be a non-negative integer"),
])
def test_project_bad_groups(kwargs, match):
    with pytest.raises(ValueError, match=match):
        project(torch.randn(3), **kwargs)


def test_project_costs_on_another_device_than_index():
    with pytest.raises(ValueError, match="'index' must be on the device"):
        project(torch.randn(4, device='meta'), torch.tensor([0, 0, 1, 1]))
