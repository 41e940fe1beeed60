import os

import pytest
import torch

# Small real data for tests lies in ../shared/data beside the checkout (never
# committed); PYG_IDENTITY_SHARED_DATA points elsewhere.
SHARED_DATA = os.environ.get('PYG_IDENTITY_SHARED_DATA') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data'))


# CI sets PYG_IDENTITY_REQUIRE_DATA=1 (in .ci/run): there a missing data
# folder fails the tests that need it instead of skipping them.
REQUIRE_DATA = os.environ.get('PYG_IDENTITY_REQUIRE_DATA', '') not in ('',
                                                                      '0')


@pytest.fixture
def shared_data() -> str:
    if not os.path.isdir(SHARED_DATA):
        msg = (f'the small real test data (MNIST test set, a Willow pair, '
               f'the Pascal VOC split file) is not at {SHARED_DATA}; put '
               f'the project\'s shared/data folder beside the checkout or '
               f'point PYG_IDENTITY_SHARED_DATA at a copy')
        if REQUIRE_DATA:
            pytest.fail(msg + ' (PYG_IDENTITY_REQUIRE_DATA is set)')
        pytest.skip(msg)
    return SHARED_DATA


# The tests run small tensors: one intra-op thread avoids thread hand-off
# costs that dominate (and explode on a busy 2-core machine).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(12345)
