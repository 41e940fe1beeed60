r"""Argument checks of the edge-level pure solvers (TSP, perfect matching):
the cost vector, :obj:`edge_index`, the batch vector and :obj:`num_nodes`,
validated once in the solvers tier (their functionals call the same
builders)."""
from typing import Any, Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.solvers._checks import count_nodes, looks_like
from pyg_identity.utils._checks import check_tensor

ORDER = 'cost, edge_index, batch, num_nodes, num_graphs'
NOUNS = {
    'float': 'edge costs',
    'edge_index': 'an edge_index',
    'vector': 'a batch vector',
}


def _hint(value: Any) -> Optional[str]:
    # What a misplaced tensor most likely is, for the error message.
    return looks_like(value, NOUNS, ORDER)


def check_edge_inputs(cost: Any, edge_index: Any, batch: OptTensor,
                      num_nodes: Optional[int], *,
                      allow_column: bool) -> int:
    r"""Raises a :class:`ValueError` naming the argument unless :obj:`cost`
    is a floating point tensor of shape :obj:`[E]` (or :obj:`[E, 1]` if
    :obj:`allow_column`), :obj:`edge_index` an integer tensor of shape
    :obj:`[2, E]` and :obj:`batch` an integer vector; returns the number of
    nodes (from :obj:`batch`, :obj:`num_nodes` or :obj:`edge_index`)."""
    check_tensor(cost, 'cost', 'float', _hint)
    check_tensor(edge_index, 'edge_index', 'integer', _hint)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.size())})")
    num_edges = edge_index.size(1)
    if allow_column:
        if cost.dim() not in (1, 2) or cost.size(0) != num_edges or (
                cost.dim() == 2 and cost.size(1) != 1):
            raise ValueError(f"'cost' must have shape [num_edges] or "
                             f"[num_edges, 1] with num_edges = {num_edges} "
                             f"(got {list(cost.size())})")
    else:
        if cost.dim() != 1:
            raise ValueError(f"'cost' must be one-dimensional (got shape "
                             f"{list(cost.size())})")
        if cost.numel() != num_edges:
            raise ValueError(f"'cost' must have num_edges = {num_edges} "
                             f"entries (got {cost.numel()})")
    if batch is not None:
        check_tensor(batch, 'batch', 'integer', _hint)
    return count_nodes(batch, num_nodes, edge_index)


def check_finite_cost(cost: Tensor) -> None:
    r"""Raises a :class:`ValueError` if :obj:`cost` holds NaN or inf."""
    if not bool(torch.isfinite(cost.detach()).all()):
        raise ValueError("'cost' must be finite (got NaN or inf)")


def check_graph_arrays(cost: Any, edge_index: Any, num_nodes: int, *,
                       on_nodes: bool = False) -> Tuple[np.ndarray,
                                                        np.ndarray]:
    r"""The checks of one graph given to a NumPy solver: raises a
    :class:`ValueError` naming the argument unless :obj:`edge_index` has
    shape :obj:`[2, E]` with nodes in :obj:`[0, num_nodes)` and :obj:`cost`
    is finite with one entry per edge (per node if :obj:`on_nodes`); returns
    :obj:`edge_index` as :obj:`int64` and :obj:`cost` as :obj:`float64`."""
    edge_index = np.asarray(edge_index, dtype=np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.shape)})")
    size = num_nodes if on_nodes else edge_index.shape[1]
    if cost.shape != (size, ):
        raise ValueError(f"'cost' must have shape [{size}] (one entry per "
                         f"{'node' if on_nodes else 'edge'}; got "
                         f"{list(cost.shape)})")
    if not np.all(np.isfinite(cost)):
        raise ValueError("'cost' must be finite (got NaN or inf)")
    if edge_index.size and (edge_index.min() < 0
                            or edge_index.max() >= num_nodes):
        raise ValueError(f"'edge_index' refers to nodes outside [0, "
                         f"{num_nodes})")
    return edge_index, cost


__all__ = ['check_edge_inputs', 'check_finite_cost', 'check_graph_arrays']

