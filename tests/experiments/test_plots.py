"""Every plot an experiment writes has a title, axis labels (with units) and
a legend where colours or markers carry meaning. The figures are caught as
they are saved (matplotlib's Agg backend) and read back: titles, axis
labels, tick labels and legend texts."""
import gzip
import importlib
import os

import numpy as np
import pytest
import torch

from pyg_identity.experiments._common import METRIC_LABELS, RENAMED_METRICS

matplotlib = pytest.importorskip('matplotlib')
from matplotlib.figure import Figure  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    # Small tensors: intra-op threads only add contention on a shared CPU.
    num_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(num_threads)


@pytest.fixture
def figures(monkeypatch):
    saved = {}
    original = Figure.savefig

    def savefig(self, path, *args, **kwargs):
        saved[os.path.basename(str(path))] = self
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(Figure, 'savefig', savefig)
    return saved


def legend_texts(fig):
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes
                                   if ax.get_legend() is not None]
    return {t.get_text() for leg in legends for t in leg.get_texts()}


def tick_texts(ax, axis):
    ticks = ax.get_xticklabels() if axis == 'x' else ax.get_yticklabels()
    return {t.get_text() for t in ticks}


def check_titles_and_labels(fig, rows_named=False):
    # rows_named: an image grid whose y tick labels name its rows.
    suptitle = fig._suptitle.get_text() if fig._suptitle else ''
    for ax in fig.axes:
        assert suptitle or ax.get_title(), 'untitled panel'
        assert ax.get_xlabel(), f'no x label on {ax.get_title()!r}'
        assert ax.get_ylabel() or rows_named and all(
            tick_texts(ax, 'y')), f'no y label on {ax.get_title()!r}'


def check_curves(fig):
    check_titles_and_labels(fig)
    units = {unit for _, unit in METRIC_LABELS.values()}
    for ax in fig.axes:
        assert ax.get_title() in {t for t, _ in METRIC_LABELS.values()}
        assert ax.get_ylabel() in units
        assert ax.get_xlabel() == 'epoch'


def run(name, tmp_path, *extra):
    module = importlib.import_module(f'pyg_identity.experiments.{name}')
    return module.main(['--tiny', '--quiet', '--out', str(tmp_path / 'run'),
                        *extra])


def check_current_keys(result):
    # The old spellings (e.g. test_acc, or the fraction test_recall_at_1) are
    # gone from what the experiments write.
    rows = [result['final']] + result['history']
    old = {k for row in rows for k in row if k in RENAMED_METRICS}
    assert not old, f'old metric keys {old}'


def test_graph_matching_plots(tmp_path, figures):
    result = run('graph_matching', tmp_path, '--root', str(tmp_path / 'd'),
                 '--threads', '1')
    check_current_keys(result)
    assert set(figures) == {'curves.png', 'matchings.png'}
    check_curves(figures['curves.png'])
    fig = figures['matchings.png']
    check_titles_and_labels(fig)
    assert 'source (left) to target (right)' in fig._suptitle.get_text()
    assert legend_texts(fig) == {'correct match', 'wrong match',
                                 'keypoint with a true partner',
                                 'outlier (no true partner)'}
    for ax in fig.axes:
        assert tick_texts(ax, 'x') == {'source', 'target'}
        assert 'true matches found' in ax.get_title()
        assert 'unit box' in ax.get_xlabel()


@pytest.mark.parametrize('name,xlabel,ylabel', [
    ('random_tsp', 'x (unit square)', 'y (unit square)'),
    ('globe_tsp', 'longitude (°)', 'latitude (°)'),
])
def test_tour_plots(tmp_path, figures, name, xlabel, ylabel):
    result = run(name, tmp_path, '--root', str(tmp_path / 'd'))
    check_current_keys(result)
    assert set(figures) == {'curves.png', 'tours.png'}
    check_curves(figures['curves.png'])
    fig = figures['tours.png']
    check_titles_and_labels(fig)
    assert legend_texts(fig) == {'optimal tour', 'predicted tour', 'node'}
    for ax in fig.axes:
        assert (ax.get_xlabel(), ax.get_ylabel()) == (xlabel, ylabel)
    if name == 'globe_tsp':  # degrees on the ticks
        assert any(t.get_text() for t in fig.axes[0].get_xticklabels())


def test_terrain_plots(tmp_path, figures):
    result = run('terrain_shortest_path', tmp_path, '--root',
                 str(tmp_path / 'd'))
    check_current_keys(result)
    assert set(figures) == {'curves.png', 'paths.png'}
    check_curves(figures['curves.png'])
    fig = figures['paths.png']
    check_titles_and_labels(fig)
    assert legend_texts(fig) == {'optimal path', 'predicted path'}
    for ax in fig.axes:
        assert ax.get_xlabel() == 'column (cells)'
        assert ax.get_ylabel() == 'row (cells)'
        assert ax.get_title().endswith('% of optimal')


@pytest.fixture
def mnist_root(tmp_path):
    # A miniature MNIST test set (the offline layout): noisy images with a
    # bright row per digit.
    gen = np.random.default_rng(0)
    labels = np.arange(200) % 10
    images = gen.integers(0, 100, size=(200, 28, 28))
    images[np.arange(200), 2 + 2 * labels] = 255
    root = tmp_path / 'mnist'
    root.mkdir()
    for name, array in (('t10k-images-idx3-ubyte.gz', images),
                        ('t10k-labels-idx1-ubyte.gz', labels)):
        header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
            int(n).to_bytes(4, 'big') for n in array.shape)
        with gzip.open(root / name, 'wb') as f:
            f.write(header + array.astype(np.uint8).tobytes())
    return str(root)


def test_dvae_plots(tmp_path, figures, mnist_root):
    result = run('dvae', tmp_path, '--root', mnist_root)
    check_current_keys(result)
    assert set(figures) == {'curves.png', 'reconstructions.png'}
    check_curves(figures['curves.png'])
    fig = figures['reconstructions.png']
    check_titles_and_labels(fig, rows_named=True)
    assert tick_texts(fig.axes[0], 'y') == {'test image', 'reconstruction'}
    assert 'pixels' in fig.axes[0].get_xlabel()


def test_dvae_ablation_plot(tmp_path, figures, mnist_root):
    run('dvae', tmp_path, '--root', mnist_root, '--ablation', '--epochs',
        '1')
    fig = figures['ablation.png']
    check_titles_and_labels(fig)
    ax, = fig.axes
    assert ax.get_ylabel() == 'test N-ELBO (nats per image)'
    assert legend_texts(fig) == {f'P = {p}' for p in
                                 ('None', 'mean', 'norm', 'std')}


def test_retrieval_plots(tmp_path, figures, mnist_root):
    result = run('retrieval', tmp_path, '--root', mnist_root)
    check_current_keys(result)
    assert set(figures) == {'curves.png', 'retrievals.png'}
    check_curves(figures['curves.png'])
    fig = figures['retrievals.png']
    check_titles_and_labels(fig)
    assert legend_texts(fig) == {'retrieved another digit'}
    ax, = fig.axes
    assert {'query', '#1'} <= tick_texts(ax, 'x')
    assert all(t.startswith('digit ') for t in tick_texts(ax, 'y'))
