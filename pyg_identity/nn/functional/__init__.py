r"""Differentiable functionals behind the layers of :mod:`pyg_identity.nn`.

Every functional runs its solver through :func:`identity_solver`, the one
gradient mechanism (Identity, Blackbox, perturbed or I-MLE backward)."""
from pyg_identity.nn.functional.graph_matching import graph_matching
from pyg_identity.nn.functional.identity_solver import identity_solver
from pyg_identity.nn.functional.losses import fy_loss, hamming_loss
from pyg_identity.nn.functional.matching import matching
from pyg_identity.nn.functional.matching_metrics import (
    matching_accuracy,
    matching_f1,
    matching_hamming_loss,
)
from pyg_identity.nn.functional.noise import symmetric_noise
from pyg_identity.nn.functional.pairs import (
    all_edge_pairs,
    all_node_pairs,
    all_pairs,
    knn_candidates,
    matched_pairs,
    pair_cost,
    to_dense_matching,
)
from pyg_identity.nn.functional.perfect_matching import perfect_matching
from pyg_identity.nn.functional.ranking import (
    identity_recall_loss,
    ranking,
    recall_at_k,
    recall_loss,
)
from pyg_identity.nn.functional.settings import (
    GradientSettings,
    SolverDiagnostics,
)
from pyg_identity.nn.functional.shortest_path import (
    shortest_path,
    vertex_shortest_path,
)
from pyg_identity.nn.functional.topk import topk
from pyg_identity.nn.functional.tsp import tsp

__all__ = [
    'identity_solver',
    'GradientSettings',
    'symmetric_noise',
    'SolverDiagnostics',
    'matching',
    'graph_matching',
    'shortest_path',
    'vertex_shortest_path',
    'tsp',
    'perfect_matching',
    'topk',
    'ranking',
    'pair_cost',
    'all_pairs',
    'knn_candidates',
    'all_node_pairs',
    'all_edge_pairs',
    'matched_pairs',
    'to_dense_matching',
    'hamming_loss',
    'fy_loss',
    'matching_hamming_loss',
    'matching_accuracy',
    'matching_f1',
    'recall_loss',
    'identity_recall_loss',
    'recall_at_k',
]
