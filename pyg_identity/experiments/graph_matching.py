r"""Deep graph matching (Sec. 4.2 and Table 4 of the `"Backpropagation
through Combinatorial Algorithms: Identity with Projection Works"
<https://arxiv.org/abs/2205.15213>`_ paper): a
:class:`~pyg_identity.models.keypoint_matcher.KeypointMatcher` trained with
the Hamming loss through a matching solver, with the Identity or the
Blackbox (BB) backward, with or without :math:`P_{\text{norm}}`, the noise
margin and the informed margin of BB-GM.

The default data are :class:`~pyg_identity.datasets.SyntheticKeypoints`
(generated offline: noisy descriptors, a random similarity warp, position
noise and target outliers, so that descriptors alone match about 58% of the
keypoints and the geometry must be learned); :obj:`--dataset pascal`
trains on :class:`~pyg_identity.datasets.PascalVOCKeypoints` read from a
local copy under :obj:`--root` (nothing is downloaded), with node
features from :class:`~pyg_identity.models.VGG16Backbone` (plain torch) and
torchvision's ImageNet :obj:`vgg16_bn` weights, read from
:obj:`--vgg-weights` or from the :obj:`torch.hub` cache. The paper's numbers
are on Pascal VOC with a VGG16 backbone and the LPMP quadratic solver: they
are printed beside ours (for orientation only) with :obj:`--dataset pascal`,
never beside the synthetic stand-in's.

The Hamming loss is written as :math:`\sum (y - y^*)^2` by default: equal in
value on 0/1 vectors to BB-GM's :math:`\sum y(1 - y^*) + (1 - y)y^*`
(:obj:`--loss hamming-bbgm`), but with the gradient :math:`y - y^*` that
points at the target (Sec. 3.2 of the paper) instead of the dense
:math:`1 - 2y^*`, which does not depend on :math:`y` and which the
Identity backward passes on to every candidate pair (with it, Identity
training diverged in our synthetic runs; Blackbox is insensitive).

It also runs under :obj:`torchrun --nproc_per_node N` (DDP, gloo on CPU):
every rank trains on its shard of the training pairs; rank 0 tests and
writes.

Run with ``python -m pyg_identity.experiments.graph_matching --help``.
"""
import argparse
import os
import time
from typing import Any, Dict, List, Optional, Tuple, cast

import torch
from torch import Tensor
from torch_geometric.loader import DataLoader

from pyg_identity.experiments._common import (
    EpochNorm,
    RunLogger,
    _non_negative,
    _non_negative_int,
    _positive_int,
    adam,
    add_alias,
    add_download,
    add_save,
    add_threads,
    base_parser,
    evaluating,
    first_batch,
    gradient_kwargs,
    import_pyplot,
    lr_scheduler,
    missing_data,
    noise_for_epoch,
    save_figure,
    save_state_dict,
    solver_calls,
    start_run,
    train_epoch,
)
from pyg_identity.models.keypoint_matcher import (
    KeypointMatcher,
    candidate_truth,
    edge_pair_truth,
)
from pyg_identity.nn.functional import (
    all_edge_pairs,
    all_pairs,
    hamming_loss,
    matching_accuracy,
    matching_f1,
    matching_hamming_loss,
)

NAME = 'graph_matching'

