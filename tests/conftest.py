import os

import pytest
import torch

# Small real data for tests lies in ../shared/data beside the checkout (never
# committed); PYG_IDENTITY_SHARED_DATA points elsewhere.
SHARED_DATA = os.environ.get('PYG_IDENTITY_SHARED_DATA') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data'))


@pytest.fixture
def shared_data() -> str:
    if not os.path.isdir(SHARED_DATA):
        pytest.fail(f'shared data folder not found at {SHARED_DATA}')
    return SHARED_DATA


# The tests run small tensors: one intra-op thread avoids thread hand-off
# costs that dominate (and explode on a busy 2-core machine).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(12345)
