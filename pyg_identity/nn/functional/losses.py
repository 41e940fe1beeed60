from typing import Optional

from torch import Tensor
from torch_geometric.typing import OptTensor
from torch_geometric.utils import scatter

from pyg_identity.projection import check_num_graphs

FORMS = ('l1', 'squared', 'bbgm')
REDUCTIONS = ('mean', 'sum', 'none')


def check_reduction(reduction: str) -> None:
    r"""Raises a :class:`ValueError` unless :obj:`reduction` is
    :obj:`"mean"`, :obj:`"sum"` or :obj:`"none"`."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"'reduction' must be one of {REDUCTIONS} (got "
                         f"{reduction!r})")


def reduce_loss(src: Tensor, reduction: str) -> Tensor:
    r"""Reduces the per-graph values :obj:`src` by :obj:`reduction` (the
    mean of none is zero)."""
    if reduction == 'none':
        return src
    if reduction == 'sum':
        return src.sum()
    return src.mean() if src.numel() else src.sum()


def hamming_loss(
    y: Tensor,
    y_true: Tensor,
    batch: OptTensor = None,
    num_graphs: Optional[int] = None,
    *,
    reduction: str = 'mean',
    form: str = 'l1',
) -> Tensor:
    r"""The Hamming distance between 0/1 solution indicators, summed per
    graph and averaged over graphs: the loss of every experiment of the
    paper (tour edges, path cells or edges, matched pairs, selected items).

    .. math::
        \ell_b = \sum_{i \in b} |y_i - y^*_i|

    The three forms have the same value on 0/1 indicators but not the same
    gradient :math:`\partial\ell/\partial y`:

    * :obj:`"l1"`: :math:`\mathrm{sign}(y - y^*) = y - y^*`, zero on the
      entries the prediction gets right, so the Identity update
      :math:`-\partial\ell/\partial y = y^* - y` points exactly at the
      target (the paper's Sec. 3.2 case);
    * :obj:`"squared"`: :math:`(y - y^*)^2`, gradient :math:`2(y - y^*)`
      (the same direction);
    * :obj:`"bbgm"`: BB-GM's :math:`y(1 - y^*) + (1 - y)y^*`, with the
      constant gradient :math:`1 - 2y^*` that pushes every entry at every
      step (it works with the Blackbox backward but lets Identity costs
      without projection grow without bound).

    Args:
        y (torch.Tensor): The predicted indicator (any shape; the first
            dimension is split into graphs by :obj:`batch`).
        y_true (torch.Tensor): The target indicator, the shape of :obj:`y`.
        batch (torch.Tensor, optional): The graph of every entry along the
            first dimension (*e.g.* :func:`pyg_identity.edge_batch` for edge
            indicators); :obj:`None` means a single graph.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs. (default:
            :obj:`None`)
        reduction (str, optional): :obj:`"mean"` over graphs, :obj:`"sum"`
            or :obj:`"none"` (per graph, :obj:`[B]`). (default: :obj:`"mean"`)
        form (str, optional): :obj:`"l1"`, :obj:`"squared"` or
            :obj:`"bbgm"` (see above). (default: :obj:`"l1"`)
    """
    if not isinstance(y, Tensor) or not y.is_floating_point():
        raise ValueError(f"'y' must be a floating point tensor (got "
                         f"{getattr(y, 'dtype', type(y))})")
    if not isinstance(y_true, Tensor) or y_true.shape != y.shape:
        raise ValueError(f"'y_true' must be a tensor of the shape of 'y' "
                         f"{list(y.shape)} (got "
                         f"{list(getattr(y_true, 'shape', []))})")
    if form not in FORMS:
        raise ValueError(f"'form' must be one of {FORMS} (got {form!r})")
    check_reduction(reduction)
    num_graphs = check_num_graphs(num_graphs)
    if batch is not None and (
            not isinstance(batch, Tensor) or batch.is_floating_point()
            or batch.dim() != 1
            or (y.dim() > 0 and batch.numel() != y.size(0))):
        raise ValueError(f"'batch' must be an integer vector with one entry "
                         f"per row of 'y' ({y.size(0) if y.dim() else 1}; got "
                         f"{getattr(batch, 'dtype', type(batch))} of shape "
                         f"{list(getattr(batch, 'shape', []))})")
    y_true = y_true.to(y.dtype)
    if form == 'l1':
        err = (y - y_true).abs()
    elif form == 'squared':
        err = (y - y_true).pow(2)
    else:
        err = y * (1 - y_true) + (1 - y) * y_true
    err = err.reshape(err.size(0), -1).sum(-1) if err.dim() > 1 else (
        err.reshape(-1))
    if batch is None:
        per_graph = err.sum().view(1)
        if num_graphs is not None and num_graphs != 1:
            raise ValueError(f"'num_graphs' must be 1 without 'batch' (got "
                             f"{num_graphs})")
    else:
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 0
        per_graph = scatter(err, batch, 0, dim_size=num_graphs, reduce='sum')
    return reduce_loss(per_graph, reduction)


__all__ = ['hamming_loss']
