r"""pyg_identity: exact combinatorial solvers as trainable PyTorch Geometric
layers, via the Identity gradient with projections (Sahoo et al., ICLR 2023,
https://arxiv.org/abs/2205.15213)."""
from pyg_identity.projection import edge_batch, group_norm, project

import pyg_identity.nn  # noqa: E402
import pyg_identity.solvers  # noqa: E402
import pyg_identity.utils  # noqa: E402

__version__ = '0.1.0'

__all__ = [
    'project',
    'edge_batch',
    'group_norm',
    '__version__',
]
