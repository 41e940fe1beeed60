import dataclasses
import math
import numbers
from typing import Any, Dict, List, Mapping, Optional

import torch
from torch import Tensor

from pyg_identity.projection import validate_mode

SENSES = ('min', 'max')
BACKWARDS = ('identity', 'blackbox', 'perturbed', 'imle')
NOISE_POSITIONS = ('after', 'before')
IMLE_NOISES = ('gumbel', 'sum_of_gamma')


class SolverDiagnostics:
    r"""Records, for the last call of a layer, the mean per-graph L2 norm of
    the raw costs (before projection, to watch cost collapse, paper Fig. 4c)
    and, after :meth:`backward`, the mean per-graph cosine similarity between
    the plain Identity update (:math:`-\partial\ell/\partial y` for argmin,
    :math:`+\partial\ell/\partial y` for argmax) and the gradient that
    actually reached the raw costs (paper Fig. 7), :obj:`solver_calls`,
    the number of times the last forward pass plus its backward pass solved
    the batch (see :class:`GradientSettings` for the count of every
    backward: identity 1, blackbox 2, perturbed :math:`M`, I-MLE
    :math:`2M` in training), and :obj:`solver_batches`, the number of
    solver calls that took: the perturbed and I-MLE estimators solve their
    :math:`M` samples in one call where the solver can stack copies of the
    batch (every built-in layer; see
    :func:`~pyg_identity._autograd.stacked_solver`), *e.g.* 1 for
    :obj:`"perturbed"` and 2 for :obj:`"imle"`.

    :obj:`cost_norm` and :obj:`grad_cosine` are detached 0-dim tensors (no
    host synchronisation), :obj:`None` until available; :obj:`solver_calls`
    and :obj:`solver_batches` are :obj:`int` (:obj:`0` before the first
    call).
    """
    def __init__(self) -> None:
        self.cost_norm: Optional[Tensor] = None
        self.grad_cosine: Optional[Tensor] = None
        self.solver_calls: int = 0
        self.solver_batches: int = 0
        self._dl_dy: List[Optional[Tensor]] = []

    def reset(self) -> None:
        self.cost_norm = None
        self.grad_cosine = None
        self.solver_calls = 0
        self.solver_batches = 0
        self._dl_dy = []

    def __repr__(self) -> str:
        def fmt(x: Optional[Tensor]) -> str:
            return 'None' if x is None else f'{float(x):.4g}'

        return (f'{self.__class__.__name__}(cost_norm={fmt(self.cost_norm)}, '
                f'grad_cosine={fmt(self.grad_cosine)}, '
                f'solver_calls={self.solver_calls}, '
                f'solver_batches={self.solver_batches})')


