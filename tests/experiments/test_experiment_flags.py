import argparse
import importlib
import inspect
import re
import warnings

import pytest
import torch

from pyg_identity.experiments._common import (
    DataNotFoundError,
    RunLogger,
    adam,
    lr_scheduler,
    missing_data,
    plain_text,
    run_time_estimate,
)

TASKS = ['globe_tsp', 'random_tsp', 'terrain_shortest_path', 'graph_matching',
         'dvae', 'retrieval']


def _parser(task):
    return importlib.import_module(f'pyg_identity.experiments.{task}').parser()


@pytest.mark.parametrize('task', TASKS)
def test_every_experiment_takes_the_margin_position(task):
    parser = importlib.import_module(f'pyg_identity.experiments.{task}').parser
    assert parser().parse_args([]).noise_position == 'before'
    args = parser().parse_args(['--noise-position', 'after',
                                '--lr-milestones', '3', '5'])
    assert args.noise_position == 'after' and args.lr_milestones == [3, 5]
    with pytest.raises(SystemExit):
        parser().parse_args(['--noise-position', 'middle'])


def test_paper_training_settings_are_the_defaults():
    from pyg_identity.experiments import globe_tsp, terrain_shortest_path
    g = globe_tsp.parser().parse_args([])
    assert (g.lr, g.batch_size, g.epochs, g.noise, g.projection) == (
        1e-4, 50, 100, 0.1, 'std')
    assert g.noise_epochs is None  # = the first half, set in main()
    t = terrain_shortest_path.parser().parse_args([])
    assert (t.lr, t.epochs, t.batch_size, t.lr_milestones, t.lr_gamma) == (
        5e-3, 50, 70, [30], 0.1)


@pytest.mark.parametrize('task', TASKS)
def test_every_experiment_takes_adams_settings(task):
    module = importlib.import_module(f'pyg_identity.experiments.{task}')
    args = module.parser().parse_args(
        ['--adam-betas', '0.5', '0.999', '--adam-eps', '1e-3', '--lr', '2e-4'])
    opt = adam([torch.zeros(1, requires_grad=True)], args, weight_decay=0.1)
    group = opt.param_groups[0]
    assert (group['lr'], group['betas'], group['eps'], group['weight_decay']) \
        == (2e-4, (0.5, 0.999), 1e-3, 0.1)
    # Every Adam of the experiment is built by the one helper.
    assert module.adam is adam
    assert 'torch.optim.Adam(' not in inspect.getsource(module)
    for bad in (['--adam-betas', '1.0', '0.9'], ['--adam-betas', '0.5'],
                ['--adam-eps', '0'], ['--adam-eps', '-1e-3']):
        with pytest.raises(SystemExit):
            module.parser().parse_args(bad)


def test_lr_scheduler_steps_at_the_milestones():
    import argparse
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    assert lr_scheduler(opt, argparse.Namespace(lr_milestones=None)) is None
    sched = lr_scheduler(opt, argparse.Namespace(lr_milestones=[2, 1],
                                                 lr_gamma=0.5))
    lrs = []
    for _ in range(3):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]['lr'])
    assert lrs == [0.5, 0.25, 0.25]


# The command line (issue 12) #################################################

VALUE_FREE = (0, )  # nargs of store_true / store_false


def _visible(p):
    return [a for a in p._actions if a.option_strings
            and a.help is not argparse.SUPPRESS and '-h' not in
            a.option_strings]


@pytest.mark.parametrize('task', TASKS)
def test_every_option_has_help_and_one_default(task):
    p = _parser(task)
    for action in _visible(p):
        assert action.help, action.option_strings
        text = p._get_formatter()._format_action(action)
        expected = 0 if action.nargs == 0 else 1
        assert text.count('(default') == expected, text
        assert '(default: None)' not in text


