r"""Gradient estimators side by side on one paper experiment:
:obj:`pyg-identity compare TASK --backward identity blackbox ... --seeds N
[-- experiment flags]`.

Every estimator trains with the same experiment flags on seeds
:obj:`0 .. N-1` (an experiment's data depend on its flags and seed only,
so every estimator sees the same data for a seed), each run in its own folder
:obj:`OUT/<backward>/seed<k>/` through the experiment's :obj:`main(argv)`.
The harness then reads the runs' :obj:`metrics.json` and writes to
:obj:`OUT`:

* :obj:`compare.md`: per estimator the task's main metric (mean ± sd over
  the seeds), the wall time of a run and the solver calls per training
  step (:obj:`n/a` unless the experiment logs :obj:`solver_calls`), then the
  main metric of every seed;
* :obj:`compare.png`: the main metric per epoch, mean over the seeds, one
  line per estimator;
* :obj:`compare.json`: the same numbers for scripts.
"""
import argparse
import json
import math
import os
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple


@dataclass(frozen=True)
class MainMetric:
    r"""The metric a comparison reports for one task.

    Args:
        final (str): Its key in :obj:`metrics.json["final"]` (the test
            split at the end of training).
        history (str): The per-epoch key in :obj:`metrics.json["history"]`
            for the plot (the split the experiment evaluates every epoch).
        label (str): What it is, for the table and the plot.
        unit (str): Its unit (the y-axis label of the plot).
        lower_is_better (bool): Whether lower values are better.
        history_label (str, optional): What the per-epoch values are, if
            not :obj:`label` (*e.g.* a validation split).
            (default: :obj:`None`)
    """
    final: str
    history: str
    label: str
    unit: str
    lower_is_better: bool
    history_label: Optional[str] = None

    def header(self) -> str:
        arrow = 'lower is better' if self.lower_is_better else \
            'higher is better'
        return f'{self.label} ({self.unit}; {arrow})'


#: The main metric of every task of :obj:`pyg-identity train`.
MAIN_METRICS: Dict[str, MainMetric] = {
    'random_tsp': MainMetric('test_gap_pct', 'test_gap_pct',
                             'test optimality gap', '%', True),
    'globe_tsp': MainMetric('test_acc_pct', 'test_acc_pct',
                            'test accuracy (optimal tours)', '%', False),
    'terrain_shortest_path': MainMetric(
        'test_cost_ratio_pct', 'val_cost_ratio_pct', 'test cost ratio',
        '% of optimal', True, 'validation cost ratio'),
    'graph_matching': MainMetric('test_acc_pct', 'test_acc_pct',
                                 'test matching accuracy', '%', False),
    'dvae': MainMetric('test_n_elbo', 'test_n_elbo', 'test N-ELBO',
                       'nats per image', True),
    'retrieval': MainMetric('test_recall_at_1_pct', 'test_recall_at_1_pct',
                            'test recall@1', '%', False),
}

#: Experiment flags the harness sets itself (one value per run) or that
#: do not make one run per folder.
RESERVED_FLAGS = {
    '--backward': 'give the estimators with compare --backward',
    '--seed': 'give the number of seeds with compare --seeds',
    '--out': 'give the folder with compare --out',
    '--projection': 'give it with compare --projection',
    '--save': 'the runs would overwrite one checkpoint',
    '--save-ranks': 'the runs would overwrite the rank files',
    '--ablation': 'an ablation writes several runs per folder; compare one '
                  'projection with compare --projection',
}


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> 'NoReturn':  # type: ignore[override]
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} '
                  f'--help)\n')


def backwards() -> Tuple[str, ...]:
    r"""The backward names the gradient mechanism accepts now
    (:obj:`pyg_identity.nn.functional.settings.BACKWARDS`)."""
    from pyg_identity.nn.functional.settings import BACKWARDS
    return tuple(BACKWARDS)


