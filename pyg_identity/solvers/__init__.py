r"""Pure combinatorial solvers: numpy in, solution out, no autograd."""
from pyg_identity.solvers._dispatch import (GraphBlocks, graph_blocks,
                                            map_graphs)

__all__ = ['map_graphs', 'graph_blocks', 'GraphBlocks']