@pytest.mark.parametrize('task', TASKS)
def test_description_is_whole_sentences_without_markup(task):
    p = _parser(task)
    assert p.prog == f'pyg-identity train {task}'
    assert p.description.rstrip().endswith(('.', ')')), p.description
    for markup in (':math:', ':obj:', ':class:', '``', '\\'):
        assert markup not in p.format_help()


def test_plain_text_drops_rest_markup():
    assert plain_text(r'a :math:`k \times k` map of :class:`~a.b.Cls`, '
                      r':obj:`--root`, ``x`` and :math:`\lambda = 20`') == (
        'a k × k map of Cls, --root, x and λ = 20')
    assert plain_text(r':math:`\langle c^*, \hat{y} \rangle`') == '⟨c*, ŷ⟩'
    assert plain_text('`"Title" <https://x.org>`_ paper') == (
        '"Title" (https://x.org) paper')


# One spelling per option; the old ones stay as hidden aliases for a release.
ALIASES = [
    ('globe_tsp', '--workers', '--num-workers', 'num_workers', '3', 3),
    ('random_tsp', '--workers', '--num-workers', 'num_workers', '3', 3),
    ('random_tsp', '--hidden', '--hidden-channels', 'hidden_channels', '8',
     8),
    ('random_tsp', '--layers', '--num-layers', 'num_layers', '3', 3),
    ('graph_matching', '--hidden', '--hidden-channels', 'hidden_channels',
     '8', 8),
    ('retrieval', '--hidden', '--hidden-channels', 'hidden_channels', '8', 8),
    ('retrieval', '--test-size', '--num-test', 'num_test', '100', 100),
    ('terrain_shortest_path', '--num-plot', '--num-plots', 'num_plots', '1',
     1),
]


@pytest.mark.parametrize('task,old,new,dest,value,parsed', ALIASES)
def test_old_spellings_are_hidden_deprecated_aliases(task, old, new, dest,
                                                     value, parsed, capsys):
    p = _parser(task)
    assert getattr(p.parse_args([old, value]), dest) == parsed
    err = capsys.readouterr().err
    assert f'{old} is deprecated' in err and f'use {new}' in err
    assert getattr(p.parse_args([new, value]), dest) == parsed
    assert capsys.readouterr().err == ''
    canonical = next(a for a in p._actions if new in a.option_strings)
    assert getattr(p.parse_args([]), dest) == canonical.default
    options = [o for a in _visible(p) for o in a.option_strings]
    assert new in options and old not in options
    assert not re.search(re.escape(old) + r'(?![\w-])', p.format_help())


def test_one_spelling_across_tasks():
    old = {'--workers', '--num-plot', '--hidden', '--layers', '--test-size',
           '--quick'}
    for task in TASKS:
        options = {o for a in _visible(_parser(task))
                   for o in a.option_strings}
        assert not options & old, task


@pytest.mark.parametrize('task', ['dvae', 'retrieval', 'graph_matching'])
def test_download_reaches_the_dataset(task, tmp_path, monkeypatch):
    seen = []

    class Missing:
        def __init__(self, *args, download=False, **kwargs):
            seen.append(download)
            raise ValueError("'root' lacks the files; pass download=True")

    module = importlib.import_module(f'pyg_identity.experiments.{task}')
    if task == 'graph_matching':
        import pyg_identity.datasets
        monkeypatch.setattr(pyg_identity.datasets, 'PascalVOCKeypoints',
                            Missing)
        extra = ['--dataset', 'pascal']
    else:
        monkeypatch.setattr(module, 'MNIST', Missing)
        extra = ['--data', 'full']
    with pytest.raises(DataNotFoundError, match='not found under'):
        module.main(['--tiny', '--download', '--root', str(tmp_path),
                     '--out', str(tmp_path / 'run')] + extra)
    assert seen and all(seen)


def test_missing_data_leaves_other_errors_alone():
    with pytest.raises(ValueError, match='something else'):
        with missing_data('MNIST', None, 'mnist'):
            raise ValueError('something else')
    with pytest.raises(DataNotFoundError, match='; pass --root PATH$'):
        with missing_data('X', None, 'x', downloadable=False):
            raise ValueError('lacks it; pass download=True')


