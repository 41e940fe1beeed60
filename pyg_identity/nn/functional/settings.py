import dataclasses
import math
import numbers
from typing import Any, Dict, List, Mapping, Optional

import torch
from torch import Tensor

from pyg_identity.projection import validate_mode

SENSES = ('min', 'max')
BACKWARDS = ('identity', 'blackbox')
NOISE_POSITIONS = ('after', 'before')


class SolverDiagnostics:
    r"""Records, for the last call of a layer, the mean per-graph L2 norm of
    the raw costs (before projection, to watch cost collapse, paper Fig. 4c)
    and, after :meth:`backward`, the mean per-graph cosine similarity between
    the plain Identity update (:math:`-\partial\ell/\partial y` for argmin,
    :math:`+\partial\ell/\partial y` for argmax) and the gradient that
    actually reached the raw costs (paper Fig. 7).

    Values are detached 0-dim tensors (no host synchronisation); they are
    :obj:`None` until available.
    """
    def __init__(self) -> None:
        self.cost_norm: Optional[Tensor] = None
        self.grad_cosine: Optional[Tensor] = None
        self._dl_dy: List[Optional[Tensor]] = []

    def reset(self) -> None:
        self.cost_norm = None
        self.grad_cosine = None
        self._dl_dy = []

    def __repr__(self) -> str:
        def fmt(x: Optional[Tensor]) -> str:
            return 'None' if x is None else f'{float(x):.4g}'

        return (f'{self.__class__.__name__}(cost_norm={fmt(self.cost_norm)}, '
                f'grad_cosine={fmt(self.grad_cosine)})')


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
    out = _finite(lambda_)
    if out is None or not out > 0:
        raise ValueError(f"'lambda_' must be positive and finite (got "
                         f"{lambda_!r})")
    return out


@dataclasses.dataclass(frozen=True)
class GradientSettings:
    r"""The settings of the one gradient mechanism, shared by every solver
    layer and functional of :mod:`pyg_identity` (see
    :func:`pyg_identity.nn.functional.identity_solver`): in training,
    :math:`\tilde\omega = P(\omega + \xi)` goes to the solver, and on the
    backward pass :math:`\partial\ell/\partial\tilde\omega =
    \mp\partial\ell/\partial y` (Identity) or the Blackbox update.

    Every field is validated on construction (a :class:`ValueError` naming
    the field); the object is immutable, :meth:`replace` returns a validated
    copy. Layers hold one in :obj:`layer.settings` and accept its fields as
    keyword arguments; functionals accept :obj:`settings=` and/or the fields
    as keyword arguments.

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
        backward (str, optional): :obj:`"identity"` (no extra solver call)
            or :obj:`"blackbox"` (one extra call, Vlastelica et al., 2020).
            (default: :obj:`"identity"`)
        lambda_ (float, optional): The Blackbox interpolation strength
            :math:`\lambda > 0`, finite; checked whatever the
            :obj:`backward`. (default: :obj:`20.0`)
        generator (torch.Generator, optional): The generator of the noise
            margin (reproducible noise). (default: :obj:`None`)
        diagnostics (SolverDiagnostics or bool, optional): Records the raw
            cost norm and gradient cosine of the last call; :obj:`True`
            creates a :class:`SolverDiagnostics`. (default: :obj:`None`)
    """
    projection: Optional[str] = 'norm'
    noise: float = 0.0
    noise_position: str = 'before'
    backward: str = 'identity'
    lambda_: float = 20.0
    generator: Optional[torch.Generator] = None
    diagnostics: Optional[SolverDiagnostics] = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise in place once
        set_(self, 'projection', validate_mode(self.projection, 'projection'))
        set_(self, 'noise', check_noise(self.noise))
        if self.noise_position not in NOISE_POSITIONS:
            raise ValueError(f"'noise_position' must be 'after' or 'before' "
                             f"(got {self.noise_position!r})")
        if self.backward not in BACKWARDS:
            raise ValueError(f"'backward' must be 'identity' or 'blackbox' "
                             f"(got {self.backward!r})")
        set_(self, 'lambda_', check_lambda(self.lambda_))
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
