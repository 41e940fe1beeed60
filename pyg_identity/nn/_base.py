from typing import Any, Optional

import torch

from pyg_identity.nn.functional.settings import (
    GradientSettings,
    SolverDiagnostics,
)


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

    @property
    def projection(self) -> Optional[str]:
        r"""The projection: :obj:`None`, :obj:`"mean"`, :obj:`"norm"` or
        :obj:`"std"`."""
        return self._settings.projection

    @projection.setter
    def projection(self, value: Optional[str]) -> None:
        self._set(projection=value)

    @property
    def noise(self) -> float:
        r"""The noise margin :math:`\alpha \geq 0` (training mode only)."""
        return self._settings.noise

    @noise.setter
    def noise(self, value: float) -> None:
        self._set(noise=value)

    @property
    def noise_position(self) -> str:
        r""":obj:`"before"` or :obj:`"after"` the projection."""
        return self._settings.noise_position

    @noise_position.setter
    def noise_position(self, value: str) -> None:
        self._set(noise_position=value)

    @property
    def backward_mode(self) -> str:
        r""":obj:`"identity"` or :obj:`"blackbox"`."""
        return self._settings.backward

    @backward_mode.setter
    def backward_mode(self, value: str) -> None:
        self._set(backward=value)

    @property
    def lambda_(self) -> float:
        r"""The Blackbox :math:`\lambda > 0`."""
        return self._settings.lambda_

    @lambda_.setter
    def lambda_(self, value: float) -> None:
        self._set(lambda_=value)

    @property
    def generator(self) -> Optional[torch.Generator]:
        r"""The generator of the noise margin."""
        return self._settings.generator

    @generator.setter
    def generator(self, value: Optional[torch.Generator]) -> None:
        self._set(generator=value)

    @property
    def diagnostics(self) -> Optional[SolverDiagnostics]:
        r"""The :class:`SolverDiagnostics` of the last call, or :obj:`None`
        (assign :obj:`True` to start recording)."""
        return self._settings.diagnostics

    @diagnostics.setter
    def diagnostics(self, value: Any) -> None:
        self._set(diagnostics=value)

    def extra_repr(self) -> str:
        out = (f'projection={self.projection!r}, '
               f'backward={self.backward_mode!r}')
        if self.backward_mode == 'blackbox':
            out += f', lambda_={self.lambda_}'
        if self.noise > 0:
            out += f', noise={self.noise}'
            if self.noise_position != 'before':
                out += f', noise_position={self.noise_position!r}'
        return out
