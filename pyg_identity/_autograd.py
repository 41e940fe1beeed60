r"""The one gradient mechanism of pyg_identity.

Every solver layer runs its solver through :class:`SolverFunction`, which
implements the Identity backward of Sahoo et al. (ICLR 2023) and the Blackbox
(BB) backward of Vlastelica et al. (ICLR 2020). No layer re-implements a
backward.
"""
from typing import Any, Callable, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

SolverCallable = Callable[..., Any]


def _as_tuple(out: Any) -> Tuple[Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out, )


def run_solver(solver: SolverCallable, costs: Tuple[Tensor, ...]) -> Tuple[
        Tensor, ...]:
    r"""Calls :obj:`solver` on detached costs and returns its solutions in the
    dtype, device and shape of the costs."""
    with torch.no_grad():
        out = _as_tuple(solver(*[c.detach() for c in costs]))
    if len(out) != len(costs):
        raise ValueError(f"'solver' must return one solution per cost tensor "
                         f"(got {len(out)} for {len(costs)} cost tensors)")
    sols = []
    for y, c in zip(out, costs):
        if not isinstance(y, (Tensor, np.ndarray)):
            raise ValueError(f"'solver' must return a tensor (or a tuple of "
                             f"them) for every cost tensor (got "
                             f"{type(y).__name__})")
        try:
            y = torch.as_tensor(y)
        except (TypeError, RuntimeError) as e:  # e.g. an object array
            raise ValueError(f"'solver' must return numeric solutions (got "
                             f"an array of dtype {y.dtype})") from e
        if y.is_complex():
            raise ValueError(f"'solver' must return real solutions (got "
                             f"{y.dtype})")
        if y.shape != c.shape:
            raise ValueError(f"'solver' must return solutions of the shape of "
                             f"its costs (got {list(y.shape)}, expected "
                             f"{list(c.shape)})")
        sols.append(y.to(device=c.device, dtype=c.dtype))
    return tuple(sols)


class SolverFunction(torch.autograd.Function):
    r"""Runs a combinatorial solver and replaces its zero Jacobian.

    * :obj:`backward="identity"`: :math:`\partial\ell/\partial\omega =
      -\partial\ell/\partial y` for an argmin solver and
      :math:`+\partial\ell/\partial y` for an argmax solver, no solver call.
    * :obj:`backward="blackbox"`: :math:`\partial\ell/\partial\omega =
      -(y - y_\lambda)/\lambda` with :math:`y_\lambda =
      \mathrm{solver}(\omega + \lambda\,\partial\ell/\partial y)` for an
      argmin solver (signs flipped for argmax), one extra solver call.
    """
    @staticmethod
    def forward(ctx: Any, solver: SolverCallable, sense: str, backward: str,
                lambda_: float, *costs: Tensor) -> Tuple[Tensor, ...]:
        sols = run_solver(solver, costs)
        ctx.solver = solver  # a callable, not a tensor
        ctx.sense = sense
        ctx.mode = backward
        ctx.lambda_ = lambda_
        if backward == 'blackbox':
            ctx.save_for_backward(*costs, *sols)
        return sols

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, *grads: Optional[Tensor]) -> Tuple[Any, ...]:
        sign = -1.0 if ctx.sense == 'min' else 1.0
        head: Tuple[None, ...] = (None, None, None, None)
        if ctx.mode == 'identity':
            return head + tuple(None if g is None else sign * g
                                for g in grads)

        saved = ctx.saved_tensors
        k = len(saved) // 2
        costs, sols = saved[:k], saved[k:]
        grads_ = [torch.zeros_like(y) if g is None else g
                  for g, y in zip(grads, sols)]
        lam = ctx.lambda_
        # argmin: y_lam = y(w + lam g); argmax: y_lam = y(w - lam g).
        perturbed = tuple(c - sign * lam * g for c, g in zip(costs, grads_))
        sols_lam = run_solver(ctx.solver, perturbed)
        return head + tuple(sign * (y - y_lam) / lam
                            for y, y_lam in zip(sols, sols_lam))


class GradProbe(torch.autograd.Function):
    r"""Identity on the forward pass; on the backward pass hands the incoming
    gradient to a callback (for diagnostics) and passes it on unchanged."""
    @staticmethod
    def forward(ctx: Any, callback: Callable[[Tensor], None],
                src: Tensor) -> Tensor:
        ctx.callback = callback
        return src.view_as(src)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tuple[None, Tensor]:
        ctx.callback(grad)
        return None, grad
