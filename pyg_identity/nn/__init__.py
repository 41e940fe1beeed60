r"""The layers users put after a GNN, and the cost heads before them."""
from pyg_identity.nn._base import SolverLayer
from pyg_identity.nn.cost_projection import CostProjection
from pyg_identity.nn.edge_cost import EdgeCost
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.graph_matching import IdentityGraphMatching
from pyg_identity.nn.identity_solver import IdentitySolver
from pyg_identity.nn.matching import IdentityMatching
from pyg_identity.nn.node_cost import NodeCost
from pyg_identity.nn.pair_cost import PairCost
from pyg_identity.nn.perfect_matching import IdentityPerfectMatching
from pyg_identity.nn.ranking import IdentityRanking, RecallLoss
from pyg_identity.nn.shortest_path import IdentityShortestPath
from pyg_identity.nn.topk import IdentityTopK
from pyg_identity.nn.tsp import IdentityTSP

__all__ = [
    'GradientSettings',
    'SolverLayer',
    'IdentitySolver',
    'IdentityMatching',
    'IdentityGraphMatching',
    'IdentityShortestPath',
    'IdentityTSP',
    'IdentityPerfectMatching',
    'IdentityTopK',
    'IdentityRanking',
    'RecallLoss',
    'CostProjection',
    'EdgeCost',
    'NodeCost',
    'PairCost',
]
