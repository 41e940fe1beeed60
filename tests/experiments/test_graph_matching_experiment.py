import argparse
import json
import math
import os

import pytest
import torch

from pyg_identity.datasets.synthetic_keypoints import SyntheticKeypoints
from pyg_identity.experiments._common import DataNotFoundError
from pyg_identity.experiments.graph_matching import (
    LOSS_FORMS,
    evaluate,
    loss_of,
    main,
    paper_numbers,
    paper_row,
    parser,
    synthetic_kwargs,
)
from pyg_identity.models.keypoint_matcher import (
    KeypointMatcher,
    candidate_truth,
    edge_pair_truth,
)
from pyg_identity.nn.functional import all_edge_pairs, all_pairs, hamming_loss

MODELS = os.path.join(os.path.dirname(__file__), '..', '..', 'models')


@pytest.fixture(autouse=True)
def _restore_threads():
    # The runs below use one torch thread (fastest for these tiny graphs).
    num_threads = torch.get_num_threads()
    yield
    torch.set_num_threads(num_threads)


def tiny(tmp_path, *extra):
    return main(['--tiny', '--quiet', '--threads', '1', '--out',
                 str(tmp_path / 'run'), '--root', str(tmp_path / 'data'),
                 *extra])


@pytest.mark.parametrize('backward,paper', [('identity', 77.2),
                                            ('blackbox', 74.9)])
def test_tiny_run_writes_metrics_and_plots(tmp_path, capsys, backward,
                                           paper):
    result = tiny(tmp_path, '--backward', backward)
    run = tmp_path / 'run'
    for name in ('metrics.json', 'curves.png', 'matchings.png'):
        assert (run / name).is_file()
    with open(run / 'metrics.json') as f:
        saved = json.load(f)
    assert saved['final'] == result['final']
    final = result['final']
    assert all(math.isfinite(v) for v in final.values())
    assert 0 <= final['test_acc_pct'] <= 100
    assert 0 <= final['test_f1_pct'] <= 100
    assert final['train_time_per_epoch_s'] > 0
    # The paper's Pascal VOC number goes beside ours with --dataset pascal
    # only, never beside the synthetic stand-in's.
    assert result['paper'] == {}
    assert 'paper' not in capsys.readouterr().out
    pascal = parser().parse_args(['--dataset', 'pascal', '--backward',
                                  backward])
    assert paper_numbers(pascal)['test_acc_pct'] == paper
    assert len(result['history']) == 1
    assert {'train_acc_pct', 'test_acc_pct', 'test_f1_pct'} <= set(
        result['history'][0])


def test_tiny_quadratic_run(tmp_path):
    result = tiny(tmp_path, '--quadratic', '--qap-solver', 'sm',
                  '--qap-iter', '3', '--noise', '1.0')
    assert math.isfinite(result['final']['test_acc_pct'])
    assert result['paper'] == {}
    pascal = parser().parse_args(['--dataset', 'pascal', '--quadratic',
                                  '--noise', '1.0'])
    assert paper_numbers(pascal)['test_acc_pct'] == 79.6


def test_saved_state_reproduces_test_metric(tmp_path):
    path = tmp_path / 'ckpt.pt'
    result = tiny(tmp_path, '--informed-margin', '0.1', '--save', str(path))
    state = torch.load(path, weights_only=True)
    assert all(v.dtype != torch.float64 for v in state.values())
    args = argparse.Namespace(**result['args'])
    model = KeypointMatcher(32, hidden_channels=args.hidden_channels,
                            num_layers=args.num_layers)
    model.load_state_dict(state)
    test = SyntheticKeypoints(tmp_path / 'data', 'test', log=False,
                              **synthetic_kwargs(args))
    assert evaluate(model, test) == pytest.approx(
        result['final']['test_acc_pct'], abs=1e-9)


@pytest.mark.parametrize('argv,identity,blackbox', [
    ([], 77.2, 74.9),
    (['--noise', '1.0'], 79.6, 80.1),
    (['--informed-margin', '0.1'], 79.7, 79.3),
    (['--projection', 'norm'], 72.6, 63.5),
    (['--projection', 'norm', '--noise', '1'], 79.1, 81.2),
])
def test_paper_row(argv, identity, blackbox):
    row = paper_row(parser().parse_args(argv))
    assert row['test_acc_pct'] == identity
    assert row['train_time_total_min'] == 97.0
    row = paper_row(parser().parse_args(argv + ['--backward', 'blackbox']))
    assert row['test_acc_pct'] == blackbox
    assert row['train_time_total_min'] == 104.4
    assert 'Pascal VOC' in row['row']


@pytest.mark.parametrize('argv', [
    ['--noise', '0.5'],
    ['--projection', 'std'],
    ['--noise', '1', '--informed-margin', '1'],
    ['--backward', 'perturbed'],  # Table 4 has Identity and BB only
    ['--backward', 'imle'],
])
def test_no_paper_row(argv):
    assert paper_row(parser().parse_args(argv)) == {}


def hamming(y, target, num_graphs, form='hamming'):
    # The experiment's own loss before issue 11 (now the library's).
    if form == 'hamming':
        err = (y - target).pow(2)
    else:
        err = y * (1 - target) + (1 - y) * target
    return err.sum() / max(num_graphs, 1)