# Table 4 (Pascal VOC, matching accuracy %, mean and std over 5 restarts):
# (projection, margin, alpha) -> (Identity, std, BB, std).
PAPER_VOC: Dict[Tuple[Optional[str], Optional[str], Optional[float]],
                Tuple[float, float, float, float]] = {
    (None, None, None): (77.2, 0.7, 74.9, 0.9),
    (None, 'noise', 0.01): (77.6, 0.7, 74.6, 0.8),
    (None, 'noise', 0.1): (78.6, 0.4, 78.0, 0.9),
    (None, 'noise', 1.0): (79.6, 0.8, 80.1, 0.4),
    (None, 'noise', 10.0): (78.8, 0.6, 79.8, 0.4),
    (None, 'informed', 0.01): (78.5, 0.5, 76.8, 0.6),
    (None, 'informed', 0.1): (79.7, 0.6, 79.3, 0.6),
    (None, 'informed', 1.0): (79.0, 0.6, 80.1, 0.6),
    (None, 'informed', 10.0): (77.9, 0.5, 78.7, 0.6),
    ('norm', None, None): (72.6, 1.0, 63.5, 0.8),
    ('norm', 'noise', 0.01): (76.3, 0.1, 78.9, 0.5),
    ('norm', 'noise', 0.1): (78.1, 1.1, 80.1, 0.4),
    ('norm', 'noise', 1.0): (79.1, 0.5, 81.2, 0.5),
    ('norm', 'noise', 10.0): (79.0, 0.7, 81.1, 0.3),
    ('norm', 'informed', 0.01): (76.9, 0.7, 79.0, 1.0),
    ('norm', 'informed', 0.1): (78.4, 1.1, 79.7, 0.9),
    ('norm', 'informed', 1.0): (73.7, 1.0, 80.8, 0.4),
    ('norm', 'informed', 10.0): (74.2, 0.9, 79.7, 0.6),
}
# Table 8: total training time on Pascal VOC in minutes (10 x 2000 it).
PAPER_TRAIN_MIN = {'identity': 97.0, 'blackbox': 104.4}

# The synthetic task (see the module docstring) and the --tiny setting.
SYNTHETIC: Dict[str, Any] = dict(
    num_inliers=(10, 20), num_outliers_s=0, num_outliers_t=(0, 5),
    feature_dim=32, pos_noise=0.02, feat_noise=3.0, warp='similarity',
    edges='delaunay')
TINY: Dict[str, Any] = dict(
    num_train=24, num_test=12, num_inliers=(4, 6), num_outliers_t=(0, 2),
    hidden=16, epochs=1)


def parser() -> argparse.ArgumentParser:
    p = base_parser(
        'Deep graph matching of keypoints (paper Sec. 4.2, Table 4): a GNN '
        'keypoint matcher trained with the Hamming loss through a matching '
        'solver.', name=NAME,
        epochs=10, projection=None, lambda_=80.0, lr=2e-3, batch_size=8)
    p.add_argument('--dataset', default='synthetic',
                   choices=['synthetic', 'pascal'],
                   help='SyntheticKeypoints (generated offline) or '
                   'PascalVOCKeypoints (a local copy, or --download)')
    from pyg_identity.datasets import default_root
    p.add_argument('--root', default=None, metavar='DIR',
                   help='dataset root (default: '
                   f"{default_root('synthetic_keypoints')}; with --dataset "
                   f"pascal: {default_root('pascal_voc_keypoints')})")
    p.add_argument('--vgg-weights', default=None, metavar='PATH',
                   help='pascal: torchvision-format vgg16_bn state dict for '
                   'the node features (default: vgg16_bn-6c64b313.pth in '
                   'the torch.hub cache, $TORCH_HOME/hub/checkpoints)')
    add_download(p, 'Pascal VOC 2011, the Berkeley keypoints (about 2 GB) '
                 'and the vgg16_bn weights (--dataset pascal)')
    p.add_argument('--informed-margin', type=_non_negative, default=0.0,
                   metavar='ALPHA',
                   help='BB-GM informed margin: add ALPHA to the unary '
                   'costs of the true pairs in training')
    p.add_argument('--quadratic', action='store_true',
                   help='learned pairwise costs and a QAP solver')
    p.add_argument('--qap-solver', default='ipfp',
                   choices=['ipfp', 'sm', 'rrwm'],
                   help='QAP solver of --quadratic')
    p.add_argument('--qap-iter', type=_positive_int, default=20,
                   help='iterations of the QAP solver')
    p.add_argument('--pairwise-loss', type=_non_negative, default=1.0,
                   help='weight of the Hamming loss on edge pairs '
                   '(--quadratic; 0: unary loss only, as BB-GM, which '
                   'leaves the pairwise costs without an Identity gradient)')
    p.add_argument('--loss', default='hamming',
                   choices=['hamming', 'hamming-bbgm'],
                   help='Hamming loss as sum (y - y*)^2 (gradient y - y*) '
                   'or in BB-GM\'s form (dense gradient 1 - 2y*); equal '
                   'values')
    p.add_argument('--hidden-channels', type=_positive_int, default=64,
                   help='hidden size of the GNN')
    add_alias(p, '--hidden', '--hidden-channels')
    p.add_argument('--num-layers', type=_positive_int, default=2,
                   help='GNN layers')
    p.add_argument('--conv', default='gine', choices=['gine', 'transformer'],
                   help='GNN layer type')
    p.add_argument('--lr-step', type=_positive_int, default=None,
                   metavar='N',
                   help='halve the learning rate every N epochs (default: '
                   'epochs // 5, i.e. every 2 of 10 epochs as the paper)')
    p.add_argument('--num-train', type=_positive_int, default=1000,
                   help='training pairs (pascal: per category)')
    p.add_argument('--num-test', type=_positive_int, default=200,
                   help='test pairs (pascal: per category)')
    p.add_argument('--feat-noise', type=_non_negative,
                   default=SYNTHETIC['feat_noise'],
                   help='synthetic: descriptor noise norm')
    p.add_argument('--pos-noise', type=_non_negative,
                   default=SYNTHETIC['pos_noise'],
                   help='synthetic: keypoint position noise')
    p.add_argument('--outliers', type=_non_negative_int, nargs=2,
                   default=list(SYNTHETIC['num_outliers_t']),
                   metavar=('LOW', 'HIGH'),
                   help='synthetic: target outliers per pair')
    p.add_argument('--data-seed', type=int, default=0,
                   help='seed of the synthetic data (fixed test split)')
    add_threads(p, 'for these small graphs')
    add_save(p)
    return p