def parser() -> argparse.ArgumentParser:
    from pyg_identity.cli import TASKS
    fill = lambda text: textwrap.fill(text, 79)  # noqa: E731
    p = _ArgumentParser(
        prog='pyg-identity compare',
        usage='%(prog)s TASK --backward NAME [NAME ...] [options] '
        '[-- FLAGS]',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description='\n\n'.join(fill(t) for t in (
            'Trains one paper experiment with every listed gradient '
            'estimator (--backward) on the same data and seeds 0..N-1, '
            'each run into OUT/<backward>/seed<k>/, and writes '
            'OUT/compare.md (per estimator: the main metric mean ± sd over '
            'the seeds, the wall time of a run, the solver calls per '
            'training step), OUT/compare.png (the main metric per epoch, '
            'mean over the seeds, one line per estimator) and '
            'OUT/compare.json.',
            'FLAGS after -- go to every run unchanged (see pyg-identity '
            'train TASK --help), e.g. -- --tiny --epochs 3; --backward, '
            '--seed, --out and --projection are set by compare.')),
        epilog='tasks and their main metric:\n' + '\n'.join(
            f'  {k:22s} {MAIN_METRICS[k].header()}' for k in TASKS))
    p.add_argument('task', choices=list(TASKS), metavar='TASK',
                   help='the experiment (see the tasks below)')
    p.add_argument('--backward', nargs='+', required=True, metavar='NAME',
                   help='the gradient estimators to compare, in table '
                   'order (those of this install: '
                   f"{', '.join(backwards())})")
    p.add_argument('--seeds', type=_positive_int, default=3, metavar='N',
                   help='train every estimator on seeds 0..N-1 '
                   '(default: 3)')
    p.add_argument('--projection', default=None, metavar='P',
                   help="the --projection of every run (default: the "
                   "experiment's)")
    p.add_argument('--out', default=None, metavar='DIR',
                   help='the folder of the runs and the report (default: '
                   'runs/compare-<task>-<time>)')
    return p


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(
            f'expected a positive integer, got {value!r}')
    return n


def _reserved(flags: Sequence[str]) -> Optional[str]:
    for flag in flags:
        name = flag.split('=', 1)[0]
        if name in RESERVED_FLAGS:
            return f'{name} cannot follow --: {RESERVED_FLAGS[name]}'
    return None


def run_argv(extra: Sequence[str], backward: str, seed: int, out: str,
             projection: Optional[str] = None) -> List[str]:
    r"""The :obj:`argv` of one run: the shared flags :obj:`extra`, then
    the run's :obj:`--backward`, :obj:`--seed` and :obj:`--out` (and
    :obj:`--projection` if given)."""
    argv = list(extra) + ['--backward', backward, '--seed', str(seed),
                          '--out', out]
    if projection is not None:
        argv += ['--projection', projection]
    return argv


# Reading the runs ############################################################


def _mean_sd(values: Sequence[float]) -> Tuple[float, float]:
    values = [float(v) for v in values]
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def solver_calls(metrics: Dict[str, Any]) -> Optional[float]:
    r"""Solver calls per training step of a run: :obj:`final["solver_calls"]`
    if the experiment wrote it, else the mean of the per-epoch
    :obj:`solver_calls` of the history, else :obj:`None`."""
    final = metrics.get('final', {})
    for key in ('solver_calls', 'solver_calls_per_step'):
        if isinstance(final.get(key), (int, float)):
            return float(final[key])
    rows = [row.get('solver_calls', row.get('solver_calls_per_step'))
            for row in metrics.get('history', [])]
    rows = [r for r in rows if isinstance(r, (int, float))]
    return sum(rows) / len(rows) if rows else None


