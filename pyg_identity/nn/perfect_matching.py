from typing import Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import SolverLayer
from pyg_identity.nn.functional.perfect_matching import perfect_matching
from pyg_identity.solvers._dispatch import check_num_workers, check_timeout


class IdentityPerfectMatching(SolverLayer):
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
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`, per graph.
            (default: :obj:`"std"`)
        noise (float, optional): The noise margin :math:`\alpha`, applied in
            training mode only. (default: :obj:`0.0`)
        backward (str, optional): :obj:`"identity"` or :obj:`"blackbox"`.
            (default: :obj:`"identity"`)
        lambda_ (float, optional): The Blackbox :math:`\lambda`.
            (default: :obj:`20.0`)
        noise_position (str, optional): :obj:`"before"` adds the margin
            to the raw costs, before the projection (it keeps them from
            collapsing); :obj:`"after"` to the projected costs.
            (default: :obj:`"before"`)
        num_workers (int, optional): Solve the graphs in this many processes
            if :obj:`> 1`. (default: :obj:`0`)
        timeout (float, optional): Seconds a solver call (the whole batch)
            may take before its worker processes are terminated and a
            :class:`TimeoutError` is raised. With a timeout, even
            :obj:`num_workers=0` solves in a worker process (the only way to
            stop a solver stuck in C code), so scripts need the
            :obj:`if __name__ == '__main__':` guard of :obj:`spawn`.
            (default: :obj:`None`)
        diagnostics (bool, optional): If set, :obj:`layer.diagnostics` records
            the cost norm and gradient cosine of the last call.
            (default: :obj:`False`)

    Shapes:
        - **input:**
          edge costs :math:`(|\mathcal{E}|)`,
          edge indices :math:`(2, |\mathcal{E}|)`,
          batch vector :math:`(|\mathcal{V}|)` *(optional)*
        - **output:** matching indicator :math:`(|\mathcal{E}|)`, in the
          dtype and device of the costs
    """
    sense = 'min'

    def __init__(
        self,
        projection: Optional[str] = 'std',
        noise: float = 0.0,
        backward: str = 'identity',
        lambda_: float = 20.0,
        noise_position: str = 'before',
        num_workers: int = 0,
        timeout: Optional[float] = None,
        diagnostics: bool = False,
    ) -> None:
        super().__init__(projection=projection, noise=noise, backward=backward,
                         lambda_=lambda_, noise_position=noise_position,
                         diagnostics=diagnostics)
        self.num_workers = check_num_workers(num_workers)
        self.timeout = check_timeout(timeout)

    def forward(
        self,
        edge_cost: Tensor,
        edge_index: Tensor,
        batch: OptTensor = None,
        num_nodes: Optional[int] = None,
        num_graphs: Optional[int] = None,
    ) -> Tensor:
        r"""Forward pass.

        Args:
            edge_cost (torch.Tensor): The edge costs.
            edge_index (torch.Tensor): The edge indices.
            batch (torch.Tensor, optional): The batch vector.
                (default: :obj:`None`)
            num_nodes (int, optional): The number of nodes if :obj:`batch`
                is not given. (default: :obj:`None`)
            num_graphs (int, optional): The number of graphs.
                (default: :obj:`None`)
        """
        return perfect_matching(
            edge_cost, edge_index, batch, num_nodes, num_graphs,
            projection=self.projection, noise=self.noise,
            training=self.training, backward=self.backward_mode,
            lambda_=self.lambda_, noise_position=self.noise_position,
            num_workers=self.num_workers, timeout=self.timeout,
            diagnostics=self.diagnostics)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.extra_repr()})'