def synthetic_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    r"""The :class:`SyntheticKeypoints` arguments of a run (all but the
    split)."""
    kw = dict(SYNTHETIC, num_train=args.num_train, num_val=0,
              num_test=args.num_test, feat_noise=args.feat_noise,
              pos_noise=args.pos_noise, num_outliers_t=tuple(args.outliers),
              seed=args.data_seed)
    if args.tiny:
        kw.update(num_train=TINY['num_train'], num_test=TINY['num_test'],
                  num_inliers=TINY['num_inliers'],
                  num_outliers_t=TINY['num_outliers_t'])
    return kw


def load_data(args: argparse.Namespace, p: argparse.ArgumentParser,
              log: bool = True) -> Tuple[Any, Any]:
    if args.dataset == 'synthetic':
        from pyg_identity.datasets import SyntheticKeypoints
        kw = synthetic_kwargs(args)
        log = log and not args.quiet
        return (SyntheticKeypoints(args.root, 'train', log=log, **kw),
                SyntheticKeypoints(args.root, 'test', log=log, **kw))
    from pyg_identity.datasets import PascalVOCKeypoints
    from pyg_identity.models.backbone import (
        VGG16Backbone,
        vgg16_weights_path,
    )
    n_train, n_test = ((TINY['num_train'], TINY['num_test']) if args.tiny
                       else (args.num_train, args.num_test))
    download = getattr(args, 'download', False)
    try:
        backbone = (None if args.vgg_weights is None else
                    VGG16Backbone(weights=args.vgg_weights))
        with missing_data('Pascal VOC 2011 keypoints', args.root,
                          'pascal_voc_keypoints'):
            return (PascalVOCKeypoints(args.root, split='train',
                                       num_pairs=n_train, seed=args.data_seed,
                                       backbone=backbone, download=download,
                                       log=log and not args.quiet),
                    PascalVOCKeypoints(args.root, split='test',
                                       num_pairs=n_test, seed=args.data_seed,
                                       backbone=backbone, download=download,
                                       log=log and not args.quiet))
    except (ValueError, ImportError) as e:
        p.error(f'--dataset pascal needs a local copy of Pascal VOC 2011 + '
                f'the Berkeley keypoints under --root (or --download; see '
                f'PascalVOCKeypoints for the layout) and torchvision-format '
                f'ImageNet vgg16_bn weights for the VGG16 features '
                f'(--vgg-weights PATH, or the file at '
                f'{vgg16_weights_path()}, fetched by --download): {e}')
        raise  # unreachable: p.error exits


