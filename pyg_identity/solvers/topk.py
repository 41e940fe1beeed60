r"""Per-group top-:math:`k` selection computed by sorting on the scores'
device: the solver behind :class:`pyg_identity.nn.topk.IdentityTopK`.

Groups are given either by a batch vector :obj:`batch` over a 1-D score
vector (groups of different sizes, in any order) or by the rows of a dense
2-D score matrix, as the 20 blocks of 20 logits of the discrete VAE.
There is no Python loop over groups.
"""
from numbers import Integral
from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.solvers._dispatch import with_stack
from pyg_identity.solvers.ranking import Groups, groups


def check_k(k: Union[int, Tensor], sizes: Tensor) -> Tensor:
    r"""Validates :obj:`k` against the group sizes :obj:`sizes` and returns
    it as a :obj:`torch.long` tensor of shape :obj:`[num_graphs]` on the
    device of :obj:`sizes`. Raises a :class:`ValueError` naming :obj:`k` if
    it is not a non-negative integer (or integer tensor with one entry per
    group) no larger than its group."""
    num_graphs = sizes.numel()
    if isinstance(k, Tensor):
        if k.is_floating_point() or k.is_complex() or k.dtype == torch.bool:
            raise ValueError(f"'k' must be an integer or an integer tensor "
                             f"(got dtype {k.dtype})")
        if k.dim() == 0:
            k = k.expand(num_graphs)
        if k.dim() != 1 or k.numel() != num_graphs:
            raise ValueError(f"'k' must hold one entry per group "
                             f"({num_graphs}) (got shape {list(k.size())})")
        kt = k.to(device=sizes.device, dtype=torch.long)
    elif isinstance(k, Integral) and not isinstance(k, bool):
        kt = torch.full((num_graphs, ), int(k), dtype=torch.long,
                        device=sizes.device)
    else:
        raise ValueError(f"'k' must be an integer or an integer tensor (got "
                         f"{k!r})")
    if num_graphs > 0:
        kmin = int(kt.min())
        if kmin < 0:
            raise ValueError(f"'k' must be non-negative (got {kmin})")
        excess = kt - sizes
        g = int(excess.argmax())
        if int(excess[g]) > 0:
            raise ValueError(f"'k' must not exceed the group size (got "
                             f"k={int(kt[g])} for group {g} of size "
                             f"{int(sizes[g])})")
    return kt


def _topk_solver(
    cost: Tensor,
    batch: OptTensor = None,
    num_graphs: Optional[int] = None,
    *,
    k: Union[int, Tensor],
) -> Tuple[Callable[[Tensor], Tensor], Groups]:
    # Validates once; returns the closure that selects the top k of a
    # flattened cost (of the shape of `cost.reshape(-1)`) as 0/1 in its
    # dtype, run again by the Blackbox backward, and the grouping of the
    # flattened cost.
    grp = groups(cost, batch, num_graphs)
    kt = check_k(k, grp.sizes(cost))
    numel = cost.numel()

    def stack(times: int) -> Callable[[Tensor], Tensor]:
        return _select(grp.tile(times, numel, cost.device), kt.repeat(times))

    return with_stack(_select(grp, kt), stack), grp


def _select(grp: Groups, kt: Tensor) -> Callable[[Tensor], Tensor]:
    # The top-k closure of one grouping (k per group).
    k_entry = kt if grp.index is None else kt.index_select(0, grp.index)

    def solver(flat: Tensor) -> Tensor:
        return (grp.rank(flat) <= k_entry).to(flat.dtype)

    return solver


@torch.no_grad()
def solve_topk(cost: Tensor, batch: OptTensor = None,
               num_graphs: Optional[int] = None, *,
               k: Union[int, Tensor]) -> Tensor:
    r"""Selects the :math:`k` highest scores per group,
    :math:`y = \arg\max_{y \in \{0, 1\}^n, \mathbf{1}^\top y = k}
    \langle \omega, y \rangle` for every group: the solver maximises
    :math:`\langle \mathrm{cost}, y \rangle`. Ties are broken
    deterministically: of two equal scores, the one at the lower position
    is selected.

    Args:
        cost (torch.Tensor): The scores :math:`\omega`, either a vector
            grouped by :obj:`batch` or a matrix with one group per row.
        batch (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`cost` (any order). :obj:`None` means one group (or one
            group per row of a 2-D :obj:`cost`). (default: :obj:`None`)
        num_graphs (int, optional): The number of groups (groups may be
            empty). (default: :obj:`None`)
        k (int or torch.Tensor): The number of selected entries, for all
            groups or one per group (an integer tensor of shape
            :obj:`[num_graphs]`); :math:`0 \leq k \leq n_g`.

    Returns:
        A tensor of the shape, dtype and device of :obj:`cost` with values
        :math:`0` and :math:`1`, exactly :math:`k` ones per group.
    """
    solver, _ = _topk_solver(cost, batch, num_graphs, k=k)
    return solver(cost.reshape(-1)).view_as(cost)


__all__ = ['solve_topk']
