import json
import math
import os

import pytest
import torch
from torch_geometric.data import Batch

from pyg_identity.datasets.globe_tsp import GlobeTSP
from pyg_identity.experiments.globe_tsp import (
    corrupt_labels,
    entry_accuracy,
    evaluate,
    full_tour,
    main,
)
from pyg_identity.models.globe_tsp import GlobeTSPNet
from pyg_identity.models.pretrained import (
    checkpoint_dir,
    load_pretrained,
    model_card,
)


@pytest.fixture(autouse=True)
def _one_thread():
    # One torch thread is much faster than two on a busy 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(tmp_path, *extra):
    return ['--tiny', '--quiet', '--out', str(tmp_path / 'run'), '--root',
            str(tmp_path / 'data'), *extra]


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
def test_tiny_run_writes_metrics_and_plots(tmp_path, capsys, backward):
    result = main(tiny(tmp_path, '--backward', backward))
    run = tmp_path / 'run'
    for name in ('metrics.json', 'curves.png', 'tours.png'):
        assert (run / name).is_file(), name
    with open(run / 'metrics.json') as f:
        metrics = json.load(f)
    assert metrics['final'] == result['final']
    for key in ('test_acc_pct', 'test_loss', 'train_time_per_epoch_s',
                'final_cost_norm', 'train_acc_pct', 'test_entry_acc_pct',
                'train_entry_acc_pct'):
        assert math.isfinite(metrics['final'][key]), key
    # A wrong tour still has most of its k x k entries right.
    assert metrics['final']['test_entry_acc_pct'] >= \
        metrics['final']['test_acc_pct']
    assert [row['noise'] for row in metrics['history']] == [0.1, 0.0]
    # Table 6's number for TSP(5), alpha = 0.1 is printed beside ours.
    assert metrics['paper']['test_acc_pct'] == 99.67
    # ... with the note that our flags stand in for the paper's.
    assert 'procedural 16x16 flags' in capsys.readouterr().out
    assert all('test_acc_pct' in row and 'test_entry_acc_pct' in row
               for row in metrics['history'])


@pytest.mark.parametrize('backward', ['perturbed', 'imle'])
def test_tiny_tsp10_run_with_the_sampling_estimators(tmp_path, backward):
    # Table 8 (the k = 10 training times) has Identity and BB only.
    result = main(tiny(tmp_path, '--k', '10', '--backward', backward,
                       '--num-samples', '2'))
    assert 'train_time_per_epoch_s' not in result['paper']
    assert math.isfinite(result['final']['test_acc_pct'])
    calls = [row['solver_calls'] for row in result['history']]
    assert calls == [2 if backward == 'perturbed' else 4] * len(calls)


def test_tiny_run_with_gradient_and_label_noise(tmp_path):
    result = main(tiny(tmp_path, '--grad-noise', '0.5', '--label-noise',
                       '1.0', '--noise', '0'))
    assert result['final']['flipped_label_pairs'] > 0
    assert math.isfinite(result['final']['test_acc_pct'])
    assert 'test_acc_pct' not in result['paper']  # a corrupted run


def test_input_scale_reaches_the_model(tmp_path, monkeypatch):
    from pyg_identity.experiments import globe_tsp
    built = []

    class Recording(globe_tsp.GlobeTSPNet):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(globe_tsp, 'GlobeTSPNet', Recording)
    result = main(tiny(tmp_path, '--input-scale', '255'))
    assert [m.input_scale for m in built] == [255.0]
    assert math.isfinite(result['final']['test_acc_pct'])
    assert globe_tsp.parser().parse_args([]).input_scale == 1.0
    for bad in ('0', '-1', 'inf'):
        with pytest.raises(SystemExit):
            globe_tsp.parser().parse_args(['--input-scale', bad])


def test_train_accuracy_is_the_saved_models_on_the_training_split(tmp_path):
    result = main(tiny(tmp_path, '--save', str(tmp_path / 'model.pt')))
    args = result['args']
    model = GlobeTSPNet(image_size=args['image_size'])
    model.load_state_dict(torch.load(tmp_path / 'model.pt',
                                     weights_only=True))
    train = GlobeTSP(str(tmp_path / 'data'), split='train',
                     num_train=args['num_train'], num_test=args['num_test'],
                     num_countries=args['k'], image_size=args['image_size'],
                     num_workers=0, log=False)
    assert result['final']['train_acc_pct'] == pytest.approx(
        evaluate(model, train), abs=1e-9)