def summarise(task: str, runs: Dict[str, List[Dict[str, Any]]]
              ) -> Dict[str, Any]:
    r"""The comparison of :obj:`runs` (per backward, the :obj:`metrics.json`
    of each seed, in seed order) of :obj:`task`: per estimator the main
    metric, wall time and solver calls (mean and sd over the seeds, and the
    values per seed) and the per-epoch curve (mean and sd over the seeds of
    the epochs every seed logged)."""
    metric = MAIN_METRICS[task]
    rows: Dict[str, Dict[str, Any]] = {}
    for backward, seeds in runs.items():
        values = []
        for i, m in enumerate(seeds):
            if metric.final not in m.get('final', {}):
                raise KeyError(f'{task} run {i} of {backward} has no final '
                               f'{metric.final!r} in its metrics.json')
            values.append(float(m['final'][metric.final]))
        walls = [float(m.get('wall_time_s', math.nan)) for m in seeds]
        calls = [solver_calls(m) for m in seeds]
        per_epoch: Dict[int, List[float]] = {}
        for m in seeds:
            for row in m.get('history', []):
                if isinstance(row.get(metric.history), (int, float)):
                    per_epoch.setdefault(int(row['epoch']), []).append(
                        float(row[metric.history]))
        epochs = sorted(e for e, v in per_epoch.items()
                        if len(v) == len(seeds))
        curve = [_mean_sd(per_epoch[e]) for e in epochs]
        known = [c for c in calls if c is not None]
        rows[backward] = dict(
            values=values, mean=_mean_sd(values)[0],
            sd=_mean_sd(values)[1], wall_time_s=walls,
            wall_mean=_mean_sd(walls)[0], wall_sd=_mean_sd(walls)[1],
            solver_calls=calls,
            solver_calls_mean=(_mean_sd(known)[0]
                               if len(known) == len(calls) and known
                               else None),
            epochs=epochs, curve_mean=[c[0] for c in curve],
            curve_sd=[c[1] for c in curve])
    return dict(task=task, metric=dict(asdict(metric),
                                       header=metric.header()),
                seeds=len(next(iter(runs.values()))), estimators=rows)


def _fmt(mean: float, sd: float, digits: int = 4) -> str:
    if math.isnan(mean):
        return 'n/a'
    if math.isnan(sd):
        return f'{mean:.{digits}g}'
    return f'{mean:.{digits}g} ± {sd:.2g}'


def markdown(summary: Dict[str, Any], command: str = '') -> str:
    r"""The Markdown report of :func:`summarise`'s :obj:`summary`."""
    metric = summary['metric']
    n = summary['seeds']
    lines = [f"# {summary['task']}: gradient estimators compared", '']
    if command:
        lines += [f'Command: `{command}`', '']
    lines += [textwrap.fill(
        f"Main metric: {metric['label']} ({metric['unit']}), "
        f"{'lower' if metric['lower_is_better'] else 'higher'} is better; "
        f"mean ± sd over {n} seed{'s' if n > 1 else ''} (0..{n - 1}), "
        f"the same data and flags for every estimator. Wall time: one run "
        f"(training and its per-epoch evaluation, from the experiment's "
        f"metrics.json). Solver calls per training step: as the experiment "
        f"logs them (n/a where it does not).", 79), '',
        f"| estimator | {metric['header']} | wall time per run (s) | "
        f"solver calls / step |",
        '|---|---|---|---|']
    for name, row in summary['estimators'].items():
        calls = row['solver_calls_mean']
        lines.append(
            f"| {name} | {_fmt(row['mean'], row['sd'])} | "
            f"{_fmt(row['wall_mean'], row['wall_sd'], 3)} | "
            f"{'n/a' if calls is None else f'{calls:.3g}'} |")
    lines += ['', f"Per seed ({metric['label']}, {metric['unit']}):", '',
              '| estimator | ' + ' | '.join(f'seed {s}' for s in range(n)) +
              ' |', '|---|' + '---|' * n]
    for name, row in summary['estimators'].items():
        lines.append(f'| {name} | ' + ' | '.join(
            f'{v:.4g}' for v in row['values']) + ' |')
    lines.append('')
    return '\n'.join(lines)