def _finite(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def check_noise(noise: Any, name: str = 'noise') -> float:
    r"""Returns :obj:`noise` as a :obj:`float` if it is a finite,
    non-negative number, else raises a :class:`ValueError` naming
    :obj:`name`."""
    out = _finite(noise)
    if out is None or out < 0:
        raise ValueError(f"'{name}' must be non-negative and finite (got "
                         f"{noise!r})")
    return out


def check_lambda(lambda_: Any) -> float:
    r"""Returns :obj:`lambda_` as a :obj:`float` if it is a finite, positive
    number, else raises a :class:`ValueError`."""
    return check_positive(lambda_, 'lambda_')


def check_positive(value: Any, name: str) -> float:
    r"""Returns :obj:`value` as a :obj:`float` if it is a finite, positive
    number, else raises a :class:`ValueError` naming :obj:`name`."""
    out = _finite(value)
    if out is None or not out > 0:
        raise ValueError(f"'{name}' must be positive and finite (got "
                         f"{value!r})")
    return out


def check_count(value: Any, name: str) -> int:
    r"""Returns :obj:`value` if it is an integer :math:`\geq 1`, else raises
    a :class:`ValueError` naming :obj:`name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or int(value) < 1:
        raise ValueError(f"'{name}' must be an integer >= 1 (got "
                         f"{value!r})")
    return int(value)


@dataclasses.dataclass(frozen=True)
class GradientSettings:
    r"""The settings of the one gradient mechanism, shared by every solver
    layer and functional of :mod:`pyg_identity` (see
    :func:`pyg_identity.nn.functional.identity_solver`): in training,
    :math:`\tilde\omega = P(\omega + \xi)` goes to the solver, and on the
    backward pass :math:`\partial\ell/\partial\tilde\omega` is given by the
    gradient estimator :obj:`backward` (differentiated through :math:`P` by
    autograd). Writing :math:`s = -1` for an argmin solver (:obj:`sense=
    "min"`), :math:`s = +1` for argmax, :math:`g = \partial\ell/\partial y`
    and :math:`M` = :obj:`num_samples`, the estimators are:

    * :obj:`"identity"` (Sahoo et al., 2023): :math:`s\,g`. Solver calls
      per training step: 1.
    * :obj:`"blackbox"` (Vlastelica et al., 2020): :math:`s\,(y(\tilde
      \omega) - y(\tilde\omega - s\lambda g))/\lambda`. Calls: 2.
    * :obj:`"perturbed"` (Berthet et al., 2020, perturbed optimizers): in
      training the forward pass returns the perturbed mean :math:`\hat y =
      \frac1M\sum_m y(\tilde\omega + \sigma Z_m)`, :math:`Z_m \sim
      \mathcal N(0, I)`, an estimate of :math:`y_\sigma(\tilde\omega) =
      \mathbb E[y(\tilde\omega + \sigma Z)]`; the backward pass is its
      Jacobian-vector product :math:`\frac{1}{M\sigma}\sum_m \langle g,
      y(\tilde\omega + \sigma Z_m)\rangle_b\, Z_m` on the forward's own
      samples (no extra call), with the inner product per graph :math:`b`.
      (Stein's identity: :math:`\partial_\omega\mathbb E[y(\omega +
      \sigma Z)] = \mathbb E[y(\omega + \sigma Z) Z^\top]/\sigma` for either
      sense, so no sign enters.) Calls: :math:`M` solutions of the batch,
      in one stacked call where the solver allows.
    * :obj:`"imle"` (Niepert et al., 2021, implicit MLE): in training the
      forward pass returns :math:`\hat y = \frac1M\sum_m y(\tilde\omega +
      s\epsilon_m)` (perturb-and-MAP; for :math:`M = 1` one sample), the
      backward pass :math:`\frac{s}{M\lambda}\sum_m (y(\tilde\omega +
      s\epsilon_m) - y(\tilde\omega' + s\epsilon_m))` with the target
      :math:`\tilde\omega' = \tilde\omega - s\lambda g` (for argmax
      :math:`\theta' = \theta - \lambda g` as in the paper; an argmin
      solver on :math:`\omega = -\theta`), the same :math:`\epsilon_m` in
      both calls, :math:`\epsilon = \sigma\,\mathrm{noise}`
      (:obj:`imle_noise`). Calls: :math:`2M` solutions of the batch, in
      two stacked calls where the solver allows. Without noise it is the
      Blackbox update.

    Out of training (:obj:`training=False`) the noise margin is off and the
    forward pass of every estimator is the exact solution
    :math:`y(\tilde\omega)` (one call); a backward pass there (rare, *e.g.*
    a gradient probe) draws fresh samples for :obj:`"perturbed"`
    (:math:`M` more calls) and :obj:`"imle"` (:math:`2M`). The perturbation
    is the estimator's own and goes on the solver input, after the
    projection and the noise margin. :class:`SolverDiagnostics` counts the
    calls (:obj:`solver_calls`).

    Every field is validated on construction (a :class:`ValueError` naming
    the field), whatever the :obj:`backward`; the object is immutable,
    :meth:`replace` returns a validated copy. Layers hold one in
    :obj:`layer.settings` and accept its fields as keyword arguments;
    functionals accept :obj:`settings=` and/or the fields as keyword
    arguments.

    Args:
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`, computed per graph (see
            :func:`pyg_identity.project`). :obj:`"norm"` is valid for every
            linear solver; :obj:`"mean"` and :obj:`"std"` only where all
            solutions of a graph have the same size. Each layer has its own
            default (the README's layer table). (default: :obj:`"norm"`)
        noise (float, optional): The noise margin :math:`\alpha \geq 0`: in
            training, :math:`\xi \sim \mathrm{Unif}\{-\alpha/2, +\alpha/2\}`
            is added per cost entry. (default: :obj:`0.0`)
        noise_position (str, optional): :obj:`"before"` adds the margin to
            the raw costs, before the projection:
            :math:`P(\omega + \xi)`. The margin is then large relative to
            small raw costs, so shrinking them costs loss, which keeps them
            from collapsing to zero (paper Sec. 3.6). :obj:`"after"` gives
            :math:`P(\omega) + \xi`, a scale-free margin that cannot
            penalise collapse (Globe TSP(5), 5,000 samples, 30 epochs:
            55.8% full-tour accuracy vs 90.4% with :obj:`"before"`).
            (default: :obj:`"before"`)
        backward (str, optional): The gradient estimator, one of
            :obj:`"identity"`, :obj:`"blackbox"`, :obj:`"perturbed"`,
            :obj:`"imle"` (see above). (default: :obj:`"identity"`)
        lambda_ (float, optional): :math:`\lambda > 0`, finite: the
            Blackbox interpolation strength and I-MLE's target strength
            (one field for both; the default suits Blackbox, the I-MLE paper
            uses :math:`\lambda` in :math:`[10, 100]`). (default:
            :obj:`20.0`)
        sigma (float, optional): :math:`\sigma > 0`, finite, the scale of
            the estimator's perturbation, in the units of the solver input
            :math:`\tilde\omega` (after the projection): the standard
            deviation of the Gaussian :obj:`"perturbed"` noise and the
            temperature :math:`\tau` of the :obj:`"imle"` noise. After
            :obj:`"norm"` or :obj:`"std"` a graph's costs have norm 1
            (entries of size about :math:`1/\sqrt n`), so :math:`\sigma`
            of that order perturbs without drowning them.
            (default: :obj:`1.0`)
        num_samples (int, optional): :math:`M \geq 1`, the perturbation
            samples per step of :obj:`"perturbed"` and :obj:`"imle"`.
            (default: :obj:`1`)
        imle_noise (str, optional): The I-MLE noise: :obj:`"gumbel"`
            (:math:`-\log(-\log U)`, exact perturb-and-MAP for 1-of-n
            choices) or :obj:`"sum_of_gamma"`, the paper's Sum-of-Gamma
            :math:`\frac{1}{k}(\sum_{i=1}^{10}\mathrm{Gamma}(1/k, k/i) -
            \log 10)` (shape :math:`1/k`, scale :math:`k/i`, :math:`s = 10`
            terms as in the paper) for solutions with :math:`k` ones; both
            scaled by :obj:`sigma`. (default: :obj:`"gumbel"`)
        imle_k (int, optional): The :math:`k \geq 1` of the Sum-of-Gamma
            noise (*e.g.* the :math:`k` of a top-:math:`k` layer or the
            typical number of edges of a solution). (default: :obj:`1`)
        generator (torch.Generator, optional): The generator of the noise
            margin and of the estimators' perturbations (reproducible
            noise). (default: :obj:`None`)
        diagnostics (SolverDiagnostics or bool, optional): Records the raw
            cost norm, gradient cosine and solver calls of the last call;
            :obj:`True` creates a :class:`SolverDiagnostics`.
            (default: :obj:`None`)
    """
    projection: Optional[str] = 'norm'
    noise: float = 0.0
    noise_position: str = 'before'
    backward: str = 'identity'
    lambda_: float = 20.0
    sigma: float = 1.0
    num_samples: int = 1
    imle_noise: str = 'gumbel'
    imle_k: int = 1
    generator: Optional[torch.Generator] = None
    diagnostics: Optional[SolverDiagnostics] = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise in place once
        set_(self, 'projection', validate_mode(self.projection, 'projection'))
        set_(self, 'noise', check_noise(self.noise))
        if self.noise_position not in NOISE_POSITIONS:
            raise ValueError(f"'noise_position' must be 'after' or 'before' "
                             f"(got {self.noise_position!r})")
        if not isinstance(self.backward, str) or \
                self.backward not in BACKWARDS:
            raise ValueError(f"'backward' must be one of {BACKWARDS} (got "
                             f"{self.backward!r})")
        set_(self, 'lambda_', check_lambda(self.lambda_))
        set_(self, 'sigma', check_positive(self.sigma, 'sigma'))
        set_(self, 'num_samples', check_count(self.num_samples,
                                              'num_samples'))
        if not isinstance(self.imle_noise, str) or \
                self.imle_noise not in IMLE_NOISES:
            raise ValueError(f"'imle_noise' must be one of {IMLE_NOISES} "
                             f"(got {self.imle_noise!r})")
        set_(self, 'imle_k', check_count(self.imle_k, 'imle_k'))
        if self.generator is not None and not isinstance(
                self.generator, torch.Generator):
            raise ValueError(f"'generator' must be a torch.Generator or None "
                             f"(got {type(self.generator).__name__})")
        diag = self.diagnostics
        if diag is True:
            set_(self, 'diagnostics', SolverDiagnostics())
        elif diag is False:
            set_(self, 'diagnostics', None)
        elif diag is not None and not isinstance(diag, SolverDiagnostics):
            raise ValueError(f"'diagnostics' must be a SolverDiagnostics, a "
                             f"bool or None (got {type(diag).__name__})")

    def replace(self, **changes: Any) -> 'GradientSettings':
        r"""Returns a validated copy with :obj:`changes` applied."""
        _check_fields(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def resolve(cls, settings: Optional['GradientSettings'],
                overrides: Mapping[str, Any],
                **defaults: Any) -> 'GradientSettings':
        r"""Returns :obj:`settings` (or, if :obj:`None`, the settings with
        the caller's :obj:`defaults`) with :obj:`overrides` applied; the one
        way every layer and functional reads its gradient settings."""
        _check_fields(overrides)
        if settings is None:
            return cls(**{**defaults, **overrides})
        if not isinstance(settings, cls):
            raise ValueError(f"'settings' must be a GradientSettings (got "
                             f"{type(settings).__name__})")
        return settings.replace(**overrides) if overrides else settings

    def __repr__(self) -> str:
        # Only what differs from the defaults, as in a layer's repr.
        parts = [f'{f.name}={getattr(self, f.name)!r}'
                 for f in dataclasses.fields(self)
                 if getattr(self, f.name) is not f.default
                 and getattr(self, f.name) != f.default]
        return f'{self.__class__.__name__}({", ".join(parts)})'


FIELDS = tuple(f.name for f in dataclasses.fields(GradientSettings))


def _check_fields(changes: Mapping[str, Any]) -> None:
    unknown = [k for k in changes if k not in FIELDS]
    if unknown:
        raise ValueError(f"unknown gradient setting(s) {unknown} (the "
                         f"settings are {list(FIELDS)})")


def settings_dict(settings: GradientSettings) -> Dict[str, Any]:
    r"""The fields of :obj:`settings` as a dictionary."""
    return {name: getattr(settings, name) for name in FIELDS}


__all__ = ['GradientSettings', 'SolverDiagnostics']