def test_hamming_forms_agree_in_value_not_gradient():
    target = torch.tensor([1., 0., 0., 1., 0.])
    y = torch.tensor([1., 1., 0., 0., 0.], requires_grad=True)
    value = hamming_loss(y, target, form=LOSS_FORMS['hamming'])
    value.backward()
    assert float(value.detach()) == 2.0
    assert torch.equal(y.grad, 2 * (y.detach() - target))
    y.grad = None
    value = hamming_loss(y, target, form=LOSS_FORMS['hamming-bbgm'])
    value.backward()
    assert float(value.detach()) == 2.0
    assert torch.equal(y.grad, 1 - 2 * target)


@pytest.mark.parametrize('loss', ['hamming', 'hamming-bbgm'])
@pytest.mark.parametrize('quadratic', [False, True])
def test_library_loss_equals_the_old_experiment_loss(loss, quadratic):
    import numpy as np
    from torch_geometric.loader import DataLoader

    from pyg_identity.datasets.synthetic_keypoints import generate_pair
    rng = np.random.default_rng(0)
    ds = [generate_pair(rng, num_inliers=(3, 5), num_outliers_t=(0, 2),
                        feature_dim=8) for _ in range(6)]
    batch = next(iter(DataLoader(ds, batch_size=6,
                                 follow_batch=['x_s', 'x_t'])))
    args = argparse.Namespace(loss=loss, pairwise_loss=0.7)
    bs, bt = batch.x_s_batch, batch.x_t_batch
    n_s, n_t = batch.x_s.size(0), batch.x_t.size(0)
    pairs = all_pairs(bs, bt, n_s, n_t)
    edge_pairs = all_edge_pairs(batch.edge_index_s, batch.edge_index_t, bs,
                                bt)
    gen = torch.Generator().manual_seed(0)
    y_u = (torch.rand(pairs.size(1), generator=gen) < 0.3).double()
    y_p = (torch.rand(edge_pairs.size(1), generator=gen) < 0.3).double()
    out = (y_u.requires_grad_(), y_p.requires_grad_()) if quadratic else (
        y_u.requires_grad_())
    new = loss_of(out, batch, args)
    grads = torch.autograd.grad(new, out if quadratic else [out])
    # The old loss_of, with the experiment's own `hamming`.
    y_star = candidate_truth(batch.y, pairs, n_t, y_u.dtype)
    old = hamming(y_u, y_star, batch.num_graphs, loss)
    if quadratic:
        t = edge_pair_truth(y_star, batch.edge_index_s, batch.edge_index_t,
                            edge_pairs, bs, bt, n_s, n_t)
        old = old + 0.7 * hamming(y_p, t, batch.num_graphs, loss)
    ref = torch.autograd.grad(old, out if quadratic else [out])
    torch.testing.assert_close(new, old, rtol=1e-12, atol=0)
    for a, b in zip(grads, ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)


def test_pascal_without_local_copy_is_a_clear_error(tmp_path):
    # The pyg-identity command prints it as a one-line error.
    with pytest.raises(DataNotFoundError, match='Pascal VOC 2011 keypoints '
                       'not found under .*; pass --download or --root PATH'):
        tiny(tmp_path, '--dataset', 'pascal')


def test_pascal_reads_the_vgg_weights_file(tmp_path, monkeypatch):
    import pyg_identity.datasets as datasets
    from pyg_identity.experiments.graph_matching import load_data
    from pyg_identity.models import VGG16Backbone

    path = str(tmp_path / 'vgg16_bn.pth')
    state = VGG16Backbone().state_dict()
    torch.save(state, path)
    made = []

    def fake(root, **kwargs):
        made.append(kwargs)
        return kwargs['split']

    monkeypatch.setattr(datasets, 'PascalVOCKeypoints', fake)
    p = parser()
    args = p.parse_args(['--dataset', 'pascal', '--vgg-weights', path])
    assert load_data(args, p) == ('train', 'test')
    backbone = made[0]['backbone']
    assert isinstance(backbone, VGG16Backbone) and backbone.weights == path
    assert made[1]['backbone'] is backbone
    assert torch.equal(backbone.state_dict()['features.3.weight'],
                       state['features.3.weight'])
    args = p.parse_args(['--dataset', 'pascal'])
    load_data(args, p)
    assert made[-1]['backbone'] is None  # the dataset's default


def test_pascal_bad_vgg_weights_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        tiny(tmp_path, '--dataset', 'pascal', '--vgg-weights',
             str(tmp_path / 'missing.pth'))
    err = capsys.readouterr().err
    assert '--vgg-weights' in err and 'missing.pth' in err


@pytest.mark.parametrize('argv', [
    ['--informed-margin', '-1'],
    ['--projection', 'max'],
    ['--dataset', 'spair'],
])
def test_bad_flags(argv):
    with pytest.raises(SystemExit):
        parser().parse_args(argv)


def test_checkpoint_reproduces_its_card(tmp_path):
    with open(os.path.join(MODELS, 'keypoint_matcher.json')) as f:
        card = json.load(f)
    assert card['name'] == 'keypoint_matcher'
    assert card['class'].endswith('keypoint_matcher.KeypointMatcher')
    model = KeypointMatcher(**card['kwargs'])
    state = torch.load(os.path.join(MODELS, 'keypoint_matcher.pt'),
                       weights_only=True)
    model.load_state_dict(state)
    test = SyntheticKeypoints(tmp_path, log=False, **card['dataset_kwargs'])
    assert len(test) == 200
    assert evaluate(model, test) == pytest.approx(card['value'], abs=1e-6)


def test_ddp_two_processes(tmp_path):
    from _ddp_helpers import run_ddp

    # Two ranks train on their shards of the data; DDP keeps them equal.
    run_ddp(tmp_path, 'graph_matching', '--root', str(tmp_path / 'data'))
