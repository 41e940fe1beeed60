from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from pyg_identity._autograd import Estimator, GradProbe, SolverFunction
from pyg_identity.nn.functional.noise import symmetric_noise
from pyg_identity.nn.functional.settings import (
    SENSES,
    GradientSettings,
    SolverDiagnostics,
)
from pyg_identity.projection import check_num_graphs, project
from pyg_identity.utils._checks import check_device, check_tensor

Costs = Union[Tensor, Sequence[Tensor]]
Indices = Union[None, Tensor, Sequence[Optional[Tensor]]]


def _flat_group_stats(tensors: Sequence[Tensor], indices: Sequence[
        Optional[Tensor]], num_graphs: int, fn: Callable[[Tensor],
                                                       Tensor]) -> Tensor:
    # Sum a per-entry statistic over all cost tensors, per graph.
    out: Optional[Tensor] = None
    for t, idx in zip(tensors, indices):
        s = fn(t).reshape(t.size(0), -1).sum(dim=-1)
        if idx is None:
            s = s.sum().expand(num_graphs)
        else:
            s = torch.zeros(num_graphs, dtype=s.dtype,
                            device=s.device).index_add_(0, idx, s)
        out = s if out is None else out + s
    assert out is not None
    return out


def _check_costs(costs: Costs) -> Tuple[Tuple[Tensor, ...], bool]:
    single = isinstance(costs, Tensor)
    seq: Tuple[Tensor, ...]
    if isinstance(costs, Tensor):
        seq = (costs, )
    else:
        seq = tuple(costs)
    if len(seq) == 0:
        raise ValueError("'costs' must hold at least one tensor")
    for c in seq:
        if not isinstance(c, Tensor) or not c.is_floating_point():
            raise ValueError(f"'costs' must be floating point tensors (got "
                             f"{getattr(c, 'dtype', type(c))})")
        if c.dim() == 0:
            raise ValueError("'costs' must have at least one dimension")
    return seq, single


def _check_finite(seq: Sequence[Tensor]) -> None:
    for c in seq:
        if c.is_meta:
            raise ValueError("'costs' must hold values (got a tensor on the "
                             "'meta' device)")
        d = c.detach()
        # The sum is non-finite whenever an entry is; the full check only
        # runs then (or on overflow), which keeps the common path cheap.
        if not bool(torch.isfinite(d.sum())) and not bool(
                torch.isfinite(d).all()):
            raise ValueError("'costs' must be finite (got NaN or inf)")


def _check_indices(seq: Sequence[Tensor], index: Indices,
                   num_graphs: Optional[int],
                   check_range: bool) -> Tuple[List[Optional[Tensor]], int]:
    num_graphs = check_num_graphs(num_graphs)
    if index is None or isinstance(index, Tensor):
        indices: List[Optional[Tensor]] = [index] * len(seq)
    else:
        indices = list(index)
        if len(indices) != len(seq):
            raise ValueError(f"'index' must hold one entry per cost tensor "
                             f"(got {len(indices)} for {len(seq)})")
    for c, idx in zip(seq, indices):
        if idx is None:
            continue
        check_tensor(idx, 'index', 'integer')
        if idx.dim() != 1 or idx.numel() != c.size(0):
            raise ValueError(f"'index' must be one-dimensional with "
                             f"costs.size(0) = {c.size(0)} entries (got shape "
                             f"{list(idx.size())})")
        check_device(idx, 'index', c, 'its costs')
    if num_graphs is not None and not check_range:
        # `project` checks the range (in the one synchronisation it needs).
        return indices, num_graphs
    # One host synchronisation per distinct index tensor.
    ranges: Dict[int, List[int]] = {}
    for idx in indices:
        if idx is not None and idx.numel() > 0 and id(idx) not in ranges:
            ranges[id(idx)] = torch.stack(torch.aminmax(idx)).tolist()
    if num_graphs is None:
        given = any(idx is not None for idx in indices)
        num_graphs = max([hi + 1 for _, hi in ranges.values()] or
                         [0 if given else 1])
    for lo, hi in ranges.values():
        if lo < 0 or hi >= num_graphs:
            raise ValueError(f"'index' must lie in [0, num_graphs - 1] with "
                             f"num_graphs = {num_graphs} (got values in "
                             f"[{lo}, {hi}])")
    return indices, num_graphs


