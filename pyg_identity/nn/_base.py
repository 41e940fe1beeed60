from typing import Any, Callable, Generic, Optional, TypeVar, overload

import torch

from pyg_identity.nn.functional.settings import (
    GradientSettings,
    SolverDiagnostics,
)

T = TypeVar('T')


class _Setting(Generic[T]):
    # One field of the layer's GradientSettings as an attribute: read from
    # `layer.settings`, assigned through the settings' validation.
    def __init__(self, field: str, doc: str) -> None:
        self.field = field
        self.__doc__ = doc

    @overload
    def __get__(self, obj: None, owner: Any) -> '_Setting[T]':
        ...

    @overload
    def __get__(self, obj: 'SolverLayer', owner: Any) -> T:
        ...

    def __get__(self, obj: Any, owner: Any) -> Any:
        if obj is None:
            return self
        return getattr(obj._settings, self.field)

    def __set__(self, obj: 'SolverLayer', value: T) -> None:
        obj._set(**{self.field: value})


def check_bool(value: Any, name: str) -> bool:
    r"""Returns :obj:`value` if it is a :class:`bool`, else raises a
    :class:`ValueError` naming :obj:`name`."""
    if not isinstance(value, bool):
        raise ValueError(f"'{name}' must be a bool (got {value!r})")
    return value


class Option(Generic[T]):
    r"""A layer option as an attribute validated on assignment:
    :obj:`check(layer, value)` raises a :class:`ValueError` naming the
    option or returns the value to store (in :obj:`layer._<name>`); the
    layer is passed for the checks that depend on its other options."""
    def __init__(self, check: Callable[[Any, Any], T], doc: str) -> None:
        self.check = check
        self.__doc__ = doc
        self.attr = ''

    def __set_name__(self, owner: Any, name: str) -> None:
        self.attr = f'_{name}'

    @overload
    def __get__(self, obj: None, owner: Any) -> 'Option[T]':
        ...

    @overload
    def __get__(self, obj: Any, owner: Any) -> T:
        ...

    def __get__(self, obj: Any, owner: Any) -> Any:
        if obj is None:
            return self
        return getattr(obj, self.attr)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(obj, self.attr, self.check(obj, value))


class SolverLayer(torch.nn.Module):
    r"""Base class of every solver layer: owns the
    :class:`~pyg_identity.nn.functional.GradientSettings` of the one
    gradient mechanism (projection, noise margin, backward, ...) in
    :obj:`layer.settings`, and passes them with :obj:`training` to its
    functional, which calls
    :func:`~pyg_identity.nn.functional.identity_solver`.

    Args:
        settings (GradientSettings, optional): The gradient settings; if not
            given, those of :class:`GradientSettings` with the layer's
            default projection :obj:`default_projection`.
            (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`projection="std", noise=0.1`;
            :obj:`diagnostics=True` creates a :class:`SolverDiagnostics`).

    Each field is also an attribute that can be assigned at run time and is
    validated (*e.g.* :obj:`layer.noise = 0.0` switches the margin off;
    :obj:`layer.noise = -1` raises); :obj:`backward` is read and written as
    :obj:`layer.backward_mode`. The noise margin is applied in training mode
    only.
    """
    default_projection: Optional[str] = 'norm'

    def __init__(self, settings: Optional[GradientSettings] = None,
                 **kwargs: Any) -> None:
        super().__init__()
        self.settings = GradientSettings.resolve(
            settings, kwargs, projection=type(self).default_projection)

    @property
    def settings(self) -> GradientSettings:
        r"""The gradient settings (assignable)."""
        return self._settings

    @settings.setter
    def settings(self, value: GradientSettings) -> None:
        if not isinstance(value, GradientSettings):
            raise ValueError(f"'settings' must be a GradientSettings (got "
                             f"{type(value).__name__})")
        self._settings = value

    def _set(self, **change: Any) -> None:
        self._settings = self._settings.replace(**change)

    projection = _Setting[Optional[str]]('projection', r"""The projection:
        :obj:`None`, :obj:`"mean"`, :obj:`"norm"` or :obj:`"std"`.""")
    noise = _Setting[float]('noise', r"""The noise margin :math:`\alpha \geq
        0` (training mode only).""")
    noise_position = _Setting[str]('noise_position', r""":obj:`"before"` or
        :obj:`"after"` the projection.""")
    backward_mode = _Setting[str]('backward', r"""The estimator:
        :obj:`"identity"`, :obj:`"blackbox"`, :obj:`"perturbed"` or
        :obj:`"imle"`.""")
    lambda_ = _Setting[float]('lambda_', r"""The Blackbox and I-MLE
        :math:`\lambda > 0`.""")
    sigma = _Setting[float]('sigma', r"""The perturbation scale
        :math:`\sigma > 0` (perturbed, I-MLE).""")
    num_samples = _Setting[int]('num_samples', r"""The perturbed solutions
        per step (perturbed, I-MLE).""")
    imle_noise = _Setting[str]('imle_noise', r"""The I-MLE noise:
        :obj:`"gumbel"` or :obj:`"sum_of_gamma"`.""")
    imle_k = _Setting[int]('imle_k', r"""The :math:`k` of the Sum-of-Gamma
        noise.""")
    generator = _Setting[Optional[torch.Generator]]('generator', r"""The
        generator of the noise margin and of the perturbations.""")
    diagnostics = _Setting[Optional[SolverDiagnostics]]('diagnostics', r"""The
        :class:`SolverDiagnostics` of the last call, or :obj:`None` (assign
        :obj:`True` to start recording).""")

    def extra_repr(self) -> str:
        out = (f'projection={self.projection!r}, '
               f'backward={self.backward_mode!r}')
        if self.backward_mode in ('blackbox', 'imle'):
            out += f', lambda_={self.lambda_}'
        if self.backward_mode in ('perturbed', 'imle'):
            out += f', sigma={self.sigma}, num_samples={self.num_samples}'
        if self.backward_mode == 'imle':
            out += f', imle_noise={self.imle_noise!r}'
        if self.noise > 0:
            out += f', noise={self.noise}'
            if self.noise_position != 'before':
                out += f', noise_position={self.noise_position!r}'
        return out

