import inspect
import json
import math
import os
import statistics
import sys
import types

import pytest

from pyg_identity import compare as cmp
from pyg_identity.cli import TASKS
from pyg_identity.cli import main as cli_main
from pyg_identity.nn.functional import settings as settings_module

pytest.importorskip('matplotlib')


# A stand-in experiment (fast): its main(argv) parses the harness's flags
# and writes a metrics.json whose numbers depend on the backward and seed.
def fake_experiment(calls=None, solver_calls=None):
    import argparse

    def parser():
        p = argparse.ArgumentParser()
        p.add_argument('--backward')
        p.add_argument('--seed', type=int)
        p.add_argument('--out')
        p.add_argument('--projection')
        p.add_argument('--epochs', type=int, default=3)
        return p

    def main(argv):
        args = parser().parse_args(argv)
        if calls is not None:
            calls.append(list(argv))
        offset = 10.0 * (args.backward != 'identity')
        history = [dict(epoch=e, test_n_elbo=offset + args.seed + e)
                   for e in range(args.epochs + 1)]
        if solver_calls and args.backward in solver_calls:
            for row in history[1:]:
                row['solver_calls'] = solver_calls[args.backward]
        os.makedirs(args.out, exist_ok=True)
        metrics = dict(final=dict(test_n_elbo=offset + 2.0 * args.seed),
                       wall_time_s=1.0 + args.seed, history=history,
                       args=vars(args))
        with open(os.path.join(args.out, 'metrics.json'), 'w') as f:
            json.dump(metrics, f)
        return metrics

    return types.SimpleNamespace(parser=parser, main=main)


@pytest.fixture
def fake_dvae(monkeypatch):
    calls = []
    module = fake_experiment(calls, solver_calls={'blackbox': 2})
    monkeypatch.setitem(sys.modules, 'pyg_identity.experiments.dvae', module)
    return calls


def test_every_cli_task_has_a_main_metric_the_experiment_writes():
    assert set(cmp.MAIN_METRICS) == set(TASKS)
    import importlib
    for task, metric in cmp.MAIN_METRICS.items():
        source = inspect.getsource(
            importlib.import_module(f'pyg_identity.experiments.{task}'))
        assert f'{metric.final}=' in source, (task, metric.final)
        assert f'{metric.history}=' in source, (task, metric.history)


