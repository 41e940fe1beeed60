import math
import warnings

import pytest

from pyg_identity.utils import CollapseMonitor


def test_collapse_monitor_warns_once_below_fraction():
    monitor = CollapseMonitor(fraction=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert not monitor.update(1, 8.0)
        assert not monitor.update(2, 2.5)  # 31% of the start
        assert not monitor.update(3, math.nan)  # ignored
    with pytest.warns(RuntimeWarning, match='collapsing'):
        assert monitor.update(4, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert monitor.update(5, 0.5)  # still low, no second warning
    assert monitor.warned and monitor.start == 8.0


@pytest.mark.parametrize('fraction', [0.0, 1.0, -0.1, 2.0])
def test_collapse_monitor_bad_fraction(fraction):
    with pytest.raises(ValueError, match="'fraction'"):
        CollapseMonitor(fraction)


def test_collapse_monitor_reference_catches_costs_that_never_grow():
    # The alpha = 0 Globe TSP runs: raw costs start small and stay small.
    monitor = CollapseMonitor(fraction=0.25, reference=12.9)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert not monitor.update(1, 4.9)
    with pytest.warns(RuntimeWarning, match="of the true costs' norm"):
        assert monitor.update(5, 3.1)
    assert monitor.warned


def test_collapse_monitor_bad_reference():
    with pytest.raises(ValueError, match="'reference'"):
        CollapseMonitor(reference=0.0)
