r"""Warcraft-style shortest paths from terrain images (paper Sec. 5.6,
Suppl. B.5, Table 7): a small ResNet predicts the cell costs of a
:math:`k \times k` map, Dijkstra returns the cheapest top-left to
bottom-right path, and the L1 loss to the true path trains the network
through the Identity (or Blackbox) backward. The metric is the cost ratio
:math:`100 \cdot \langle c^*, \hat{y} \rangle / \langle c^*, y^* \rangle`
under the true costs :math:`c^*`, in percent of the optimal cost (100 =
optimal, lower is better). The procedural maps stand in for the paper's
Warcraft maps, so the paper's Table 7 numbers are not printed beside ours.

It also runs under :obj:`torchrun --nproc_per_node N` (DDP, gloo on CPU):
every rank trains on its shard of the training maps; rank 0 validates,
tests and writes.

The defaults are the paper's training settings: Adam, lr
:math:`5 \cdot 10^{-3}`, 50 epochs, the learning rate divided by 10 after
epoch 30 (:obj:`--lr-milestones 30`), batch 70, :math:`\lambda = 20`.
Every epoch logs the mean per-map raw cost norm of the network beside the
norm of the true cell costs (a collapse shows as the first falling far
below the second; a warning is printed once)."""
import argparse
import os
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.loader import DataLoader
from torch_geometric.utils import scatter

from pyg_identity.datasets.terrain_shortest_path import TerrainShortestPath
from pyg_identity.experiments._common import (
    Distributed,
    EpochNorm,
    RunLogger,
    _non_negative_int,
    _positive_int,
    adam,
    add_alias,
    add_num_plots,
    add_save,
    base_parser,
    describe,
    evaluating,
    first_batch,
    gradient_kwargs,
    import_pyplot,
    lr_scheduler,
    mean_graph_norm,
    noise_for_epoch,
    root_help,
    save_figure,
    save_state_dict,
    seed_everything,
    timed_epochs,
    train_epoch,
)
from pyg_identity.models.terrain_net import TerrainNet
from pyg_identity.nn.functional import hamming_loss

NAME = 'terrain_shortest_path'


def parser() -> argparse.ArgumentParser:
    p = base_parser(describe(__doc__), name='terrain_shortest_path',
                    epochs=50, projection=None, lambda_=20.0, lr=5e-3,
                    batch_size=70, lr_milestones=[30])
    p.add_argument('--root', default=None, metavar='DIR',
                   help=root_help('terrain_shortest_path'))
    p.add_argument('--grid-size', type=_positive_int, default=12,
                   help='map size k (the paper uses the largest maps)')
    p.add_argument('--num-train', type=_positive_int, default=10000,
                   help='training maps')
    p.add_argument('--num-val', type=_positive_int, default=1000,
                   help='validation maps')
    p.add_argument('--num-test', type=_positive_int, default=1000,
                   help='test maps')
    p.add_argument('--hidden-channels', type=_positive_int, default=32,
                   help='channels of the ResNet')
    p.add_argument('--num-blocks', type=_positive_int, default=2,
                   help='residual blocks of the ResNet')
    p.add_argument('--num-workers', type=_non_negative_int, default=0,
                   help='processes solving the maps when generating data')
    add_num_plots(p, 'test maps drawn with their paths')
    add_alias(p, '--num-plot', '--num-plots')
    add_save(p)
    return p


@torch.no_grad()
def path_metrics(y: Tensor, data: Any) -> Dict[str, Tensor]:
    r"""Per-map cost ratio (% of the optimal cost), exact-path and
    optimal-cost indicators (0 or 1) of predicted paths :obj:`y` on a
    batch."""
    B = data.num_graphs
    pred_cost = scatter(data.cost * y, data.batch, dim_size=B, reduce='sum')
    opt_cost = data.path_cost.view(-1)
    wrong = scatter((y != data.y).to(torch.float), data.batch, dim_size=B,
                    reduce='sum')
    return dict(
        cost_ratio=100.0 * pred_cost / opt_cost,
        exact=(wrong == 0).to(torch.float),
        optimal=(pred_cost <= opt_cost * (1 + 1e-5)).to(torch.float),
    )