def test_table_plot_and_json_from_the_runs(tmp_path, fake_dvae, capsys):
    out = str(tmp_path / 'cmp')
    assert cli_main(['compare', 'dvae', '--backward', 'identity', 'blackbox',
                     '--seeds', '3', '--out', out, '--', '--epochs',
                     '2']) == 0
    # Every run: the shared flags, then its backward, seed and folder.
    assert fake_dvae == [
        ['--epochs', '2', '--backward', b, '--seed', str(s), '--out',
         os.path.join(out, b, f'seed{s}')]
        for b in ('identity', 'blackbox') for s in range(3)]
    text = open(os.path.join(out, 'compare.md')).read()
    assert '`pyg-identity compare dvae --backward identity blackbox ' \
        '--seeds 3 -- --epochs 2`' in text
    table = cmp.parse_markdown(text)
    assert list(table) == ['identity', 'blackbox']
    header = 'test N-ELBO (nats per image; lower is better)'
    sd = statistics.stdev([0.0, 2.0, 4.0])
    assert table['identity'][header] == f'2 ± {sd:.2g}'
    assert table['blackbox'][header] == f'12 ± {sd:.2g}'
    assert table['identity']['wall time per run (s)'] == f'2 ± {1.0:.2g}'
    assert table['identity']['solver calls / step'] == 'n/a'
    assert table['blackbox']['solver calls / step'] == '2'
    assert '| blackbox | 10 | 12 | 14 |' in text  # per seed
    summary = json.load(open(os.path.join(out, 'compare.json')))
    row = summary['estimators']['blackbox']
    assert row['epochs'] == [0, 1, 2]
    assert row['curve_mean'] == [11.0, 12.0, 13.0]
    assert summary['metric']['lower_is_better'] is True
    with open(os.path.join(out, 'compare.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert 'Report: ' in capsys.readouterr().out


def test_plot_labels(tmp_path, fake_dvae):
    summary = cmp.compare('dvae', ['blackbox', 'identity'], 2,
                          out=str(tmp_path))
    fig = cmp.figure(summary)
    try:
        ax = fig.axes[0]
        assert 'dvae' in ax.get_title() and 'per epoch' in ax.get_title()
        assert 'mean ± sd over 2 seeds' in ax.get_title()
        assert ax.get_xlabel() == 'epoch'
        assert ax.get_ylabel() == 'test N-ELBO (nats per image)'
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            'blackbox', 'identity']
        assert list(ax.lines[1].get_ydata()) == [0.5, 1.5, 2.5, 3.5]
    finally:
        import matplotlib.pyplot as plt
        plt.close(fig)


def test_one_seed_has_no_sd(tmp_path, fake_dvae):
    summary = cmp.compare('dvae', ['identity'], 1, out=str(tmp_path))
    table = cmp.parse_markdown(open(summary['markdown']).read())
    assert table['identity'][
        'test N-ELBO (nats per image; lower is better)'] == '0'
    saved = json.load(open(summary['json']))
    assert saved['estimators']['identity']['sd'] is None  # strict JSON


def test_backward_names_come_from_the_settings(tmp_path, fake_dvae,
                                               monkeypatch):
    # A new estimator of the mechanism is accepted without editing compare.
    monkeypatch.setattr(settings_module, 'BACKWARDS',
                        settings_module.BACKWARDS + ('perturbed', ))
    summary = cmp.compare('dvae', ['identity', 'perturbed'], 1,
                          out=str(tmp_path))
    assert list(summary['estimators']) == ['identity', 'perturbed']


@pytest.mark.parametrize('argv, message', [
    (['compare', 'nope', '--backward', 'identity'],
     "argument TASK: invalid choice: 'nope'"),
    (['compare', 'dvae', '--backward', 'identity', 'telepathy'],
     "unknown estimator 'telepathy' (choose from identity, blackbox"),
    (['compare', 'dvae', '--backward', 'identity', 'identity'],
     'listed twice'),
    (['compare', 'dvae'], 'the following arguments are required: '
     '--backward'),
    (['compare', 'dvae', '--backward', 'identity', '--seeds', '0'],
     "expected a positive integer, got '0'"),
    (['compare', 'dvae', '--backward', 'identity', '--tiny'],
     'unrecognized arguments: --tiny (experiment flags go after --'),
    (['compare', 'dvae', '--backward', 'identity', '--', '--seed', '3'],
     '--seed cannot follow --'),
    (['compare', 'dvae', '--backward', 'identity', '--', '--out=x'],
     '--out cannot follow --'),
    (['compare', 'dvae', '--backward', 'identity', '--', '--ablation'],
     '--ablation cannot follow --'),
])
def test_usage_errors_are_one_line_status_2(argv, message, capsys,
                                            tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        cli_main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and message in err, err
    assert err.startswith('pyg-identity compare: error: ')
    assert os.listdir(tmp_path) == []  # nothing was started


def test_a_bad_experiment_flag_fails_before_any_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(['compare', 'terrain_shortest_path', '--backward',
                  'identity', '--out', str(tmp_path / 'c'), '--',
                  '--bogus'])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'unrecognized arguments: --bogus' in err
    assert not os.path.exists(tmp_path / 'c')


def test_compare_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="'task'"):
        cmp.compare('nope', ['identity'])
    with pytest.raises(ValueError, match="'backward'.*'telepathy'"):
        cmp.compare('dvae', ['telepathy'])
    with pytest.raises(ValueError, match="'seeds'"):
        cmp.compare('dvae', ['identity'], 0)
    with pytest.raises(ValueError, match="'extra'.*--backward"):
        cmp.compare('dvae', ['identity'], extra=['--backward', 'x'])


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(['compare', '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: pyg-identity compare TASK --backward')
    assert all(task in out for task in TASKS)
    assert 'lower is better' in out and 'higher is better' in out
    assert max(len(line) for line in out.splitlines()) <= 80
    with pytest.raises(SystemExit):
        cli_main(['--help'])
    assert 'compare' in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:'cost' \\(the node costs\\) has negative")
def test_tiny_terrain_runs(tmp_path):
    # The real experiment at --tiny (one epoch on 4 x 4 maps): identity and
    # Blackbox on the same two seeds.
    out = str(tmp_path / 'cmp')
    extra = ['--tiny', '--quiet', '--epochs', '1', '--grid-size', '4',
             '--num-plots', '0', '--root', str(tmp_path / 'data')]
    summary = cmp.compare('terrain_shortest_path', ['identity', 'blackbox'],
                          2, extra, out)
    runs = {b: [json.load(open(os.path.join(out, b, f'seed{s}',
                                            'metrics.json')))
                for s in range(2)] for b in ('identity', 'blackbox')}
    # The same flags apart from --backward, --seed and --out.
    flags = [{k: v for k, v in m['args'].items()
              if k not in ('backward', 'seed', 'out')}
             for ms in runs.values() for m in ms]
    assert all(f == flags[0] for f in flags)
    assert [m['args']['seed'] for m in runs['blackbox']] == [0, 1]
    table = cmp.parse_markdown(open(summary['markdown']).read())
    header = 'test cost ratio (% of optimal; lower is better)'
    for b, ms in runs.items():
        values = [m['final']['test_cost_ratio_pct'] for m in ms]
        mean, sd = statistics.mean(values), statistics.stdev(values)
        assert table[b][header] == cmp._fmt(mean, sd)
        assert math.isclose(summary['estimators'][b]['mean'], mean)
        logged = cmp.solver_calls(ms[0])
        assert (table[b]['solver calls / step'] == 'n/a') == (logged is None)
    assert os.path.getsize(summary['plot']) > 0
