import pytest
from _bench_helpers import load_benchmark


@pytest.fixture(scope='module')
def bench():
    return load_benchmark('bench_reliability')


def test_reliability_smoke(bench):
    # A few batches of every family and regime (2 per regime): every
    # solution feasible, exact families optimal, graph matching within its
    # documented guarantee, no errors, no hangs.
    results = bench.run(instances=12 * len(bench.REGIMES), timeout=60.0)
    assert set(results) == set(bench.FAMILIES)
    for name, r in results.items():
        assert r['instances'] == 12 * len(bench.REGIMES), name
        assert r['checked'] > 0, name
        assert r['checked'] + r['refused'] + r['errors'] + r['hangs'] == \
            r['instances'], name
        bad = {k: r[k] for k in ('infeasible', 'suboptimal', 'errors',
                                 'hangs') if r[k]}
        assert not bad, (name, bad, r['examples'])
        assert r['info']['ref_worse'] == 0, (name, r['examples'])


def test_reliability_flags_a_wrong_solution(bench):
    # The checks are not vacuous: an unmatched pair is infeasible, a worse
    # ranking is suboptimal.
    fam = bench.FAMILIES['assignment']
    inst = dict(ns=2, nt=2, C=bench.np.array([[0.0, 1.0], [1.0, 0.0]]),
                mask=bench.np.ones((2, 2), dtype=bool))
    opts = dict(unmatch_cost=None)
    ref = fam.reference(inst, opts)
    assert fam.check(inst, opts, bench.np.eye(2), ref)[0] == 'ok'
    assert fam.check(inst, opts, 1 - bench.np.eye(2), ref)[0] == 'suboptimal'
    assert fam.check(inst, opts, bench.np.diag([1.0, 0.0]),
                     ref)[0] == 'infeasible'
    rank = bench.FAMILIES['ranking']
    inst = dict(n=3, w=bench.np.array([0.5, 2.0, 1.0]), k=0)
    opts = dict(normalize=False, dtype='float64')
    assert rank.check(inst, opts, bench.np.array([3.0, 1.0, 2.0]),
                      ())[0] == 'ok'
    assert rank.check(inst, opts, bench.np.array([1.0, 2.0, 3.0]),
                      ())[0] == 'suboptimal'
