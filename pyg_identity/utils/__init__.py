r"""Graph construction helpers, training monitors and plots."""
from pyg_identity.utils.collapse import CollapseMonitor
from pyg_identity.utils.grid import grid_edge_index, grid_graph
from pyg_identity.utils.plot import plot_tours

__all__ = ['grid_edge_index', 'grid_graph', 'CollapseMonitor', 'plot_tours']
