r"""Per-group ranking of scores, computed by sorting on the scores' device:
the solver behind :class:`pyg_identity.nn.ranking.IdentityRanking`.

Groups are given either by a group vector :obj:`index` over a 1-D score
vector (a ragged PyG batch, groups of different sizes, in any order) or by
the rows of a dense 2-D score matrix. There is no Python loop over groups:
a stable lexicographic sort by (group, -score, position) ranks every group
at once.
"""
from numbers import Integral
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor
from torch_geometric.utils import cumsum, scatter, to_dense_batch


def check_scores(scores: Tensor, name: str = 'scores') -> None:
    r"""Raises a :class:`ValueError` naming :obj:`name` unless
    :obj:`scores` is a finite floating point tensor of one or two
    dimensions."""
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        raise ValueError(f"'{name}' must be a floating point tensor (got "
                         f"{getattr(scores, 'dtype', type(scores))})")
    if scores.dim() not in (1, 2):
        raise ValueError(f"'{name}' must be one-dimensional (with 'index') "
                         f"or two-dimensional (one group per row) (got shape "
                         f"{list(scores.size())})")
    if not bool(torch.isfinite(scores.detach()).all()):
        raise ValueError(f"'{name}' must be finite (got NaN or inf)")


def check_index(scores: Tensor, index: OptTensor,
                num_graphs: Optional[int]) -> Tuple[OptTensor, int]:
    r"""Validates the grouping of :obj:`scores` and returns :obj:`index` (as
    :obj:`torch.long`, or :obj:`None` for one group or dense rows) and the
    number of groups."""
    if num_graphs is not None and (not isinstance(num_graphs, Integral)
                                   or isinstance(num_graphs, bool)
                                   or num_graphs < 0):
        raise ValueError(f"'num_graphs' must be a non-negative integer (got "
                         f"{num_graphs!r})")
    if scores.dim() == 2:
        if index is not None:
            raise ValueError("'index' must be None for two-dimensional "
                             "scores (every row is a group)")
        if num_graphs is not None and num_graphs != scores.size(0):
            raise ValueError(f"'num_graphs' must equal the number of rows "
                             f"{scores.size(0)} of two-dimensional scores "
                             f"(got {num_graphs})")
        return None, scores.size(0)
    if index is None:
        if num_graphs is not None and num_graphs != 1:
            raise ValueError(f"'num_graphs' must be 1 (or None) when 'index' "
                             f"is None (got {num_graphs})")
        return None, 1
    if not isinstance(index, Tensor) or index.is_floating_point() or (
            index.dtype == torch.bool or index.is_complex()):
        raise ValueError(f"'index' must be an integer tensor (got "
                         f"{getattr(index, 'dtype', type(index))})")
    if index.dim() != 1 or index.numel() != scores.numel():
        raise ValueError(f"'index' must be one-dimensional with "
                         f"{scores.numel()} entries, one per score (got shape "
                         f"{list(index.size())})")
    if index.device != scores.device:
        raise ValueError(f"'index' must be on the device of the scores "
                         f"({scores.device}, got {index.device})")
    index = index.long()
    if index.numel() > 0:
        lo, hi = (int(v) for v in torch.stack([index.min(), index.max()]))
        if lo < 0:
            raise ValueError(f"'index' must be non-negative (got {lo})")
        if num_graphs is None:
            num_graphs = hi + 1
        elif hi >= num_graphs:
            raise ValueError(f"'index' refers to group {hi} but num_graphs "
                             f"is {num_graphs}")
    elif num_graphs is None:
        num_graphs = 0
    return index, int(num_graphs)


def group_sizes(scores: Tensor, index: OptTensor, num_graphs: int) -> Tensor:
    r"""Returns the number of entries of every group as a :obj:`torch.long`
    tensor of shape :obj:`[num_graphs]` (no host synchronisation)."""
    if scores.dim() == 2:
        return torch.full((num_graphs, ), scores.size(1), dtype=torch.long,
                          device=scores.device)
    if index is None:
        return torch.full((1, ), scores.numel(), dtype=torch.long,
                          device=scores.device)
    return scatter(torch.ones_like(index), index, 0, dim_size=num_graphs,
                   reduce='sum')


def _rank(scores: Tensor, index: OptTensor, num_graphs: int) -> Tensor:
    # Unchecked ranking: 1 = highest score, ties to the lower position.
    # `+ 0.0` maps -0.0 to +0.0 so radix sorts see one key for zero.
    x = scores.detach() + 0.0
    if x.dim() == 2 or index is None:
        x2 = x if x.dim() == 2 else x.view(1, -1)
        perm = torch.sort(x2, dim=1, descending=True, stable=True).indices
        pos = torch.arange(1, x2.size(1) + 1, device=x.device)
        out = torch.empty_like(perm).scatter_(1, perm, pos.expand_as(perm))
        return out.view_as(x)
    if x.numel() > 0 and bool((index[1:] >= index[:-1]).all()):
        # Sorted groups (PyG's layout): sort the rows of a padded matrix
        # when padding costs at most 4x the entries (faster than two global
        # sorts). Padding is -inf, which sorts after every finite score.
        sizes = group_sizes(x, index, num_graphs)
        max_size = int(sizes.max())
        if num_graphs * max_size <= 4 * x.numel() + 1024:
            dense, mask = to_dense_batch(x, index, fill_value=float('-inf'),
                                         batch_size=num_graphs,
                                         max_num_nodes=max_size)
            perm = torch.sort(dense, dim=1, descending=True,
                              stable=True).indices
            pos = torch.arange(1, max_size + 1, device=x.device)
            out = torch.empty_like(perm).scatter_(1, perm,
                                                  pos.expand_as(perm))
            return out[mask]
    # Stable sort by score (descending), then stably by group: the result
    # is ordered by (group, -score, position).
    perm = torch.sort(x, descending=True, stable=True).indices
    grp = index.index_select(0, perm)
    order = torch.sort(grp, stable=True).indices
    perm, grp = perm.index_select(0, order), grp.index_select(0, order)
    ptr = cumsum(group_sizes(x, index, num_graphs))
    pos = torch.arange(1, x.numel() + 1, device=x.device)
    pos = pos - ptr.index_select(0, grp)
    return torch.empty_like(perm).scatter_(0, perm, pos)


@torch.no_grad()
def solve_ranking(scores: Tensor, index: OptTensor = None,
                  num_graphs: Optional[int] = None) -> Tensor:
    r"""Ranks scores per group, :math:`\mathrm{rk}(\omega) =
    \arg\min_{y \in \Pi_n} \langle \omega, y \rangle` for every group,
    where :math:`\Pi_n` is the set of permutations of :math:`(1, \dots, n)`:
    rank :math:`1` goes to the highest score. Ties are broken
    deterministically: of two equal scores, the one at the lower position
    gets the better (smaller) rank.

    Args:
        scores (torch.Tensor): The scores :math:`\omega`, either a vector
            grouped by :obj:`index` or a matrix with one group per row.
        index (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`scores` (any order). :obj:`None` means one group (or one
            group per row of a 2-D :obj:`scores`). (default: :obj:`None`)
        num_graphs (int, optional): The number of groups (groups may be
            empty). (default: :obj:`None`)

    Returns:
        A :obj:`torch.long` tensor of the shape and device of
        :obj:`scores` holding ranks in :math:`\{1, \dots, n_g\}`.
    """
    check_scores(scores)
    index, num_graphs = check_index(scores, index, num_graphs)
    return _rank(scores, index, num_graphs)


__all__ = ['solve_ranking']
