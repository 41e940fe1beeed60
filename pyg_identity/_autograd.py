r"""The one gradient mechanism of pyg_identity.

Every solver layer runs its solver through :class:`SolverFunction`, which
implements every gradient estimator of the package as a backward mode: the
Identity backward of Sahoo et al. (ICLR 2023), the Blackbox (BB) backward of
Vlastelica et al. (ICLR 2020), the perturbed optimizers of Berthet et al.
(NeurIPS 2020) and the implicit MLE (I-MLE) of Niepert et al. (NeurIPS
2021). No layer re-implements a backward.
"""
import dataclasses
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

SolverCallable = Callable[..., Any]

#: The number of Gamma terms :math:`s` of the Sum-of-Gamma noise (as in the
#: I-MLE paper and its reference implementation).
SOG_TERMS = 10

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


@dataclasses.dataclass
class Estimator:
    r"""The per-call configuration of :class:`SolverFunction` (built by
    :func:`~pyg_identity.nn.functional.identity_solver` from the
    :class:`~pyg_identity.nn.functional.GradientSettings`; see there for the
    formulas and the solver calls of every mode).

    :obj:`settings` is the :class:`GradientSettings
    <pyg_identity.nn.functional.GradientSettings>` of the call (its
    :obj:`backward`, :obj:`lambda_`, :obj:`sigma`, :obj:`num_samples`,
    :obj:`imle_noise`, :obj:`imle_k` and :obj:`generator` are read);
    :obj:`indices` and :obj:`num_graphs` give the graph of every cost entry,
    for the per-graph inner products of the perturbed backward;
    :obj:`count` is called for every solver call with the number of
    batches it solved and the number of calls (diagnostics)."""
    settings: Any
    sense: str = 'min'
    training: bool = False
    indices: Sequence[Optional[Tensor]] = ()
    num_graphs: int = 1
    count: Optional[Callable[[int, int], None]] = None
    stacks: Dict[int, Optional[SolverCallable]] = dataclasses.field(
        default_factory=dict)

    @property
    def mode(self) -> str:
        return self.settings.backward

    @property
    def sign(self) -> float:
        return -1.0 if self.sense == 'min' else 1.0

    def solve(self, solver: SolverCallable,
              costs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        if self.count is not None:
            self.count(1, 1)
        return run_solver(solver, tuple(costs))

    def solve_many(self, solver: SolverCallable,
                   inputs: Sequence[Sequence[Tensor]]) -> List[Tuple[
                       Tensor, ...]]:
        r"""The solutions of several perturbed inputs (one sequence of cost
        tensors each): in ONE call of :obj:`solver.stack(M)` on the inputs
        concatenated along the first dimension if the solver has a
        :obj:`stack` attribute (see :func:`stacked_solver`), else one call
        per input."""
        n = len(inputs)
        if n not in self.stacks:  # built once per call (samples, targets)
            self.stacks[n] = stacked_solver(solver, n)
        many = self.stacks[n]
        if many is None:
            return [self.solve(solver, costs) for costs in inputs]
        if self.count is not None:
            self.count(len(inputs), 1)
        cat = tuple(torch.cat([costs[i] for costs in inputs])
                    for i in range(len(inputs[0])))
        ys = run_solver(many, cat)
        sizes = [c.size(0) for c in inputs[0]]
        return list(zip(*[y.split(size) for y, size in zip(ys, sizes)]))

    def draw(self, costs: Sequence[Tensor]) -> List[Tensor]:
        r"""One perturbation per cost tensor: :math:`\sigma Z`,
        :math:`Z \sim \mathcal N(0, I)` (perturbed) or :math:`\sigma
        \epsilon` with :math:`\epsilon` from :obj:`imle_noise` (I-MLE)."""
        s = self.settings
        kind = 'gaussian' if self.mode == 'perturbed' else s.imle_noise
        return [s.sigma * _noise(c, kind, s.imle_k, s.generator)
                for c in costs]


def _noise(like: Tensor, kind: str, k: int,
           generator: Optional[torch.Generator]) -> Tensor:
    # Drawn on the generator's device (a CPU generator for CUDA costs works).
    dev = like.device if generator is None else generator.device
    dtype = like.dtype
    shape = like.shape
    if kind == 'gaussian':
        out = torch.randn(shape, generator=generator, device=dev, dtype=dtype)
    elif kind == 'gumbel':
        u = torch.rand(shape, generator=generator, device=dev, dtype=dtype)
        tiny = torch.finfo(dtype).tiny
        out = -torch.log(-torch.log(u.clamp(min=tiny, max=1.0 - 1e-7)))
    else:  # sum_of_gamma, unit temperature (sigma scales it)
        from pyg_identity.nn.functional.noise import sum_of_gamma_noise
        out = sum_of_gamma_noise(shape, k, 1.0, SOG_TERMS, dtype=dtype,
                                 device=dev, generator=generator)
    return out.to(like.device)


def _graph_dot(a: Sequence[Tensor], b: Sequence[Tensor],
               indices: Sequence[Optional[Tensor]],
               num_graphs: int) -> List[Tensor]:
    # Per cost tensor, the per-row value of <a, b>_graph (the inner product
    # summed over all cost tensors of the entry's graph), broadcastable to
    # the tensor. Without an index: the inner product over everything.
    rows = [(x * y).reshape(x.size(0), -1).sum(-1) for x, y in zip(a, b)]
    if any(idx is None for idx in indices) or len(indices) != len(a):
        total = sum(r.sum() for r in rows)
        return [torch.as_tensor(total).reshape([1] * x.dim()).expand(
            x.size(0), *([1] * (x.dim() - 1))) for x in a]
    per_graph = rows[0].new_zeros(num_graphs)
    for r, idx in zip(rows, indices):
        assert idx is not None
        per_graph = per_graph.index_add(0, idx, r)
    return [per_graph[idx].reshape(-1, *([1] * (x.dim() - 1)))
            for x, idx in zip(a, indices)]


def _zeros_for(grads: Sequence[Optional[Tensor]],
               like: Sequence[Tensor]) -> List[Tensor]:
    return [torch.zeros_like(y) if g is None else g
            for g, y in zip(grads, like)]


class SolverFunction(torch.autograd.Function):
    r"""Runs a combinatorial solver and replaces its zero Jacobian by the
    estimator :obj:`est.mode` (see
    :class:`~pyg_identity.nn.functional.GradientSettings` for the formulas),
    :math:`s = -1` for argmin, :math:`+1` for argmax:

    * :obj:`"identity"`: :math:`s\,\partial\ell/\partial y`, no solver call.
    * :obj:`"blackbox"`: :math:`s\,(y - y_\lambda)/\lambda` with
      :math:`y_\lambda = y(\omega - s\lambda\,\partial\ell/\partial y)`,
      one extra call.
    * :obj:`"perturbed"`: forward :math:`\frac1M\sum_m y(\omega + \sigma
      Z_m)` in training, backward :math:`\frac{1}{M\sigma}\sum_m\langle
      \partial\ell/\partial y, y_m\rangle_b Z_m` on the same samples.
    * :obj:`"imle"`: forward :math:`\frac1M\sum_m y(\omega + s\epsilon_m)`
      in training, backward :math:`\frac{s}{M\lambda}\sum_m (y(\omega +
      s\epsilon_m) - y(\omega - s\lambda\,\partial\ell/\partial y +
      s\epsilon_m))`.
    """
    @staticmethod
    def forward(ctx: Any, solver: SolverCallable, est: Estimator,
                *costs: Tensor) -> Tuple[Tensor, ...]:
        ctx.solver = solver  # a callable, not a tensor
        ctx.est = est
        ctx.samples = None
        mode = est.mode
        if mode in ('perturbed', 'imle') and est.training:
            noises, sols_m = _sample(est, solver,
                                     [c.detach() for c in costs])
            sols = tuple(torch.stack(ys).mean(0) for ys in zip(*sols_m))
            ctx.samples = (noises, sols_m)
        else:
            sols = est.solve(solver, costs)
        # Saved in every mode: the inputs keep their autograd graph, which
        # :func:`~pyg_identity.nn.functional.fy_loss` reads (solver_node).
        ctx.save_for_backward(*costs, *sols)
        return sols

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, *grads: Optional[Tensor]) -> Tuple[Any, ...]:
        est: Estimator = ctx.est
        sign = est.sign
        head: Tuple[None, ...] = (None, None)
        if est.mode == 'identity':
            return head + tuple(None if g is None else sign * g
                                for g in grads)

        saved = ctx.saved_tensors
        k = len(saved) // 2
        costs, sols = saved[:k], saved[k:]
        g = _zeros_for(grads, sols)
        solver = ctx.solver
        if est.mode == 'blackbox':
            lam = est.settings.lambda_
            # argmin: y_lam = y(w + lam g); argmax: y_lam = y(w - lam g).
            perturbed = [c - sign * lam * gi for c, gi in zip(costs, g)]
            sols_lam = est.solve(solver, perturbed)
            return head + tuple(sign * (y - y_lam) / lam
                                for y, y_lam in zip(sols, sols_lam))

        if ctx.samples is None:  # out of training: fresh samples
            ctx.samples = _sample(est, solver, costs)
        noises, sols_m = ctx.samples
        m = len(noises)
        out = [torch.zeros_like(c) for c in costs]
        if est.mode == 'perturbed':
            # Stein: d/dw E[y(w + sigma Z)] = E[y(w + sigma Z) Z^T] / sigma,
            # so the VJP is E[<g, y_m>_graph * Z_m] / sigma; eps = sigma Z.
            for eps, y_m in zip(noises, sols_m):
                dots = _graph_dot(g, y_m, est.indices, est.num_graphs)
                for o, d, e in zip(out, dots, eps):
                    o.add_(d * e)
            scale = 1.0 / (m * est.settings.sigma * est.settings.sigma)
            return head + tuple(o * scale for o in out)

        # I-MLE: the target w' = w - s lam g, the same noise for both.
        lam = est.settings.lambda_
        target = [c - sign * lam * gi for c, gi in zip(costs, g)]
        sols_t = est.solve_many(solver, [[t + sign * e
                                          for t, e in zip(target, eps)]
                                         for eps in noises])
        for y_m, y_t in zip(sols_m, sols_t):
            for o, a, b in zip(out, y_m, y_t):
                o.add_(a - b)
        return head + tuple(o * (sign / (m * lam)) for o in out)


