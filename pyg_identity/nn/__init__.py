r"""The layers users put after a GNN."""
from pyg_identity.nn._base import SolverLayer
from pyg_identity.nn.cost_projection import CostProjection
from pyg_identity.nn.identity_solver import IdentitySolver

__all__ = [
    'SolverLayer',
    'IdentitySolver',
    'CostProjection',
]