@torch.no_grad()
def run_test(model: TerrainNet, loader: DataLoader) -> Dict[str, float]:
    r"""Mean cost ratio (% of the optimal cost), exact-path accuracy and
    optimal-path accuracy (fractions) of :obj:`model` over
    :obj:`loader`."""
    device = next(model.parameters()).device
    sums: Dict[str, float] = {}
    count = 0
    with evaluating(model):
        for data in loader:
            data = data.to(device)
            y = model(data.img, data.edge_index, data.batch)
            for k, v in path_metrics(y, data).items():
                sums[k] = sums.get(k, 0.0) + float(v.sum())
            count += data.num_graphs
    return {k: v / max(count, 1) for k, v in sums.items()}


def evaluate(model: TerrainNet, dataset: TerrainShortestPath,
             batch_size: int = 100) -> float:
    r"""The model-card metric: the mean cost ratio (% of optimal) of
    :obj:`model` (in eval mode) on :obj:`dataset` (lower is better)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    return run_test(model, loader)['cost_ratio']


def plot_paths(model: TerrainNet, dataset: TerrainShortestPath, path: str,
               num_maps: int = 4) -> Optional[str]:
    r"""Draws predicted (red dots) and optimal (white squares) paths over
    the first :obj:`num_maps` map images of :obj:`dataset`."""
    num_maps = min(num_maps, len(dataset))
    if num_maps < 1:
        return None
    plt = import_pyplot()
    device = next(model.parameters()).device
    data = first_batch(dataset, num_maps).to(device)
    with evaluating(model):
        y = model(data.img, data.edge_index, data.batch)
        ratio = path_metrics(y, data)['cost_ratio']
    k = model.grid_size
    fig, axes = plt.subplots(1, num_maps, figsize=(3.2 * num_maps, 3.8),
                             squeeze=False)
    for b, ax in enumerate(axes[0]):
        img = data.img[b].permute(1, 2, 0).cpu().numpy()
        ax.imshow(img, extent=(0, k, k, 0), interpolation='nearest')
        for ind, style in ((data.y, dict(marker='s', s=70, facecolors='none',
                                         edgecolors='white', linewidths=1.5,
                                         label='optimal path')),
                           (y, dict(marker='o', s=18, c='red',
                                    label='predicted path'))):
            cells = ind.view(-1, k * k)[b].nonzero().view(-1).cpu()
            ax.scatter((cells % k).float() + 0.5, (cells // k).float() + 0.5,
                       **style)
        ax.set_title(f'path cost {float(ratio[b]):.1f}% of optimal',
                     fontsize=9)
        ax.set_xticks([0, k])
        ax.set_yticks([0, k])
        ax.tick_params(labelsize=7)
        ax.set_xlabel('column (cells)', fontsize=8)
        ax.set_ylabel('row (cells)', fontsize=8)
    axes[0][0].legend(loc='lower left', fontsize=7)
    fig.suptitle(f'{NAME} ({model.backward_mode}): top-left to bottom-right '
                 'paths on test maps', fontsize=10)
    return save_figure(fig, path)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parser().parse_args(argv)
    if args.tiny:
        args.num_train, args.num_val, args.num_test = 48, 16, 16
        args.epochs = min(args.epochs, 2)
        args.batch_size = min(args.batch_size, 16)
        args.hidden_channels = min(args.hidden_channels, 8)
        args.num_blocks = min(args.num_blocks, 1)
        args.num_plots = min(args.num_plots, 2)
    ddp = Distributed()
    seed_everything(args.seed)
    device = torch.device('cpu')
    model = TerrainNet(grid_size=args.grid_size,
                       hidden_channels=args.hidden_channels,
                       num_blocks=args.num_blocks,
                       noise=args.noise,
                       **gradient_kwargs(args)).to(device)

    kwargs = dict(root=args.root, grid_size=args.grid_size, seed=args.seed,
                  num_train=args.num_train, num_val=args.num_val,
                  num_test=args.num_test, num_workers=args.num_workers,
                  log=not args.quiet and ddp.is_main)
    # Rank 0 generates the maps first, the other ranks then load them.
    with ddp.main_first():
        train_ds = TerrainShortestPath(split='train', **kwargs)
        val_ds = TerrainShortestPath(split='val', **kwargs)
        test_ds = TerrainShortestPath(split='test', **kwargs)
    sampler = ddp.sampler(train_ds, seed=args.seed)
    train_loader = DataLoader(train_ds, batch_size=args.batch_size,
                              shuffle=sampler is None, sampler=sampler)
    val_loader = DataLoader(val_ds, batch_size=100)
    test_loader = DataLoader(test_ds, batch_size=100)

    net = ddp.wrap(model, seed=args.seed)  # different noise per rank
    optimizer = adam(model.parameters(), args)
    scheduler = lr_scheduler(optimizer, args)
    epoch_norm = EpochNorm(model.solver.diagnostics)
    true_norm = mean_graph_norm(train_ds, lambda d: (d.cost, d.batch))
    logger = RunLogger(NAME, args) if ddp.is_main else None

    def train(epoch: int) -> float:
        net.train()
        model.noise = noise_for_epoch(args, epoch)
        ddp.set_epoch(sampler, epoch)

        # The L1 form: its gradient sign(y - y*) is zero on the cells the
        # prediction gets right, so the Identity update y* - y points
        # exactly at the true path (paper Sec. 3.2); the algebraic form
        # y (1 - y*) + (1 - y) y* ('bbgm') has the constant gradient
        # 1 - 2 y*, which makes Identity costs without a projection grow
        # without bound.
        def loss_of(data: Any) -> Tuple[Tensor, float]:
            data = data.to(device)
            y = net(data.img, data.edge_index, data.batch)
            return hamming_loss(y, data.y, data.batch, data.num_graphs,
                                form='l1'), data.num_graphs

        return train_epoch(train_loader, optimizer, loss_of, norm=epoch_norm,
                           desc=f'Epoch {epoch:03d}',
                           progress=not args.quiet and ddp.is_main)

    epoch_times = []
    for epoch, loss, calls, seconds in timed_epochs(
            args.epochs, train, model.solver.diagnostics, scheduler):
        epoch_times.append(seconds)
        cost_norm = epoch_norm.pop()
        if logger is not None:
            val = run_test(model, val_loader)
            logger.log(epoch, loss=loss, cost_norm=cost_norm,
                       solver_calls=calls,
                       true_cost_norm=true_norm,
                       val_cost_ratio_pct=val['cost_ratio'],
                       val_exact_acc_pct=100 * val['exact'],
                       val_optimal_acc_pct=100 * val['optimal'],
                       epoch_time_s=epoch_times[-1])
        ddp.barrier()

    ddp.end_training(model, args.save_ranks)
    if logger is None:
        ddp.close()
        return {}
    test = run_test(model, test_loader)
    save_state_dict(model, args.save)
    plot_paths(model, test_ds, os.path.join(logger.out, 'paths.png'),
               args.num_plots)
    result = logger.finish(
        plots=['loss', 'val_cost_ratio_pct', 'val_exact_acc_pct',
               'cost_norm'],
        test_cost_ratio_pct=test['cost_ratio'],
        test_exact_acc_pct=100 * test['exact'],
        test_optimal_acc_pct=100 * test['optimal'],
        train_time_per_epoch_s=sum(epoch_times) / len(epoch_times),
        final_cost_norm=logger.history[-1]['cost_norm'],
        true_cost_norm=true_norm,
        **ddp.final_metrics(),
    )
    ddp.close()
    return result


if __name__ == '__main__':
    main()
