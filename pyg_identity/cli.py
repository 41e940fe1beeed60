r"""The :obj:`pyg-identity` command.

    pyg-identity demo                    # the main job (a few minutes)
    pyg-identity train TASK [options]    # a paper experiment
    pyg-identity compare TASK --backward A B ... [--seeds N] [-- options]
                                         # estimators side by side
    pyg-identity eval NAME               # a checkpoint on its test split
    pyg-identity list-models
    pyg-identity --version

Usage errors exit with status 2, missing data files with status 1 (a
one-line message that names the folder and the flag that fixes it).
"""
import argparse
import os
import sys
import textwrap
import time
from typing import List, NoReturn, Optional


class _ArgumentParser(argparse.ArgumentParser):
    # One-line usage errors, status 2 (as the experiments' parsers; this
    # module does not import them, so that --help and --version are fast).
    def error(self, message: str) -> 'NoReturn':  # type: ignore[override]
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} '
                  f'--help)\n')


def demo(argv: Optional[List[str]] = None) -> dict:
    r"""The main job: trains the TSP edge-cost GNN through
    :class:`~pyg_identity.nn.IdentityTSP` on freshly generated random
    Euclidean graphs, then evaluates the optimality gap against the LKH-3
    labels of the pretrained checkpoint's fixed test split, beside the
    pretrained checkpoint and an untrained model, and writes plots."""
    from pyg_identity.experiments._common import (
        ArgumentParser,
        HelpFormatter,
        _int,
        _positive_int,
        add_alias,
        plain_text,
    )
    parser = ArgumentParser(
        prog='pyg-identity demo', description=plain_text(demo.__doc__ or ''),
        formatter_class=HelpFormatter)
    parser.add_argument('--nodes', type=_positive_int, default=20,
                        help='points per TSP instance (20, 50 or 100 have a '
                        'pretrained checkpoint to compare with)')
    parser.add_argument('--num-train', type=_positive_int, default=1000,
                        help='fresh training graphs')
    parser.add_argument('--epochs', type=_positive_int, default=6,
                        help='training epochs')
    parser.add_argument('--backward', default='identity',
                        choices=['identity', 'blackbox'],
                        help='gradient of the solver layer')
    parser.add_argument('--seed', type=_int, default=0,
                        help='seed of the model initialisation and the '
                        'noise')
    parser.add_argument('--data-seed', type=_int, default=1,
                        help='seed of the fresh training graphs (the '
                        'checkpoint was trained on seed 0)')
    parser.add_argument('--out', default=None, metavar='DIR',
                        help='run folder (default: runs/demo-<time>)')
    parser.add_argument('--tiny', action='store_true',
                        help='a seconds-long run (smoke test), as the '
                        'experiments\' --tiny')
    add_alias(parser, '--quick', '--tiny')
    args = parser.parse_args(argv)

    import torch

    from pyg_identity.experiments import random_tsp
    from pyg_identity.models.pretrained import (
        available,
        card_dataset,
        load_pretrained,
        model_card,
    )
    from pyg_identity.models.tsp_gnn import TSPEdgeGNN

    t0 = time.perf_counter()
    out = args.out or os.path.join(
        'runs', 'demo-' + time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(out, exist_ok=True)
    ckpt = os.path.join(out, 'model.pt')
    # The checkpoint's recipe, margin after P included: on this task (edge
    # scores of a GNN, no natural scale) the margin on the raw costs makes
    # them grow while it is on; measured at these settings: test gap 0.04%
    # with the margin after P vs 0.29% before it.
    train_argv = ['--nodes', str(args.nodes), '--num-train',
                  str(args.num_train), '--num-test', '200', '--epochs',
                  str(args.epochs), '--noise', '0.1', '--noise-position',
                  'after', '--backward',
                  args.backward, '--seed', str(args.seed), '--data-seed',
                  str(args.data_seed), '--save', ckpt, '--out', out,
                  '--threads', '1']
    if args.tiny:
        train_argv += ['--tiny']
    print(f'== Training TSPEdgeGNN -> IdentityTSP on {args.num_train} fresh '
          f'random TSP({args.nodes}) graphs ({args.backward} backward, '
          f'P_std, noise 0.1 after P for the first half: the '
          f'checkpoint\'s recipe) ==', flush=True)
    result = random_tsp.main(train_argv)

    name = f'tsp{args.nodes}_gnn'
    rows = []
    if name in available():
        card = model_card(name)
        test = card_dataset(card)
        if args.tiny:
            test = test[:16]
        trained = TSPEdgeGNN(**card['kwargs'])
        trained.load_state_dict(torch.load(ckpt, weights_only=True))
        torch.manual_seed(args.seed)
        untrained = TSPEdgeGNN(**card['kwargs'])
        rows = [('trained now', random_tsp.evaluate(trained, test)),
                (f'pretrained {name}',
                 random_tsp.evaluate(load_pretrained(name), test)),
                ('untrained', random_tsp.evaluate(untrained, test)),
                ('LKH-3 labels', 0.0)]
        print(f'\n== Optimality gap on the fixed test split of {name} '
              f'({len(test)} graphs; tour length vs the LKH-3 label) ==')
        print(f"  {'model':24s} {'gap %':>8s}")
        for label, gap in rows:
            print(f'  {label:24s} {gap:8.3f}')
    else:
        print(f'(no pretrained {name} checkpoint to compare with)')
    print(f'\nDone in {time.perf_counter() - t0:.0f} s. Plots and metrics: '
          f'{os.path.abspath(out)}')
    for f in sorted(os.listdir(out)):
        if f.endswith('.png'):
            print(f'  {os.path.join(os.path.abspath(out), f)}')
    return dict(result=result, comparison=dict(rows), out=out)


TASKS = {
    'random_tsp': 'TSP edge-cost GNN on RandomTSP (IdentityTSP)',
    'globe_tsp': 'Globe TSP: country images to tours (IdentityTSP)',
    'terrain_shortest_path': 'terrain maps to shortest paths '
    '(IdentityShortestPath)',
    'graph_matching': 'keypoint matching (IdentityMatching / '
    'IdentityGraphMatching)',
    'dvae': 'discrete VAE on MNIST with k-hot latents (IdentityTopK)',
    'retrieval': 'MNIST retrieval with a recall loss (IdentityRanking)',
}

# Which experiment module evaluates a checkpoint, by its model's module.
EXPERIMENT_OF_MODEL = {
    'pyg_identity.models.tsp_gnn': 'random_tsp',
    'pyg_identity.models.globe_tsp': 'globe_tsp',
    'pyg_identity.models.terrain_net': 'terrain_shortest_path',
    'pyg_identity.models.keypoint_matcher': 'graph_matching',
}


def _experiment(task: str):
    import importlib
    if task not in TASKS:
        raise SystemExit(f"pyg-identity: unknown task {task!r}; choose one "
                         f"of {', '.join(TASKS)}")
    return importlib.import_module(f'pyg_identity.experiments.{task}')


def train(argv: List[str]) -> int:
    r"""Runs :obj:`pyg-identity train TASK [options]`; a missing dataset
    ends with a one-line error on stderr and status 1."""
    parser = _ArgumentParser(
        prog='pyg-identity train',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            'Trains a paper experiment; options after the task go to the '
            'experiment (see pyg-identity train TASK --help).', 79),
        epilog='tasks:\n' + '\n'.join(f'  {k:22s} {v}'
                                       for k, v in TASKS.items()))
    parser.add_argument('task', choices=list(TASKS), metavar='TASK',
                        help='the experiment (see the tasks below)')
    parser.add_argument('options', nargs=argparse.REMAINDER,
                        help='options of the experiment')
    args = parser.parse_args(argv)
    module = _experiment(args.task)
    from pyg_identity.experiments._common import DataNotFoundError
    try:
        module.main(args.options)
    except DataNotFoundError as e:
        print(f'pyg-identity train {args.task}: error: {e}', file=sys.stderr)
        return 1
    return 0


