r"""Datasets of the paper's experiments, as PyG datasets.

Data is cached under :func:`default_root` (the git-ignored top-level
``datasets/`` folder of a source checkout, ``$PYG_IDENTITY_DATASETS`` if set,
else ``~/.cache/pyg_identity/datasets``) unless ``root=`` is given. The
image backbone of :class:`PascalVOCKeypoints` lives in
:mod:`pyg_identity.models` (:class:`~pyg_identity.models.VGG16Backbone`,
:func:`~pyg_identity.models.keypoint_features`).
"""
from pyg_identity.datasets._utils import default_root
from pyg_identity.datasets.globe_tsp import GlobeTSP
from pyg_identity.datasets.mnist import MNIST
from pyg_identity.datasets.pair_data import PairData
from pyg_identity.datasets.pascal_voc import PascalVOCKeypoints
from pyg_identity.datasets.random_tsp import RandomTSP
from pyg_identity.datasets.synthetic_keypoints import SyntheticKeypoints
from pyg_identity.datasets.terrain_shortest_path import TerrainShortestPath

__all__ = [
    'default_root',
    'PairData',
    'SyntheticKeypoints',
    'PascalVOCKeypoints',
    'MNIST',
    'RandomTSP',
    'GlobeTSP',
    'TerrainShortestPath',
]
