import importlib

import pytest
import torch

from pyg_identity.experiments._common import lr_scheduler

TASKS = ['globe_tsp', 'random_tsp', 'terrain_shortest_path', 'graph_matching',
         'dvae', 'retrieval']


@pytest.mark.parametrize('task', TASKS)
def test_every_experiment_takes_the_margin_position(task):
    parser = importlib.import_module(f'pyg_identity.experiments.{task}').parser
    assert parser().parse_args([]).noise_position == 'before'
    args = parser().parse_args(['--noise-position', 'after',
                                '--lr-milestones', '3', '5'])
    assert args.noise_position == 'after' and args.lr_milestones == [3, 5]
    with pytest.raises(SystemExit):
        parser().parse_args(['--noise-position', 'middle'])


def test_paper_training_settings_are_the_defaults():
    from pyg_identity.experiments import globe_tsp, terrain_shortest_path
    g = globe_tsp.parser().parse_args([])
    assert (g.lr, g.batch_size, g.epochs, g.noise, g.projection) == (
        1e-4, 50, 100, 0.1, 'std')
    assert g.noise_epochs is None  # = the first half, set in main()
    t = terrain_shortest_path.parser().parse_args([])
    assert (t.lr, t.epochs, t.batch_size, t.lr_milestones, t.lr_gamma) == (
        5e-3, 50, 70, [30], 0.1)


def test_lr_scheduler_steps_at_the_milestones():
    import argparse
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    assert lr_scheduler(opt, argparse.Namespace(lr_milestones=None)) is None
    sched = lr_scheduler(opt, argparse.Namespace(lr_milestones=[2, 1],
                                                 lr_gamma=0.5))
    lrs = []
    for _ in range(3):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]['lr'])
    assert lrs == [0.5, 0.25, 0.25]
