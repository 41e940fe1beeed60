import argparse
import ast
import os

import pytest

from pyg_identity.experiments import _common
from pyg_identity.experiments._common import METRIC_LABELS, RunLogger

EXPERIMENTS = os.path.join(os.path.dirname(_common.__file__))


def _plotted_keys():
    # The `plots=[...]` lists the experiments pass to RunLogger.finish.
    keys = set()
    for name in os.listdir(EXPERIMENTS):
        if not name.endswith('.py') or name.startswith('_'):
            continue
        with open(os.path.join(EXPERIMENTS, name)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == 'plots':
                keys.update(ast.literal_eval(node.value))
    return keys


def test_every_plotted_metric_has_a_title_and_a_unit():
    keys = _plotted_keys()
    assert {'loss', 'test_acc_pct', 'cost_norm'} <= keys
    missing = sorted(k for k in keys if k not in METRIC_LABELS)
    assert not missing, f'no title/unit for {missing}'
    for title, unit in METRIC_LABELS.values():
        assert title and unit


def test_curves_of_one_epoch(tmp_path):
    pytest.importorskip('matplotlib')
    args = argparse.Namespace(out=str(tmp_path), backward='identity',
                              projection='std', quiet=True, epochs=1)
    logger = RunLogger('demo', args)
    logger.log(1, loss=2.0, test_acc_pct=50.0, cost_norm=3.0)
    path = logger.plot(['loss', 'test_acc_pct', 'cost_norm', 'absent'])
    assert path is not None and os.path.getsize(path) > 0
