r"""Differentiable functionals behind the layers of :mod:`pyg_identity.nn`."""
from pyg_identity.nn.functional.identity_solver import (
    SolverDiagnostics,
    identity_solver,
)
from pyg_identity.nn.functional.noise import symmetric_noise

__all__ = [
    'identity_solver',
    'symmetric_noise',
    'SolverDiagnostics',
]
