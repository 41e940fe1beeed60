from typing import Any, Optional, Tuple

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import Option, SolverLayer
from pyg_identity.nn._pool_options import PoolOptions
from pyg_identity.nn.functional.graph_matching import graph_matching
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.solvers.quadratic_assignment import (
    QAP_SOLVERS,
    _check_solver,
)


def _check_layer_solver(layer: Any, value: str) -> str:
    _check_solver(value, 1)
    return value


def _check_max_iter(layer: Any, value: int) -> int:
    _check_solver(QAP_SOLVERS[0], value)
    return value


class IdentityGraphMatching(PoolOptions, SolverLayer):
    r"""Quadratic (Lawler) graph matching of batched graph pairs as a
    trainable layer, with the Identity backward of the `"Backpropagation
    through Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper (the deep graph matching
    setting of BB-GM, Rolínek et al. 2020).

    For every graph pair, with unary costs :math:`c^u` on the candidate
    pairs :math:`(i, a)` (source node :math:`i`, target node :math:`a`) and
    pairwise costs :math:`c^p` on the edge pairs :math:`(i \to j, a \to b)`
    (a source edge and a target edge), it computes

    .. math::
        y^u \approx \arg\min_{y \in \mathcal{M}} \sum_{(i, a)} c^u_{ia}
        y_{ia} + \sum_{(i \to j, a \to b)} c^p_{ij,ab}\, y_{ia} y_{jb},
        \qquad y^p_{ij,ab} = y^u_{ia}\, y^u_{jb},

    where :math:`\mathcal{M}` holds the matchings inside the candidate set
    that match as many nodes as it allows (:math:`\min(n_s, n_t)` for all
    pairs: a partial matching if :math:`n_s \neq n_t`). The problem is
    minimised (argmin sense), so the Identity backward passes
    :math:`-\partial\ell/\partial y^u` to :math:`c^u` and
    :math:`-\partial\ell/\partial y^p` to :math:`c^p`.

    The Lawler QAP is NP-hard: it is solved by a heuristic of
    :obj:`pygmtools` (:obj:`"rrwm"`, :obj:`"ipfp"` or spectral matching
    :obj:`"sm"`) on the affinity matrix :math:`\mathbf{K} = -\text{cost}`,
    rounded by the Hungarian algorithm. The output is always an exact,
    *feasible* matching, but not necessarily the optimal one (like the
    LPMP solver of the paper, which is approximate too); it is never worse
    than the linear assignment of the unary costs alone, and equals it when
    all pairwise costs vanish.

    The default projection is :obj:`None`, the best setting for Identity in
    the paper's graph matching experiments (:math:`P_{\text{norm}}` hurt it
    there). :math:`P_{\text{norm}}` is valid; :math:`P_{\text{mean}}` and
    :math:`P_{\text{std}}` are not, since the number of active edge pairs
    (and of matched pairs, with a sparse candidate set) varies between
    solutions. Projections act on each cost tensor separately, per graph
    pair.

    Args:
        solver (str, optional): The QAP heuristic, :obj:`"rrwm"`,
            :obj:`"ipfp"` or :obj:`"sm"`. (default: :obj:`"rrwm"`)
        max_iter (int, optional): The iterations of the heuristic.
            (default: :obj:`50`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`), applied
            per graph pair to each cost tensor; default projection
            :obj:`None`. (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`noise=1.0`).

    Every own option is also an attribute validated on assignment.

    Shapes:
        - **input:**
          costs :math:`(P)`, pairwise costs :math:`(Q)`,
          source edges :math:`(2, E_s)`, target edges :math:`(2, E_t)`,
          candidate pairs :math:`(2, P)` (optional, default: all pairs of
          each graph pair, see
          :func:`~pyg_identity.nn.functional.all_node_pairs`),
          edge pairs :math:`(2, Q)` (optional, default: all, see
          :func:`~pyg_identity.nn.functional.all_edge_pairs`),
          batch vectors :math:`(N_s)` and :math:`(N_t)` (optional)
        - **output:** unary indicator :math:`(P)` and pairwise indicator
          :math:`(Q)`, in the dtype and device of the costs
    """
    default_projection: Optional[str] = None

    def __init__(
        self,
        solver: str = 'rrwm',
        max_iter: int = 50,
        num_workers: int = 0,
        timeout: Optional[float] = None,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self.solver = solver
        self.max_iter = max_iter
        self.num_workers = num_workers
        self.timeout = timeout

    solver = Option[str](_check_layer_solver, r"""The QAP heuristic.""")
    max_iter = Option[int](_check_max_iter,
                           r"""The iterations of the heuristic.""")

    def forward(
        self,
        cost: Tensor,
        pairwise_cost: Tensor,
        edge_index_s: Tensor,
        edge_index_t: Tensor,
        edge_index: OptTensor = None,
        edge_pair_index: OptTensor = None,
        batch_s: OptTensor = None,
        batch_t: OptTensor = None,
        num_nodes_s: Optional[int] = None,
        num_nodes_t: Optional[int] = None,
        num_graphs: Optional[int] = None,
    ) -> Tuple[Tensor, Tensor]:
        r"""Forward pass.

        Args:
            cost (torch.Tensor): The unary cost of every candidate pair.
            pairwise_cost (torch.Tensor): The cost of every edge pair.
            edge_index_s (torch.Tensor): The source graph edges.
            edge_index_t (torch.Tensor): The target graph edges.
            edge_index (torch.Tensor, optional): The candidate pairs
                (source node, target node), global indices; :obj:`None`
                means all pairs of each graph pair. (default: :obj:`None`)
            edge_pair_index (torch.Tensor, optional): The edge pairs
                (source edge id, target edge id); :obj:`None` means all edge
                pairs of each graph pair. (default: :obj:`None`)
            batch_s (torch.Tensor, optional): The source batch vector.
                (default: :obj:`None`)
            batch_t (torch.Tensor, optional): The target batch vector.
                (default: :obj:`None`)
            num_nodes_s (int, optional): The number of source nodes.
                (default: :obj:`None`)
            num_nodes_t (int, optional): The number of target nodes.
                (default: :obj:`None`)
            num_graphs (int, optional): The number of graph pairs.
                (default: :obj:`None`)
        """
        return graph_matching(
            cost, pairwise_cost, edge_index_s, edge_index_t, edge_index,
            edge_pair_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
            num_graphs, solver=self.solver, max_iter=self.max_iter,
            num_workers=self.num_workers, timeout=self.timeout,
            settings=self.settings, training=self.training)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(solver={self.solver!r}, '
                f'{self.extra_repr()})')


__all__ = ['IdentityGraphMatching']
