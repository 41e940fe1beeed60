import json
import math
import os
import socket
import subprocess
import sys

import pytest
import torch
from torch_geometric.data import Batch, Data

from pyg_identity.datasets.random_tsp import RandomTSP
from pyg_identity.experiments.random_tsp import (
    evaluate,
    hamming,
    main,
    parser,
    tour_metrics,
)
from pyg_identity.models.pretrained import load_pretrained, model_card

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


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
def test_tiny_run_writes_metrics_and_plots(tmp_path, backward):
    result = main(tiny(tmp_path, '--backward', backward))
    run = tmp_path / 'run'
    for name in ('metrics.json', 'curves.png', 'tours.png'):
        assert (run / name).is_file(), name
    with open(run / 'metrics.json') as f:
        metrics = json.load(f)
    assert metrics['final'] == result['final']
    assert len(metrics['history']) == 2
    for key in ('test_gap', 'test_acc', 'test_loss',
                'train_time_per_epoch_s'):
        assert math.isfinite(metrics['final'][key]), key
    assert all(math.isfinite(row['cost_norm']) for row in metrics['history'])
    # The noise margin is on in the first half of the epochs only.
    assert [row['noise'] for row in metrics['history']] == [0.1, 0.0]


def test_node_range_flag():
    args = parser().parse_args(['--nodes', '10-30'])
    assert args.nodes == (10, 30)
    assert parser().parse_args(['--nodes', '50']).nodes == (50, 50)
    with pytest.raises(SystemExit):
        parser().parse_args(['--nodes', '2'])


def test_metrics_of_the_optimal_tour_are_perfect():
    n = 6
    pos = torch.rand(n, 2)
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing='ij')
    keep = i != j
    ei = torch.stack([i[keep], j[keep]])
    dist = (pos[ei[0]] - pos[ei[1]]).norm(dim=-1, keepdim=True)
    rank = torch.arange(n)  # tour 0-1-2-3-4-5
    d = (rank[ei[0]] - rank[ei[1]]).abs()
    y = ((d == 1) | (d == n - 1)).float()
    length = dist.view(-1)[y > 0].sum() / 2
    b = Batch.from_data_list([Data(pos=pos, edge_index=ei, edge_attr=dist,
                                   y=y, tour_length=length.view(1))])
    gap, exact = tour_metrics(y, b)
    assert abs(float(gap)) < 1e-4 and bool(exact)
    assert float(hamming(y, y, b)) == 0
    assert float(hamming(1 - y, y, b)) == ei.size(1)


def test_hamming_gradient_is_zero_on_correct_entries():
    b = Batch.from_data_list([Data(edge_index=torch.tensor([[0, 1, 1, 2],
                                                            [1, 0, 2, 1]]),
                                   num_nodes=3)])
    y = torch.tensor([1., 0., 1., 1.], requires_grad=True)
    hamming(y, torch.tensor([1., 1., 0., 1.]), b).backward()
    assert y.grad.tolist() == [0., -1., 1., 0.]


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_ddp_two_processes(tmp_path):
    ranks = tmp_path / 'ranks'
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '2', '--master_addr', '127.0.0.1', '--master_port',
        str(_free_port()), '-m', 'pyg_identity.experiments.random_tsp',
        *tiny(tmp_path, '--save-ranks', str(ranks))
    ]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    states = [torch.load(ranks / f'rank{r}.pt', weights_only=True)
              for r in range(2)]
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    # Only rank 0 writes the run folder.
    with open(tmp_path / 'run' / 'metrics.json') as f:
        assert json.load(f)['final']['world_size'] == 2


@pytest.mark.parametrize('name', ['tsp20_gnn', 'tsp50_gnn'])
def test_checkpoint_reproduces_its_card(tmp_path, name):
    card = model_card(name)
    assert card['class'] == 'pyg_identity.models.tsp_gnn.TSPEdgeGNN'
    model = load_pretrained(name)
    dataset = RandomTSP(str(tmp_path), **card['dataset_kwargs'],
                        num_workers=0, log=False)
    assert len(dataset) <= 200
    assert evaluate(model, dataset) == pytest.approx(card['value'],
                                                     abs=1e-4)
