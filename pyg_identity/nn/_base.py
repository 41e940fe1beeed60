from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import Tensor

from pyg_identity.nn.functional.identity_solver import (
    BACKWARDS,
    NOISE_POSITIONS,
    SolverDiagnostics,
    check_lambda,
    check_noise,
    identity_solver,
)
from pyg_identity.projection import validate_mode


class SolverLayer(torch.nn.Module):
    r"""Base class of every solver layer: holds the hyperparameters of the
    one gradient mechanism (projection, noise margin, backward mode) and
    calls :func:`pyg_identity.nn.functional.identity_solver`.

    Subclasses define :obj:`sense` and call :meth:`solve`.
    The noise margin is applied only in training mode and can be switched at
    run time by assigning :obj:`layer.noise`.
    """
    sense: str = 'min'

    def __init__(
        self,
        projection: Optional[str] = None,
        noise: float = 0.0,
        backward: str = 'identity',
        lambda_: float = 20.0,
        noise_position: str = 'before',
        diagnostics: bool = False,
    ) -> None:
        super().__init__()
        # Each setter validates, at construction and at run time alike
        # (e.g. `layer.noise = -1` raises).
        self.projection = projection
        self.noise = noise
        self.backward_mode = backward
        self.lambda_ = lambda_
        self.noise_position = noise_position
        self.diagnostics: Optional[SolverDiagnostics] = (
            SolverDiagnostics() if diagnostics else None)

    @property
    def projection(self) -> Optional[str]:
        r"""The projection: :obj:`None`, :obj:`"mean"`, :obj:`"norm"` or
        :obj:`"std"` (assignable, validated)."""
        return self._projection

    @projection.setter
    def projection(self, value: Optional[str]) -> None:
        self._projection = validate_mode(value, 'projection')

    @property
    def noise(self) -> float:
        r"""The noise margin :math:`\alpha \geq 0` (assignable, validated;
        applied in training mode only)."""
        return self._noise

    @noise.setter
    def noise(self, value: float) -> None:
        self._noise = check_noise(value)

    @property
    def backward_mode(self) -> str:
        r"""The backward: :obj:`"identity"` or :obj:`"blackbox"`
        (assignable, validated)."""
        return self._backward_mode

    @backward_mode.setter
    def backward_mode(self, value: str) -> None:
        if value not in BACKWARDS:
            raise ValueError(f"'backward' must be 'identity' or 'blackbox' "
                             f"(got {value!r})")
        self._backward_mode = value

    @property
    def lambda_(self) -> float:
        r"""The Blackbox :math:`\lambda > 0` (assignable, validated)."""
        return self._lambda

    @lambda_.setter
    def lambda_(self, value: float) -> None:
        self._lambda = check_lambda(value)

    @property
    def noise_position(self) -> str:
        r"""Where the margin goes: :obj:`"before"` or :obj:`"after"` the
        projection (assignable, validated)."""
        return self._noise_position

    @noise_position.setter
    def noise_position(self, value: str) -> None:
        if value not in NOISE_POSITIONS:
            raise ValueError(f"'noise_position' must be 'after' or 'before' "
                             f"(got {value!r})")
        self._noise_position = value

    def solve(
        self,
        costs: Union[Tensor, Sequence[Tensor]],
        solver: Callable[..., Any],
        index: Any = None,
        num_graphs: Optional[int] = None,
        sense: Optional[str] = None,
    ) -> Any:
        r"""Runs :obj:`solver` through the gradient mechanism with this
        layer's hyperparameters."""
        return identity_solver(
            costs, solver, sense=sense or self.sense,
            projection=self.projection, index=index, num_graphs=num_graphs,
            noise=self.noise, training=self.training,
            backward=self.backward_mode, lambda_=self.lambda_,
            noise_position=self.noise_position, diagnostics=self.diagnostics)

    def extra_repr(self) -> str:
        out = (f'projection={self.projection!r}, '
               f'backward={self.backward_mode!r}')
        if self.backward_mode == 'blackbox':
            out += f', lambda_={self.lambda_}'
        if self.noise > 0:
            out += f', noise={self.noise}'
        return out
