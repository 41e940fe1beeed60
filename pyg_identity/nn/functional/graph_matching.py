r"""Differentiable quadratic (Lawler) graph matching of batched graph pairs
(the pair helpers :func:`all_node_pairs` and :func:`all_edge_pairs` are in
:mod:`pyg_identity.nn.functional.pairs`)."""
from typing import Any, Optional, Tuple

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.identity_solver import identity_solver
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.solvers.quadratic_assignment import (
    _graph_matching_solver,
)


def graph_matching(
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
    *,
    solver: str = 'rrwm',
    max_iter: int = 50,
    num_workers: int = 0,
    timeout: Optional[float] = None,
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Tuple[Tensor, Tensor]:
    r"""Quadratic (Lawler) graph matching of every graph pair with the
    Identity (or Blackbox) backward to both cost tensors; see
    :class:`pyg_identity.nn.IdentityGraphMatching` and the solver
    :func:`pyg_identity.solvers.solve_graph_matching` (which documents the
    data arguments).

    Args:
        cost (torch.Tensor): The unary cost of every candidate pair, shape
            :obj:`[P]`.
        pairwise_cost (torch.Tensor): The cost of every edge pair, shape
            :obj:`[Q]`.
        edge_index_s (torch.Tensor): The source graph edges.
        edge_index_t (torch.Tensor): The target graph edges.
        edge_index (torch.Tensor, optional): The candidate pairs
            :math:`(i, a)` of shape :obj:`[2, P]`; :obj:`None` means all
            pairs of each graph pair, in the order of
            :func:`~pyg_identity.nn.functional.all_node_pairs`.
            (default: :obj:`None`)
        edge_pair_index (torch.Tensor, optional): The edge pairs
            :math:`(e_s, e_t)` of shape :obj:`[2, Q]`; :obj:`None` means
            all edge pairs of each graph pair, in the order of
            :func:`~pyg_identity.nn.functional.all_edge_pairs`.
            (default: :obj:`None`)
        batch_s (torch.Tensor, optional): The sorted batch vector of the
            source nodes. (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The sorted batch vector of the
            target nodes. (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes.
            (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of graph pairs.
            (default: :obj:`None`)
        solver (str, optional): :obj:`"rrwm"`, :obj:`"ipfp"` or :obj:`"sm"`.
            (default: :obj:`"rrwm"`)
        max_iter (int, optional): The iterations of the QAP heuristic.
            (default: :obj:`50`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`), applied
            per graph pair to each cost tensor separately; default
            projection :obj:`None`. (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied.
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings`.

    Returns:
        The unary indicator :math:`y^u` of shape :obj:`[P]` and the pairwise
        indicator :math:`y^p` of shape :obj:`[Q]`, in the costs' dtype and
        device.
    """
    settings = GradientSettings.resolve(settings, kwargs, projection=None)
    qap = _graph_matching_solver(
        edge_index_s, edge_index_t, edge_index, edge_pair_index, batch_s,
        batch_t, num_nodes_s, num_nodes_t, num_graphs, solver=solver,
        max_iter=max_iter, num_workers=num_workers, timeout=timeout,
        costs=(cost, pairwise_cost))
    index_u, index_p = qap.index(cost.device)
    y_u, y_p = identity_solver((cost, pairwise_cost), qap,
                               (index_u, index_p.to(pairwise_cost.device)),
                               qap.num_graphs, sense='min',
                               settings=settings, training=training)
    return y_u, y_p


__all__ = ['graph_matching']