def stacked_solver(solver: SolverCallable,
                   times: int) -> Optional[SolverCallable]:
    r"""The solver of :obj:`times` stacked copies of :obj:`solver`'s batch,
    or :obj:`None` if it has none.

    A solver may carry an attribute :obj:`stack`, a callable that maps a
    number of copies :math:`M` to a solver of the batch repeated :math:`M`
    times: every cost tensor holds the :math:`M` copies' costs concatenated
    along its first dimension (copy by copy), and the solutions come back in
    that layout. The perturbed and I-MLE estimators then solve their
    :math:`M` samples (and I-MLE's :math:`M` targets) in one call, so a
    solver that batches (top-:math:`k`, ranking, a process pool) sees
    :math:`M \times B` problems at once. The solvers of every built-in layer
    carry one (:meth:`GraphBlocks.tile
    <pyg_identity.solvers._dispatch.GraphBlocks.tile>` for those that split
    the batch into graphs)."""
    stack = getattr(solver, 'stack', None)
    if stack is None or times == 1:
        return None
    many = stack(times)
    if not callable(many):
        raise ValueError(f"'solver.stack({times})' must return a solver (got "
                         f"{type(many).__name__})")
    return many


def _sample(est: Estimator, solver: SolverCallable,
            costs: Sequence[Tensor]) -> Tuple[List[List[Tensor]],
                                             List[Tuple[Tensor, ...]]]:
    # All noises first (in sample order, so the draws do not depend on
    # whether the solver stacks), then all solutions.
    sign = est.sign if est.mode == 'imle' else 1.0
    noises = [est.draw(costs) for _ in range(est.settings.num_samples)]
    sols_m = est.solve_many(solver, [[c + sign * e for c, e in zip(costs,
                                                                   eps)]
                                     for eps in noises])
    return noises, sols_m


# Operations that keep the entries and their order (row-major): a solution
# passed through them is still the solution.
_SHAPE_OPS = ('ViewBackward', 'ReshapeAliasBackward', 'UnsafeViewBackward',
              'CloneBackward', 'ToCopyBackward', 'AliasBackward',
              'SqueezeBackward', 'UnsqueezeBackward')


def solver_node(y: Tensor, max_depth: int = 32) -> Tuple[Any, int]:
    r"""The :class:`SolverFunction` node that computed :obj:`y` (directly or
    through operations that keep the entries in order, such as
    :meth:`~torch.Tensor.view` and :meth:`~torch.Tensor.reshape`) and the
    number of its output, or :obj:`(None, -1)`."""
    node = y.grad_fn
    nr = y.output_nr
    for _ in range(max_depth):
        if node is None:
            break
        if isinstance(node, SolverFunction._backward_cls):  # type: ignore
            return node, nr
        if not type(node).__name__.startswith(_SHAPE_OPS):
            break
        nexts = [(n, i) for n, i in node.next_functions if n is not None]
        if len(nexts) != 1:
            break
        node, nr = nexts[0]
    return None, -1


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
