r"""Learning edge costs for Euclidean TSP end to end through a TSP solver.

A small GNN (:class:`~pyg_identity.models.tsp_gnn.TSPEdgeGNN`) maps the
points of a :class:`~pyg_identity.datasets.RandomTSP` instance (and the
Euclidean distances as edge features) to symmetric edge costs, and
:class:`~pyg_identity.nn.IdentityTSP` (projection :obj:`"std"`, LKH-3 with
few runs) turns them into a tour. The loss is the Hamming distance to the
optimal tour; the Identity (or Blackbox) gradient trains the GNN. Reported:
the optimality gap of the predicted tour (its Euclidean length vs the
optimal length, %) and the fraction of exactly optimal tours.

The script also runs under :obj:`torchrun --nproc_per_node N` with
:class:`~torch.nn.parallel.DistributedDataParallel` (gloo on CPU): every
rank trains on its shard of the training set with :obj:`--batch-size`
instances per step and solves its own TSPs; rank 0 evaluates and writes.

    python -m pyg_identity.experiments.random_tsp --nodes 20
    torchrun --nproc_per_node 2 -m pyg_identity.experiments.random_tsp
"""
import argparse
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader
from torch_geometric.utils import scatter

from pyg_identity import edge_batch
from pyg_identity.datasets.random_tsp import RandomTSP
from pyg_identity.experiments._common import (
    EpochNorm,
    RunLogger,
    _positive_int,
    adam,
    add_alias,
    add_label_workers,
    add_num_plots,
    add_save,
    add_threads,
    base_parser,
    describe,
    evaluating,
    gradient_kwargs,
    lr_scheduler,
    mean_graph_norm,
    noise_for_epoch,
    plot_first_tours,
    root_help,
    save_state_dict,
    start_run,
    timed_epochs,
    tour_loss,
    train_epoch,
)
from pyg_identity.models.tsp_gnn import TSPEdgeGNN


def _nodes(value: str) -> Tuple[int, int]:
    # "20" or an inclusive range "20-50".
    try:
        parts = [int(v) for v in value.split('-')]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not 3 <= parts[0] <= parts[1]:
        raise argparse.ArgumentTypeError(
            f"must be a number of nodes >= 3 or a range LOW-HIGH (got "
            f"{value!r})")
    return parts[0], parts[1]


def parser() -> argparse.ArgumentParser:
    p = base_parser(describe(__doc__), name='random_tsp', epochs=20,
                    projection='std', noise=0.1, lr=1e-3, batch_size=32,
                    noise_epochs_default='the first half of the epochs, as '
                    "the paper's TSP experiments")
    p.add_argument('--nodes', type=_nodes, default=(20, 20), metavar='N',
                   help='points per instance: 20, 50, 100 or a range '
                   'LOW-HIGH (default: 20)')
    p.add_argument('--num-train', type=_positive_int, default=2000,
                   help='training instances')
    p.add_argument('--num-test', type=_positive_int, default=200,
                   help='test instances')
    p.add_argument('--data-seed', type=int, default=0,
                   help='seed of the generated instances (fixed splits)')
    p.add_argument('--hidden-channels', type=_positive_int, default=32,
                   help='hidden size of the GNN')
    add_alias(p, '--hidden', '--hidden-channels')
    p.add_argument('--num-layers', type=_positive_int, default=2,
                   help='GNN layers')
    add_alias(p, '--layers', '--num-layers')
    p.add_argument('--no-edge-attr', action='store_true',
                   help='do not give the distances to the GNN')
    p.add_argument('--runs', type=_positive_int, default=1,
                   help='LKH runs per graph in the solver layer')
    add_label_workers(p)
    add_threads(p)
    p.add_argument('--root', default=None, metavar='DIR',
                   help=root_help('random_tsp'))
    add_num_plots(p, 'test instances drawn into tours.png')
    add_save(p)
    return p


def tour_metrics(y: Tensor, data: Batch) -> Tuple[Tensor, Tensor]:
    r"""Returns the optimality gap (%) and whether the tour is the optimal
    one, per graph, of the predicted tour indicator :obj:`y` (both
    directions of each tour edge marked)."""
    index = edge_batch(data.batch, data.edge_index)
    y = y.detach().view(-1)
    dist = data.edge_attr.view(-1)
    length = 0.5 * scatter(y * dist, index, 0, dim_size=data.num_graphs,
                           reduce='sum')
    gap = 100.0 * (length / data.tour_length.view(-1) - 1.0)
    wrong = scatter((y != data.y).float(), index, 0,
                    dim_size=data.num_graphs, reduce='sum')
    return gap, wrong == 0


def _forward(model: torch.nn.Module, data: Batch) -> Tensor:
    # The distances stay in the data for the metrics even if the model does
    # not see them (--no-edge-attr).
    inner = getattr(model, 'module', model)  # DistributedDataParallel
    edge_attr = None if inner.edge_dim is None else data.edge_attr
    return model(data.pos, data.edge_index, edge_attr, data.batch,
                 data.num_graphs)


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: Any,
             batch_size: int = 64) -> float:
    r"""Returns the mean optimality gap (%) of :obj:`model` (in eval mode,
    no noise) on :obj:`dataset`, the metric of the pretrained cards."""
    return _test(model, DataLoader(dataset, batch_size=batch_size))['gap']