def compare(argv: List[str]) -> int:
    r"""Runs :obj:`pyg-identity compare TASK --backward NAME ...` (see
    :mod:`pyg_identity.compare`)."""
    from pyg_identity.compare import main as compare_main
    return compare_main(argv)


def evaluate(argv: List[str]) -> int:
    from pyg_identity.models.pretrained import (
        available,
        card_dataset,
        load_pretrained,
        model_card,
    )
    parser = _ArgumentParser(
        prog='pyg-identity eval',
        description='Evaluates a pretrained checkpoint (or the one of a '
        'task) on the fixed test split of its model card.')
    parser.add_argument('name', help='checkpoint name (see list-models) or '
                        'task name')
    parser.add_argument('--root', default=None, metavar='DIR',
                        help='dataset root (default: the default folder of '
                        'the dataset named on the model card)')
    args = parser.parse_args(argv)
    names = available()
    name = args.name
    if name not in names:
        matches = [n for n in names if EXPERIMENT_OF_MODEL.get(
            model_card(n)['class'].rpartition('.')[0]) == name]
        if not matches:
            raise SystemExit(f"pyg-identity: no checkpoint {name!r}; "
                             f"available: {', '.join(names) or 'none'}")
        name = matches[0]
    card = model_card(name)
    model = load_pretrained(name)
    task = EXPERIMENT_OF_MODEL[card['class'].rpartition('.')[0]]
    dataset = card_dataset(card, args.root)
    t0 = time.perf_counter()
    value = _experiment(task).evaluate(model, dataset)
    print(f"{'checkpoint':18s} {'metric':28s} {'card':>10s} {'now':>10s}")
    print(f"{name:18s} {card['metric']:28s} {card['value']:10.4f} "
          f"{value:10.4f}   ({time.perf_counter() - t0:.1f} s, "
          f"{len(dataset)} test instances)")
    return 0


