r"""Per-group ranking of scores, computed by sorting on the scores' device:
the solver behind :class:`pyg_identity.nn.ranking.IdentityRanking`.

Groups are given either by a batch vector :obj:`batch` over a 1-D score
vector (a ragged PyG batch, groups of different sizes, in any order) or by
the rows of a dense 2-D score matrix. There is no Python loop over groups:
a stable lexicographic sort by (group, -score, position) ranks every group
at once (so :func:`~pyg_identity.solvers.map_graphs`, the per-graph
dispatcher of the CPU solvers, is not needed).
"""
from typing import Any, Callable, NamedTuple, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor
from torch_geometric.utils import cumsum, scatter, to_dense_batch

from pyg_identity.solvers._checks import looks_like
from pyg_identity.solvers._dispatch import with_stack
from pyg_identity.utils._checks import (
    check_device,
    check_non_negative,
    check_tensor,
)

ORDER = 'cost, batch, num_graphs'
NOUNS = {
    'bool': "boolean labels (e.g. 'relevant')",
    'float': 'a cost (scores)',
    'tensor': 'a batch vector',
}


def _looks_like(t: Tensor, order: str) -> str:
    # What a misplaced tensor of the wrong kind most likely is.
    return str(looks_like(t, NOUNS, order))


def _hint(order: str) -> Callable[[Any], Optional[str]]:
    return lambda value: looks_like(value, NOUNS, order)


def check_cost(cost: Any, name: str = 'cost', order: str = ORDER) -> None:
    r"""Raises a :class:`ValueError` naming :obj:`name` unless :obj:`cost`
    is a finite floating point tensor of one or two dimensions; an integer
    or boolean tensor gets a message saying what it looks like (the
    argument order is :obj:`order`)."""
    check_tensor(cost, name, 'float', _hint(order))
    if cost.dim() not in (1, 2):
        raise ValueError(f"'{name}' must be one-dimensional (with 'batch') "
                         f"or two-dimensional (one group per row) (got shape "
                         f"{list(cost.size())})")
    if not bool(torch.isfinite(cost.detach()).all()):
        raise ValueError(f"'{name}' must be finite (got NaN or inf)")


def check_batch(cost: Tensor, batch: Any, num_graphs: Any,
                order: str = ORDER) -> Tuple[OptTensor, int]:
    r"""Validates the grouping of :obj:`cost` (checked by
    :func:`check_cost`) and returns :obj:`batch` (as :obj:`torch.long`, or
    :obj:`None` for one group or dense rows) and the number of groups. A
    non-tensor :obj:`batch` raises a :class:`TypeError` (options such as
    :obj:`k` are keyword-only); a floating point or boolean one a
    :class:`ValueError` saying what it looks like (the argument order is
    :obj:`order`)."""
    if batch is not None and not isinstance(batch, Tensor):
        raise TypeError(f"'batch' must be a tensor or None (got "
                        f"{type(batch).__name__} {batch!r}); the order is "
                        f"{order}, and options (e.g. 'k', 'normalize') are "
                        f"keyword-only")
    if isinstance(num_graphs, Tensor):
        raise ValueError(f"'num_graphs' must be a non-negative integer (got "
                         f"a tensor of shape {list(num_graphs.size())}; the "
                         f"order is {order})")
    check_non_negative(num_graphs, 'num_graphs', allow_none=True)
    if cost.dim() == 2:
        if batch is not None:
            raise ValueError("'batch' must be None for a two-dimensional "
                             "cost (every row is a group)")
        if num_graphs is not None and num_graphs != cost.size(0):
            raise ValueError(f"'num_graphs' must equal the number of rows "
                             f"{cost.size(0)} of a two-dimensional cost "
                             f"(got {num_graphs})")
        return None, cost.size(0)
    if batch is None:
        if num_graphs is not None and num_graphs != 1:
            raise ValueError(f"'num_graphs' must be 1 (or None) when 'batch' "
                             f"is None (got {num_graphs})")
        return None, 1
    check_tensor(batch, 'batch', 'integer', _hint(order))
    if batch.dim() != 1 or batch.numel() != cost.numel():
        raise ValueError(f"'batch' must be one-dimensional with "
                         f"{cost.numel()} entries, one per cost entry (got "
                         f"shape {list(batch.size())})")
    check_device(batch, 'batch', cost, 'the cost')
    batch = batch.long()
    if batch.numel() > 0:
        lo, hi = (int(v) for v in torch.stack(torch.aminmax(batch)))
        if lo < 0:
            raise ValueError(f"'batch' must be non-negative (got {lo})")
        if num_graphs is None:
            num_graphs = hi + 1
        elif hi >= num_graphs:
            raise ValueError(f"'batch' refers to group {hi} but num_graphs "
                             f"is {num_graphs}")
    elif num_graphs is None:
        num_graphs = 0
    return batch, int(num_graphs)