@torch.no_grad()
def _test(model: torch.nn.Module, loader: DataLoader) -> Dict[str, float]:
    gaps: List[Tensor] = []
    exact: List[Tensor] = []
    loss = 0.0
    with evaluating(model):
        for data in loader:
            y = _forward(model, data)
            loss += float(tour_loss(y, data)) * data.num_graphs
            g, e = tour_metrics(y, data)
            gaps.append(g)
            exact.append(e)
    n = sum(g.numel() for g in gaps)
    return dict(gap=float(torch.cat(gaps).double().mean()),
                acc=100.0 * float(torch.cat(exact).double().mean()),
                loss=loss / max(n, 1))


def _plot(model: torch.nn.Module, dataset: Any, path: str,
          num: int = 4) -> Optional[str]:
    # The predicted (red) and optimal (grey) tours of the first `num`
    # instances of `dataset` over their points.
    def titles(y: Tensor, data: Batch) -> List[str]:
        gap, _ = tour_metrics(y, data)
        # round(...) + 0.0: no '-0.00'
        return [f'n={n}, gap {round(float(gap[g]), 2) + 0.0:.2f}% '
                '(excess length)'
                for g, n in enumerate(data.ptr.diff().tolist())]

    return plot_first_tours(model, dataset, path, num, _forward,
                            lambda data: data.pos, titles, equal_aspect=True,
                            suptitle='random_tsp: test instances',
                            xlabel='x (unit square)',
                            ylabel='y (unit square)')


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parser().parse_args(argv)
    if args.tiny:
        args.num_train, args.num_test = 24, 8
        args.epochs = min(args.epochs, 2)
        args.num_plots = min(args.num_plots, 2)
        if args.num_workers is None:
            args.num_workers = 0
    ddp = start_run(args, noise_epochs=args.epochs // 2)  # as the paper

    # Data: rank 0 generates the splits first, the other ranks then load them.
    def load(split: str) -> RandomTSP:
        return RandomTSP(args.root, split=split, num_train=args.num_train,
                         num_test=args.num_test, num_nodes=args.nodes,
                         seed=args.data_seed, num_workers=args.num_workers,
                         log=not args.quiet and ddp.is_main)

    with ddp.main_first():
        train_dataset, test_dataset = load('train'), load('test')

    sampler = ddp.sampler(train_dataset, seed=args.seed)
    train_loader = DataLoader(train_dataset, batch_size=args.batch_size,
                              shuffle=sampler is None, sampler=sampler)
    test_loader = DataLoader(test_dataset, batch_size=64)

    # Model.
    model = TSPEdgeGNN(hidden_channels=args.hidden_channels,
                       num_layers=args.num_layers,
                       edge_dim=None if args.no_edge_attr else 1,
                       runs=args.runs, noise=args.noise,
                       **gradient_kwargs(args))
    net = ddp.wrap(model, seed=args.seed)  # different noise per rank
    optimizer = adam(model.parameters(), args)
    scheduler = lr_scheduler(optimizer, args)
    # The true edge costs are the Euclidean distances (edge_attr).
    true_norm = mean_graph_norm(train_dataset, lambda d: (
        d.edge_attr, edge_batch(d.batch, d.edge_index)))
    layer = model.tsp
    norm = EpochNorm(layer.diagnostics)

    def train(epoch: int) -> Dict[str, float]:
        net.train()
        layer.noise = noise_for_epoch(args, epoch)
        ddp.set_epoch(sampler, epoch)

        # The Hamming loss as an L1 distance: its gradient y - y* is zero on
        # correct entries (paper Sec. 3.2), so a tour that is already right
        # under the noise margin gets no update.
        def loss_of(data: Batch) -> Tuple[Tensor, float]:
            return tour_loss(_forward(net, data), data), data.num_graphs

        loss = train_epoch(train_loader, optimizer, loss_of, norm=norm,
                           desc=f'epoch {epoch}',
                           progress=not args.quiet and ddp.is_main)
        return dict(loss=loss, cost_norm=norm.pop())

    logger = None
    if ddp.is_main:
        logger = RunLogger('random_tsp', args, paper={})
    epoch_times: List[float] = []
    result: Dict[str, Any] = {}
    for epoch, stats, calls, seconds in timed_epochs(
            args.epochs, train, layer.diagnostics, scheduler):
        epoch_times.append(seconds)
        if logger is not None:
            test_stats = _test(model, test_loader)
            logger.log(epoch, loss=stats['loss'], cost_norm=stats['cost_norm'],
                       solver_calls=calls,
                       true_cost_norm=true_norm, noise=layer.noise,
                       test_gap_pct=test_stats['gap'],
                       test_acc_pct=test_stats['acc'],
                       epoch_time_s=epoch_times[-1])
        ddp.barrier()

    ddp.end_training(model, args.save_ranks)
    if logger is not None:
        save_state_dict(model, args.save)
        final = _test(model, test_loader)
        _plot(model, test_dataset, os.path.join(logger.out, 'tours.png'),
              args.num_plots)
        result = logger.finish(
            plots=['loss', 'test_gap_pct', 'test_acc_pct', 'cost_norm'],
            test_gap_pct=final['gap'], test_acc_pct=final['acc'],
            test_loss=final['loss'],
            train_time_per_epoch_s=sum(epoch_times) / len(epoch_times),
            final_cost_norm=stats['cost_norm'], true_cost_norm=true_norm,
            world_size=ddp.world_size)
    ddp.close()
    return result


if __name__ == '__main__':
    main()
