r"""Differentiable per-group ranking (Identity or Blackbox backward) and the
rank-based recall loss and metric of the retrieval experiment."""
from typing import Callable, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor
from torch_geometric.utils import scatter

from pyg_identity.nn.functional.identity_solver import (
    SolverDiagnostics,
    identity_solver,
)
from pyg_identity.solvers.ranking import (
    _rank,
    check_index,
    check_scores,
    group_sizes,
)


def _flatten(scores: Tensor, index: OptTensor, num_graphs: Optional[int],
             name: str = 'scores') -> Tuple[Tensor, OptTensor, int]:
    # Validates and returns 1-D scores with the group of every entry (None:
    # a single group); a 2-D input becomes one group per row.
    check_scores(scores, name)
    index, num_graphs = check_index(scores, index, num_graphs)
    if scores.dim() == 2:
        num_rows, num_cols = scores.shape
        index = torch.arange(num_rows, device=scores.device)
        index = index.repeat_interleave(num_cols, output_size=scores.numel())
        return scores.reshape(-1), index, num_rows
    return scores, index, num_graphs


def _cols(scores: Tensor) -> Optional[int]:
    # The row length of dense (2-D) scores, None for a grouped vector.
    return scores.size(1) if scores.dim() == 2 else None


def _ranking_solver(index: OptTensor, num_graphs: int, normalize: bool,
                    cols: Optional[int]) -> Callable[[Tensor], Tensor]:
    # The closure run (again, by the Blackbox backward) on detached costs;
    # dense rows are solved as rows (one sort along the last dimension).
    def solver(costs: Tensor) -> Tensor:
        if cols is not None:
            rank = _rank(costs.view(num_graphs, cols), None, num_graphs)
            rank = rank.view(-1).to(costs.dtype)
        else:
            rank = _rank(costs, index, num_graphs).to(costs.dtype)
        if normalize:
            sizes = group_sizes(costs, index, num_graphs).to(costs.dtype)
            sizes = sizes if index is None else sizes.index_select(0, index)
            rank = rank / sizes
        return rank

    return solver


def ranking(
    scores: Tensor,
    index: OptTensor = None,
    num_graphs: Optional[int] = None,
    normalize: bool = False,
    projection: Optional[str] = 'std',
    noise: float = 0.0,
    training: bool = False,
    backward: str = 'identity',
    lambda_: float = 20.0,
    noise_position: str = 'before',
    generator: Optional[torch.Generator] = None,
    diagnostics: Optional[SolverDiagnostics] = None,
) -> Tensor:
    r"""Ranks scores per group, :math:`\mathrm{rk}(\omega) =
    \arg\min_{y \in \Pi_n} \langle \omega, y \rangle` (rank :math:`1` for the
    highest score, ties to the lower position), with the Identity gradient
    :math:`\partial\ell/\partial\omega = -P'(\omega)^\top
    \partial\ell/\partial y` (or the Blackbox update), see
    :class:`pyg_identity.nn.ranking.IdentityRanking`.

    Args:
        scores (torch.Tensor): The scores, a vector grouped by :obj:`index`
            or a matrix with one group per row.
        index (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`scores`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
        normalize (bool, optional): If set, returns :math:`\mathrm{rk}/n_g`
            in :math:`(0, 1]`. (default: :obj:`False`)
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`, per group. (default: :obj:`"std"`)
        noise (float, optional): The noise margin :math:`\alpha`.
            (default: :obj:`0.0`)
        training (bool, optional): Whether noise is applied.
            (default: :obj:`False`)
        backward (str, optional): :obj:`"identity"` or :obj:`"blackbox"`.
            (default: :obj:`"identity"`)
        lambda_ (float, optional): The Blackbox :math:`\lambda`.
            (default: :obj:`20.0`)
        noise_position (str, optional): :obj:`"before"` adds the margin
            to the raw costs, before the projection (it keeps them from
            collapsing); :obj:`"after"` to the projected costs.
            (default: :obj:`"before"`)
        generator (torch.Generator, optional): The generator for the noise.
            (default: :obj:`None`)
        diagnostics (SolverDiagnostics, optional): Records cost norms and
            gradient cosines of this call. (default: :obj:`None`)

    Returns:
        The ranks, in the shape, dtype and device of :obj:`scores`.
    """
    if not isinstance(normalize, bool):
        raise ValueError(f"'normalize' must be a bool (got {normalize!r})")
    flat, index, num_graphs = _flatten(scores, index, num_graphs)
    out = identity_solver(
        flat, _ranking_solver(index, num_graphs, normalize,
                              _cols(scores)), sense='min',
        projection=projection, index=index, num_graphs=num_graphs,
        noise=noise, training=training, backward=backward, lambda_=lambda_,
        noise_position=noise_position, generator=generator,
        diagnostics=diagnostics)
    return out.view_as(scores)


def _check_relevant(relevant: Tensor, scores: Tensor,
                    name: str = 'relevant') -> Tensor:
    if not isinstance(relevant, Tensor) or relevant.dtype != torch.bool:
        raise ValueError(f"'{name}' must be a boolean tensor (got "
                         f"{getattr(relevant, 'dtype', type(relevant))})")
    if relevant.shape != scores.shape:
        raise ValueError(f"'{name}' must have the shape of the scores "
                         f"{list(scores.size())} (got "
                         f"{list(relevant.size())})")
    if relevant.device != scores.device:
        raise ValueError(f"'{name}' must be on the device of the scores "
                         f"({scores.device}, got {relevant.device})")
    return relevant.reshape(-1)