def identity_solver(
    costs: Costs,
    solver: Callable[..., Any],
    index: Indices = None,
    num_graphs: Optional[int] = None,
    *,
    sense: str = 'min',
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Any:
    r"""Runs :obj:`solver` on (noised, projected) costs with a gradient
    replacement on the backward pass: :math:`\tilde\omega = P(\omega +
    \xi)`, :math:`y = \mathrm{solver}(\tilde\omega)`, and on the backward pass
    :math:`\partial\ell/\partial\tilde\omega = \mp\partial\ell/\partial y`
    (Identity) or the Blackbox, perturbed or I-MLE estimator (see
    :class:`GradientSettings`; the perturbed and I-MLE forward passes return
    the mean over perturbed solver inputs in training), differentiated
    through :math:`P` by autograd. The one path from every layer and
    functional into the mechanism.

    Args:
        costs (torch.Tensor or sequence of torch.Tensor): The costs
            :math:`\omega`; several tensors for solvers with several cost
            parts (*e.g.* unary and pairwise costs).
        solver (callable): Maps detached costs (one positional tensor per cost
            tensor) to solutions of the same shapes (one tensor, or a tuple).
            It must be deterministic for the Blackbox and I-MLE backward.
            With :obj:`backward="perturbed"` and an :obj:`index`, the
            solution of a graph must depend on the costs of that graph only
            (the per-graph inner products of the estimator). A solver with
            a :obj:`stack` attribute solves the perturbed and I-MLE samples
            in one call (see
            :func:`~pyg_identity._autograd.stacked_solver`).
        index (torch.Tensor or sequence, optional): The graph of every cost
            entry along the first dimension, one per cost tensor.
            :obj:`None` means a single graph. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs. (default:
            :obj:`None`)
        sense (str, optional): :obj:`"min"` if the solver computes
            :math:`\arg\min_y\langle\omega, y\rangle`, :obj:`"max"` for
            :math:`\arg\max`. (default: :obj:`"min"`)
        settings (GradientSettings, optional): The gradient settings
            (projection, noise margin, backward, ...); the defaults of
            :class:`GradientSettings` if not given. (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied
            (and the perturbed and I-MLE forward passes perturb).
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`projection="std"`).
    """
    settings = GradientSettings.resolve(settings, kwargs)
    projection = settings.projection
    noise = settings.noise
    noise_position = settings.noise_position
    generator = settings.generator
    diagnostics = settings.diagnostics
    seq, single = _check_costs(costs)
    if not callable(solver):
        raise ValueError(f"'solver' must be callable (got {type(solver)})")
    if sense not in SENSES:
        raise ValueError(f"'sense' must be 'min' or 'max' (got {sense!r})")
    indices, num_graphs = _check_indices(
        seq, index, num_graphs,
        check_range=diagnostics is not None
        or settings.backward == 'perturbed')
    _check_finite(seq)

    if diagnostics is not None:
        diagnostics.reset()
        sq = _flat_group_stats([c.detach() for c in seq], indices, num_graphs,
                               lambda t: t * t)
        diagnostics.cost_norm = sq.sqrt().mean()
        if torch.is_grad_enabled() and any(c.requires_grad for c in seq):
            seq = _attach_probes(seq, indices, num_graphs, sense, diagnostics)

    apply_noise = training and noise > 0
    out = []
    for c, idx in zip(seq, indices):
        if apply_noise and noise_position == 'before':
            c = c + symmetric_noise(c, noise, generator)
        if projection is not None:
            c = project(c, idx, num_graphs=num_graphs, mode=projection)
        if apply_noise and noise_position == 'after':
            c = c + symmetric_noise(c, noise, generator)
        out.append(c)

    est = Estimator(
        settings, sense=sense, training=training, indices=indices,
        num_graphs=num_graphs,
        count=None if diagnostics is None else _counter(diagnostics))
    if (torch.is_grad_enabled() and any(c.requires_grad for c in out)) or (
            training and est.mode in ('perturbed', 'imle')):
        sols = SolverFunction.apply(solver, est, *out)
    else:  # nothing to differentiate (e.g. inference): no autograd node
        sols = est.solve(solver, out)
    if diagnostics is not None and torch.is_grad_enabled():
        diagnostics._dl_dy = [None] * len(sols)
        for i, y in enumerate(sols):
            if y.requires_grad:
                y.register_hook(_store(diagnostics, i))
    return sols[0] if single else tuple(sols)


def _counter(diag: SolverDiagnostics) -> Callable[[int, int], None]:
    def count(batches: int, calls: int) -> None:
        diag.solver_calls += batches
        diag.solver_batches += calls

    return count


def _store(diag: SolverDiagnostics, i: int) -> Callable[[Tensor], None]:
    def hook(grad: Optional[Tensor]) -> None:
        # None for an output the loss does not use (e.g. pairwise matches).
        diag._dl_dy[i] = None if grad is None else grad.detach()

    return hook


def _attach_probes(seq: Tuple[Tensor, ...], indices: Sequence[Optional[
        Tensor]], num_graphs: int, sense: str,
                   diag: SolverDiagnostics) -> Tuple[Tensor, ...]:
    sign = -1.0 if sense == 'min' else 1.0
    grads: List[Optional[Tensor]] = [
        None if c.requires_grad else torch.zeros_like(c) for c in seq
    ]

    def make(i: int) -> Callable[[Tensor], None]:
        def callback(grad: Tensor) -> None:
            grads[i] = grad.detach()
            if any(g is None for g in grads):
                return  # Wait for the other cost tensors.
            actual = [g for g in grads if g is not None]
            naive = [sign * (torch.zeros_like(g) if d is None else d)
                     for g, d in zip(actual, diag._dl_dy)]
            dot = _flat_group_stats(
                [a * b for a, b in zip(naive, actual)], indices, num_graphs,
                lambda t: t)
            n1 = _flat_group_stats(naive, indices, num_graphs, lambda t: t * t)
            n2 = _flat_group_stats(actual, indices, num_graphs,
                                   lambda t: t * t)
            cos = dot / (n1 * n2).clamp(min=1e-30).sqrt()
            diag.grad_cosine = cos.mean()

        return callback

    return tuple(
        GradProbe.apply(make(i), c) if c.requires_grad else c
        for i, c in enumerate(seq))


__all__ = ['identity_solver', 'SolverDiagnostics', 'symmetric_noise']
