r"""Argument checks shared by the edge-level functionals."""
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor


def _check_cost(cost: Tensor, name: str) -> None:
    if not isinstance(cost, Tensor) or not cost.is_floating_point():
        raise ValueError(f"'{name}' must be a floating point tensor (got "
                         f"{getattr(cost, 'dtype', type(cost))})")
    if cost.dim() != 1:
        raise ValueError(f"'{name}' must be one-dimensional (got shape "
                         f"{list(cost.size())})")


def _check_edge_index(edge_index: Tensor) -> None:
    r"""Raises a :class:`ValueError` unless :obj:`edge_index` is an integer
    tensor of shape :obj:`[2, num_edges]`."""
    if (not isinstance(edge_index, Tensor) or edge_index.is_floating_point()
            or edge_index.is_complex() or edge_index.dtype == torch.bool):
        raise ValueError(f"'edge_index' must be an integer tensor (got "
                         f"{getattr(edge_index, 'dtype', type(edge_index))})")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.size())})")


def _infer_num_nodes(edge_index: Tensor, batch: OptTensor,
                    num_nodes: Optional[int], *extra: int) -> int:
    r"""The number of nodes: :obj:`batch.numel()`, else :obj:`num_nodes`,
    else one more than the largest node index in :obj:`edge_index` and
    :obj:`extra`."""
    if num_nodes is not None and (isinstance(num_nodes, bool)
                                  or not isinstance(num_nodes, int)
                                  or num_nodes < 0):
        raise ValueError(f"'num_nodes' must be a non-negative integer (got "
                         f"{num_nodes!r})")
    if batch is not None:
        if not isinstance(batch, Tensor) or batch.dim() != 1:
            raise ValueError(f"'batch' must be a one-dimensional tensor (got "
                             f"{getattr(batch, 'shape', type(batch))})")
        if num_nodes is not None and num_nodes != batch.numel():
            raise ValueError(f"'num_nodes' ({num_nodes}) does not match the "
                             f"size of 'batch' ({batch.numel()})")
        return batch.numel()
    if num_nodes is not None:
        return num_nodes
    top = int(edge_index.max()) + 1 if edge_index.numel() else 0
    return max([top, *[v + 1 for v in extra]])
