r"""Graph construction helpers."""
from pyg_identity.utils.grid import grid_edge_index, grid_graph

__all__ = ['grid_edge_index', 'grid_graph']
