r"""The common end of the edge-level functionals (TSP, perfect matching):
once a functional has built its per-graph solver, the costs are minimised
through :func:`~pyg_identity.nn.functional.identity_solver` with the graph
of every edge as the projection index."""
from typing import Callable, Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.identity_solver import identity_solver
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.projection import edge_batch


def identity_on_edges(cost: Tensor, solve: Callable[[Tensor], Tensor],
                      edge_index: Tensor, batch: OptTensor,
                      num_graphs: Optional[int], settings: GradientSettings,
                      training: bool, *, sense: str) -> Tensor:
    r"""Returns :obj:`identity_solver(cost, solve, ..., sense=sense)`, with
    the projection per graph of :obj:`batch` (the graph of every edge of
    :obj:`edge_index`), or over all edges without :obj:`batch`."""
    index = None if batch is None else edge_batch(batch, edge_index)
    return identity_solver(cost, solve, index, num_graphs, sense=sense,
                           settings=settings, training=training)
