import gzip
import json
import math

import numpy as np
import pytest
import torch

from pyg_identity.experiments._common import DataNotFoundError
from pyg_identity.experiments.dvae import main


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
    # A miniature MNIST test set only (the offline layout of shared data).
    gen = np.random.default_rng(0)
    labels = np.arange(300) % 10
    images = gen.integers(0, 256, size=(300, 28, 28)) * (
        gen.random((300, 28, 28)) < 0.2)
    root = tmp_path / 'mnist'
    root.mkdir()
    write_idx(str(root / 't10k-images-idx3-ubyte.gz'), images)
    write_idx(str(root / 't10k-labels-idx1-ubyte.gz'), labels)
    return str(root)


def tiny(tmp_path, root, *extra):
    return main(['--tiny', '--quiet', '--out', str(tmp_path / 'run'),
                 '--root', root, *extra])


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
def test_tiny_run_writes_metrics_and_plots(tmp_path, mnist_root, backward):
    result = tiny(tmp_path, mnist_root, '--backward', backward)
    run = tmp_path / 'run'
    for name in ('metrics.json', 'curves.png', 'reconstructions.png'):
        assert (run / name).is_file()
    with open(run / 'metrics.json') as f:
        saved = json.load(f)
    assert saved['final'] == result['final']
    final = result['final']
    assert math.isfinite(final['test_n_elbo']) and final['test_n_elbo'] > 0
    assert -1.0 <= final['grad_cosine'] <= 1.0
    assert final['projection'] == 'std'
    assert '240 train / 60 test' in final['data']  # 4/5 of the 300 images.
    assert result['paper']['test_n_elbo'].startswith('curve only')
    assert [h['epoch'] for h in result['history']] == [0, 1, 2]


def test_full_data_needs_training_files(tmp_path, mnist_root):
    # The pyg-identity command prints it as a one-line error.
    with pytest.raises(DataNotFoundError,
                       match='MNIST not found .*--download or --root PATH'):
        tiny(tmp_path, mnist_root, '--data', 'full')


def test_ablation_over_projections(tmp_path, mnist_root):
    summary = tiny(tmp_path, mnist_root, '--ablation', '--epochs', '1')
    assert list(summary['table']) == ['None', 'mean', 'norm', 'std']
    assert summary['table']['None']['grad_cosine'] == pytest.approx(1.0)
    for row in summary['table'].values():
        assert math.isfinite(row['test_n_elbo'])
    run = tmp_path / 'run'
    assert (run / 'ablation.png').is_file()
    assert (run / 'ablation.json').is_file()
    assert (run / 'std' / 'metrics.json').is_file()


def test_bad_k(tmp_path, mnist_root):
    with pytest.raises(SystemExit):
        tiny(tmp_path, mnist_root, '--k', '20')


def test_ddp_two_processes(tmp_path, shared_data):
    import os

    from _ddp_helpers import run_ddp

    # Two ranks train on their shards of the images; DDP keeps them equal.
    run_ddp(tmp_path, 'dvae', '--root', os.path.join(shared_data, 'mnist'))
