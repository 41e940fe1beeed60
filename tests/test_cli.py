import subprocess
import sys

import pytest

from pyg_identity import __version__
from pyg_identity.cli import TASKS, main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(['--help'])
    out = capsys.readouterr().out
    for cmd in ('demo', 'train', 'eval', 'list-models', '--version'):
        assert cmd in out


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(['--version'])
    assert e.value.code == 0
    assert capsys.readouterr().out == f'pyg-identity {__version__}\n'


def test_list_models(capsys):
    assert main(['list-models']) == 0
    assert 'Pretrained checkpoints' in capsys.readouterr().out


def test_train_help_names_the_tasks(capsys):
    with pytest.raises(SystemExit):
        main(['train', '--help'])
    out = capsys.readouterr().out
    assert all(task in out for task in TASKS)


@pytest.mark.parametrize('task', list(TASKS))
def test_task_help(task, capsys):
    with pytest.raises(SystemExit) as e:
        main(['train', task, '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f'usage: pyg-identity train {task} ')
    for markup in (':math:', ':obj:', ':class:', '``', '\\'):
        assert markup not in out
    assert '(default: None)' not in out
    assert '(default: all epochs) (default' not in out


def test_demo_help(capsys):
    with pytest.raises(SystemExit):
        main(['demo', '--help'])
    out = capsys.readouterr().out
    assert out.startswith('usage: pyg-identity demo ')
    assert '--tiny' in out and '--quick' not in out
    assert '(default: 1000)' in out  # --num-train


def test_demo_keeps_quick_as_a_deprecated_alias(capsys):
    # The alias is parsed (and warned about) before --nodes fails.
    with pytest.raises(SystemExit) as e:
        main(['demo', '--quick', '--nodes', 'x'])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert '--quick is deprecated' in err and 'use --tiny' in err


def test_unknown_task_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(['train', 'no_such_task'])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'no_such_task'" in err
    assert len(err.strip().splitlines()) == 1


def test_eval_unknown_checkpoint():
    with pytest.raises(SystemExit, match='no checkpoint'):
        main(['eval', 'no_such_checkpoint'])


@pytest.mark.parametrize('argv,message', [
    (['--noise', 'abc'],
     "argument --noise: expected a non-negative number, got 'abc'"),
    (['--noise', '-1'],
     "argument --noise: expected a non-negative number, got '-1'"),
    (['--epochs', '0'],
     "argument --epochs: expected a positive integer, got '0'"),
    (['--batch-size', '2.5'],
     "argument --batch-size: expected a positive integer, got '2.5'"),
    (['--lr', 'fast'],
     "argument --lr: expected a non-negative number, got 'fast'"),
    (['--projection', 'max'], "argument --projection: "),
])
def test_invalid_value_is_a_one_line_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(['train', 'dvae'] + argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f'pyg-identity train dvae: error: {message}')
    assert len(err.strip().splitlines()) == 1
    assert 'invalid' not in err.replace('invalid choice', '')


@pytest.mark.parametrize('task,argv,name', [
    ('dvae', [], 'MNIST'),
    ('retrieval', ['--data', 'full'], 'MNIST'),
    ('graph_matching', ['--dataset', 'pascal'], 'Pascal VOC 2011 keypoints'),
])
def test_missing_data_is_a_one_line_error(task, argv, name, tmp_path,
                                          capsys):
    root = tmp_path / 'empty'
    code = main(['train', task, '--tiny', '--root', str(root),
                 '--out', str(tmp_path / 'run')] + argv)
    assert code == 1
    err = capsys.readouterr().err
    assert err == (f'pyg-identity train {task}: error: {name} not found '
                   f'under {root}; pass --download or --root PATH\n')


def test_missing_data_exits_without_a_traceback(tmp_path):
    root = tmp_path / 'empty'
    proc = subprocess.run(
        [sys.executable, '-m', 'pyg_identity.cli', 'train', 'dvae', '--tiny',
         '--root', str(root), '--out', str(tmp_path / 'run')],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip() == (
        f'pyg-identity train dvae: error: MNIST not found under {root}; '
        f'pass --download or --root PATH')
