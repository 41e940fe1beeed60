r"""What a misplaced tensor looks like, for the argument checks of every
solver family: one classifier of tensors by dtype and shape, read through
a family's own nouns (its arguments differ: edge costs and
:obj:`edge_index` for the graph solvers, scores and boolean labels for
ranking), the hint that :func:`pyg_identity.utils._checks.check_tensor`
puts in its messages; and the node count of a batch (:func:`count_nodes`),
for every solver that takes a batch vector and a number of nodes."""
from typing import Any, Mapping, Optional, Sequence

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.utils._checks import check_non_negative


def _kinds(value: Tensor) -> tuple:
    # The kinds of a tensor, most telling first.
    kinds = []
    if value.dtype == torch.bool:
        kinds.append('bool')
    if value.is_floating_point():
        kinds.append('float')
    if value.dim() == 2 and value.size(0) == 2:
        kinds.append('edge_index')
    if value.dim() == 1:
        kinds.append('vector')
    kinds.append('tensor')
    return tuple(kinds)


def looks_like(value: Any, nouns: Mapping[str, str],
               order: str) -> Optional[str]:
    r"""The hint of an error message about a tensor passed as the wrong
    argument: :obj:`"this looks like <noun> — the order is <order>"`, with
    the noun that :obj:`nouns` gives for the first kind of :obj:`value`
    it names, of :obj:`"bool"` (a boolean tensor), :obj:`"float"` (a
    floating point one), :obj:`"edge_index"` (shape :obj:`[2, N]`),
    :obj:`"vector"` (one-dimensional) and :obj:`"tensor"` (any); :obj:`None`
    if :obj:`value` is not a tensor or :obj:`nouns` names none of its
    kinds."""
    if not isinstance(value, Tensor):
        return None
    for kind in _kinds(value):
        if kind in nouns:
            return f'this looks like {nouns[kind]} — the order is {order}'
    return None


def count_nodes(batch: OptTensor, num_nodes: Optional[int], *index: Tensor,
                extra: Sequence[int] = (), name: str = 'num_nodes',
                batch_name: str = 'batch') -> int:
    r"""The number of nodes of a batch: :obj:`batch.numel()`, else
    :obj:`num_nodes`, else one more than the largest entry of the
    :obj:`index` tensors and of :obj:`extra` (:obj:`0` if there is none).

    Raises a :class:`ValueError` naming the argument if :obj:`num_nodes` is
    not a non-negative integer, :obj:`batch` is not one-dimensional, or the
    two disagree; :obj:`name` and :obj:`batch_name` are the names of the
    two arguments in the messages (e.g. :obj:`'num_nodes_s'` and
    :obj:`'batch_s'`)."""
    num_nodes = check_non_negative(num_nodes, name, allow_none=True)
    if batch is not None:
        if not isinstance(batch, Tensor) or batch.dim() != 1:
            raise ValueError(f"'{batch_name}' must be a one-dimensional "
                             f"tensor (got "
                             f"{getattr(batch, 'shape', type(batch))})")
        if num_nodes is not None and num_nodes != batch.numel():
            raise ValueError(f"'{name}' ({num_nodes}) does not match the "
                             f"size of '{batch_name}' ({batch.numel()})")
        return batch.numel()
    if num_nodes is not None:
        return num_nodes
    tops = [int(i.max()) + 1 for i in index if i.numel()]
    return max([0, *tops, *[v + 1 for v in extra]])
