r"""What a misplaced tensor looks like, for the argument checks of every
solver family: one classifier of tensors by dtype and shape, read through
a family's own nouns (its arguments differ: edge costs and
:obj:`edge_index` for the graph solvers, scores and boolean labels for
ranking)."""
from typing import Any, Mapping, Optional

import torch
from torch import Tensor


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
