r"""Differentiable per-group ranking (Identity or Blackbox backward) and the
rank-based recall loss and metric of the retrieval experiment."""
from typing import Any, Optional

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor
from torch_geometric.utils import scatter

from pyg_identity.nn.functional.identity_solver import identity_solver
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.solvers.ranking import (
    _looks_like,
    _rank_solver,
    _ranking_solver,
    check_cost,
    groups,
)
from pyg_identity.utils._checks import check_device

RECALL_ORDER = 'cost, relevant, batch, num_graphs'


def ranking(
    cost: Tensor,
    batch: OptTensor = None,
    num_graphs: Optional[int] = None,
    *,
    normalize: bool = False,
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Tensor:
    r"""Ranks scores per group, :math:`\mathrm{rk}(\omega) =
    \arg\min_{y \in \Pi_n} \langle \omega, y \rangle` (rank :math:`1` for the
    highest score, ties to the lower position), with the Identity gradient
    :math:`\partial\ell/\partial\omega = -P'(\omega)^\top
    \partial\ell/\partial y` (or the Blackbox update), see
    :class:`pyg_identity.nn.ranking.IdentityRanking` and
    :func:`pyg_identity.solvers.solve_ranking`.

    Args:
        cost (torch.Tensor): The scores (the solver minimises
            :math:`\langle \mathrm{cost}, y \rangle` over the rank vectors
            :math:`y`, so rank :math:`1` goes to the highest score), a
            vector grouped by :obj:`batch` or a matrix with one group per
            row.
        batch (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`cost`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
        normalize (bool, optional): If set, returns :math:`\mathrm{rk}/n_g`
            in :math:`(0, 1]`. (default: :obj:`False`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`. (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied.
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings`.

    Returns:
        The ranks, in the shape, dtype and device of :obj:`cost`.
    """
    settings = GradientSettings.resolve(settings, kwargs, projection='std')
    solver, grp = _ranking_solver(cost, batch, num_graphs,
                                  normalize=normalize)
    out = identity_solver(cost.reshape(-1), solver, grp.index, grp.num_graphs,
                          sense='min', settings=settings, training=training)
    return out.view_as(cost)


def _check_relevant(relevant: Any, cost: Tensor,
                    order: str = RECALL_ORDER) -> Tensor:
    # The flattened relevance labels of `cost` (already checked).
    if not isinstance(relevant, Tensor):
        raise ValueError(f"'relevant' must be a boolean tensor (got "
                         f"{type(relevant)})")
    if relevant.dtype != torch.bool:
        raise ValueError(f"'relevant' must be a boolean tensor (got "
                         f"{relevant.dtype}; {_looks_like(relevant, order)})")
    if relevant.shape != cost.shape:
        raise ValueError(f"'relevant' must have the shape of the scores "
                         f"{list(cost.size())} (got "
                         f"{list(relevant.size())})")
    check_device(relevant, 'relevant', cost, 'the scores')
    return relevant.reshape(-1)


def _loglog_recall(flat: Tensor, pos: Tensor, rel: Tensor, index: OptTensor,
                   num_graphs: int) -> Tensor:
    # Eq. 26 from the flattened ranks `flat`, the ranks `pos` of the relevant
    # items among themselves (one per relevant item) and the flattened
    # grouping (all checked).
    diff = (flat[rel] - pos.to(flat.dtype)).clamp(min=0.0)
    loss = torch.log1p(torch.log1p(diff))
    if index is None:
        if loss.numel() == 0:
            return flat.sum() * 0.0
        return loss.mean()
    grp = index[rel]
    total = scatter(loss, grp, 0, dim_size=num_graphs, reduce='sum')
    count = scatter(torch.ones_like(loss), grp, 0, dim_size=num_graphs,
                    reduce='sum')
    has = (count > 0).to(loss.dtype)
    per_group = total / count.clamp(min=1.0)
    # `flat.sum() * 0.0` keeps the graph connected when nothing is relevant.
    return (per_group * has).sum() / has.sum().clamp(min=1.0) + (
        flat.sum() * 0.0)


def recall_loss(
    ranks: Tensor,
    ranks_pos: Tensor,
    relevant: Tensor,
    batch: OptTensor = None,
    num_graphs: Optional[int] = None,
) -> Tensor:
    r"""The "loglog" recall loss of the `"Optimizing Rank-based Metrics with
    Blackbox Differentiation" <https://arxiv.org/abs/1912.03500>`_ paper
    (Eq. 26 of the Identity paper), computed from ranks:

    .. math::
        \ell = \frac{1}{|\mathrm{rel}|} \sum_{i \in \mathrm{rel}}
        \log\big(1 + \log(1 + \mathrm{rk}(\omega)_i -
        \mathrm{rk}(\omega^+)_i)\big),

    where :math:`\mathrm{rk}(\omega^+)` ranks the relevant items among
    themselves, so :math:`\mathrm{rk}(\omega)_i - \mathrm{rk}(\omega^+)_i`
    counts the irrelevant items ranked above item :math:`i` (clamped at
    :math:`0`, which only matters when the two rankings saw different
    noise). The loss is averaged per group over its relevant items, then
    over the groups that have at least one relevant item (:math:`0` if there
    is none). See :func:`identity_recall_loss` for the loss of scores.

    Args:
        ranks (torch.Tensor): The ranks :math:`\mathrm{rk}(\omega)` of all
            items (unnormalised, floating point), a vector grouped by
            :obj:`batch` or a matrix with one group per row.
        ranks_pos (torch.Tensor): The ranks :math:`\mathrm{rk}(\omega^+)`
            of the relevant items among themselves, either a vector with one
            entry per relevant item (in the order of
            :obj:`ranks[relevant]`) or a tensor of the shape of
            :obj:`ranks` whose irrelevant entries are ignored.
        relevant (torch.Tensor): Boolean relevance labels of the shape of
            :obj:`ranks`.
        batch (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`ranks`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)

    Returns:
        A scalar in the dtype of :obj:`ranks`.
    """
    order = 'ranks, ranks_pos, relevant, batch, num_graphs'
    check_cost(ranks, 'ranks', order)
    rel = _check_relevant(relevant, ranks, order)
    grp = groups(ranks, batch, num_graphs, order=order, checked=True)
    if not isinstance(ranks_pos, Tensor) or (
            not ranks_pos.is_floating_point()):
        raise ValueError(f"'ranks_pos' must be a floating point tensor (got "
                         f"{getattr(ranks_pos, 'dtype', type(ranks_pos))})")
    if ranks_pos.shape == ranks.shape:
        pos = ranks_pos.reshape(-1)[rel]
    else:
        pos = ranks_pos
        num_rel = int(rel.sum())
        if pos.dim() != 1 or pos.numel() != num_rel:
            raise ValueError(f"'ranks_pos' must have the shape of 'ranks' "
                             f"{list(ranks.size())} or one entry per "
                             f"relevant item ({num_rel}) (got shape "
                             f"{list(pos.size())})")
    return _loglog_recall(ranks.reshape(-1), pos, rel, grp.index,
                          grp.num_graphs)


def identity_recall_loss(
    cost: Tensor,
    relevant: Tensor,
    batch: OptTensor = None,
    num_graphs: Optional[int] = None,
    *,
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Tensor:
    r"""The recall loss (:func:`recall_loss`) of scores, with two
    differentiable rankings (as :func:`ranking`): :math:`\mathrm{rk}(\omega)`
    on all items and :math:`\mathrm{rk}(\omega^+)` on the relevant items of
    every group. Both are differentiated (Identity or Blackbox backward)
    with the same settings; diagnostics record the ranking of all items.

    .. note::
        Without a projection, the Identity gradients of the two rankings
        cancel exactly on the relevant items and the irrelevant ones get
        none, so the loss cannot be trained; :obj:`"mean"` or :obj:`"std"`
        (the default) makes the gradient raise relevant and lower
        irrelevant scores. The Blackbox backward has no such cancellation.

    Args:
        cost (torch.Tensor): The scores (*e.g.* similarities to a query;
            ranked as in :func:`ranking`, rank :math:`1` to the highest), a
            vector grouped by :obj:`batch` (one group per query) or a matrix
            with one query per row.
        relevant (torch.Tensor): Boolean relevance labels of the shape of
            :obj:`cost`.
        batch (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`cost`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`) of both
            rankings; default projection :obj:`"std"`.
            (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied.
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings`.

    Returns:
        A scalar in the dtype of :obj:`cost`.
    """
    settings = GradientSettings.resolve(settings, kwargs, projection='std')
    check_cost(cost, order=RECALL_ORDER)
    rel = _check_relevant(relevant, cost)
    grp = groups(cost, batch, num_graphs, order=RECALL_ORDER, checked=True)
    flat = cost.reshape(-1)
    ranks = identity_solver(flat, _rank_solver(grp), grp.index,
                            grp.num_graphs, sense='min', settings=settings,
                            training=training)
    pos = grp.select(rel)
    if settings.diagnostics is not None:
        settings = settings.replace(diagnostics=None)
    ranks_pos = identity_solver(flat[rel], _rank_solver(pos), pos.index,
                                pos.num_graphs, sense='min',
                                settings=settings, training=training)
    return _loglog_recall(ranks, ranks_pos, rel, grp.index, grp.num_graphs)


@torch.no_grad()
def recall_at_k(cost: Tensor, relevant: Tensor, batch: OptTensor = None,
                num_graphs: Optional[int] = None, *, k: int = 1) -> Tensor:
    r"""The recall at :math:`k` of a retrieval (Eq. 25 of the Identity
    paper): the fraction of groups (queries) with at least one relevant item
    among their :math:`k` highest scores (ties to the lower position),
    counted over the groups that have a relevant item (:math:`0` if there is
    none).

    Args:
        cost (torch.Tensor): The scores, a vector grouped by :obj:`batch`
            or a matrix with one query per row.
        relevant (torch.Tensor): Boolean relevance labels of the shape of
            :obj:`cost`.
        batch (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`cost`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
        k (int, optional): The cut-off :math:`k \geq 1`. (default: :obj:`1`)

    Returns:
        A scalar in the dtype of :obj:`cost`.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"'k' must be a positive integer (got {k!r})")
    check_cost(cost, order=RECALL_ORDER)
    rel = _check_relevant(relevant, cost)
    grp = groups(cost, batch, num_graphs, order=RECALL_ORDER, checked=True)
    hit = rel & (grp.rank(cost.reshape(-1)) <= k)
    index = grp.index
    if index is None:
        index = torch.zeros_like(rel, dtype=torch.long)
    hits = scatter(hit.long(), index, 0, dim_size=grp.num_graphs,
                   reduce='sum')
    rels = scatter(rel.long(), index, 0, dim_size=grp.num_graphs,
                   reduce='sum')
    num = ((hits > 0) & (rels > 0)).sum().to(cost.dtype)
    return num / (rels > 0).sum().clamp(min=1).to(cost.dtype)


__all__ = [
    'ranking',
    'recall_loss',
    'identity_recall_loss',
    'recall_at_k',
]