def inputs(batch: Any) -> Dict[str, Tensor]:
    r"""The :class:`KeypointMatcher` inputs of a :class:`PairData` batch
    loaded with :obj:`follow_batch=['x_s', 'x_t']`."""
    return dict(x_s=batch.x_s, edge_index_s=batch.edge_index_s,
                edge_attr_s=batch.edge_attr_s, x_t=batch.x_t,
                edge_index_t=batch.edge_index_t,
                edge_attr_t=batch.edge_attr_t, batch_s=batch.x_s_batch,
                batch_t=batch.x_t_batch)


def unary_of(out: Any) -> Tensor:
    return out[0] if isinstance(out, tuple) else out


# --loss -> the `form` of the library's Hamming losses (equal values on 0/1
# vectors, different gradients; see the module docstring).
LOSS_FORMS = {'hamming': 'squared', 'hamming-bbgm': 'bbgm'}


def loss_of(out: Any, batch: Any, args: argparse.Namespace) -> Tensor:
    r"""The Hamming loss on the matching (plus, for the quadratic variant,
    :obj:`args.pairwise_loss` times the Hamming loss on the edge pairs),
    summed per graph pair and averaged over pairs, in the form of
    :obj:`args.loss` (:obj:`LOSS_FORMS`)."""
    y = unary_of(out)
    form = LOSS_FORMS[args.loss]
    bs, bt = batch.x_s_batch, batch.x_t_batch
    B = batch.num_graphs
    loss = matching_hamming_loss(y, batch.y, batch_s=bs, batch_t=bt,
                                 num_graphs=B, form=form)
    if isinstance(out, tuple) and args.pairwise_loss > 0:
        n_s, n_t = batch.x_s.size(0), batch.x_t.size(0)
        pairs = all_pairs(bs, bt, n_s, n_t)
        y_star = candidate_truth(batch.y, pairs, n_t, y.dtype)
        edge_pairs = all_edge_pairs(batch.edge_index_s, batch.edge_index_t,
                                    bs, bt)
        t = edge_pair_truth(y_star, batch.edge_index_s, batch.edge_index_t,
                            edge_pairs, bs, bt, n_s, n_t)
        edge_pair_batch = bs[batch.edge_index_s[0, edge_pairs[0]]]
        loss = loss + args.pairwise_loss * hamming_loss(
            out[1], t, edge_pair_batch, B, form=form)
    return loss


def train(model: torch.nn.Module, loader: DataLoader,
          optimizer: torch.optim.Optimizer, args: argparse.Namespace,
          progress: bool = True) -> Tuple[float, float, float]:
    r"""One epoch of :obj:`model` (a :class:`KeypointMatcher`, possibly
    wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`);
    returns the mean loss, training accuracy (%) and raw cost norm per pair
    (NaN unless the matcher records diagnostics)."""
    model.train()
    inner = cast(KeypointMatcher, getattr(model, 'module', model))
    norm = EpochNorm(inner.matcher.diagnostics)
    accs: List[Tuple[float, int]] = []  # (accuracy, pairs) per batch

    def loss_and_size(batch: Any) -> Tuple[Tensor, float]:
        out = model(**inputs(batch), y_true=batch.y)
        accs.append((float(matching_accuracy(
            unary_of(out), batch.y, batch_s=batch.x_s_batch,
            batch_t=batch.x_t_batch)) * batch.num_graphs, batch.num_graphs))
        return loss_of(out, batch, args), batch.num_graphs

    loss = train_epoch(loader, optimizer, loss_and_size, norm=norm,
                       progress=not args.quiet and progress)
    return loss, 100 * sum(a for a, _ in accs) / max(
        sum(n for _, n in accs), 1), norm.pop()


