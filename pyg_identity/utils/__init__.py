r"""Graph construction helpers and training monitors."""
from pyg_identity.utils.collapse import CollapseMonitor
from pyg_identity.utils.grid import grid_edge_index, grid_graph

__all__ = ['grid_edge_index', 'grid_graph', 'CollapseMonitor']
