import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import pytest
import torch

from pyg_identity.cli import EXPERIMENT_OF_MODEL
from pyg_identity.models.pretrained import (
    CARD_KEYS,
    available,
    card_dataset,
    checkpoint_dir,
    load_pretrained,
    model_card,
    sha256,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
NAMES = available()
EXPECTED = {'tsp20_gnn', 'tsp50_gnn', 'globe_tsp10', 'terrain12',
            'keypoint_matcher'}


def test_expected_checkpoints_are_available():
    assert EXPECTED <= set(NAMES)


@pytest.mark.parametrize('name', NAMES)
def test_card_is_complete_and_checksum_matches(name):
    card = model_card(name)
    assert set(CARD_KEYS) <= set(card)
    path = os.path.join(checkpoint_dir(), name + '.pt')
    assert os.path.getsize(path) < 2 * 2**20
    assert sha256(path) == card['sha256']
    assert os.path.exists(os.path.join(checkpoint_dir(), name + '.md'))


@pytest.mark.parametrize('name', NAMES)
def test_loaded_checkpoint_reproduces_card_metric(name, tmp_path):
    import importlib
    card = model_card(name)
    model = load_pretrained(name)
    assert not model.training
    task = EXPERIMENT_OF_MODEL[card['class'].rpartition('.')[0]]
    experiment = importlib.import_module(f'pyg_identity.experiments.{task}')
    dataset = card_dataset(card, root=str(tmp_path / 'data'))
    value = experiment.evaluate(model, dataset)
    assert value == pytest.approx(card['value'], rel=1e-3, abs=1e-3)


def test_unknown_name():
    with pytest.raises(ValueError, match='Unknown pretrained model'):
        load_pretrained('no_such_model')


def _copy_models(tmp_path, name):
    for ext in ('.pt', '.json', '.md'):
        shutil.copy(os.path.join(checkpoint_dir(), name + ext), tmp_path)


@pytest.mark.skipif(not NAMES, reason='no checkpoints')
def test_checksum_mismatch_is_an_error(tmp_path, monkeypatch):
    name = NAMES[0]
    _copy_models(tmp_path, name)
    with open(tmp_path / (name + '.pt'), 'ab') as f:
        f.write(b'tampered')
    monkeypatch.setenv('PYG_IDENTITY_MODELS', str(tmp_path))
    with pytest.raises(ValueError, match='Checksum mismatch'):
        load_pretrained(name)


@pytest.mark.skipif(not NAMES, reason='no checkpoints')
def test_card_may_only_name_our_classes(tmp_path, monkeypatch):
    name = NAMES[0]
    _copy_models(tmp_path, name)
    card = json.loads((tmp_path / (name + '.json')).read_text())
    card['class'] = 'os.system'
    (tmp_path / (name + '.json')).write_text(json.dumps(card))
    monkeypatch.setenv('PYG_IDENTITY_MODELS', str(tmp_path))
    with pytest.raises(ValueError, match='Refusing to import'):
        load_pretrained(name)


@pytest.mark.slow
def test_checkpoints_load_from_a_wheel_in_a_fresh_venv(tmp_path):
    wheels = tmp_path / 'wheels'
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', '-w', str(wheels), REPO],
                   check=True, cwd=tmp_path)
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True)
    python = str(venv / 'bin' / 'python')
    site = subprocess.run(
        [python, '-c', 'import sysconfig; print(sysconfig.get_paths()'
         '["purelib"])'], check=True, capture_output=True,
        text=True).stdout.strip()
    # The dependencies (torch, PyG, ...) come from this environment as a
    # plain path, so its editable install of pyg_identity stays invisible.
    with open(os.path.join(site, 'deps.pth'), 'w') as f:
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    wheel = next(wheels.glob('pyg_identity-*.whl'))
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q',
                    '--no-deps', '--target', site, str(wheel)], check=True)
    code = textwrap.dedent('''
        import pyg_identity, os
        from pyg_identity.models import available, load_pretrained
        assert 'site-packages' in pyg_identity.__file__, pyg_identity.__file__
        names = available()
        for n in names:
            load_pretrained(n)
        print(len(names))
    ''')
    out = subprocess.run([python, '-c', code], check=True,
                         capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, 'PYTHONPATH': ''})
    assert int(out.stdout.strip()) == len(NAMES)


def test_loaded_state_dict_uses_weights_only(monkeypatch):
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    for name in NAMES:
        load_pretrained(name)
    assert all(calls) and len(calls) == len(NAMES)