def test_corrupt_labels_flips_both_directions(tmp_path):
    dataset = GlobeTSP(str(tmp_path), split='train', num_train=200,
                       num_countries=5, image_size=10, num_workers=0,
                       log=False)
    clean = dataset._data.y.clone()
    flipped = corrupt_labels(dataset, 2.0, torch.Generator().manual_seed(0))
    changed = dataset._data.y != clean
    # Every flipped pair changes both of its directions.
    assert int(changed.sum()) == 2 * flipped
    # Probability rho / k = 0.4 over 200 graphs x 10 pairs.
    assert 0.3 < flipped / 2000 < 0.5
    data = dataset[0]
    assert data.y.shape == clean[:20].shape
    dense = torch.zeros(5, 5)
    dense[data.edge_index[0], data.edge_index[1]] = data.y
    assert torch.equal(dense, dense.t())


def test_checkpoint_reproduces_its_card(tmp_path):
    card = model_card('globe_tsp10')
    assert card['class'] == 'pyg_identity.models.globe_tsp.GlobeTSPNet'
    model = load_pretrained('globe_tsp10')
    dataset = GlobeTSP(str(tmp_path), **card['dataset_kwargs'],
                       num_workers=0, log=False)
    assert len(dataset) <= 200
    assert evaluate(model, dataset) == pytest.approx(card['value'],
                                                     abs=1e-6)
    # The card's second row: the share of right adjacency entries.
    with open(os.path.join(checkpoint_dir(), 'globe_tsp10.md')) as f:
        row = next(line for line in f if line.startswith('| right entries'))
    batch = Batch.from_data_list(list(dataset))
    with torch.no_grad():
        y = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
    entries = 100.0 * float(entry_accuracy(y, batch).mean())
    assert entries == pytest.approx(float(row.split('|')[2]), abs=1e-2)


def test_ddp_two_processes(tmp_path):
    from _ddp_helpers import run_ddp

    # Two ranks train on their shards of the data; DDP keeps them equal.
    run_ddp(tmp_path, 'globe_tsp', '--root', str(tmp_path / 'data'))


def test_entry_accuracy_is_the_blackbox_codes_dense_accuracy(tmp_path):
    # A ragged batch (k = 5 and k = 7): the share of right entries of each
    # dense k x k adjacency matrix, diagonal included, as the Blackbox
    # code's `(abs(tours - label) < 0.5).mean()` per example.
    graphs = [GlobeTSP(str(tmp_path / str(k)), split='test', num_test=3,
                       num_countries=k, image_size=10, num_workers=0,
                       log=False) for k in (5, 7)]
    batch = Batch.from_data_list([graphs[0][0], graphs[1][0], graphs[0][1]])
    y = batch.y.clone()
    # Graph 0: a 2-opt move on its optimal tour; graphs 1, 2 stay right.
    tour = _tour_of(graphs[0][0])
    a, b, c, d = tour[0], tour[1], tour[2], tour[3]
    wrong = {(a, b): 0.0, (c, d): 0.0, (a, c): 1.0, (b, d): 1.0}
    ei = batch.edge_index
    for (u, v), value in wrong.items():
        for s, t in ((u, v), (v, u)):
            y[(ei[0] == s) & (ei[1] == t)] = value
    acc = entry_accuracy(y, batch)
    dense = []
    for g in range(3):
        n = int(batch.ptr[g + 1] - batch.ptr[g])
        mask = batch.batch[ei[0]] == g
        local = ei[:, mask] - batch.ptr[g]
        pred = torch.zeros(n, n)
        true = torch.zeros(n, n)
        pred[local[0], local[1]] = y[mask]
        true[local[0], local[1]] = batch.y[mask]
        dense.append(((pred - true).abs() < 0.5).double().mean())
    assert torch.allclose(acc, torch.stack(dense))
    assert acc.tolist() == pytest.approx([1 - 8 / 25, 1.0, 1.0])
    assert full_tour(y, batch).tolist() == [False, True, True]


def _tour_of(data):
    # The nodes of the optimal tour of `data` in visiting order.
    succ = {}
    for (u, v), on in zip(data.edge_index.t().tolist(), data.y.tolist()):
        if on > 0.5:
            succ.setdefault(u, []).append(v)
    order, prev = [0], None
    while len(order) < data.num_nodes:
        nxt = [v for v in succ[order[-1]] if v != prev][0]
        prev = order[-1]
        order.append(nxt)
    return order