def list_models(argv: List[str]) -> int:
    from pyg_identity.models.pretrained import (
        available,
        checkpoint_dir,
        model_card,
    )
    _ArgumentParser(
        prog='pyg-identity list-models',
        description='Lists the pretrained checkpoints.').parse_args(argv)
    names = available()
    print(f'Pretrained checkpoints in {checkpoint_dir()}:')
    if not names:
        print('  (none)')
    for n in names:
        card = model_card(n)
        print(f"  {n:18s} {card['task']:34s} {card['metric']} = "
              f"{card['value']:.4g}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    from pyg_identity import __version__
    parser = _ArgumentParser(
        prog='pyg-identity',
        description='Exact combinatorial solvers as trainable PyG layers '
        '(Identity gradient with projections, Sahoo et al. ICLR 2023).',
        epilog='Run pyg-identity COMMAND --help for the options of a '
        'command, pyg-identity train TASK --help for those of a task.')
    parser.add_argument('--version', action='version',
                        version=f'pyg-identity {__version__}')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('demo', add_help=False,
                   help='the main job: train a TSP model through IdentityTSP')
    sub.add_parser('train', add_help=False,
                   help='train a paper experiment: ' + ', '.join(TASKS))
    sub.add_parser('compare', add_help=False,
                   help='train a task with several gradient estimators '
                   '(--backward) on the same seeds; a table and a plot')
    sub.add_parser('eval', add_help=False,
                   help='evaluate a pretrained checkpoint on its test split')
    sub.add_parser('list-models', add_help=False,
                   help='list the pretrained checkpoints')
    args, rest = parser.parse_known_args(argv)
    commands = {'demo': lambda r: demo(r) and 0, 'train': train,
                'compare': compare, 'eval': evaluate,
                'list-models': list_models}
    return int(commands[args.command](rest) or 0)


if __name__ == '__main__':
    sys.exit(main())
