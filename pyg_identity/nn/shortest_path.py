from typing import Any, Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import Option, SolverLayer, check_bool
from pyg_identity.nn._pool_options import WorkerOptions
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.functional.shortest_path import (
    shortest_path,
    vertex_shortest_path,
)
from pyg_identity.solvers.shortest_path import Terminal, _check_negative_costs


class IdentityShortestPath(WorkerOptions, SolverLayer):
    r"""The differentiable :math:`s`-:math:`t` shortest-path layer (an exact
    solver with the Identity gradient) from the `"Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper, for a ragged batch of sparse
    graphs

    .. math::
        \mathbf{y} = \operatorname*{arg\,min}_{\mathbf{y} \in Y_{st}}
        \langle P(\mathbf{c}) + \xi, \mathbf{y} \rangle,
        \qquad
        \frac{\partial \ell}{\partial \mathbf{c}} =
        -P'(\mathbf{c})^{\top} \frac{\partial \ell}{\partial \mathbf{y}}

    where :math:`Y_{st}` holds the indicators of the paths from
    :obj:`source` to :obj:`target` of every graph: over the edges
    (:obj:`vertex_costs=False`, cost of a path = sum of its edge costs) or
    over the nodes (:obj:`vertex_costs=True`, cost of a path = sum of the
    costs of the nodes it visits, :obj:`source` and :obj:`target` included,
    as in the Warcraft maps of `"Differentiation of Blackbox Combinatorial
    Solvers" <https://arxiv.org/abs/1912.02175>`_; see
    :func:`pyg_identity.utils.grid.grid_edge_index`).
    It is an :math:`\arg\min` solver, so the Identity gradient is
    :math:`-\partial\ell/\partial\mathbf{y}` (before the projection's
    Jacobian).

    Each graph is solved exactly: zero costs are exact, of parallel
    edges the cheapest is used (ties: the lowest edge index), self-loops are
    never on a path, and ties between paths are broken deterministically.
    If no cost of the batch is negative, one call of
    :func:`scipy.sparse.csgraph.dijkstra` solves all graphs; otherwise (a
    linear cost head, the noise :math:`\xi`, a projection, or the Blackbox
    call on :math:`\mathbf{c} + \lambda\,\partial\ell/\partial\mathbf{y}`)
    one batched Bellman-Ford returns the exact :math:`\arg\min`, *e.g.* on
    every DAG such as a grid with right and down edges. If a cycle of
    negative cost lies on a :obj:`source`-:obj:`target` walk of a graph
    (with :obj:`directed=False`, any edge of negative cost there; with
    :obj:`vertex_costs=True`, two nodes joined both ways whose costs sum
    below zero), the problem is ill-posed and a :class:`ValueError` naming
    the graph is raised; :obj:`negative_costs="clamp"` instead clamps the
    costs the solver sees at zero (with a warning), as the reference
    Blackbox code does, which returns the shortest path of *other* costs.
    If :obj:`target` cannot be reached from :obj:`source` in some graph, a
    :class:`ValueError` is raised.

    The default projection is :math:`P_{\text{norm}}`: the solution is
    invariant to positive scaling of the costs. It is not invariant to
    shifts, since paths can have different numbers of edges, so
    :obj:`"mean"` and :obj:`"std"` (which shift the costs of every graph by
    a constant) are accepted only for batches where every
    :obj:`source`-:obj:`target` walk of a graph has the same number of
    arcs, *e.g.* grids with right and down edges; this is checked on every
    call, and otherwise a :class:`ValueError` naming :obj:`projection` and
    the graph is raised. A cycle on a walk fails the check, so undirected
    graphs (:obj:`directed=False`) and graphs listing both directions of an
    edge on a walk never pass it.

    With :obj:`directed=True` (the default), edge :math:`(u, v)` can only be
    traversed from :math:`u` to :math:`v`: an undirected PyG graph, which
    lists :math:`(u, v)` and :math:`(v, u)`, then has two edges with their own
    costs, one per direction. With :obj:`directed=False`, every listed edge
    can be traversed both ways (for graphs that list each undirected edge
    once); if both directions are listed, the cheaper one is used either
    way and only its entry is set in :math:`\mathbf{y}`.

    Args:
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)
        vertex_costs (bool, optional): If set to :obj:`True`, costs and
            solutions live on the nodes instead of the edges.
            (default: :obj:`False`)
        negative_costs (str, optional): :obj:`"raise"` solves costs of any
            sign exactly and raises if a negative cycle makes the problem
            ill-posed; :obj:`"clamp"` clamps the costs the solver sees at
            zero, with a warning. (default: :obj:`"raise"`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"norm"` (:obj:`"mean"` and :obj:`"std"` only
            where all paths have equal length, see above).
            (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`noise=0.2, backward="blackbox"`).

    Shapes:
        - **input:**
          costs :math:`(|\mathcal{E}|)` (or :math:`(|\mathcal{V}|)` if
          :obj:`vertex_costs=True`),
          edge indices :math:`(2, |\mathcal{E}|)`,
          batch vector :math:`(|\mathcal{V}|)` *(optional)*,
          keyword-only source and target :math:`(B)` local node indices or
          integers
        - **output:** path indicator of the shape, dtype and device of the
          costs
    """
    default_projection = 'norm'

    def __init__(
        self,
        directed: bool = True,
        vertex_costs: bool = False,
        negative_costs: str = 'raise',
        num_workers: int = 0,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self.directed = directed
        self.vertex_costs = vertex_costs
        self.negative_costs = negative_costs
        self.num_workers = num_workers

    directed = Option[bool](
        lambda _, value: check_bool(value, 'directed'), r"""Whether edges
        are one-way (assignable, validated).""")
    vertex_costs = Option[bool](
        lambda _, value: check_bool(value, 'vertex_costs'), r"""Whether
        costs live on the nodes (assignable, validated).""")
    negative_costs = Option[str](
        lambda _, value: _check_negative_costs(value), r""":obj:`"raise"` or
        :obj:`"clamp"` (assignable, validated).""")

    def forward(
        self,
        cost: Tensor,
        edge_index: Tensor,
        batch: OptTensor = None,
        num_nodes: Optional[int] = None,
        num_graphs: Optional[int] = None,
        *,
        source: Terminal,
        target: Terminal,
    ) -> Tensor:
        r"""Forward pass.

        Args:
            cost (torch.Tensor): The edge costs (node costs if
                :obj:`vertex_costs=True`).
            edge_index (torch.Tensor): The edge indices.
            batch (torch.Tensor, optional): The batch vector.
                (default: :obj:`None`)
            num_nodes (int, optional): The number of nodes if :obj:`batch`
                is not given. (default: :obj:`None`)
            num_graphs (int, optional): The number of graphs.
                (default: :obj:`None`)
            source (int or torch.Tensor): The start node of every graph as a
                *local* index (:obj:`0` is each graph's first node): one
                integer for all graphs or a tensor of shape
                :obj:`[num_graphs]`, *e.g.* :obj:`data.source` of a batch of
                :obj:`Data(source=0, ...)`, which PyG does not increment
                (attribute names containing :obj:`"index"` would be
                incremented, *i.e.* made global).
            target (int or torch.Tensor): The end node, like :obj:`source`.
        """
        fn = vertex_shortest_path if self.vertex_costs else shortest_path
        return fn(cost, edge_index, batch, num_nodes, num_graphs,
                  source=source, target=target, directed=self.directed,
                  negative_costs=self.negative_costs,
                  num_workers=self.num_workers, settings=self.settings,
                  training=self.training)

    def __repr__(self) -> str:
        extra = ('' if self.negative_costs == 'raise' else
                 f'negative_costs={self.negative_costs!r}, ')
        return (f'{self.__class__.__name__}(directed={self.directed}, '
                f'vertex_costs={self.vertex_costs}, {extra}'
                f'{self.extra_repr()})')