def test_missing_data_matches_the_mnist_message(tmp_path):
    from pyg_identity.datasets import MNIST
    with pytest.raises(DataNotFoundError) as e:
        with missing_data('MNIST', str(tmp_path), 'mnist'):
            MNIST(tmp_path, split='test')
    assert str(e.value) == (f'MNIST not found under {tmp_path}; pass '
                            f'--download or --root PATH')


def test_run_time_estimate():
    assert run_time_estimate(23.0, 100) == (
        'epoch 1 took 23 s; 100 epochs ≈ 38 min (pass --epochs N for a '
        'shorter run)')
    assert run_time_estimate(90.0, 100).startswith(
        'epoch 1 took 90 s; 100 epochs ≈ 2.5 h')
    assert run_time_estimate(5.0, 100) is None  # 8 min: not long
    assert run_time_estimate(3600.0, 1) is None  # nothing left to estimate


@pytest.mark.parametrize('quiet', [False, True])
def test_run_logger_prints_the_estimate_to_stderr(quiet, tmp_path, capsys):
    args = argparse.Namespace(out=str(tmp_path), backward='identity',
                              epochs=100, quiet=quiet)
    logger = RunLogger('task', args)
    logger.log(0, test_acc_pct=1.0)
    logger.history[-1]['time_s'] = 0.0
    logger.start -= 23.0  # epoch 1 took 23 s
    logger.log(1, test_acc_pct=2.0)
    logger.log(2, test_acc_pct=3.0)
    out, err = capsys.readouterr()
    assert out.count('Epoch') == 3 and '≈' not in out
    assert err == ('task: epoch 1 took 23 s; 100 epochs ≈ 38 min (pass '
                   '--epochs N for a shorter run)\n')


def test_short_runs_print_no_estimate(tmp_path, capsys):
    args = argparse.Namespace(out=str(tmp_path), backward='identity',
                              epochs=3)
    logger = RunLogger('task', args)
    logger.log(1, loss=1.0)
    assert capsys.readouterr().err == ''


def test_run_logger_watches_the_logged_cost_norm(tmp_path):
    # Every experiment logs 'cost_norm'; the logger's collapse watch warns
    # once when it falls below a quarter of its first value (or of the true
    # costs' norm) and the final metrics say whether it did.
    args = argparse.Namespace(out=str(tmp_path), backward='identity',
                              epochs=3, quiet=True)
    logger = RunLogger('task', args)
    logger.log(1, cost_norm=4.0)
    with pytest.warns(RuntimeWarning, match='collapsing'):
        logger.log(2, cost_norm=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        logger.log(3, cost_norm=0.1)  # warned once only
    assert logger.finish()['final'] == {'cost_collapse_warned': True}

    calm = RunLogger('task', argparse.Namespace(
        out=str(tmp_path / 'calm'), backward='identity', epochs=1,
        quiet=True), cost_reference=5.0)
    calm.log(1, cost_norm=4.0)
    assert calm.finish(test_acc_pct=1.0)['final'] == {
        'test_acc_pct': 1.0, 'cost_collapse_warned': False}
    # Below a quarter of the true costs' norm from the first epoch on.
    low = RunLogger('task', argparse.Namespace(
        out=str(tmp_path / 'low'), backward='identity', epochs=1,
        quiet=True), cost_reference=5.0)
    with pytest.warns(RuntimeWarning, match="true costs' norm"):
        low.log(1, cost_norm=1.0)
    # No cost norm logged: no collapse key.
    none = RunLogger('task', argparse.Namespace(
        out=str(tmp_path / 'none'), backward='identity', epochs=1,
        quiet=True))
    none.log(1, loss=1.0)
    assert 'cost_collapse_warned' not in none.finish()['final']
