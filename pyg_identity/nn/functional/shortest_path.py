r"""Differentiable :math:`s`-:math:`t` shortest paths on a ragged batch of
graphs, with costs on the edges or on the nodes, exact for costs of any
sign (see :mod:`pyg_identity.solvers.shortest_path`)."""
from typing import Any, Dict, Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.identity_solver import identity_solver
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.solvers.shortest_path import (
    Terminal,
    _shortest_path_solver,
)


def _identity_path(on_nodes: bool, cost: Tensor, edge_index: Tensor,
                   batch: OptTensor, num_nodes: Optional[int],
                   num_graphs: Optional[int], source: Terminal,
                   target: Terminal, directed: bool, negative_costs: str,
                   num_workers: int, settings: Optional[GradientSettings],
                   training: bool, kwargs: Dict[str, Any]) -> Tensor:
    # The one body of both functionals: the batch solver (built once) run
    # by the gradient mechanism, with the default projection "norm".
    settings = GradientSettings.resolve(settings, kwargs, projection='norm')
    solver, index, num_graphs = _shortest_path_solver(
        cost, edge_index, batch, num_nodes, num_graphs, source=source,
        target=target, directed=directed, negative_costs=negative_costs,
        num_workers=num_workers, on_nodes=on_nodes,
        projection=settings.projection)
    return identity_solver(cost, solver, index, num_graphs, sense='min',
                           settings=settings, training=training)


def shortest_path(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    source: Terminal,
    target: Terminal,
    directed: bool = True,
    negative_costs: str = 'raise',
    num_workers: int = 0,
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Tensor:
    r"""Differentiable :math:`s`-:math:`t` shortest path with costs on the
    edges: returns the edge indicator :math:`y = \arg\min_{y \in Y}
    \langle \tilde c, y \rangle` of a shortest path in every graph of a
    batch, with :math:`\tilde c = P(c + \xi)` (clamped at zero if
    :obj:`negative_costs="clamp"`) and the Identity (or Blackbox) gradient
    (see :class:`pyg_identity.nn.IdentityShortestPath` and
    :func:`pyg_identity.solvers.solve_shortest_path`, which solves the
    same batch without autograd).

    Args:
        cost (torch.Tensor): The edge costs :obj:`[num_edges]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`.
        batch (torch.Tensor, optional): The batch vector :obj:`[num_nodes]`.
            (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes if :obj:`batch` is
            not given. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        source (int or torch.Tensor): The start node of every graph, as a
            *local* node index (:obj:`0` is the first node of each graph),
            one integer for all graphs or a tensor :obj:`[num_graphs]`.
        target (int or torch.Tensor): The end node, like :obj:`source`.
        directed (bool, optional): If :obj:`False`, every listed edge can
            be traversed both ways. (default: :obj:`True`)
        negative_costs (str, optional): :obj:`"raise"` solves costs of any
            sign exactly and raises a :class:`ValueError` naming the graph
            if a cycle of negative cost lies on one of its
            :obj:`source`-:obj:`target` walks; :obj:`"clamp"` clamps the
            costs the solver sees at zero (with a warning).
            (default: :obj:`"raise"`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"norm"` (:obj:`"mean"` and :obj:`"std"` only
            if every :obj:`source`-:obj:`target` walk of a graph has the
            same number of arcs, checked). (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied.
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings`.
    """
    return _identity_path(False, cost, edge_index, batch, num_nodes,
                          num_graphs, source, target, directed,
                          negative_costs, num_workers, settings, training,
                          kwargs)


def vertex_shortest_path(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    source: Terminal,
    target: Terminal,
    directed: bool = True,
    negative_costs: str = 'raise',
    num_workers: int = 0,
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Tensor:
    r"""Differentiable :math:`s`-:math:`t` shortest path with costs on the
    nodes (Warcraft maps): returns the node indicator :math:`y` of a path
    minimising the sum of the costs of its nodes, :obj:`source` and
    :obj:`target` included, in every graph of a batch (see
    :class:`pyg_identity.nn.IdentityShortestPath` and
    :func:`pyg_identity.solvers.solve_vertex_shortest_path`).

    Args:
        cost (torch.Tensor): The node costs :obj:`[num_nodes]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`, *e.g.*
            from :func:`pyg_identity.utils.grid.grid_edge_index`.
        batch (torch.Tensor, optional): The batch vector :obj:`[num_nodes]`.
            (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes; if given, it must
            equal :obj:`cost.numel()`. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        source (int or torch.Tensor): The start node of every graph, as a
            *local* node index, one integer for all graphs or a tensor
            :obj:`[num_graphs]`.
        target (int or torch.Tensor): The end node, like :obj:`source`.
        directed (bool, optional): If :obj:`False`, every listed edge can
            be traversed both ways. (default: :obj:`True`)
        negative_costs (str, optional): :obj:`"raise"` or :obj:`"clamp"`
            (see :func:`shortest_path`). (default: :obj:`"raise"`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"norm"` (:obj:`"mean"` and :obj:`"std"` only
            if every :obj:`source`-:obj:`target` walk of a graph visits the
            same number of nodes, checked). (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied.
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings`.
    """
    return _identity_path(True, cost, edge_index, batch, num_nodes,
                          num_graphs, source, target, directed,
                          negative_costs, num_workers, settings, training,
                          kwargs)


__all__ = ['shortest_path', 'vertex_shortest_path']
