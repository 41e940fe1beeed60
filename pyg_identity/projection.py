r"""Per-graph projections :math:`P_{\text{mean}}`, :math:`P_{\text{norm}}` and
:math:`P_{\text{std}}` computed by scatter over a ragged PyG batch."""
from typing import Any, Optional, Union

import torch
from torch import Tensor
from torch_geometric.index import index2ptr
from torch_geometric.typing import OptTensor
from torch_geometric.utils import scatter, segment

from pyg_identity.utils._checks import (
    check_device,
    check_non_negative,
    check_tensor,
)

PROJECTION_MODES = (None, 'mean', 'norm', 'std')


def check_num_graphs(num_graphs: Any) -> Optional[int]:
    r"""Returns :obj:`num_graphs` as an :obj:`int` (or :obj:`None`), or
    raises a :class:`ValueError` unless it is a non-negative integer."""
    return check_non_negative(num_graphs, 'num_graphs', allow_none=True)


def validate_mode(mode: Optional[str], name: str = 'mode') -> Optional[str]:
    r"""Returns :obj:`mode` if it is a valid projection mode, else raises a
    :class:`ValueError` naming the argument :obj:`name`."""
    if mode == 'none':
        return None
    if mode not in PROJECTION_MODES:
        raise ValueError(f"Invalid '{name}' (got {mode!r}); expected one of "
                         f"None, 'none', 'mean', 'norm' or 'std'")
    return mode


