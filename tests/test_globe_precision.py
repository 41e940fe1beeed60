import pytest
from _bench_helpers import load_benchmark


@pytest.fixture(scope='module')
def bench():
    return load_benchmark('globe_precision')


def test_entry_accuracy_counts_both_directions(bench):
    e = bench._edges
    # A 2-opt move on a 5-tour: 2 edges out, 2 in, 8 of 25 entries wrong.
    assert bench.entry_accuracy(e([0, 1, 2, 3, 4]), e([0, 2, 1, 3, 4]),
                                5) == pytest.approx(1 - 8 / 25)
    assert bench.entry_accuracy(e([0, 1, 2, 3]), e([3, 2, 1, 0]), 4) == 1.0


def test_small_run_reports_both_metrics_and_a_random_floor(bench):
    out = bench.main(['--ks', '5', '--num-subsets', '30', '--draws', '1',
                      '--km', '0.001', '2000'])
    exact, far = out['accuracy']['5']
    # (Almost) no error: every tour right; both metrics agree.
    assert exact['acc'] == 100.0 and exact['entry_acc'] == 100.0
    # A wrong tour still has most of its entries right.
    assert far['entry_acc'] > far['acc']
    rand = out['random_tour']['5']
    # 12 distinct 5-tours: a random one is right about 1 time in 12, and
    # shares 2.5 of its 5 edges on average (60% of the entries).
    assert 0.0 <= rand['acc'] < 30.0
    assert 50.0 < rand['entry_acc'] < 70.0