@torch.no_grad()
def test(model: KeypointMatcher, loader: DataLoader) -> Dict[str, float]:
    r"""Matching accuracy, precision, recall and F1 in percent: averaged
    over pairs, or over categories first (the paper's protocol) when the
    pairs carry a :obj:`category`."""
    model.eval()
    acc: List[Tensor] = []
    prec: List[Tensor] = []
    f1: List[Tensor] = []
    cat: List[Tensor] = []
    for batch in loader:
        y = unary_of(model(**inputs(batch)))
        bs, bt = batch.x_s_batch, batch.x_t_batch
        acc.append(matching_accuracy(y, batch.y, batch_s=bs, batch_t=bt,
                                     reduction='none'))
        p, _, f = matching_f1(y, batch.y, batch_s=bs, batch_t=bt,
                              reduction='none')
        prec.append(p)
        f1.append(f)
        if 'category' in batch:
            cat.append(batch.category.view(-1))

    def average(values: List[Tensor]) -> float:
        v = torch.cat(values).double()
        if cat:
            c = torch.cat(cat)
            v = torch.stack([v[c == k].mean() for k in c.unique()])
        return 100 * float(v.mean())

    return dict(accuracy=average(acc), precision=average(prec),
                f1=average(f1))


def evaluate(model: KeypointMatcher, dataset: Any,
             batch_size: int = 32) -> float:
    r"""The metric of the model card: the matching accuracy in percent on
    :obj:`dataset` (the model in evaluation mode, no noise or margin)."""
    loader = DataLoader(dataset, batch_size=batch_size,
                        follow_batch=['x_s', 'x_t'])
    return test(model, loader)['accuracy']


def paper_row(args: argparse.Namespace) -> Dict[str, Any]:
    r"""The Table 4 (Pascal VOC) entry matching this configuration, with
    the Table 8 training time, or an empty dictionary. Printed beside our
    numbers with :obj:`--dataset pascal` only: on the synthetic keypoints
    they are not comparable."""
    if args.noise > 0 and args.informed_margin > 0 or (
            args.backward not in PAPER_TRAIN_MIN):  # Table 4: Identity, BB
        return {}
    margin: Optional[str] = None
    alpha: Optional[float] = None
    if args.noise > 0:
        margin, alpha = 'noise', float(args.noise)
    elif args.informed_margin > 0:
        margin, alpha = 'informed', float(args.informed_margin)
    row = PAPER_VOC.get((args.projection, margin, alpha))
    if row is None:
        return {}
    k = 0 if args.backward == 'identity' else 2
    name = 'Identity' if args.backward == 'identity' else 'BB'
    desc = (f"Table 4, Pascal VOC, {name}, P={args.projection or 'none'}, "
            f"margin={margin or 'none'}" +
            (f' alpha={alpha:g}' if alpha is not None else '') +
            ' (VGG16 + SplineCNN, LPMP quadratic solver)')
    return dict(test_acc_pct=row[k], test_acc_pct_std=row[k + 1], row=desc,
                train_time_total_min=PAPER_TRAIN_MIN[args.backward])


def paper_numbers(args: argparse.Namespace) -> Dict[str, Any]:
    r"""The paper's numbers printed beside ours: :func:`paper_row` with
    :obj:`--dataset pascal`, none on the synthetic stand-in (the paper's
    Pascal VOC numbers are no yardstick for it)."""
    return paper_row(args) if args.dataset == 'pascal' else {}