def recall_loss(
    ranks: Tensor,
    ranks_pos: Tensor,
    relevant: Tensor,
    index: OptTensor = None,
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
    is none).

    Args:
        ranks (torch.Tensor): The ranks :math:`\mathrm{rk}(\omega)` of all
            items (unnormalised), a vector grouped by :obj:`index` or a
            matrix with one group per row.
        ranks_pos (torch.Tensor): The ranks :math:`\mathrm{rk}(\omega^+)`
            of the relevant items among themselves, either a vector with one
            entry per relevant item (in the order of
            :obj:`ranks[relevant]`) or a tensor of the shape of
            :obj:`ranks` whose irrelevant entries are ignored.
        relevant (torch.Tensor): Boolean relevance labels of the shape of
            :obj:`ranks`.
        index (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`ranks`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)

    Returns:
        A scalar in the dtype of :obj:`ranks`.
    """
    flat, index, num_graphs = _flatten(ranks, index, num_graphs, 'ranks')
    rel = _check_relevant(relevant, ranks)
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


def identity_recall_loss(
    scores: Tensor,
    relevant: Tensor,
    index: OptTensor = None,
    num_graphs: Optional[int] = None,
    projection: Optional[str] = 'std',
    noise: float = 0.0,
    training: bool = False,
    backward: str = 'identity',
    lambda_: float = 20.0,
    noise_position: str = 'before',
    generator: Optional[torch.Generator] = None,
    diagnostics: Optional[SolverDiagnostics] = None,
) -> Tensor:
    r"""The recall loss (:func:`recall_loss`) of scores, with two calls of
    :func:`ranking`: :math:`\mathrm{rk}(\omega)` on all items and
    :math:`\mathrm{rk}(\omega^+)` on the relevant items of every group.
    Both are differentiated (Identity or Blackbox backward).

    .. note::
        Without a projection, the Identity gradients of the two rankings
        cancel exactly on the relevant items and the irrelevant ones get
        none, so the loss cannot be trained; :obj:`"mean"` or :obj:`"std"`
        (the default) makes the gradient raise relevant and lower
        irrelevant scores. The Blackbox backward has no such cancellation.

    Args:
        scores (torch.Tensor): The scores (*e.g.* similarities to a query),
            a vector grouped by :obj:`index` (one group per query) or a
            matrix with one query per row.
        relevant (torch.Tensor): Boolean relevance labels of the shape of
            :obj:`scores`.
        index (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`scores`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
        projection (str, optional): The projection of both rankings.
            (default: :obj:`"std"`)
        noise (float, optional): The noise margin :math:`\alpha`.
            (default: :obj:`0.0`)
        training (bool, optional): Whether noise is applied.
            (default: :obj:`False`)
        backward (str, optional): :obj:`"identity"` or :obj:`"blackbox"`.
            (default: :obj:`"identity"`)
        lambda_ (float, optional): The Blackbox :math:`\lambda`.
            (default: :obj:`20.0`)
        noise_position (str, optional): :obj:`"before"` adds the margin
            to the raw costs, before the projection (it keeps them from
            collapsing); :obj:`"after"` to the projected costs.
            (default: :obj:`"before"`)
        generator (torch.Generator, optional): The generator for the noise.
            (default: :obj:`None`)
        diagnostics (SolverDiagnostics, optional): If given, records the
            raw score norm and gradient cosine of the ranking of all items.
            (default: :obj:`None`)

    Returns:
        A scalar in the dtype of :obj:`scores`.
    """
    flat, index, num_graphs = _flatten(scores, index, num_graphs)
    rel = _check_relevant(relevant, scores)

    def rank(src: Tensor, idx: OptTensor,
             diag: Optional[SolverDiagnostics] = None) -> Tensor:
        return ranking(
            src, idx, num_graphs, projection=projection, noise=noise,
            training=training, backward=backward, lambda_=lambda_,
            noise_position=noise_position, generator=generator,
            diagnostics=diag)

    ranks = rank(flat, index, diagnostics)
    ranks_pos = rank(flat[rel], None if index is None else index[rel])
    return recall_loss(ranks, ranks_pos, rel, index, num_graphs)


@torch.no_grad()
def recall_at_k(scores: Tensor, relevant: Tensor, index: OptTensor = None,
                num_graphs: Optional[int] = None, k: int = 1) -> Tensor:
    r"""The recall at :math:`k` of a retrieval (Eq. 25 of the Identity
    paper): the fraction of groups (queries) with at least one relevant item
    among their :math:`k` highest scores (ties to the lower position),
    counted over the groups that have a relevant item (:math:`0` if there is
    none).

    Args:
        scores (torch.Tensor): The scores, a vector grouped by :obj:`index`
            or a matrix with one query per row.
        relevant (torch.Tensor): Boolean relevance labels of the shape of
            :obj:`scores`.
        index (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`scores`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
        k (int, optional): The cut-off :math:`k \geq 1`. (default: :obj:`1`)

    Returns:
        A scalar in the dtype of :obj:`scores`.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"'k' must be a positive integer (got {k!r})")
    flat, index, num_graphs = _flatten(scores, index, num_graphs)
    rel = _check_relevant(relevant, scores)
    hit = rel & (_rank(flat, index, num_graphs) <= k)
    if index is None:
        index = torch.zeros_like(rel, dtype=torch.long)
    hits = scatter(hit.long(), index, 0, dim_size=num_graphs, reduce='sum')
    rels = scatter(rel.long(), index, 0, dim_size=num_graphs, reduce='sum')
    num = ((hits > 0) & (rels > 0)).sum().to(flat.dtype)
    return num / (rels > 0).sum().clamp(min=1).to(flat.dtype)


__all__ = [
    'ranking',
    'recall_loss',
    'identity_recall_loss',
    'recall_at_k',
]
