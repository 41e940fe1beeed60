r"""Discrete VAE on MNIST (paper Sec. 4.1, Figs. 3, 5 and 7).

A :class:`~pyg_identity.models.dvae.DVAE` with 20 latent blocks of 20, each
10-hot, is trained by the negative ELBO through
:class:`~pyg_identity.nn.topk.IdentityTopK` on Sum-of-Gamma perturbed logits.
Logs the test N-ELBO per epoch and the cosine between
:math:`+\partial\ell/\partial z` and the gradient that reaches the logits
(after the projection), the paper's Fig. 7 quantity. :obj:`--ablation`
trains once per projection (none / mean / norm / std) and draws the test
curves together (Fig. 5). The paper gives curves only, no N-ELBO numbers.

Data: with the full MNIST IDX files under :obj:`--root`, the paper's split
(50,000 train images, the 10,000 test images for testing). With only the
10,000 test images (:obj:`--data test-only`, or :obj:`auto` when the
training files are missing), a fixed split of those: a permutation seeded
by 0 (independent of :obj:`--seed`), the first 8,000 for training and the
last 2,000 for testing.

    python -m pyg_identity.experiments.dvae --root ../shared/data/mnist
    python -m pyg_identity.experiments.dvae --ablation --epochs 20

It also runs under :obj:`torchrun --nproc_per_node N` (DDP, gloo on CPU):
every epoch, every rank trains on its shard of a permutation of the training
images (the same permutation on all ranks); rank 0 tests and writes.

    torchrun --nproc_per_node 2 -m pyg_identity.experiments.dvae
"""
import argparse
import json
import os
from typing import Any, Dict, List, Optional, Tuple, cast

import numpy as np
import torch
from torch import Tensor

