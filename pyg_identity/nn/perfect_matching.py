from typing import Any, Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import SolverLayer
from pyg_identity.nn._pool_options import PoolOptions
from pyg_identity.nn.functional.perfect_matching import perfect_matching
from pyg_identity.nn.functional.settings import GradientSettings


class IdentityPerfectMatching(PoolOptions, SolverLayer):
    r"""The differentiable minimum-cost perfect matching layer (Edmonds'
    blossom algorithm with the Identity gradient) from the
    `"Backpropagation through Combinatorial Algorithms: Identity with
    Projection Works" <https://arxiv.org/abs/2205.15213>`_ paper, for a
    ragged batch of general (not necessarily bipartite) graphs

    .. math::
        \mathbf{y} = \operatorname*{arg\,min}_{\mathbf{y} \in Y}
        \langle P(\mathbf{c}) + \xi, \mathbf{y} \rangle,
        \qquad
        \frac{\partial \ell}{\partial \mathbf{c}} =
        -P'(\mathbf{c})^{\top} \frac{\partial \ell}{\partial \mathbf{y}}

    where :math:`Y \subseteq \{0, 1\}^{|\mathcal{E}|}` holds the edge
    indicators of the perfect matchings of every graph (each node covered by
    exactly one edge). It is an :math:`\arg\min` solver, so the Identity
    gradient is :math:`-\partial\ell/\partial\mathbf{y}` (before the
    projection's Jacobian).

    Each graph is solved exactly by
    :func:`networkx.max_weight_matching` with :obj:`maxcardinality=True` on
    the weights :math:`M - c_e` (made exact integers): among the matchings
    of maximum cardinality, all perfect, it returns one of maximum weight,
    *i.e.* of minimum cost. Costs may be negative.
    A graph with an odd number of nodes or without a perfect matching
    raises a :class:`ValueError`.

    :obj:`edge_index` lists every undirected edge either once (either
    orientation) or in both directions (PyG's convention), the same way for
    all edges of a graph (a mix raises a :class:`ValueError`, as do
    duplicate edges). If both directions are listed, edge :math:`\{u, v\}`
    costs :math:`c_{uv} + c_{vu}` and both of its entries are set when it is
    matched, so :math:`\langle \mathbf{c}, \mathbf{y} \rangle` is the cost of
    the matching. Self-loops are never matched.

    The default projection is :math:`P_{\text{std}}`: every perfect matching
    of a graph with :math:`n` nodes has :math:`n/2` edges (:math:`n` ones
    if both directions are listed), so the solution is invariant to adding
    a constant to all costs of a graph (:math:`P_{\text{mean}}`) and to
    positive scaling (:math:`P_{\text{norm}}`).

    Args:
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`. (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`noise=0.1`).

    Shapes:
        - **input:**
          edge costs :math:`(|\mathcal{E}|)`,
          edge indices :math:`(2, |\mathcal{E}|)`,
          batch vector :math:`(|\mathcal{V}|)` *(optional)*
        - **output:** matching indicator :math:`(|\mathcal{E}|)`, in the
          dtype and device of the costs
    """
    default_projection = 'std'

    def __init__(
        self,
        num_workers: int = 0,
        timeout: Optional[float] = None,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self.num_workers = num_workers
        self.timeout = timeout

    def forward(
        self,
        cost: Tensor,
        edge_index: Tensor,
        batch: OptTensor = None,
        num_nodes: Optional[int] = None,
        num_graphs: Optional[int] = None,
    ) -> Tensor:
        r"""Forward pass.

        Args:
            cost (torch.Tensor): The edge costs.
            edge_index (torch.Tensor): The edge indices.
            batch (torch.Tensor, optional): The batch vector.
                (default: :obj:`None`)
            num_nodes (int, optional): The number of nodes if :obj:`batch`
                is not given. (default: :obj:`None`)
            num_graphs (int, optional): The number of graphs.
                (default: :obj:`None`)
        """
        return perfect_matching(
            cost, edge_index, batch, num_nodes, num_graphs,
            num_workers=self.num_workers, timeout=self.timeout,
            settings=self.settings, training=self.training)

    def extra_repr(self) -> str:
        out = super().extra_repr()
        out += self._pool_repr()
        return out

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.extra_repr()})'
