r"""Differentiable linear assignment on ragged batches of graph pairs (the
candidate-pair helpers are in :mod:`pyg_identity.nn.functional.pairs`, the
losses and metrics in :mod:`pyg_identity.nn.functional.matching_metrics`)."""
from typing import Any, Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.identity_solver import identity_solver
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.solvers.linear_assignment import (
    _check_projection_for_partial,
    _layout_solver,
)


def matching(
    cost: Tensor,
    edge_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    n1: Any = None,
    n2: Any = None,
    unmatch_cost: Optional[float] = None,
    method: str = 'auto',
    solver: str = 'scipy',
    num_workers: int = 0,
    timeout: Optional[float] = None,
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Tensor:
    r"""Differentiable linear assignment on a batch of graph pairs, see
    :class:`pyg_identity.nn.IdentityMatching` and the solver
    :func:`pyg_identity.solvers.solve_assignment`.

    Returns the 0/1 indicator :math:`y \in \{0, 1\}^E` of the matched
    candidate pairs, the argmin of :math:`\langle c, y\rangle` (plus the
    unmatch penalty), in the dtype, device and layout of :obj:`cost`; on
    the backward pass :math:`\partial\ell/\partial c =
    -\partial\ell/\partial y` (Identity) or the Blackbox update.

    Two layouts: PyG's sparse one (one cost per candidate pair, the pairs
    given by :obj:`batch_s`, :obj:`batch_t` and :obj:`edge_index`) and
    :obj:`pygmtools`' dense one (a cost :obj:`[b, n1max, n2max]` with the
    sizes :obj:`n1`, :obj:`n2`; the solution is :obj:`[b, n1max, n2max]`
    with zeros in the padding, and no gradient reaches the padding). Costs
    are *minimised*; :obj:`pygmtools.linear_solvers.hungarian` maximises
    scores, so pass :obj:`cost=-s` for its scores :obj:`s`.

    Args:
        cost (torch.Tensor): The cost of every candidate pair, :obj:`[E]`,
            or dense costs :obj:`[b, n1max, n2max]`.
        edge_index (torch.Tensor, optional): Candidate pairs :obj:`[2, E]`
            (global source, global target node), unique, each within one
            pair. :obj:`None` means all pairs in the order of
            :func:`~pyg_identity.nn.functional.all_pairs`.
            (default: :obj:`None`)
        batch_s (torch.Tensor, optional): The source batch vector.
            (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The target batch vector.
            (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes, if
            :obj:`batch_s` is not given. (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes, if
            :obj:`batch_t` is not given. (default: :obj:`None`)
        num_graphs (int, optional): The number of pairs.
            (default: :obj:`None`)
        n1 (torch.Tensor, optional): With a dense :obj:`cost`, the number
            of source nodes of every pair :obj:`[b]`; :obj:`None` means
            :obj:`n1max` each. (default: :obj:`None`)
        n2 (torch.Tensor, optional): With a dense :obj:`cost`, the number
            of target nodes of every pair :obj:`[b]`; :obj:`None` means
            :obj:`n2max` each. (default: :obj:`None`)
        unmatch_cost (float, optional): The cost :math:`u \geq 0` of leaving
            one node unmatched, compared with the costs after the
            projection. (default: :obj:`None`)
        method (str, optional): :obj:`"auto"`, :obj:`"dense"` or
            :obj:`"sparse"` (see
            :func:`~pyg_identity.solvers.solve_assignment`).
            (default: :obj:`"auto"`)
        solver (str, optional): :obj:`"scipy"` or :obj:`"pygmtools"` (see
            :func:`~pyg_identity.solvers.solve_assignment`).
            (default: :obj:`"scipy"`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`None`. (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied.
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings`.
    """
    settings = GradientSettings.resolve(settings, kwargs, projection=None)
    cost, fn, restore = _layout_solver(
        cost, edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
        num_graphs, n1=n1, n2=n2, unmatch_cost=unmatch_cost, method=method,
        solver=solver, num_workers=num_workers, timeout=timeout)
    _check_projection_for_partial(settings.projection, fn.unmatch_cost)
    fn.check_cost(cost, finite=False)  # identity_solver checks it
    index: OptTensor = None
    if settings.projection is not None or settings.diagnostics is not None:
        index = fn.pair_index(cost.device)
    y = identity_solver(cost, fn, index, fn.num_graphs, sense='min',
                        settings=settings, training=training)
    return restore(y)


__all__ = ['matching']
