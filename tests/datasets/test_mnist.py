import gzip
import os.path as osp
import shutil
from typing import Any

import numpy as np
import pytest
import torch
import torch_geometric.data
from torch.utils.data import DataLoader

from pyg_identity.datasets.mnist import MNIST, read_idx

FIRST_TEST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def write_idx(path: str, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape)
    with gzip.open(path, 'wb') as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def train_root(tmp_path) -> str:
    # A miniature "training set" of 100 images whose first pixel is its id.
    gen = np.random.default_rng(0)
    images = gen.integers(0, 256, size=(100, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(100)
    raw = tmp_path / 'raw'
    raw.mkdir()
    write_idx(str(raw / 'train-images-idx3-ubyte.gz'), images)
    write_idx(str(raw / 'train-labels-idx1-ubyte.gz'), np.arange(100) % 10)
    return str(tmp_path)


@pytest.fixture
def no_download(monkeypatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError('a test must not download')

    monkeypatch.setattr(torch_geometric.data, 'download_url', fail)


def ids(dataset: MNIST) -> set:
    return set((dataset.images[:, 0, 0, 0] * 255).round().long().tolist())


def test_test_split_from_shared_data(shared_data) -> None:
    dataset = MNIST(osp.join(shared_data, 'mnist'), split='test')
    assert len(dataset) == 10000
    assert dataset.images.shape == (10000, 1, 28, 28)
    assert dataset.images.dtype == torch.float32
    assert 0.0 <= float(dataset.images.min())
    assert float(dataset.images.max()) <= 1.0
    assert dataset.labels.dtype == torch.long
    assert dataset.labels[:10].tolist() == FIRST_TEST_LABELS
    assert torch.bincount(dataset.labels).tolist()[:2] == [980, 1135]
    image, label = dataset[0]
    assert image.shape == (1, 28, 28) and int(label) == 7


def test_flatten(shared_data) -> None:
    dataset = MNIST(osp.join(shared_data, 'mnist'), split='test',
                    flatten=True)
    assert dataset.images.shape == (10000, 784)
    assert dataset[3][0].shape == (784, )


def test_reads_uncompressed_files_from_raw(shared_data, tmp_path) -> None:
    raw = tmp_path / 'raw'
    raw.mkdir()
    for name in ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'):
        with gzip.open(osp.join(shared_data, 'mnist', name + '.gz')) as f:
            (raw / name).write_bytes(f.read())
    dataset = MNIST(str(tmp_path), split='test')
    reference = MNIST(osp.join(shared_data, 'mnist'), split='test')
    assert torch.equal(dataset.images, reference.images)


def test_transforms(shared_data) -> None:
    dataset = MNIST(osp.join(shared_data, 'mnist'), split='test',
                    transform=lambda x: x * 2,
                    target_transform=lambda y: y + 1)
    image, label = dataset[0]
    assert torch.allclose(image, dataset.images[0] * 2)
    assert int(label) == 8


def test_dataloader(shared_data) -> None:
    dataset = MNIST(osp.join(shared_data, 'mnist'), split='test')
    images, labels = next(iter(DataLoader(dataset, batch_size=100)))
    assert images.shape == (100, 1, 28, 28)
    assert labels.tolist()[:10] == FIRST_TEST_LABELS


def test_train_val_split(train_root) -> None:
    train = MNIST(train_root, split='train', val_size=20)
    val = MNIST(train_root, split='val', val_size=20)
    full = MNIST(train_root, split='trainval')
    assert (len(train), len(val), len(full)) == (80, 20, 100)
    assert ids(train) | ids(val) == set(range(100))
    assert not ids(train) & ids(val)
    assert ids(val) != set(range(80, 100))  # a random, not a tail, split
    # Deterministic under the seed, different across seeds.
    assert ids(MNIST(train_root, split='val', val_size=20)) == ids(val)
    assert ids(MNIST(train_root, split='val', val_size=20,
                     seed=1)) != ids(val)
    # The images keep their file order.
    order = (train.images[:, 0, 0, 0] * 255).round().long()
    assert bool((order.diff() > 0).all())
    assert torch.equal(train.labels, order % 10)


def test_val_size_zero_gives_the_full_training_set(train_root) -> None:
    assert len(MNIST(train_root, split='train', val_size=0)) == 100


def test_missing_files_raise_without_download(shared_data,
                                              no_download) -> None:
    with pytest.raises(ValueError, match='download=True'):
        MNIST(osp.join(shared_data, 'mnist'), split='train')


def test_download_checks_md5(shared_data, tmp_path, monkeypatch) -> None:
    calls = []

    def fake_download(url: str, folder: str, *args: Any, **kwargs: Any):
        calls.append(url)
        name = url.rsplit('/', 1)[-1]
        path = osp.join(folder, name)
        if 'ossci' in url:  # The first mirror serves a corrupted file.
            with open(path, 'wb') as f:
                f.write(b'corrupted')
        else:
            shutil.copy(osp.join(shared_data, 'mnist', name), path)
        return path

    monkeypatch.setattr(torch_geometric.data, 'download_url', fake_download)
    dataset = MNIST(str(tmp_path), split='test', download=True)
    assert len(dataset) == 10000
    assert len(calls) == 4  # two files, the first mirror failing each time
    assert osp.isfile(tmp_path / 'raw' / 't10k-images-idx3-ubyte.gz')


def test_download_failure(tmp_path, monkeypatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError('offline')

    monkeypatch.setattr(torch_geometric.data, 'download_url', fail)
    with pytest.raises(RuntimeError, match='offline'):
        MNIST(str(tmp_path), split='test', download=True)


def test_corrupted_file(tmp_path) -> None:
    raw = tmp_path / 'raw'
    raw.mkdir()
    (raw / 't10k-images-idx3-ubyte').write_bytes(b'\x00\x00\x08\x03abc')
    (raw / 't10k-labels-idx1-ubyte').write_bytes(b'\x00\x00\x08\x01abc')
    with pytest.raises(ValueError, match='corrupted'):
        MNIST(str(tmp_path), split='test')
    (tmp_path / 'text').write_bytes(b'hello world')
    with pytest.raises(ValueError, match='not an IDX'):
        read_idx(str(tmp_path / 'text'))


@pytest.mark.parametrize('kwargs,match', [
    (dict(split='valid'), "'split'"),
    (dict(split='val', val_size=0), "'val_size'"),
    (dict(val_size=-1), "'val_size'"),
    (dict(val_size=100), "'val_size'"),
    (dict(seed=-3), "'seed'"),
])
def test_bad_arguments(train_root, kwargs: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MNIST(train_root, **kwargs)


def test_bad_root(tmp_path) -> None:
    path = tmp_path / 'file'
    path.write_text('')
    with pytest.raises(ValueError, match="'root'"):
        MNIST(str(path), split='test')
