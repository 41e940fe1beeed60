r"""Rank-based image retrieval (paper Sec. 4.3, Table 5), with MNIST digits as
an offline stand-in for CUB-200-2011.

A :class:`~pyg_identity.models.retrieval.RetrievalNet` embeds images; every
image of a batch is a query that ranks the other images of the batch (and of
a memory of earlier batches) by cosine similarity, trained by the recall loss
through two differentiable rankings
(:class:`~pyg_identity.nn.ranking.RecallLoss`). The metric is recall at 1 on
unseen classes (:func:`~pyg_identity.nn.functional.ranking.recall_at_k`):
every test image queries all other test images.

As in the CUB protocol (train on the first 100 bird classes, test on the
other 100), the classes are disjoint: training uses digits 0-4, testing
digits 5-9. With the full MNIST IDX files under :obj:`--root`, training
images come from the training set; with only the 10,000 test images
(:obj:`--data test-only`, or :obj:`auto` when the training files are
missing), from the test images of digits 0-4. The test set is a fixed
subset of 2,000 (:obj:`--num-test`) test images of digits 5-9 in both
cases. MNIST is much easier than CUB, so only the ordering of the
projections, not the paper's CUB numbers, is comparable.
The paper's ResNet-50 was trained with Adam at lr 5e-7 for 80 epochs (lr
-70% after 35), weight decay 4e-4, batch 128 plus 3 memory batches; the
defaults here keep the weight decay, batch, memory and schedule shape but
fit a small MLP with a 16-d embedding trained from scratch (lr 1e-3, 5
epochs: digits 0-4 are learnt within a few epochs, and longer training
overfits to them and lowers R@1 on digits 5-9 for every method).
Without a projection the Identity gradients of the recall loss cancel, so
only the weight decay acts and shrinks the network until R@1 is at chance.

    python -m pyg_identity.experiments.retrieval --root ../shared/data/mnist
    python -m pyg_identity.experiments.retrieval --ablation --backward blackbox

It also runs under :obj:`torchrun --nproc_per_node N` (DDP, gloo on CPU):
every epoch, every rank trains on its shard of a permutation of the training
images (the same permutation on all ranks; the memory batches are the rank's
own); rank 0 tests and writes.

    torchrun --nproc_per_node 2 -m pyg_identity.experiments.retrieval
"""
import argparse
import json
import os
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple, cast

import numpy as np
import torch
from torch import Tensor

from pyg_identity.datasets.mnist import MNIST
from pyg_identity.experiments._common import (
    Distributed,
    EpochNorm,
    RunLogger,
    _non_negative,
    _non_negative_int,
    _positive_int,
    adam,
    add_alias,
    add_mnist,
    base_parser,
    describe,
    gradient_kwargs,
    import_pyplot,
    in_session,
    lr_scheduler,
    missing_data,
    noise_for_epoch,
    projection_ablation,
    save_figure,
    seed_everything,
    solver_calls,
    train_epoch,
)
from pyg_identity.models.retrieval import RetrievalNet
from pyg_identity.nn.functional.ranking import recall_at_k

NAME = 'retrieval'
TRAIN_CLASSES = (0, 1, 2, 3, 4)
TEST_CLASSES = (5, 6, 7, 8, 9)


def parser() -> argparse.ArgumentParser:
    p = base_parser(describe(__doc__), name=NAME, epochs=5, projection='std',
                    lambda_=0.2, lr=1e-3, batch_size=128)
    add_mnist(p, 'where the training digits 0-4 come from: full: the '
              'training set; test-only: the test images; auto: full if the '
              'training files exist')
    p.add_argument('--memory', type=_non_negative_int, default=3,
                   help='earlier batches kept as extra keys (paper: 3)')
    p.add_argument('--embedding', type=_positive_int, default=16,
                   help='embedding size (small, so that a random network '
                   'is far from perfect)')
    p.add_argument('--num-test', type=_non_negative_int, default=2000,
                   help='test images of digits 5-9 (a fixed random subset; '
                   '0: all 4,861)')
    add_alias(p, '--test-size', '--num-test')
    p.add_argument('--hidden-channels', type=_positive_int, default=512,
                   help='hidden size of the MLP')
    add_alias(p, '--hidden', '--hidden-channels')
    p.add_argument('--weight-decay', type=_non_negative, default=4e-4,
                   help='Adam weight decay')
    p.add_argument('--ablation', action='store_true',
                   help='train once per projection (none, mean, norm, std) '
                   'and print the R@1 table')
    return p


def load_data(args: argparse.Namespace) -> Tuple[Tensor, Tensor, Tensor,
                                                 Tensor, str]:
    r"""Returns train images and labels (digits 0-4), test images and labels
    (digits 5-9) and a description of the split (a
    :class:`DataNotFoundError` if the MNIST files are missing)."""
    with missing_data('MNIST', args.root, 'mnist'):
        return _load_data(args, getattr(args, 'download', False))