def edge_batch(batch: Tensor, edge_index: Tensor) -> Tensor:
    r"""Returns the graph index of every edge, *i.e.*
    :obj:`batch[edge_index[0]]`, so edge-level costs can be projected per
    graph.

    Args:
        batch (torch.Tensor): The node-level batch vector of shape
            :obj:`[num_nodes]`.
        edge_index (torch.Tensor): The edge indices of shape
            :obj:`[2, num_edges]`.
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                         f"(got {list(edge_index.size())})")
    return batch.index_select(0, edge_index[0])


def _ptr_to_index(ptr: Tensor, size: int) -> Tensor:
    # Cheaper than `repeat_interleave`: mark group starts, then cumsum.
    marks = torch.zeros(size + 1, dtype=torch.long, device=ptr.device)
    marks.index_add_(0, ptr[1:-1], torch.ones_like(ptr[1:-1]))
    return marks[:size].cumsum(0)


def _expand(count: Tensor, dim: int, ndim: int) -> Tensor:
    return count.view([-1 if d == dim else 1 for d in range(ndim)])


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    # Half types (and float8) overflow on a handful of squares: accumulate
    # in float32, which holds every one of their values exactly.
    return torch.float32 if torch.finfo(dtype).bits < 32 else dtype


def _pow2_scale(amax: Tensor) -> Tensor:
    # The power of two `s` with `amax / s` in [1, 2); dividing by it is exact
    # (no rounding, so no two entries collapse) and never overflows. Zero
    # groups get `s = 1`.
    exponent = torch.frexp(amax).exponent - 1
    scale = torch.exp2(exponent.to(amax.dtype))
    return torch.where(amax == 0, torch.ones_like(scale), scale)


class _Groups:
    # Per-group reductions and their broadcast back to the entries, either
    # over CSR segments, by scatter, or over the whole of `dim` (one group).
    def __init__(self, index: OptTensor, ptr: OptTensor,
                 num_graphs: int, dim: int, ndim: int) -> None:
        self.index, self.ptr = index, ptr
        self.num_graphs, self.dim, self.ndim = num_graphs, dim, ndim

    def reduce(self, src: Tensor, reduce: str) -> Tensor:
        if self.index is None:
            if reduce == 'sum':
                return src.sum(self.dim, keepdim=True)
            return src.amax(self.dim, keepdim=True)
        if self.ptr is not None:
            return segment(src, self.ptr, reduce=reduce)
        return scatter(src, self.index, self.dim, dim_size=self.num_graphs,
                       reduce=reduce)

    def expand(self, src: Tensor) -> Tensor:
        if self.index is None:
            return src
        return src.index_select(self.dim, self.index)

    def member(self, src: Tensor) -> Tensor:
        # Some entry of every group (any will do; empty groups get any value).
        if self.index is None:
            return src.narrow(self.dim, 0, 1)
        if self.ptr is not None:
            first = self.ptr[:-1].clamp(max=src.size(0) - 1)
            return src.index_select(0, first)
        return self.reduce(src, 'max')

    def count(self, dtype: torch.dtype, size: int) -> Union[Tensor, float]:
        if self.index is None:
            return float(max(size, 1))
        if self.ptr is not None:
            count = self.ptr.diff()
        else:
            count = scatter(torch.ones_like(self.index), self.index, 0,
                            dim_size=self.num_graphs, reduce='sum')
        return _expand(count.clamp(min=1).to(dtype), self.dim, self.ndim)


def _project(src: Tensor, mode: str, groups: _Groups) -> Tensor:
    # Every statistic is taken on the group divided by a power of two near
    # its max-abs (entries in (-2, 2)), in float32 for half types, so no sum
    # overflows or underflows; the detached scales and shifts leave the
    # projected value, hence the gradient, unchanged.
    x = src.to(_work_dtype(src.dtype))
    with torch.no_grad():
        scale = _pow2_scale(groups.reduce(x.detach().abs(), 'max'))
    out = x / groups.expand(scale)  # exact: a power of two
    if mode in ('mean', 'std'):
        # Shifting by one entry of the group first makes an all-equal group
        # exactly zero (a plain mean of n equal values is not always equal
        # to them).
        with torch.no_grad():
            member = groups.member(out.detach())
        out = out - groups.expand(member)
        count = groups.count(out.dtype, out.size(groups.dim))
        out = out - groups.expand(groups.reduce(out, 'sum') / count)
        if mode == 'mean':
            return (out * groups.expand(scale)).to(src.dtype)
    # A group that is not all-equal ('std') or all-zero ('norm') has an
    # entry of magnitude >= 2^-54 here (the spacing of floats near 1), so
    # its sum of squares is a normal number and needs no clamp. Otherwise
    # the group is exactly zero: multiplying it by `scale` gives output 0
    # and the Jacobian P_mean ('std') or the identity ('norm').
    sq = groups.reduce(out * out, 'sum')
    flat = sq == 0
    inv = torch.where(flat, torch.ones_like(sq), sq).rsqrt()
    factor = torch.where(flat, scale, inv)
    return (out * groups.expand(factor)).to(src.dtype)


def _check_group_tensor(t: Any, name: str, src: Tensor) -> Tensor:
    check_tensor(t, name, 'integer')
    check_device(t, name, src, "'src'")
    return t.long()


def project(
    src: Tensor,
    index: OptTensor = None,
    ptr: OptTensor = None,
    num_graphs: Optional[int] = None,
    dim: int = 0,
    mode: Optional[str] = 'norm',
    eps: float = 1e-12,
) -> Tensor:
    r"""Projects solver costs per graph onto the sets the solver is invariant
    to, as in the `"Backpropagation through Combinatorial Algorithms: Identity
    with Projection Works" <https://arxiv.org/abs/2205.15213>`_ paper.

    .. math::
        P_{\text{mean}}(\omega) &= \omega - \tfrac{1}{n}\langle
        \mathbf{1}, \omega\rangle \mathbf{1}

        P_{\text{norm}}(\omega) &= \omega / \|\omega\|_2

        P_{\text{std}}(\omega) &= P_{\text{norm}}(P_{\text{mean}}(\omega))

    Statistics are computed for every group (graph) along :obj:`dim`
    separately, and separately for every position of the remaining
    dimensions (as :func:`torch_geometric.utils.scatter` reduces), then
    broadcast back.
    :math:`P_{\text{mean}}` is only a valid projection for solvers whose
    solutions all have the same size (top-k, ranking, TSP, perfect matching);
    :math:`P_{\text{norm}}` is always valid.

    Every finite input projects correctly in every floating point dtype:
    each group is divided by a power of two near its largest magnitude
    before any sum is taken, and half types (:obj:`float16`,
    :obj:`bfloat16`) are accumulated in :obj:`float32`; the output has the
    dtype of :obj:`src`.
    A group with a tiny but non-zero norm (*e.g.* costs of :obj:`1e-300`)
    is normalised to unit norm like any other.

    A group on which :math:`P_{\text{norm}}` is undefined, *i.e.* an
    all-zero group (:obj:`"norm"`) or an all-equal group (:obj:`"std"`,
    which includes all-zero ones), is projected to :obj:`0`, and the
    gradient passed back to it is :math:`P_{\text{mean}}(g)`
    (:obj:`"std"`) or :math:`g` (:obj:`"norm"`) for an incoming gradient
    :math:`g`: the normalisation is treated as the identity there, while
    the mean subtraction, linear and defined everywhere, is kept.
    The true Jacobian :math:`(I - \hat\omega\hat\omega^\top) /
    \|\omega\|_2` grows without bound as :math:`\omega \to 0`, so any rule
    derived from it (such as a clamp of the squared norm) hands a
    zero-initialised cost head a step of arbitrary size; this rule bounds
    the step by :math:`\|g\|_2`, points it along the mean of that Jacobian
    over all directions :math:`\hat\omega` (which is proportional to
    :math:`I`), and is what the Identity backward gives on the costs the
    projection keeps unchanged.

    Args:
        src (torch.Tensor): The costs.
        index (torch.Tensor, optional): The group (graph) of every entry of
            :obj:`src` along :obj:`dim`, *e.g.* :obj:`batch` for node costs or
            :func:`edge_batch` for edge costs. Its range is checked against
            :obj:`num_graphs` in one host synchronisation, which also
            detects a sorted :obj:`index`. (default: :obj:`None`)
        ptr (torch.Tensor, optional): Alternatively, the group boundaries of
            a :obj:`src` sorted by group (CSR), used when :obj:`index` is not
            given; no host synchronisation (its values are checked on the
            CPU only). If neither is given, :obj:`src` is a single group.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of groups; inferred from
            :obj:`index` or :obj:`ptr` if not given. (default: :obj:`None`)
        dim (int, optional): The dimension along which entries are grouped.
            (default: :obj:`0`)
        mode (str, optional): :obj:`None` (identity), :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`; :obj:`"norm"` is valid for every
            linear solver. (default: :obj:`"norm"`)
        eps (float, optional): Deprecated and without effect, kept for
            backward compatibility (it used to clamp the squared norm,
            which the scaled statistics no longer need). It must still be
            positive. (default: :obj:`1e-12`)

    Shapes:
        - **input:** :obj:`src` of any shape, :obj:`index` of shape
          :obj:`[src.size(dim)]`, :obj:`ptr` of shape :obj:`[num_graphs + 1]`
        - **output:** the shape of :obj:`src`
    """
    mode = validate_mode(mode)
    if not isinstance(src, Tensor) or not src.is_floating_point():
        raise ValueError(f"'src' must be a floating point tensor (got "
                         f"{getattr(src, 'dtype', type(src))})")
    if src.dim() == 0:
        raise ValueError("'src' must have at least one dimension")
    dim = dim + src.dim() if dim < 0 else dim
    if dim < 0 or dim >= src.dim():
        raise ValueError(f"'dim' must lie between {-src.dim()} and "
                         f"{src.dim() - 1} (got {dim})")
    if not eps > 0:
        raise ValueError(f"'eps' must be positive (got {eps})")
    num_graphs = check_num_graphs(num_graphs)
    if mode is None:
        return src

    size = src.size(dim)
    if index is not None:
        index = _check_group_tensor(index, 'index', src)
        if index.dim() != 1 or index.numel() != size:
            raise ValueError(f"'index' must be one-dimensional with "
                             f"src.size({dim}) = {size} entries (got shape "
                             f"{list(index.size())})")
        ptr = None
        is_sorted = False
        if size > 0:
            # One host synchronisation for the range check and the layout.
            lo, hi, is_sorted = torch.stack([
                *torch.aminmax(index), (index[1:] >= index[:-1]).all()
            ]).tolist()
            if num_graphs is None:
                num_graphs = hi + 1
            if lo < 0 or hi >= num_graphs:
                raise ValueError(f"'index' must lie in [0, num_graphs - 1] "
                                 f"with num_graphs = {num_graphs} (got "
                                 f"values in [{lo}, {hi}])")
        elif num_graphs is None:
            num_graphs = 0
        if dim == 0 and is_sorted:
            # A sorted `index` (PyG's batch layout): fast CSR segment sums.
            ptr = index2ptr(index, num_graphs)
    elif ptr is not None:
        ptr = _check_group_tensor(ptr, 'ptr', src)
        if ptr.dim() != 1 or ptr.numel() < 1:
            raise ValueError(f"'ptr' must be a one-dimensional tensor with at "
                             f"least one entry (got shape {list(ptr.size())})")
        if num_graphs is not None and ptr.numel() != num_graphs + 1:
            raise ValueError(f"'ptr' must have num_graphs + 1 = "
                             f"{num_graphs + 1} entries (got {ptr.numel()})")
        if ptr.device.type == 'cpu':  # Free of a device synchronisation.
            first, last, monotone = torch.stack([
                ptr[0], ptr[-1], (ptr[1:] >= ptr[:-1]).all()
            ]).tolist()
            if first != 0 or last != size or not monotone:
                raise ValueError(f"'ptr' must be non-decreasing from 0 to "
                                 f"src.size({dim}) = {size} (got {first} "
                                 f"to {last}"
                                 f"{'' if monotone else ', decreasing'})")
        num_graphs = ptr.numel() - 1
        index = _ptr_to_index(ptr, size)
        if dim != 0:  # `segment` reduces along the first dimension only.
            ptr = None
    if src.numel() == 0:
        return src.clone()
    assert num_graphs is not None or index is None
    groups = _Groups(index, ptr, num_graphs or 0, dim, src.dim())
    return _project(src, mode, groups)


def group_norm(src: Tensor, index: OptTensor = None,
               num_graphs: Optional[int] = None) -> Tensor:
    r"""Returns the L2 norm of :obj:`src` (flattened after the first
    dimension) per group, of shape :obj:`[num_graphs]`, computed on scaled
    values (in :obj:`float32` for half types) so it overflows only if the
    norm itself does not fit the dtype of :obj:`src`.

    Args:
        src (torch.Tensor): The costs, grouped along the first dimension.
        index (torch.Tensor, optional): The group of every entry.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
    """
    x = src.to(_work_dtype(src.dtype)).reshape(src.size(0), -1)
    with torch.no_grad():
        if x.numel() == 0:
            amax = x.new_zeros(x.size(0))
        else:
            amax = x.detach().abs().amax(dim=-1)
        if index is None:
            scale = _pow2_scale(amax.amax().view(1) if amax.numel() > 0
                                else amax.new_zeros(1))
        else:
            scale = _pow2_scale(scatter(amax, index, 0,
                                        dim_size=num_graphs, reduce='max'))
    if index is None:
        sq = (x / scale).square().sum().view(1)
    else:
        sq = (x / scale.index_select(0, index).view(-1, 1)).square().sum(-1)
        sq = scatter(sq, index, 0, dim_size=num_graphs, reduce='sum')
    return (sq.sqrt() * scale).to(src.dtype)


__all__ = ['project', 'edge_batch', 'group_norm', 'PROJECTION_MODES']
