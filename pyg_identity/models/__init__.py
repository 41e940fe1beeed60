r"""Example architectures ending in Identity layers, the image backbone of
deep graph matching, and the pretrained checkpoints
(:func:`load_pretrained`)."""
from pyg_identity.models.backbone import VGG16Backbone, keypoint_features
from pyg_identity.models.dvae import DVAE
from pyg_identity.models.globe_tsp import GlobeTSPNet
from pyg_identity.models.keypoint_matcher import KeypointMatcher
from pyg_identity.models.pretrained import (
    available,
    load_pretrained,
    model_card,
)
from pyg_identity.models.retrieval import RetrievalNet
from pyg_identity.models.terrain_net import TerrainNet
from pyg_identity.models.tsp_gnn import TSPEdgeGNN

__all__ = [
    'TSPEdgeGNN',
    'GlobeTSPNet',
    'TerrainNet',
    'KeypointMatcher',
    'DVAE',
    'RetrievalNet',
    'VGG16Backbone',
    'keypoint_features',
    'load_pretrained',
    'available',
    'model_card',
]