def _load_data(args: argparse.Namespace, download: bool) -> Tuple[
        Tensor, Tensor, Tensor, Tensor, str]:
    test = MNIST(args.root, split='test', flatten=True, download=download)
    source = test
    where = 'MNIST test images'
    if args.data != 'test-only':
        try:
            source = MNIST(args.root, split='trainval', flatten=True,
                           download=download)
            where = 'MNIST training images'
        except ValueError:
            if args.data == 'full':
                raise
    tr = torch.isin(source.labels, torch.tensor(TRAIN_CLASSES))
    te = torch.isin(test.labels, torch.tensor(TEST_CLASSES))
    train_x, train_y = source.images[tr], source.labels[tr]
    test_x, test_y = test.images[te], test.labels[te]
    if 0 < args.num_test < len(test_x):
        keep = torch.from_numpy(np.sort(np.random.default_rng(0).permutation(
            len(test_x))[:args.num_test]))
        test_x, test_y = test_x[keep], test_y[keep]
    if args.tiny:
        train_x, train_y = train_x[:384], train_y[:384]
        test_x, test_y = test_x[:256], test_y[:256]
    split = (f'train: {len(train_x)} {where} of digits 0-4; test: '
             f'{len(test_x)} MNIST test images of digits 5-9')
    return train_x, train_y, test_x, test_y, split


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
          x: Tensor, y: Tensor, batch_size: int, memory: int, quiet: bool,
          perm: Optional[Tensor] = None) -> Tuple[float, float]:
    r"""One epoch over the images :obj:`x[perm]` (default: a random
    permutation of all of them) of :obj:`model` (a :class:`RetrievalNet`,
    possibly wrapped in
    :class:`~torch.nn.parallel.DistributedDataParallel`); returns the mean
    recall loss and the mean raw score norm per query."""
    inner = cast(RetrievalNet, getattr(model, 'module', model))
    model.train()
    if perm is None:
        perm = torch.randperm(len(x))
    bank: Deque[Tuple[Tensor, Tensor]] = deque(maxlen=max(memory, 1))
    norm = EpochNorm(inner.criterion.diagnostics)

    def loss_of(idx: Tensor) -> Tuple[Tensor, float]:
        emb = model(x[idx])
        key = key_label = None
        if memory > 0 and len(bank) > 0:
            key = torch.cat([e for e, _ in bank])
            key_label = torch.cat([lab for _, lab in bank])
        loss = inner.loss(emb, y[idx], key, key_label)
        if memory > 0:  # a key of the next batches
            bank.append((emb.detach(), y[idx]))
        return loss, 1.0  # the mean over the steps

    batches = [idx for idx in perm.split(batch_size) if len(idx) >= 2]
    loss = train_epoch(batches, optimizer, loss_of, norm=norm,
                       progress=not quiet)
    return loss, norm.pop()


@torch.no_grad()
def embed(model: RetrievalNet, x: Tensor, batch_size: int = 1024) -> Tensor:
    model.eval()
    return torch.cat([model(x[i:i + batch_size])
                      for i in range(0, len(x), batch_size)])


@torch.no_grad()
def test(model: RetrievalNet, x: Tensor, y: Tensor) -> float:
    r"""Recall at 1 in percent: every image queries all other images of
    :obj:`x`."""
    emb = embed(model, x)
    sim = emb @ emb.t()
    sim.fill_diagonal_(-3.0)  # Below every cosine: a query never finds itself.
    relevant = y.view(-1, 1) == y.view(1, -1)
    relevant.fill_diagonal_(False)
    return 100 * float(recall_at_k(sim, relevant, k=1))


