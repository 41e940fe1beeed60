import pytest
import torch

from pyg_identity.nn.functional import symmetric_noise


def test_symmetric_noise_support_dtype_and_generator():
    src = torch.zeros(1000, dtype=torch.float64)
    xi = symmetric_noise(src, 0.2, torch.Generator().manual_seed(1))
    assert xi.dtype == torch.float64
    assert set(xi.unique().tolist()) == {-0.1, 0.1}
    again = symmetric_noise(src, 0.2, torch.Generator().manual_seed(1))
    assert torch.equal(xi, again)


def test_symmetric_noise_zero_alpha():
    assert torch.equal(symmetric_noise(torch.ones(4), 0.0), torch.zeros(4))


def test_symmetric_noise_negative_alpha():
    with pytest.raises(ValueError, match="'alpha' must be non-negative"):
        symmetric_noise(torch.ones(4), -0.1)
