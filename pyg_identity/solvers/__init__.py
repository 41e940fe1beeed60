r"""Pure combinatorial solvers: numpy / scipy / networkx / LKH in, solution
out, no autograd. The layers of :mod:`pyg_identity.nn` wrap them."""
from pyg_identity.solvers._dispatch import (
    GraphBlocks,
    graph_blocks,
    map_graphs,
)
from pyg_identity.solvers.linear_assignment import (
    InfeasibleMatchingError,
    solve_assignment,
)
from pyg_identity.solvers.perfect_matching import solve_perfect_matching
from pyg_identity.solvers.pyepo import PyEPOSolver, pyepo_solver
from pyg_identity.solvers.quadratic_assignment import (
    affinity_matrix,
    solve_graph_matching,
)
from pyg_identity.solvers.ranking import solve_ranking
from pyg_identity.solvers.shortest_path import (
    solve_shortest_path,
    solve_vertex_shortest_path,
)
from pyg_identity.solvers.topk import solve_topk
from pyg_identity.solvers.tsp import held_karp, solve_tsp, tour_length

__all__ = [
    'map_graphs',
    'graph_blocks',
    'GraphBlocks',
    'solve_assignment',
    'InfeasibleMatchingError',
    'solve_graph_matching',
    'affinity_matrix',
    'solve_shortest_path',
    'solve_vertex_shortest_path',
    'solve_tsp',
    'held_karp',
    'tour_length',
    'solve_perfect_matching',
    'solve_topk',
    'solve_ranking',
    'pyepo_solver',
    'PyEPOSolver',
]