def plot_retrievals(model: RetrievalNet, x: Tensor, y: Tensor, path: str,
                    num_queries: int = 6, num_hits: int = 5) -> None:
    r"""Draws test queries (left column) and their nearest test images,
    framing wrong retrievals (another digit) in red."""
    plt = import_pyplot()
    from matplotlib.patches import Rectangle

    emb = embed(model, x)
    num_queries = min(num_queries, len(x))
    num_hits = min(num_hits, len(x) - 1)
    queries = torch.linspace(0, len(x) - 1, num_queries).long()
    sim = emb[queries] @ emb.t()
    sim[torch.arange(num_queries), queries] = -3.0
    hits = torch.cat([queries.view(-1, 1),
                      sim.topk(num_hits, dim=1).indices], dim=1)
    # One image of 30 x 30 tiles (a 2-pixel gap after every 28 x 28 digit).
    tiles = torch.ones(num_queries, num_hits + 1, 30, 30)
    tiles[:, :, :28, :28] = x[hits.view(-1)].view(num_queries, -1, 28, 28)
    grid = tiles.permute(0, 2, 1, 3).reshape(num_queries * 30, -1)
    fig, ax = plt.subplots(figsize=(num_hits + 2.5, num_queries + 1.2))
    ax.imshow(grid.numpy(), cmap='gray')
    wrong = y[hits[:, 1:]] != y[queries].view(-1, 1)
    for r, c in wrong.nonzero().tolist():
        ax.add_patch(Rectangle((30 * (c + 1) - 0.5, 30 * r - 0.5), 28, 28,
                               fill=False, edgecolor='red', lw=2))
    ax.set_xticks([30 * c + 14 for c in range(num_hits + 1)],
                  ['query'] + [f'#{c}' for c in range(1, num_hits + 1)],
                  fontsize=8)
    ax.set_yticks([30 * r + 14 for r in range(num_queries)],
                  [f'digit {int(y[q])}' for q in queries], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel('nearest test images by cosine similarity (rank)',
                  fontsize=8)
    ax.set_ylabel('query (true digit)', fontsize=8)
    fig.legend(handles=[Rectangle((0, 0), 1, 1, fill=False, edgecolor='red',
                                  lw=2, label='retrieved another digit')],
               loc='lower center', fontsize=8, frameon=False)
    ax.set_title(f'{NAME}: test queries and their top retrievals',
                 fontsize=10)
    save_figure(fig, path, rect=(0, 0.04, 1, 1))


@in_session
def run(args: argparse.Namespace, data: Optional[Any],
        ddp: Distributed) -> Dict[str, Any]:
    r"""Trains and tests one model; returns the metrics dictionary (empty on
    ranks other than 0 of a distributed run). Without :obj:`ddp`, in a
    :class:`Distributed` session of its own."""
    seed_everything(args.seed)
    train_x, train_y, test_x, test_y, split = (data if data is not None else
                                               load_data(args))
    epochs = min(args.epochs, 2) if args.tiny else args.epochs
    model = RetrievalNet(train_x.size(1), args.hidden_channels,
                         args.embedding,
                         noise=args.noise, **gradient_kwargs(args))
    net = ddp.wrap(model, seed=args.seed)  # different noise per rank
    optimizer = adam(model.parameters(), args,
                     weight_decay=args.weight_decay)
    # The paper drops the lr by 70% after 35 of 80 epochs (the same fraction
    # of ours unless --lr-milestones says otherwise).
    scheduler = lr_scheduler(optimizer, args) or \
        torch.optim.lr_scheduler.MultiStepLR(
            optimizer, [max(1, round(epochs * 35 / 80))], gamma=0.3)
    logger = None
    recall = float('nan')
    if ddp.is_main:
        # No paper numbers: ours are on the MNIST stand-in, not on CUB.
        logger = RunLogger(NAME, args)
        print(f'{NAME}: {model}, data: {split}', flush=True)
        recall = test(model, test_x, test_y)
        logger.log(0, test_recall_at_1_pct=recall)
    for epoch in range(1, epochs + 1):
        model.criterion.noise = noise_for_epoch(args, epoch)
        perm = ddp.shard(len(train_x), args.seed, epoch)
        loss, cost_norm = train(net, optimizer, train_x, train_y,
                                args.batch_size, args.memory,
                                args.quiet or not ddp.is_main, perm)
        calls = solver_calls(model.criterion.diagnostics)  # last step
        scheduler.step()
        if logger is not None:
            recall = test(model, test_x, test_y)
            logger.log(epoch, train_loss=loss, test_recall_at_1_pct=recall,
                       solver_calls=calls,
                       cost_norm=cost_norm)
        ddp.barrier()
    ddp.end_training(model, args.save_ranks)
    if logger is None:
        return {}
    plot_retrievals(model, test_x, test_y,
                    os.path.join(logger.out, 'retrievals.png'))
    result = logger.finish(plots=['train_loss', 'test_recall_at_1_pct'],
                           test_recall_at_1_pct=recall,
                           projection=str(args.projection), data=split,
                           **ddp.final_metrics())
    return result


def ablation(args: argparse.Namespace,
             ddp: Optional[Distributed] = None) -> Dict[str, Any]:
    r"""Runs :func:`run` once per projection into sub-folders of
    :obj:`args.out`, then prints the R@1 table (ours only: the paper's CUB
    numbers are not comparable with the MNIST stand-in's)."""
    out, results = projection_ablation(NAME, args, run, load_data, ddp)
    if not results:  # not the main rank
        return {}
    table = {name: dict(test_recall_at_1_pct=res['final'][
        'test_recall_at_1_pct']) for name, res in results.items()}
    summary = dict(experiment=f'{NAME}-ablation', backward=args.backward,
                   table=table)
    with open(os.path.join(out, 'ablation.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print(f'{NAME} projection ablation ({args.backward}): test R@1 (%) on '
          f'MNIST digits 5-9 (a stand-in for CUB-200-2011)')
    print(f'  {"P":6s} {"R@1 %":>8s}')
    for name, row in table.items():
        print(f'  {name:6s} {row["test_recall_at_1_pct"]:8.1f}')
    return summary


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parser().parse_args(argv)
    return ablation(args) if args.ablation else run(args)


if __name__ == '__main__':
    main()
