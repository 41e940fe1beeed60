import gzip
import json
import math

import numpy as np
import pytest
import torch

from pyg_identity.experiments.retrieval import main


@pytest.fixture(autouse=True)
def _one_thread():
    # Small tensors: intra-op threads only add contention on a shared CPU.
    num_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(num_threads)


def write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape)
    with gzip.open(path, 'wb') as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_root(tmp_path) -> str:
    # A miniature MNIST test set only (the offline layout of shared data):
    # noisy images with a bright row per digit.
    gen = np.random.default_rng(0)
    labels = np.arange(200) % 10
    images = gen.integers(0, 100, size=(200, 28, 28))
    images[np.arange(200), 2 + 2 * labels] = 255
    root = tmp_path / 'mnist'
    root.mkdir()
    write_idx(str(root / 't10k-images-idx3-ubyte.gz'), images)
    write_idx(str(root / 't10k-labels-idx1-ubyte.gz'), labels)
    return str(root)


def tiny(tmp_path, root, *extra):
    return main(['--tiny', '--quiet', '--out', str(tmp_path / 'run'),
                 '--root', root, *extra])


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
def test_tiny_run_writes_metrics_and_plots(tmp_path, capsys, mnist_root,
                                           backward):
    result = tiny(tmp_path, mnist_root, '--backward', backward)
    run = tmp_path / 'run'
    for name in ('metrics.json', 'curves.png', 'retrievals.png'):
        assert (run / name).is_file()
    with open(run / 'metrics.json') as f:
        saved = json.load(f)
    assert saved['final'] == result['final']
    final = result['final']
    assert 0.0 <= final['test_recall_at_1_pct'] <= 100.0
    assert final['data'] == ('train: 100 MNIST test images of digits 0-4; '
                             'test: 100 MNIST test images of digits 5-9')
    # No CUB numbers beside the MNIST stand-in's.
    assert result['paper'] == {}
    assert 'paper' not in capsys.readouterr().out
    assert [h['epoch'] for h in result['history']] == [0, 1, 2]


def test_no_projection_identity_does_not_learn(tmp_path, mnist_root):
    result = tiny(tmp_path, mnist_root, '--projection', 'none',
                  '--weight-decay', '0')
    losses = [h['train_loss'] for h in result['history'][1:]]
    recalls = [h['test_recall_at_1_pct'] for h in result['history']]
    assert len(set(recalls)) == 1 and math.isfinite(losses[0])
    assert result['paper'] == {}


def test_ablation_over_projections(tmp_path, mnist_root):
    summary = tiny(tmp_path, mnist_root, '--ablation', '--epochs', '1',
                   '--backward', 'blackbox')
    assert list(summary['table']) == ['None', 'mean', 'norm', 'std']
    assert set(summary['table']['std']) == {'test_recall_at_1_pct'}
    assert 0 <= summary['table']['std']['test_recall_at_1_pct'] <= 100
    assert (tmp_path / 'run' / 'ablation.json').is_file()
    assert (tmp_path / 'run' / 'norm' / 'metrics.json').is_file()


def test_bad_memory(tmp_path, mnist_root):
    with pytest.raises(SystemExit):
        tiny(tmp_path, mnist_root, '--memory', '-1')


def test_ddp_two_processes(tmp_path, shared_data):
    import os

    from _ddp_helpers import run_ddp

    # Two ranks train on their shards of the images; DDP keeps them equal.
    run_ddp(tmp_path, 'retrieval', '--root',
            os.path.join(shared_data, 'mnist'))
