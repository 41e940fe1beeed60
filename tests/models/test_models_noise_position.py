import pytest

from pyg_identity.models.dvae import DVAE
from pyg_identity.models.globe_tsp import GlobeTSPNet
from pyg_identity.models.keypoint_matcher import KeypointMatcher
from pyg_identity.models.retrieval import RetrievalNet
from pyg_identity.models.terrain_net import TerrainNet
from pyg_identity.models.tsp_gnn import TSPEdgeGNN

# Every model class that owns a solver layer passes the margin's position on
# (and defaults to the raw costs, before the projection).
CASES = [
    (lambda **kw: GlobeTSPNet(image_size=16, **kw), 'tsp'),
    (lambda **kw: TSPEdgeGNN(**kw), 'tsp'),
    (lambda **kw: TerrainNet(**kw), 'solver'),
    (lambda **kw: DVAE(**kw), 'topk'),
    (lambda **kw: KeypointMatcher(8, **kw), 'matcher'),
    (lambda **kw: KeypointMatcher(8, quadratic=True, **kw), 'matcher'),
    (lambda **kw: RetrievalNet(**kw), 'criterion'),
]


@pytest.mark.parametrize('make,attr', CASES)
def test_model_passes_noise_position_on(make, attr):
    assert getattr(make(), attr).noise_position == 'before'
    layer = getattr(make(noise=0.1, noise_position='after'), attr)
    assert layer.noise_position == 'after' and layer.noise == 0.1
    with pytest.raises(ValueError, match="'noise_position'"):
        make(noise_position='middle')