def parse_markdown(text: str) -> Dict[str, Dict[str, str]]:
    r"""Reads the first table of :func:`markdown` back: estimator ->
    column header -> cell text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('|'))
    table = []
    for line in lines[start:]:
        if not line.startswith('|'):
            break
        table.append(line)
    header = [c.strip() for c in table[0].strip('|').split('|')]
    out: Dict[str, Dict[str, str]] = {}
    for line in table[2:]:
        cells = [c.strip() for c in line.strip('|').split('|')]
        out[cells[0]] = dict(zip(header[1:], cells[1:]))
    return out


def figure(summary: Dict[str, Any]) -> Any:
    r"""The plot of the main metric per epoch (mean over the seeds, a band
    of ± sd, one line per estimator) as a matplotlib figure (Agg); needs
    matplotlib (extra :obj:`plot`)."""
    from matplotlib.ticker import MaxNLocator

    from pyg_identity.utils.plot import import_pyplot
    plt = import_pyplot()
    metric = summary['metric']
    n = summary['seeds']
    fig, ax = plt.subplots(figsize=(6, 4))
    # Markers and dashes differ too, so that equal curves stay visible.
    styles = [('o', '-'), ('s', '--'), ('^', '-.'), ('D', ':'), ('v', '-')]
    for i, (name, row) in enumerate(summary['estimators'].items()):
        if not row['epochs']:
            continue
        mean, sd = row['curve_mean'], row['curve_sd']
        marker, dashes = styles[i % len(styles)]
        line, = ax.plot(row['epochs'], mean, marker=marker,
                        linestyle=dashes, markersize=7 - i % 3,
                        label=name)
        if n > 1:
            ax.fill_between(row['epochs'], [m - s for m, s in zip(mean, sd)],
                            [m + s for m, s in zip(mean, sd)], alpha=0.2,
                            color=line.get_color())
    what = metric['history_label'] or metric['label']
    ax.set_title(f"{summary['task']}: {what} per epoch\n(mean"
                 f"{' ± sd' if n > 1 else ''} over {n} seed"
                 f"{'s' if n > 1 else ''}; "
                 f"{'lower' if metric['lower_is_better'] else 'higher'} is "
                 f"better)", fontsize=10)
    ax.set_xlabel('epoch')
    ax.set_ylabel(f"{what} ({metric['unit']})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(title='backward')
    fig.tight_layout()
    return fig


def _no_nan(value: Any) -> Any:
    # Strict JSON: NaN (an sd of one seed, a missing wall time) -> null.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


# The harness #################################################################


def compare(task: str, backward: Sequence[str], seeds: int = 3,
            extra: Sequence[str] = (), out: Optional[str] = None,
            projection: Optional[str] = None) -> Dict[str, Any]:
    r"""Trains :obj:`task` with every estimator of :obj:`backward` on seeds
    :obj:`0 .. seeds-1` (each run in :obj:`out/<backward>/seed<k>/` via the
    experiment's :obj:`main`, with the experiment flags :obj:`extra`) and
    writes :obj:`compare.md`, :obj:`compare.png` and :obj:`compare.json` to
    :obj:`out`; returns the summary (see :func:`summarise`) with the paths
    of the three files.

    Args:
        task (str): A task of :obj:`pyg-identity train`.
        backward (list of str): The estimators (names of
            :obj:`pyg_identity.nn.functional.settings.BACKWARDS`).
        seeds (int, optional): The number of seeds. (default: :obj:`3`)
        extra (list of str, optional): The experiment flags of every run.
            (default: :obj:`()`)
        out (str, optional): The folder. (default: :obj:`None`, a new
            :obj:`runs/compare-<task>-<time>`)
        projection (str, optional): The :obj:`--projection` of every run.
            (default: :obj:`None`, the experiment's default)
    """
    import importlib
    if task not in MAIN_METRICS:
        raise ValueError(f"'task' must be one of {', '.join(MAIN_METRICS)} "
                         f"(got {task!r})")
    known = backwards()
    backward = list(backward)
    for name in backward:
        if name not in known:
            raise ValueError(f"'backward' has the unknown estimator "
                             f"{name!r}; this install has "
                             f"{', '.join(known)}")
    if len(set(backward)) != len(backward) or not backward:
        raise ValueError(f"'backward' must list distinct estimators (got "
                         f"{backward})")
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"'seeds' must be a positive integer (got "
                         f"{seeds!r})")
    problem = _reserved(extra)
    if problem is not None:
        raise ValueError(f"'extra': {problem}")
    module = importlib.import_module(f'pyg_identity.experiments.{task}')
    out = out or os.path.join(
        'runs', f'compare-{task}-{time.strftime("%Y%m%d-%H%M%S")}')
    # Every run's flags parse before the first run trains (a typo fails in
    # a second, not after the first estimator's runs).
    if hasattr(module, 'parser'):
        for name in backward:
            module.parser().parse_args(run_argv(extra, name, 0, out,
                                                projection))
    os.makedirs(out, exist_ok=True)
    runs: Dict[str, List[Dict[str, Any]]] = {}
    total = len(backward) * seeds
    for i, name in enumerate(backward):
        runs[name] = []
        for seed in range(seeds):
            folder = os.path.join(out, name, f'seed{seed}')
            print(f'== compare {task} [{i * seeds + seed + 1}/{total}]: '
                  f'{name} backward, seed {seed} -> {folder} ==', flush=True)
            module.main(run_argv(extra, name, seed, folder, projection))
            with open(os.path.join(folder, 'metrics.json')) as f:
                runs[name].append(json.load(f))
    summary = summarise(task, runs)
    command = ' '.join(['pyg-identity compare', task, '--backward',
                        *backward, '--seeds', str(seeds)] +
                       (['--projection', projection] if projection else []) +
                       (['--', *extra] if extra else []))
    md = os.path.join(out, 'compare.md')
    with open(md, 'w') as f:
        f.write(markdown(summary, command))
    png = os.path.join(out, 'compare.png')
    fig = figure(summary)
    fig.savefig(png, dpi=100)
    from pyg_identity.utils.plot import import_pyplot
    import_pyplot().close(fig)
    summary = dict(summary, command=command, markdown=md, plot=png)
    path = os.path.join(out, 'compare.json')
    with open(path, 'w') as f:
        json.dump(_no_nan(dict(summary, json=path)), f, indent=2)
    summary['json'] = path
    print(f'\n{markdown(summary)}\nReport: {md}\nPlot: {png}')
    return summary


def main(argv: Optional[List[str]] = None) -> int:
    r"""Runs :obj:`pyg-identity compare`; usage errors (a bad task, an
    unknown estimator, a reserved experiment flag) are one line on stderr
    with status 2, a missing dataset one line with status 1."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: List[str] = []
    if '--' in argv:
        at = argv.index('--')
        argv, extra = argv[:at], argv[at + 1:]
    p = parser()
    args, unknown = p.parse_known_args(argv)
    if unknown:
        p.error(f"unrecognized arguments: {' '.join(unknown)} (experiment "
                f"flags go after --, e.g. -- --tiny)")
    known = backwards()
    for name in args.backward:
        if name not in known:
            p.error(f'argument --backward: unknown estimator {name!r} '
                    f"(choose from {', '.join(known)})")
    if len(set(args.backward)) != len(args.backward):
        p.error('argument --backward: an estimator is listed twice')
    problem = _reserved(extra)
    if problem is not None:
        p.error(problem)
    from pyg_identity.experiments._common import DataNotFoundError
    try:
        compare(args.task, args.backward, args.seeds, extra, args.out,
                args.projection)
    except DataNotFoundError as e:
        print(f'{p.prog} {args.task}: error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
