import pytest

from pyg_identity.cli import TASKS, main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(['--help'])
    out = capsys.readouterr().out
    for cmd in ('demo', 'train', 'eval', 'list-models'):
        assert cmd in out


def test_list_models(capsys):
    assert main(['list-models']) == 0
    assert 'Pretrained checkpoints' in capsys.readouterr().out


def test_train_help_names_the_tasks(capsys):
    with pytest.raises(SystemExit):
        main(['train', '--help'])
    out = capsys.readouterr().out
    assert all(task in out for task in TASKS)


def test_unknown_task():
    with pytest.raises(SystemExit):
        main(['train', 'no_such_task'])


def test_eval_unknown_checkpoint():
    with pytest.raises(SystemExit, match='no checkpoint'):
        main(['eval', 'no_such_checkpoint'])
