r"""Differentiable minimum-cost perfect matching on a ragged batch of general
graphs."""
from typing import Any, Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional._edges import identity_on_edges
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.solvers.perfect_matching import _perfect_matching_solver


def perfect_matching(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    num_workers: int = 0,
    timeout: Optional[float] = None,
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Tensor:
    r"""Differentiable minimum-cost perfect matching: returns the edge
    indicator :math:`y = \arg\min_{y \in Y} \langle P(c + \xi), y \rangle`
    over the perfect matchings :math:`Y` of every graph of a batch, with the
    Identity (or Blackbox) gradient (see
    :class:`pyg_identity.nn.IdentityPerfectMatching`; the solver is
    :func:`pyg_identity.solvers.solve_perfect_matching`).

    Args:
        cost (torch.Tensor): The edge costs :obj:`[num_edges]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`, every
            undirected edge listed once or in both directions (the same way
            for all edges of a graph).
        batch (torch.Tensor, optional): The batch vector :obj:`[num_nodes]`.
            (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes if :obj:`batch` is
            not given. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`. (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied.
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings`.
    """
    settings = GradientSettings.resolve(settings, kwargs, projection='std')
    solve, num_graphs = _perfect_matching_solver(
        cost, edge_index, batch, num_nodes, num_graphs,
        num_workers=num_workers, timeout=timeout)
    return identity_on_edges(cost, solve, edge_index, batch, num_graphs,
                             settings, training, sense='min')


__all__ = ['perfect_matching']
