from typing import Any, Optional

import torch
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


def _check_solution_pair(y: Any, y_true: Any, name: str) -> None:
    # A floating point solution and a target of its shape.
    if not isinstance(y, Tensor) or not y.is_floating_point():
        raise ValueError(f"'{name}' must be a floating point tensor (got "
                         f"{getattr(y, 'dtype', type(y))})")
    if not isinstance(y_true, Tensor) or y_true.shape != y.shape:
        raise ValueError(f"'y_true' must be a tensor of the shape of "
                         f"'{name}' {list(y.shape)} (got "
                         f"{list(getattr(y_true, 'shape', []))})")


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
    _check_solution_pair(y, y_true, 'y')
    if form not in FORMS:
        raise ValueError(f"'form' must be one of {FORMS} (got {form!r})")
    check_reduction(reduction)
    y_true = y_true.to(y.dtype)
    if form == 'l1':
        err = (y - y_true).abs()
    elif form == 'squared':
        err = (y - y_true).pow(2)
    else:
        err = y * (1 - y_true) + (1 - y) * y_true
    return _reduce(err, batch, num_graphs, reduction, 'y')


def fy_loss(
    y_hat: Tensor,
    y_true: Tensor,
    batch: OptTensor = None,
    num_graphs: Optional[int] = None,
    *,
    reduction: str = 'mean',
) -> Tensor:
    r"""The Fenchel-Young loss of the perturbed optimizers of Berthet et al.
    (NeurIPS 2020) for supervised training with target solutions, usable
    with every solver layer: run the layer with :obj:`backward="perturbed"`
    and pass its output,

    .. code-block:: python

        layer = IdentityShortestPath(backward='perturbed', sigma=0.5,
                                     num_samples=8)
        y_hat = layer(cost, edge_index, batch, source=s, target=t)
        loss = fy_loss(y_hat, y_true, edge_batch(batch, edge_index))
        loss.backward()

    No :obj:`cost` argument is needed: the output of the mechanism carries
    (in its autograd graph) the solver input :math:`\tilde\omega =
    P(\omega + \xi)` (after the layer's own projection and noise margin,
    with its graph to the raw costs), the sense and the forward pass's
    perturbation samples :math:`(y_m, \delta_m)`, :math:`y_m =
    y(\tilde\omega + \delta_m)`. With :math:`F(\tilde\omega) =
    \frac1M\sum_m \langle y_m, \tilde\omega + \delta_m\rangle`, the
    Monte-Carlo estimate of :math:`\mathbb E[\min_y\langle y, \tilde\omega
    + \sigma Z\rangle]`, the loss of a graph is

    .. math::
        \ell = \langle \tilde\omega, y^* \rangle - F(\tilde\omega)
        \quad (\arg\min), \qquad
        \ell = F(\tilde\omega) - \langle \tilde\omega, y^* \rangle
        \quad (\arg\max),

    the Fenchel-Young loss :math:`L_\sigma(\tilde\omega; y^*)` up to the
    constant :math:`\Omega_\sigma(y^*)` (independent of the costs;
    :math:`\ell \geq 0` in expectation), and its gradient is
    :math:`\partial\ell/\partial\tilde\omega = y^* - \hat y` for argmin
    (:math:`\hat y - y^*` for argmax), :math:`\hat y = \frac1M\sum_m
    y_m` the layer's output, carried to the raw costs through the
    projection by autograd (:math:`\hat y` is a constant here: the loss does
    not backpropagate through the layer's estimator). Without samples (out
    of training, or another :obj:`backward`) it is the
    :math:`\sigma \to 0` limit with :math:`\hat y = y(\tilde\omega)`, the
    structured perceptron loss; with :obj:`backward="imle"` the samples of
    its noise are used (:math:`\delta_m = \mp\sigma\epsilon_m`).

    Call it before :meth:`~torch.Tensor.backward` of the layer's graph (it
    reads the graph's saved tensors). For a layer with several outputs
    (:class:`~pyg_identity.nn.IdentityGraphMatching`), the loss of the
    joint problem is the sum of :obj:`fy_loss` over the outputs.

    Args:
        y_hat (torch.Tensor): The output of a solver layer or functional
            (or a :meth:`~torch.Tensor.view` / :meth:`~torch.Tensor.reshape`
            of it), computed with gradients enabled.
        y_true (torch.Tensor): The target solution, the shape of
            :obj:`y_hat`.
        batch (torch.Tensor, optional): The graph of every entry along the
            first dimension of :obj:`y_hat`, as in :func:`hamming_loss`;
            :obj:`None` means a single graph. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        reduction (str, optional): :obj:`"mean"` over graphs, :obj:`"sum"`
            or :obj:`"none"` (per graph, :obj:`[B]`). (default: :obj:`"mean"`)
    """
    from pyg_identity._autograd import solver_node

    _check_solution_pair(y_hat, y_true, 'y_hat')
    check_reduction(reduction)
    node, nr = solver_node(y_hat)
    if node is None:
        raise ValueError("'y_hat' must be the output of a solver layer or "
                         "functional (or a view of it) computed with "
                         "gradients enabled (its autograd graph carries the "
                         "solver input)")
    saved = node.saved_tensors
    k = len(saved) // 2
    w, y = saved[nr], saved[k + nr]
    if w.numel() != y_hat.numel():
        raise ValueError(f"'y_hat' must hold the entries of a solver output "
                         f"({w.numel()}; got {y_hat.numel()})")
    est = node.est
    if node.samples is not None:
        noises, sols_m = node.samples
        shift = est.sign if est.mode == 'imle' else 1.0
        f = torch.stack([ys[nr] * (w + shift * eps[nr].to(w.dtype))
                         for eps, ys in zip(noises, sols_m)]).mean(0)
    else:
        f = y.detach() * w
    y_true = y_true.to(w.dtype)
    err = w * y_true.reshape(w.shape) - f
    if est.sense == 'max':
        err = -err
    return _reduce(err.reshape(y_hat.shape), batch, num_graphs, reduction,
                   'y_hat')


def _reduce(err: Tensor, batch: OptTensor, num_graphs: Optional[int],
            reduction: str, name: str) -> Tensor:
    # Sum per graph (rows grouped by `batch`), then reduce over graphs.
    num_graphs = check_num_graphs(num_graphs)
    if batch is not None and (
            not isinstance(batch, Tensor) or batch.is_floating_point()
            or batch.dim() != 1
            or (err.dim() > 0 and batch.numel() != err.size(0))):
        raise ValueError(f"'batch' must be an integer vector with one entry "
                         f"per row of '{name}' "
                         f"({err.size(0) if err.dim() else 1}; got "
                         f"{getattr(batch, 'dtype', type(batch))} of shape "
                         f"{list(getattr(batch, 'shape', []))})")
    err = err.reshape(err.size(0), -1).sum(-1) if err.dim() > 1 else (
        err.reshape(-1))
    if batch is None:
        if num_graphs is not None and num_graphs != 1:
            raise ValueError(f"'num_graphs' must be 1 without 'batch' (got "
                             f"{num_graphs})")
        per_graph = err.sum().view(1)
    else:
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 0
        per_graph = scatter(err, batch, 0, dim_size=num_graphs, reduce='sum')
    return reduce_loss(per_graph, reduction)


__all__ = ['hamming_loss', 'fy_loss']