def plot_matchings(model: KeypointMatcher, dataset: Any, path: str,
                   num: int = 4) -> str:
    r"""Draws the predicted matching of the first test pairs, one panel per
    pair: the source keypoints on the left, the target keypoints on the
    right (each set scaled to a unit box), correct matches green, wrong
    ones red, keypoints without a true partner (outliers) hollow."""
    plt = import_pyplot()
    from matplotlib.lines import Line2D
    batch = first_batch(dataset, num, follow_batch=['x_s', 'x_t'])
    with evaluating(model):
        y = unary_of(model(**inputs(batch)))
    bs, bt = batch.x_s_batch, batch.x_t_batch
    pairs = all_pairs(bs, bt, batch.x_s.size(0), batch.x_t.size(0))
    truth = candidate_truth(batch.y, pairs, batch.x_t.size(0))
    fig, axes = plt.subplots(1, batch.num_graphs,
                             figsize=(4.5 * batch.num_graphs, 3.4),
                             squeeze=False)
    for g, ax in enumerate(axes[0]):
        pos = []
        for side, (p, b) in enumerate(((batch.pos_s, bs), (batch.pos_t, bt))):
            q = p[b == g].double()
            low = q.min(0).values
            q = (q - low) / (q.max(0).values - low).max().clamp(min=1e-9)
            q[:, 0] += 1.3 * side
            if type(dataset).__name__ == 'PascalVOCKeypoints':
                q[:, 1] = 1 - q[:, 1]  # Image rows grow downwards.
            pos.append(q)
        ptr_s = int((bs < g).sum())
        ptr_t = int((bt < g).sum())
        inl_s = torch.zeros(pos[0].size(0), dtype=torch.bool)
        inl_t = torch.zeros(pos[1].size(0), dtype=torch.bool)
        mine = truth.bool() & (bs[pairs[0]] == g)
        inl_s[pairs[0, mine] - ptr_s] = True
        inl_t[pairs[1, mine] - ptr_t] = True
        for q, inl in zip(pos, (inl_s, inl_t)):
            ax.scatter(q[inl, 0], q[inl, 1], s=14, c='k', zorder=3)
            ax.scatter(q[~inl, 0], q[~inl, 1], s=14, facecolors='none',
                       edgecolors='k', zorder=3)
        sel = (y > 0.5) & (bs[pairs[0]] == g)
        correct = 0
        for e in sel.nonzero().view(-1).tolist():
            i, a = int(pairs[0, e]) - ptr_s, int(pairs[1, e]) - ptr_t
            ok = bool(truth[e] > 0.5)
            correct += int(ok)
            ax.plot([pos[0][i, 0], pos[1][a, 0]], [pos[0][i, 1],
                                                   pos[1][a, 1]],
                    c='tab:green' if ok else 'tab:red', lw=0.8, alpha=0.8)
        n_true = int(inl_s.sum())
        ax.set_title(f'pair {g}: {correct} of {n_true} true matches found '
                     f'({100 * correct / max(n_true, 1):.0f}%)', fontsize=9)
        ax.axvline(1.15, color='0.7', ls='--', lw=0.8)  # source | target
        ax.set_xticks([0.5, 1.8], ['source', 'target'])
        ax.set_yticks([])
        ax.set_xlabel('keypoint x (each graph scaled to a unit box)',
                      fontsize=8)
        ax.set_ylabel('keypoint y (scaled)', fontsize=8)
        ax.set_aspect('equal')
    handles = [
        Line2D([], [], color='tab:green', lw=1.2, label='correct match'),
        Line2D([], [], color='tab:red', lw=1.2, label='wrong match'),
        Line2D([], [], ls='', marker='o', color='k', markersize=4,
               label='keypoint with a true partner'),
        Line2D([], [], ls='', marker='o', markerfacecolor='none',
               markeredgecolor='k', markersize=4,
               label='outlier (no true partner)')]
    fig.legend(handles=handles, loc='lower center', ncol=4, fontsize=8,
               frameon=False)
    fig.suptitle(f'{NAME} ({model.matcher.backward_mode}): predicted '
                 'matchings of test pairs, source (left) to target (right)',
                 fontsize=10)
    return save_figure(fig, path, rect=(0, 0.08, 1, 1))


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = parser()
    args = p.parse_args(argv)
    if args.tiny:
        args.epochs = min(args.epochs, TINY['epochs'])
        args.hidden_channels = min(args.hidden_channels, TINY['hidden'])
    ddp = start_run(args)

    # Rank 0 generates the data first, the other ranks then load them.
    with ddp.main_first():
        train_ds, test_ds = load_data(args, p, log=ddp.is_main)
    sampler = ddp.sampler(train_ds, seed=args.seed)
    train_loader = DataLoader(train_ds, batch_size=args.batch_size,
                              shuffle=sampler is None, sampler=sampler,
                              follow_batch=['x_s', 'x_t'])
    test_loader = DataLoader(test_ds, batch_size=32,
                             follow_batch=['x_s', 'x_t'])

    model = KeypointMatcher(
        train_ds.num_node_features, hidden_channels=args.hidden_channels,
        num_layers=args.num_layers,
        edge_dim=train_ds.num_edge_features, conv=args.conv,
        quadratic=args.quadratic, solver=args.qap_solver,
        max_iter=args.qap_iter, informed_margin=args.informed_margin,
        noise=args.noise, **gradient_kwargs(args))
    net = ddp.wrap(model, seed=args.seed)  # different noise per rank
    optimizer = adam(model.parameters(), args)
    # The paper halves the lr every 2 of 10 epochs (every epochs // 5 of
    # ours) unless --lr-step or --lr-milestones says otherwise.
    step = args.lr_step or max(1, args.epochs // 5)
    scheduler = lr_scheduler(optimizer, args) or \
        torch.optim.lr_scheduler.StepLR(optimizer, step, gamma=0.5)

    logger = RunLogger(NAME, args, paper=paper_numbers(args)) \
        if ddp.is_main else None
    if not args.quiet and logger is not None:
        print(f'{model}\n{len(train_ds)} train / {len(test_ds)} test pairs '
              f'({args.dataset})')
    epoch_times, cpu_times = [], []
    for epoch in range(1, args.epochs + 1):
        model.matcher.noise = noise_for_epoch(args, epoch)
        start, cpu = time.perf_counter(), time.process_time()
        ddp.set_epoch(sampler, epoch)
        loss, train_acc, cost_norm = train(net, train_loader, optimizer,
                                           args, progress=ddp.is_main)
        calls = solver_calls(model.matcher.diagnostics)  # last step
        epoch_times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
        scheduler.step()
        if logger is not None:
            metrics = test(model, test_loader)
            logger.log(epoch, loss=loss, train_acc_pct=train_acc,
                       solver_calls=calls,
                       cost_norm=cost_norm,
                       test_acc_pct=metrics['accuracy'],
                       test_f1_pct=metrics['f1'],
                       epoch_time_s=epoch_times[-1])
        ddp.barrier()

    ddp.end_training(model, args.save_ranks)
    if logger is None:
        ddp.close()
        return {}
    start = time.perf_counter()
    metrics = test(model, test_loader)
    test_time = time.perf_counter() - start
    try:
        plot_matchings(model, test_ds, os.path.join(logger.out,
                                                    'matchings.png'))
    except ImportError as e:  # pragma: no cover - matplotlib missing
        print(f'no matching plot: {e}')
    save_state_dict(model, args.save)
    result = logger.finish(
        plots=['loss', 'train_acc_pct', 'test_acc_pct', 'test_f1_pct',
               'cost_norm'],
        test_acc_pct=metrics['accuracy'], test_f1_pct=metrics['f1'],
        test_precision_pct=metrics['precision'],
        train_time_per_epoch_s=sum(epoch_times) / len(epoch_times),
        train_time_total_s=sum(epoch_times),
        train_cpu_time_per_epoch_s=sum(cpu_times) / len(cpu_times),
        test_time_s=test_time,
        num_parameters=sum(q.numel() for q in model.parameters()),
        **ddp.final_metrics())
    ddp.close()
    return result


if __name__ == '__main__':
    main()
