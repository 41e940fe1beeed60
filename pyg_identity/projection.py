r"""Per-graph projections :math:`P_{\text{mean}}`, :math:`P_{\text{norm}}` and
:math:`P_{\text{std}}` computed by scatter over a ragged PyG batch."""
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.index import index2ptr
from torch_geometric.typing import OptTensor
from torch_geometric.utils import scatter, segment

PROJECTION_MODES = (None, 'mean', 'norm', 'std')


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


def _group_sum(src: Tensor, index: OptTensor, ptr: OptTensor,
               num_groups: int, dim: int) -> Tensor:
    if ptr is not None and dim == 0:
        return segment(src, ptr, reduce='sum')
    assert index is not None
    return scatter(src, index, dim, dim_size=num_groups, reduce='sum')


def _expand(count: Tensor, dim: int, ndim: int) -> Tensor:
    return count.view([-1 if d == dim else 1 for d in range(ndim)])


def project(
    src: Tensor,
    index: OptTensor = None,
    ptr: OptTensor = None,
    num_graphs: Optional[int] = None,
    dim: int = 0,
    mode: Optional[str] = 'std',
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
    The squared norm is clamped to :obj:`eps` before the square root, so an
    all-zero group gives finite outputs and gradients.

    Args:
        src (torch.Tensor): The costs.
        index (torch.Tensor, optional): The group (graph) of every entry of
            :obj:`src` along :obj:`dim`, *e.g.* :obj:`batch` for node costs or
            :func:`edge_batch` for edge costs. (default: :obj:`None`)
        ptr (torch.Tensor, optional): Alternatively, the group boundaries of
            a :obj:`src` sorted by group (CSR), used when :obj:`index` is not
            given. If neither is given, :obj:`src` is a single group.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of groups. Passing it avoids a
            host synchronisation. (default: :obj:`None`)
        dim (int, optional): The dimension along which entries are grouped.
            (default: :obj:`0`)
        mode (str, optional): :obj:`None` (identity), :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`. (default: :obj:`"std"`)
        eps (float, optional): The lower clamp of the squared norm.
            (default: :obj:`1e-12`)

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
    if eps <= 0:
        raise ValueError(f"'eps' must be positive (got {eps})")
    if mode is None:
        return src

    size = src.size(dim)
    if index is not None:
        if index.dim() != 1 or index.numel() != size:
            raise ValueError(f"'index' must be one-dimensional with "
                             f"src.size({dim}) = {size} entries (got shape "
                             f"{list(index.size())})")
        if num_graphs is None:
            num_graphs = int(index.max()) + 1 if index.numel() > 0 else 0
        ptr = None
        if dim == 0 and size > 0 and bool((index[1:] >= index[:-1]).all()):
            # A sorted `index` (PyG's batch layout): fast CSR segment sums.
            ptr = index2ptr(index, num_graphs)
    elif ptr is not None:
        if ptr.dim() != 1 or ptr.numel() < 1:
            raise ValueError(f"'ptr' must be a one-dimensional tensor with at "
                             f"least one entry (got shape {list(ptr.size())})")
        if num_graphs is not None and ptr.numel() != num_graphs + 1:
            raise ValueError(f"'ptr' must have num_graphs + 1 = "
                             f"{num_graphs + 1} entries (got {ptr.numel()})")
        num_graphs = ptr.numel() - 1
        index = _ptr_to_index(ptr, size)
        if dim != 0:  # `segment` reduces along the first dimension only.
            ptr = None
    else:
        return _project_global(src, dim, mode, eps)

    out = src
    if mode in ('mean', 'std'):
        if ptr is not None:
            count = ptr.diff()
        else:
            count = scatter(torch.ones_like(index), index, 0,
                            dim_size=num_graphs, reduce='sum')
        count = _expand(count.clamp(min=1).to(src.dtype), dim, src.dim())
        mean = _group_sum(out, index, ptr, num_graphs, dim) / count
        out = out - mean.index_select(dim, index)
    if mode in ('norm', 'std'):
        sq = _group_sum(out * out, index, ptr, num_graphs, dim)
        inv = sq.clamp(min=eps).rsqrt()
        out = out * inv.index_select(dim, index)
    return out


def _project_global(src: Tensor, dim: int, mode: str, eps: float) -> Tensor:
    out = src
    if mode in ('mean', 'std'):
        out = out - out.mean(dim, keepdim=True)
    if mode in ('norm', 'std'):
        norm = (out * out).sum(dim, keepdim=True).clamp(min=eps).sqrt()
        out = out / norm
    return out


def group_norm(src: Tensor, index: OptTensor = None,
               num_graphs: Optional[int] = None) -> Tensor:
    r"""Returns the L2 norm of :obj:`src` (flattened after the first
    dimension) per group, of shape :obj:`[num_graphs]`.

    Args:
        src (torch.Tensor): The costs, grouped along the first dimension.
        index (torch.Tensor, optional): The group of every entry.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
    """
    sq = (src * src).reshape(src.size(0), -1).sum(dim=-1)
    if index is None:
        return sq.sum().sqrt().view(1)
    return scatter(sq, index, 0, dim_size=num_graphs, reduce='sum').sqrt()


__all__ = ['project', 'edge_batch', 'group_norm', 'PROJECTION_MODES']
