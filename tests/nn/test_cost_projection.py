import pytest
import torch

from pyg_identity import project
from pyg_identity.nn import CostProjection


@pytest.mark.parametrize('mode', [None, 'mean', 'norm', 'std'])
def test_cost_projection_module(mode):
    src = torch.randn(7)
    index = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    module = CostProjection(mode)
    assert torch.equal(module(src, index), project(src, index, mode=mode))
    assert repr(module) == f'CostProjection(mode={mode!r})'


def test_cost_projection_bad_mode():
    with pytest.raises(ValueError, match="Invalid 'mode'"):
        CostProjection('l2')