def group_sizes(cost: Tensor, batch: OptTensor, num_graphs: int) -> Tensor:
    r"""Returns the number of entries of every group of :obj:`cost` (grouped
    as :func:`check_batch` returns) as a :obj:`torch.long` tensor of shape
    :obj:`[num_graphs]` (no host synchronisation)."""
    if cost.dim() == 2:
        return torch.full((num_graphs, ), cost.size(1), dtype=torch.long,
                          device=cost.device)
    if batch is None:
        return torch.full((1, ), cost.numel(), dtype=torch.long,
                          device=cost.device)
    return scatter(torch.ones_like(batch), batch, 0, dim_size=num_graphs,
                   reduce='sum')


def _rank(cost: Tensor, batch: OptTensor, num_graphs: int) -> Tensor:
    # Unchecked ranking, as torch.long: 1 = highest score, ties to the lower
    # position. `+ 0.0` maps -0.0 to +0.0 so radix sorts see one key for 0.
    x = cost.detach() + 0.0
    if x.dim() == 2 or batch is None:
        x2 = x if x.dim() == 2 else x.view(1, -1)
        perm = torch.sort(x2, dim=1, descending=True, stable=True).indices
        pos = torch.arange(1, x2.size(1) + 1, device=x.device)
        out = torch.empty_like(perm).scatter_(1, perm, pos.expand_as(perm))
        return out.view_as(x)
    if x.numel() > 0 and bool((batch[1:] >= batch[:-1]).all()):
        # Sorted groups (PyG's layout): sort the rows of a padded matrix
        # when padding costs at most 4x the entries (faster than two global
        # sorts). Padding is -inf, which sorts after every finite score.
        sizes = group_sizes(x, batch, num_graphs)
        max_size = int(sizes.max())
        if num_graphs * max_size <= 4 * x.numel() + 1024:
            dense, mask = to_dense_batch(x, batch, fill_value=float('-inf'),
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
    grp = batch.index_select(0, perm)
    order = torch.sort(grp, stable=True).indices
    perm, grp = perm.index_select(0, order), grp.index_select(0, order)
    ptr = cumsum(group_sizes(x, batch, num_graphs))
    pos = torch.arange(1, x.numel() + 1, device=x.device)
    pos = pos - ptr.index_select(0, grp)
    return torch.empty_like(perm).scatter_(0, perm, pos)


class Groups(NamedTuple):
    r"""The validated grouping of a 1-D or 2-D cost, computed once per
    call: :obj:`batch` and :obj:`num_graphs` as :func:`check_batch` returns
    them, the row length :obj:`cols` of a 2-D cost (:obj:`None` for a
    vector), and :obj:`index`, the group of every entry of the flattened
    cost (:obj:`None`: one group), as the projection needs it."""
    batch: OptTensor
    num_graphs: int
    cols: Optional[int]
    index: OptTensor

    def sizes(self, cost: Tensor) -> Tensor:
        r"""The size of every group, as :func:`group_sizes`."""
        if self.cols is not None:
            return torch.full((self.num_graphs, ), self.cols,
                              dtype=torch.long, device=cost.device)
        return group_sizes(cost, self.batch, self.num_graphs)

    def rank(self, flat: Tensor) -> Tensor:
        r"""The :obj:`torch.long` ranks of a flattened cost, per group."""
        if self.cols is not None:
            return _rank(flat.view(self.num_graphs, self.cols), None,
                         self.num_graphs).view(-1)
        return _rank(flat, self.batch, self.num_graphs)

    def tile(self, times: int, numel: int,
             device: torch.device) -> 'Groups':
        r"""The grouping of :obj:`times` copies of a flattened cost of
        :obj:`numel` entries, concatenated (group :math:`g` of copy
        :math:`r` is group :math:`rB + g`)."""
        if times == 1:
            return self
        num = times * self.num_graphs
        if self.cols is not None:
            index = torch.arange(num, device=device).repeat_interleave(
                self.cols, output_size=times * numel)
            return Groups(None, num, self.cols, index)
        if self.batch is None:  # one group
            batch = torch.arange(times, device=device).repeat_interleave(
                numel, output_size=times * numel)
        else:
            step = torch.arange(times, device=device) * self.num_graphs
            batch = (self.batch.view(1, -1) + step.view(-1, 1)).view(-1)
        return Groups(batch, num, None, batch)

    def select(self, mask: Tensor) -> 'Groups':
        r"""The grouping of :obj:`flat[mask]` (a ragged vector)."""
        index = None if self.index is None else self.index[mask]
        return Groups(index, self.num_graphs, None, index)


def groups(cost: Any, batch: Any = None, num_graphs: Any = None, *,
           name: str = 'cost', order: str = ORDER,
           checked: bool = False) -> Groups:
    r"""Validates :obj:`cost` (:func:`check_cost`, unless :obj:`checked`),
    :obj:`batch` and :obj:`num_graphs` (:func:`check_batch`) once and
    returns their :class:`Groups`."""
    if not checked:
        check_cost(cost, name, order)
    batch, num_graphs = check_batch(cost, batch, num_graphs, order)
    if cost.dim() == 2:
        num_rows, num_cols = cost.shape
        index = torch.arange(num_rows, device=cost.device)
        index = index.repeat_interleave(num_cols, output_size=cost.numel())
        return Groups(None, num_rows, num_cols, index)
    return Groups(batch, num_graphs, None, batch)


def _rank_solver(grp: Groups,
                 size: OptTensor = None) -> Callable[[Tensor], Tensor]:
    # The closure that ranks a flattened cost grouped by `grp` in its dtype
    # (divided by the size of its group, given per entry), run again by the
    # Blackbox backward.
    def solver(flat: Tensor) -> Tensor:
        rank = grp.rank(flat).to(flat.dtype)
        return rank if size is None else rank / size.to(flat.dtype)

    def stack(times: int) -> Callable[[Tensor], Tensor]:
        def many(flat: Tensor) -> Tensor:
            tiled = grp.tile(times, flat.numel() // times, flat.device)
            return _rank_solver(tiled, None if size is None else
                                size.repeat(times))(flat)

        return many

    return with_stack(solver, stack)


def _ranking_solver(
    cost: Tensor,
    batch: OptTensor = None,
    num_graphs: Optional[int] = None,
    *,
    normalize: bool = False,
) -> Tuple[Callable[[Tensor], Tensor], Groups]:
    # Validates once; returns the closure that ranks a flattened cost (of
    # the shape of `cost.reshape(-1)`) and the grouping of the flattened
    # cost.
    if not isinstance(normalize, bool):
        raise ValueError(f"'normalize' must be a bool (got {normalize!r})")
    grp = groups(cost, batch, num_graphs)
    size: OptTensor = None
    if normalize:
        size = grp.sizes(cost)
        if grp.index is not None:
            size = size.index_select(0, grp.index)
    return _rank_solver(grp, size), grp


@torch.no_grad()
def solve_ranking(cost: Tensor, batch: OptTensor = None,
                  num_graphs: Optional[int] = None, *,
                  normalize: bool = False) -> Tensor:
    r"""Ranks scores per group, :math:`\mathrm{rk}(\omega) =
    \arg\min_{y \in \Pi_n} \langle \omega, y \rangle` for every group,
    where :math:`\Pi_n` is the set of permutations of :math:`(1, \dots, n)`:
    the solver minimises :math:`\langle \mathrm{cost}, y \rangle` over the
    rank vectors, so rank :math:`1` goes to the highest score. Ties are
    broken deterministically: of two equal scores, the one at the lower
    position gets the better (smaller) rank.

    Args:
        cost (torch.Tensor): The scores :math:`\omega`, either a vector
            grouped by :obj:`batch` or a matrix with one group per row.
        batch (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`cost` (any order). :obj:`None` means one group (or one
            group per row of a 2-D :obj:`cost`). (default: :obj:`None`)
        num_graphs (int, optional): The number of groups (groups may be
            empty). (default: :obj:`None`)
        normalize (bool, optional): If set, returns :math:`\mathrm{rk}/n_g
            \in (0, 1]`. (default: :obj:`False`)

    Returns:
        A tensor of the shape, dtype and device of :obj:`cost` holding the
        ranks :math:`\{1, \dots, n_g\}` of every group as whole numbers
        (exact up to :math:`2^{11}` entries per group in
        :obj:`torch.float16`, :math:`2^{8}` in :obj:`torch.bfloat16`,
        :math:`2^{24}` in :obj:`torch.float32`), or :math:`\mathrm{rk}/n_g`
        with :obj:`normalize`.
    """
    solver, _ = _ranking_solver(cost, batch, num_graphs, normalize=normalize)
    return solver(cost.reshape(-1)).view_as(cost)


__all__ = ['solve_ranking']