from pyg_identity.datasets.mnist import MNIST
from pyg_identity.experiments._common import (
    Distributed,
    EpochNorm,
    RunLogger,
    _non_negative,
    _positive_int,
    adam,
    add_mnist,
    base_parser,
    describe,
    evaluating,
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
from pyg_identity.models.dvae import DVAE

NAME = 'dvae'
PAPER = {
    'test_n_elbo': 'curve only (Figs. 3, 5: none > mean > norm > std)',
    'grad_cosine': '< 0.05 (P_std, Fig. 7)',
}
OFFLINE_TRAIN = 8000  # Of the 10,000 test images, with --data test-only.


def parser() -> argparse.ArgumentParser:
    p = base_parser(describe(__doc__), name=NAME, epochs=100,
                    projection='std', lambda_=10.0, lr=1e-3, batch_size=100)
    add_mnist(p, 'full: 50k train / 10k test; test-only: 8k / 2k of the '
              '10k test images; auto: full if the training files exist')
    p.add_argument('--k', type=_positive_int, default=10,
                   help='ones per latent block')
    p.add_argument('--tau', type=_non_negative, default=10.0,
                   help='Sum-of-Gamma temperature')
    p.add_argument('--sog-terms', type=_positive_int, default=10,
                   help='Sum-of-Gamma terms s')
    p.add_argument('--optimizer', default='adam', choices=['adam', 'sgd'],
                   help='Fig. 6 compares Adam and SGD')
    p.add_argument('--ablation', action='store_true',
                   help='train once per projection (none, mean, norm, std) '
                   'and plot the test curves together (Fig. 5)')
    return p


def load_data(args: argparse.Namespace) -> Tuple[Tensor, Tensor, str]:
    r"""Returns the flattened train and test images and the split's name
    (a :class:`DataNotFoundError` if the MNIST files are missing)."""
    with missing_data('MNIST', args.root, 'mnist'):
        return _load_data(args, getattr(args, 'download', False))


def _load_data(args: argparse.Namespace,
               download: bool) -> Tuple[Tensor, Tensor, str]:
    full: Optional[MNIST] = None
    if args.data != 'test-only':
        try:
            full = MNIST(args.root, split='train', flatten=True,
                         download=download)
        except ValueError:
            if args.data == 'full':
                raise
    if full is not None:
        train_x = full.images
        test_x = MNIST(args.root, split='test', flatten=True,
                       download=download).images
        split = 'MNIST train (50k) / test (10k)'
    else:
        images = MNIST(args.root, split='test', flatten=True,
                       download=download).images
        perm = torch.from_numpy(np.random.default_rng(0).permutation(
            len(images)))
        n_train = min(OFFLINE_TRAIN, len(images) * 4 // 5)
        train_x, test_x = images[perm[:n_train]], images[perm[n_train:]]
        split = (f'MNIST test images only: {len(train_x)} train / '
                 f'{len(test_x)} test (fixed permutation, seed 0)')
    if args.tiny:
        train_x, test_x = train_x[:256], test_x[:128]
        split += ', tiny subset'
    return train_x, test_x, split


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
          x: Tensor, batch_size: int, quiet: bool,
          perm: Optional[Tensor] = None) -> Tuple[float, float, float]:
    r"""One epoch over the images :obj:`x[perm]` (default: a random
    permutation of all of them) of :obj:`model` (a :class:`DVAE`, possibly
    wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`);
    returns the mean N-ELBO, the mean gradient cosine and the mean raw cost
    norm (per latent block, before the projection)."""
    inner = cast(DVAE, getattr(model, 'module', model))
    model.train()
    if perm is None:
        perm = torch.randperm(len(x))
    cosines: List[float] = []
    norm = EpochNorm(inner.topk.diagnostics)

    def loss_of(idx: Tensor) -> Tuple[Tensor, float]:
        batch = x[idx]
        x_logits, logits, _ = model(batch)
        return inner.n_elbo(batch, x_logits, logits), len(batch)

    def record_cosine() -> None:
        diag = inner.topk.diagnostics
        if diag is not None and diag.grad_cosine is not None:
            cosines.append(float(diag.grad_cosine))

    loss = train_epoch(list(perm.split(batch_size)), optimizer, loss_of,
                       norm=norm, after_step=record_cosine,
                       progress=not quiet)
    return loss, sum(cosines) / max(len(cosines), 1), norm.pop()


@torch.no_grad()
def test(model: DVAE, x: Tensor, batch_size: int, seed: int) -> float:
    r"""The mean N-ELBO of :obj:`x`, with the Sum-of-Gamma noise drawn from a
    fixed seed so that epochs and runs see the same noise."""
    model.eval()
    total = 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in range(0, len(x), batch_size):
            batch = x[i:i + batch_size]
            x_logits, logits, _ = model(batch)
            total += float(model.n_elbo(batch, x_logits, logits, False).sum())
    return total / len(x)


def plot_reconstructions(model: DVAE, x: Tensor, path: str,
                         num: int = 10) -> None:
    r"""Draws test images (top row) above their reconstructions."""
    plt = import_pyplot()
    num = min(num, len(x))
    with evaluating(model):
        recon = torch.sigmoid(model(x[:num])[0])
    # One image of 30 x 30 tiles (a 2-pixel gap after every 28 x 28 digit).
    tiles = torch.ones(2, num, 30, 30)
    tiles[:, :, :28, :28] = torch.stack([x[:num], recon]).view(2, num, 28, 28)
    grid = tiles.permute(0, 2, 1, 3).reshape(60, num * 30)
    fig, ax = plt.subplots(figsize=(num + 1.2, 2.6))
    ax.imshow(grid.numpy(), cmap='gray', vmin=0, vmax=1)
    ax.set_xticks([30 * i + 14 for i in range(num)],
                  [str(i + 1) for i in range(num)], fontsize=7)
    ax.set_yticks([14, 44], ['test image', 'reconstruction'], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel('test image number (28 × 28 pixels, grey = intensity '
                  '0 to 1)', fontsize=8)
    ax.set_title(f'{NAME}: test images (top) and their reconstructions '
                 '(bottom)', fontsize=10)
    save_figure(fig, path)


@in_session
def run(args: argparse.Namespace, data: Optional[Any],
        ddp: Distributed) -> Dict[str, Any]:
    r"""Trains and tests one model; returns the metrics dictionary (empty on
    ranks other than 0 of a distributed run). Without :obj:`ddp`, in a
    :class:`Distributed` session of its own."""
    seed_everything(args.seed)
    train_x, test_x, split = data if data is not None else load_data(args)
    epochs = min(args.epochs, 2) if args.tiny else args.epochs
    model = DVAE(k=args.k, tau=args.tau, s=args.sog_terms,
                 noise=args.noise, **gradient_kwargs(args))
    net = ddp.wrap(model, seed=args.seed)  # different noise per rank
    if args.optimizer == 'adam':
        optimizer: torch.optim.Optimizer = adam(model.parameters(), args)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    scheduler = lr_scheduler(optimizer, args)
    logger = RunLogger(NAME, args, paper=PAPER) if ddp.is_main else None
    test_n_elbo = float('nan')
    if logger is not None:
        print(f'{NAME}: {model}, data: {split}', flush=True)
        test_n_elbo = test(model, test_x, args.batch_size, args.seed + 1)
        logger.log(0, test_n_elbo=test_n_elbo)
    cosine = float('nan')
    for epoch in range(1, epochs + 1):
        model.topk.noise = noise_for_epoch(args, epoch)
        perm = ddp.shard(len(train_x), args.seed, epoch)
        loss, cosine, cost_norm = train(net, optimizer, train_x,
                                        args.batch_size,
                                        args.quiet or not ddp.is_main, perm)
        calls = solver_calls(model.topk.diagnostics)  # last step
        if scheduler is not None:
            scheduler.step()
        if logger is not None:
            test_n_elbo = test(model, test_x, args.batch_size, args.seed + 1)
            logger.log(epoch, train_n_elbo=loss, test_n_elbo=test_n_elbo,
                       solver_calls=calls,
                       grad_cosine=cosine, cost_norm=cost_norm)
        ddp.barrier()
    ddp.end_training(model, args.save_ranks)
    if logger is None:
        return {}
    plot_reconstructions(model, test_x,
                         os.path.join(logger.out, 'reconstructions.png'))
    result = logger.finish(
        plots=['train_n_elbo', 'test_n_elbo', 'grad_cosine', 'cost_norm'],
        test_n_elbo=test_n_elbo, grad_cosine=cosine,
        projection=str(args.projection), data=split,
        **ddp.final_metrics())
    return result


def ablation(args: argparse.Namespace,
             ddp: Optional[Distributed] = None) -> Dict[str, Any]:
    r"""Runs :func:`run` once per projection into sub-folders of
    :obj:`args.out` and plots the test curves together (paper Fig. 5)."""
    out, results = projection_ablation(NAME, args, run, load_data, ddp)
    if not results:  # not the main rank
        return {}

    plt = import_pyplot()
    from matplotlib.ticker import MaxNLocator
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, res in results.items():
        hist: List[Dict[str, Any]] = res['history']
        ax.plot([h['epoch'] for h in hist], [h['test_n_elbo'] for h in hist],
                marker='o', label=f'P = {name}')
    ax.set_xlabel('epoch (0: before training)')
    ax.set_ylabel('test N-ELBO (nats per image)')
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f'DVAE projection ablation ({args.backward} backward)',
                 fontsize=10)
    ax.legend(title='projection', fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, os.path.join(out, 'ablation.png'))

    table = {
        name: dict(test_n_elbo=res['final']['test_n_elbo'],
                   grad_cosine=res['final']['grad_cosine'])
        for name, res in results.items()
    }
    summary = dict(experiment=f'{NAME}-ablation', table=table, paper=PAPER)
    with open(os.path.join(out, 'ablation.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print(f'{NAME} projection ablation ({args.backward}), paper: '
          f'{PAPER["test_n_elbo"]}')
    print(f'  {"P":6s} {"test N-ELBO":>12s} {"grad cosine":>12s}')
    for name, row in table.items():
        print(f'  {name:6s} {row["test_n_elbo"]:12.2f} '
              f'{row["grad_cosine"]:12.4f}')
    return summary


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parser().parse_args(argv)
    if args.k < 1 or args.k >= 20:
        raise SystemExit(f'--k must be in [1, 20) (got {args.k})')
    return ablation(args) if args.ablation else run(args)


if __name__ == '__main__':
    main()
