from typing import Optional, Tuple

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import SolverLayer
from pyg_identity.nn.functional.graph_matching import graph_matching
from pyg_identity.solvers._dispatch import check_num_workers, check_timeout
from pyg_identity.solvers.quadratic_assignment import QAP_SOLVERS


class IdentityGraphMatching(SolverLayer):
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
        num_workers (int, optional): Worker processes that solve the graph
            pairs (:obj:`0`: in this process). (default: :obj:`0`)
        timeout (float, optional): Seconds a solver call (the whole batch)
            may take before its worker processes are terminated and a
            :class:`TimeoutError` is raised. With a timeout, even
            :obj:`num_workers=0` solves in a worker process (the only way to
            stop a solver stuck in C code), so scripts need the
            :obj:`if __name__ == '__main__':` guard of :obj:`spawn`.
            (default: :obj:`None`)
        projection (str, optional): :obj:`None` or :obj:`"norm"`, per graph
            pair and cost tensor. (default: :obj:`None`)
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
        diagnostics (bool, optional): If set, :obj:`layer.diagnostics` records
            the cost norm and gradient cosine of the last call.
            (default: :obj:`False`)

    Shapes:
        - **input:**
          unary costs :math:`(P)`, pairwise costs :math:`(Q)`,
          source edges :math:`(2, E_s)`, target edges :math:`(2, E_t)`,
          candidate pairs :math:`(2, P)` (optional, default: all pairs of
          each graph pair, see
          :func:`~pyg_identity.nn.functional.graph_matching.all_node_pairs`),
          edge pairs :math:`(2, Q)` (optional, default: all, see
          :func:`~pyg_identity.nn.functional.graph_matching.all_edge_pairs`),
          batch vectors :math:`(N_s)` and :math:`(N_t)` (optional)
        - **output:** unary indicator :math:`(P)` and pairwise indicator
          :math:`(Q)`, in the dtype and device of the costs
    """
    sense = 'min'

    def __init__(
        self,
        solver: str = 'rrwm',
        max_iter: int = 50,
        num_workers: int = 0,
        timeout: Optional[float] = None,
        projection: Optional[str] = None,
        noise: float = 0.0,
        backward: str = 'identity',
        lambda_: float = 20.0,
        noise_position: str = 'before',
        diagnostics: bool = False,
    ) -> None:
        super().__init__(projection=projection, noise=noise, backward=backward,
                         lambda_=lambda_, noise_position=noise_position,
                         diagnostics=diagnostics)
        if solver not in QAP_SOLVERS:
            raise ValueError(f"'solver' must be one of {QAP_SOLVERS} (got "
                             f"{solver!r})")
        if (not isinstance(max_iter, int) or isinstance(max_iter, bool)
                or max_iter < 1):
            raise ValueError(f"'max_iter' must be a positive integer (got "
                             f"{max_iter!r})")
        self.solver = solver
        self.max_iter = max_iter
        self.num_workers = check_num_workers(num_workers)
        self.timeout = check_timeout(timeout)

    def forward(
        self,
        unary: Tensor,
        pairwise: Tensor,
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
            unary (torch.Tensor): The cost of every candidate pair.
            pairwise (torch.Tensor): The cost of every edge pair.
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
            unary, pairwise, edge_index_s, edge_index_t, edge_index,
            edge_pair_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
            num_graphs, solver=self.solver, max_iter=self.max_iter,
            num_workers=self.num_workers, timeout=self.timeout,
            projection=self.projection,
            noise=self.noise, training=self.training,
            backward=self.backward_mode, lambda_=self.lambda_,
            noise_position=self.noise_position,
            diagnostics=self.diagnostics)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(solver={self.solver!r}, '
                f'{self.extra_repr()})')


__all__ = ['IdentityGraphMatching']
