import json
import math
import os

import pytest
import torch

from pyg_identity.datasets.terrain_shortest_path import TerrainShortestPath
from pyg_identity.experiments.terrain_shortest_path import evaluate, main
from pyg_identity.models.terrain_net import TerrainNet
from pyg_identity.nn.functional import hamming_loss

MODELS = os.path.join(os.path.dirname(__file__), '..', '..', 'models')


def tiny(tmp_path, *extra):
    return main(['--tiny', '--quiet', '--out',
                 str(tmp_path / 'run'), '--root',
                 str(tmp_path / 'data'), *extra])


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
def test_tiny_run_writes_metrics_and_plots(tmp_path, capsys, backward):
    result = tiny(tmp_path, '--backward', backward)
    run = tmp_path / 'run'
    for name in ('metrics.json', 'curves.png', 'paths.png'):
        assert (run / name).is_file()
    with open(run / 'metrics.json') as f:
        saved = json.load(f)
    assert saved['final'] == result['final']
    final = result['final']
    assert set(final) == {'test_cost_ratio_pct', 'test_exact_acc_pct',
                          'test_optimal_acc_pct', 'train_time_per_epoch_s',
                          'final_cost_norm', 'true_cost_norm',
                          'cost_collapse_warned'}
    assert final['cost_collapse_warned'] in (True, False)
    assert all(math.isfinite(v) for k, v in final.items()
               if k != 'cost_collapse_warned')
    # The raw cost norm is logged beside the true costs' norm every epoch.
    assert all('cost_norm' in h and 'true_cost_norm' in h
               for h in result['history'])
    assert final['true_cost_norm'] > 0
    assert final['test_cost_ratio_pct'] >= 100.0 - 1e-3
    # Percents, not fractions.
    assert 0.0 <= final['test_exact_acc_pct'] <= final[
        'test_optimal_acc_pct'] <= 100
    assert all({'val_cost_ratio_pct', 'val_exact_acc_pct',
                'val_optimal_acc_pct'} <= set(h) for h in result['history'])
    # No paper numbers beside the procedural stand-in for Warcraft.
    assert result['paper'] == {}
    assert 'paper' not in capsys.readouterr().out
    assert 'Table 7' not in capsys.readouterr().out
    assert len(result['history']) == 2


def test_saved_state_reproduces_test_metric(tmp_path):
    path = tmp_path / 'ckpt.pt'
    result = tiny(tmp_path, '--projection', 'norm', '--noise', '0.2',
                  '--save', str(path))
    assert result['paper'] == {}
    state = torch.load(path, weights_only=True)
    assert all(v.dtype != torch.float64 for v in state.values())
    args = result['args']
    model = TerrainNet(grid_size=12, hidden_channels=args['hidden_channels'],
                       num_blocks=args['num_blocks'], projection='norm')
    model.load_state_dict(state)
    test = TerrainShortestPath(tmp_path / 'data', split='test',
                               num_test=args['num_test'], seed=0,
                               num_workers=0, log=False)
    assert evaluate(model, test) == pytest.approx(
        result['final']['test_cost_ratio_pct'], rel=1e-6)


def test_mean_projection_is_rejected(tmp_path):
    with pytest.raises(ValueError, match='projection'):
        tiny(tmp_path, '--projection', 'mean')


def test_l1_loss_gradient_points_at_target():
    # The experiment's loss, hamming_loss(form='l1'): zero on correct cells,
    # so -grad = (y* - y) / num_graphs.
    y = torch.tensor([1., 0., 1., 0.], requires_grad=True)
    t = torch.tensor([1., 1., 0., 0.])
    loss = hamming_loss(y, t, torch.tensor([0, 0, 1, 1]), 2, form='l1')
    loss.backward()
    assert float(loss.detach()) == 1.0
    assert torch.equal(-y.grad, (t - y.detach()) / 2)


@pytest.mark.parametrize('binary', [True, False])
def test_hamming_l1_equals_the_former_l1_loss(binary):
    # The experiment's former l1_loss, sum |y - y*| / num_graphs, and
    # hamming_loss(form='l1') agree in value and gradient (to the bit on
    # 0/1 indicators, whose per-map sums are exact).
    gen = torch.Generator().manual_seed(0)
    B, n = 5, 16
    batch = torch.arange(B).repeat_interleave(n)
    t = (torch.rand(B * n, generator=gen) < 0.3).float()
    y0 = torch.rand(B * n, generator=gen)
    y0 = (y0 < 0.3).float() if binary else y0
    y1 = y0.clone().requires_grad_()
    y2 = y0.clone().requires_grad_()
    old = (y1 - t).abs().sum() / B
    new = hamming_loss(y2, t, batch, B, form='l1')
    old.backward()
    new.backward()
    if binary:
        assert torch.equal(old, new)
    else:
        assert torch.allclose(old, new, rtol=1e-6, atol=0)
    assert torch.equal(y1.grad, y2.grad)


def test_pretrained_terrain12_reproduces_card(tmp_path):
    card_path = os.path.join(MODELS, 'terrain12.json')
    if not os.path.isfile(card_path):
        pytest.skip('checkpoint terrain12 not present')
    with open(card_path) as f:
        card = json.load(f)
    assert card['class'] == 'pyg_identity.models.terrain_net.TerrainNet'
    model = TerrainNet(**card['kwargs'])
    state = torch.load(os.path.join(MODELS, 'terrain12.pt'),
                       weights_only=True)
    model.load_state_dict(state)
    kwargs = dict(card['dataset_kwargs'], root=tmp_path, log=False)
    dataset = TerrainShortestPath(**kwargs)
    assert evaluate(model, dataset) == pytest.approx(card['value'], abs=0.05)


def test_ddp_two_processes(tmp_path):
    from _ddp_helpers import run_ddp

    # Two ranks train on their shards of the data; DDP keeps them equal.
    run_ddp(tmp_path, 'terrain_shortest_path', '--root',
            str(tmp_path / 'data'))
