r"""pyg_identity: exact combinatorial solvers as trainable PyTorch Geometric
layers, via the Identity gradient with projections (Sahoo et al., ICLR 2023,
https://arxiv.org/abs/2205.15213)."""
import pyg_identity.nn  # noqa: F401
import pyg_identity.solvers  # noqa: F401
import pyg_identity.utils  # noqa: F401
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.projection import edge_batch, group_norm, project

__version__ = '0.1.0'

__all__ = [
    'GradientSettings',
    'project',
    'edge_batch',
    'group_norm',
    '__version__',
]
