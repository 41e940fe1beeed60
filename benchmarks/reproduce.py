"""Regenerates REPRODUCTION.md: runs the paper-experiment scripts at an
affordable setting (several seeds where the paper reports mean +- std),
reads the metrics.json files they write, and puts the paper's number beside
ours, claim by claim (paper digest Sec. 7).

    python benchmarks/reproduce.py            # run what is missing, write
    python benchmarks/reproduce.py --no-run   # only rewrite from the runs
    python benchmarks/reproduce.py --seeds 3 --only claim7

Runs land in runs/reproduce/<config>/seed<s>/ (git-ignored); the plots of
the report land in docs/reproduction/.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from pyg_identity.experiments._common import (
    current_metrics,
    current_result,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = os.path.join(REPO, 'runs', 'reproduce')
PLOTS = os.path.join(REPO, 'docs', 'reproduction')
# Committed copies of the runs' metrics.json (so the report can be rebuilt
# from a clone): docs/reproduction/metrics/<config>/seed<s>.json.
METRICS = os.path.join(PLOTS, 'metrics')
REAL_FLAGS = os.path.join(PLOTS, 'real_flags')

# The verdict rule, stated at the top of the report and applied below.
RULE = ('**Verdict rule.** A row is *reproduced* only where our mean lies '
        'within the paper\'s reported ± (or within 1.5 points where the '
        'paper gives none) **at the paper\'s scale** (its data size, '
        'epochs, optimiser and schedule). Everything else is *not '
        'reproduced*, with the measured reason: not at the paper\'s scale '
        '(then the direction of the effect is reported, not judged), or '
        'outside the paper\'s spread. Ratios count as percentages for the '
        '1.5 points.')

# The paper's scale for the Globe TSP (Sec. 4.4, B.4): 10,000 train /
# 1,000 test, Adam lr 1e-4, batch 50, 100 epochs, the margin in the first
# 50; these are the script's defaults, so the rows state only k, alpha and
# the backward.
PAPER_GLOBE: List[str] = []
# Reduced settings (2 CPU cores): small data, few epochs; the rest of the
# flags are the scripts' defaults (the paper's optimiser and lr).
GLOBE = ['--num-train', '2000', '--num-test', '200', '--epochs', '16',
         '--batch-size', '50']
GM = ['--num-train', '400', '--num-test', '100', '--epochs', '5']
TERRAIN = ['--num-train', '600', '--num-val', '100', '--num-test', '200',
           '--epochs', '8', '--batch-size', '35', '--lr-milestones', '5']
# MNIST from a local copy: ../shared/data/mnist beside the checkout, or
# $PYG_IDENTITY_MNIST. Commands in the report show the placeholder.
MNIST = os.environ.get('PYG_IDENTITY_MNIST') or os.path.join(
    os.path.dirname(REPO), 'shared', 'data', 'mnist')
MNIST_SHOWN = '$MNIST'
RETRIEVAL = ['--epochs', '4', '--root', MNIST]
DVAE = ['--epochs', '4', '--root', MNIST]

# Stated deviations from the paper's Globe TSP setting: config suffix ->
# (flags, what the row says, the (k, alpha) that ran). The paper gives Adam
# lr 1e-4 and no schedule; the Blackbox paper's code for the same task decays
# the lr stepwise (MultiStepLR, gamma 0.1) in every Globe TSP setting and
# uses Adam betas (0.5, 0.999), eps 1e-3 (1e-2 at TSP(10)), and it feeds its
# flags unnormalised, in [0, 255].
BB_ADAM = ['--adam-betas', '0.5', '0.999', '--adam-eps', '1e-3']
BYTE = ['--input-scale', '255']
GLOBE_DEVIATIONS: Dict[str, Tuple[List[str], str, Tuple[Tuple[int, str],
                                                        ...]]] = {
    '_decay': (['--lr', '1e-3', '--lr-milestones', '70', '85'],
               'Adam 1e-3 ÷10 after epochs 70, 85',
               ((10, '0.1'), (5, '0.1'), (5, '0'))),
    '_step': (['--lr-milestones', '70', '85'],
              'the paper\'s Adam 1e-4, ÷10 after epochs 70, 85 (a step '
              'decay, as the Blackbox code\'s)',
              ((5, '0.1'), (10, '0.1'), (20, '0.1'), (5, '0.5'))),
    '_bbadam': (BB_ADAM,
                'the Blackbox code\'s Adam β = (0.5, 0.999), ε = 1e-3, '
                'constant 1e-4',
                ((5, '0.1'),)),
    '_bbcode': (BB_ADAM + ['--lr-milestones', '20', '40', '60', '80', '90'],
                'the Blackbox code\'s whole TSP(5) optimiser: its Adam, 1e-4 '
                '÷10 after epochs 20, 40, 60, 80, 90',
                ((5, '0.1'),)),
    '_stepbbadam': (BB_ADAM + ['--lr-milestones', '70', '85'],
                    'the Blackbox code\'s Adam, 1e-4 ÷10 after epochs 70, 85',
                    ((5, '0.1'),)),
    '_early': (['--lr-milestones', '55', '85'],
               'Adam 1e-4 ÷10 after epochs 55, 85',
               ((5, '0.1'),)),
    '_step_noiseall': (['--noise-epochs', '100', '--lr-milestones', '70',
                        '85'],
                       'the margin in all 100 epochs, 1e-4 ÷10 after epochs '
                       '70, 85',
                       ((5, '0.1'),)),
    '_step_byte': (BYTE + ['--lr-milestones', '70', '85'],
                   'flags in [0, 255] as the Blackbox code feeds them, 1e-4 '
                   '÷10 after epochs 70, 85',
                   ((5, '0.1'),)),
    '_byte': (BYTE, 'flags in [0, 255] as the Blackbox code feeds them, '
              'constant 1e-4', ((5, '0'),)),
    '_step_train20k': (['--num-train', '20000', '--lr-milestones', '70',
                        '85'],
                       'twice the paper\'s training examples (20,000), 1e-4 '
                       '÷10 after epochs 70, 85',
                       ((5, '0.1'),)),
}

# config name -> (experiment, flags)
CONFIGS: Dict[str, tuple] = {
    # Claims 1, 7 (Table 6, Fig. 4c) at the paper's scale.
    **{f'paper_globe{k}_id_a{a}': ('globe_tsp', PAPER_GLOBE + [
        '--k', str(k), '--noise', a]) for k in (5, 10, 20)
       for a in ('0', '0.1')},
    # Table 6's larger margins, TSP(5).
    **{f'paper_globe5_id_a{a}': ('globe_tsp', PAPER_GLOBE + [
        '--k', '5', '--noise', a]) for a in ('0.2', '0.5')},
    'paper_globe10_bb_a0.1': ('globe_tsp', PAPER_GLOBE + [
        '--k', '10', '--noise', '0.1', '--backward', 'blackbox']),
    # Fig. 4c proper: TSP(20) with gradient noise sigma = 0.25 on dl/dy,
    # Identity vs BB, the margin in the first 50 epochs.
    **{f'paper_globe20_{b}_a0.1_s0.25': ('globe_tsp', PAPER_GLOBE + [
        '--k', '20', '--noise', '0.1', '--grad-noise', '0.25'] + (
            ['--backward', 'blackbox'] if b == 'bb' else []))
       for b in ('id', 'bb')},
    # Stated deviations from the paper's Globe TSP setting (GLOBE_DEVIATIONS).
    **{f'paper_globe{k}_id_a{a}{suffix}': ('globe_tsp', PAPER_GLOBE + [
        '--k', str(k), '--noise', a] + flags)
       for suffix, (flags, _, runs) in GLOBE_DEVIATIONS.items()
       for k, a in runs},
    # Claim 8 (Fig. 4a): Identity vs BB under gradient noise (reduced).
    'globe10_id': ('globe_tsp', GLOBE + ['--k', '10', '--noise', '0.1',
                                         '--noise-epochs', '8']),
    'globe10_bb': ('globe_tsp', GLOBE + [
        '--k', '10', '--noise', '0.1', '--noise-epochs', '8', '--backward',
        'blackbox']),
    **{f'globe10_{b}_s{s}': ('globe_tsp', GLOBE + [
        '--k', '10', '--noise', '0.1', '--noise-epochs', '8', '--grad-noise',
        s] + (['--backward', 'blackbox'] if b == 'bb' else []))
       for b in ('id', 'bb') for s in ('0.25', '0.5')},
    # Claims 5, 6: graph matching (synthetic keypoints stand in for VOC).
    'gm_id': ('graph_matching', GM),
    'gm_bb': ('graph_matching', GM + ['--backward', 'blackbox']),
    'gm_id_norm': ('graph_matching', GM + ['--projection', 'norm']),
    'gm_bb_norm': ('graph_matching', GM + ['--projection', 'norm',
                                           '--backward', 'blackbox']),
    'gm_id_noise1': ('graph_matching', GM + ['--noise', '1.0']),
    'gm_bb_noise1': ('graph_matching', GM + ['--noise', '1.0', '--backward',
                                             'blackbox']),
    'gm_id_informed0.1': ('graph_matching', GM + ['--informed-margin',
                                                  '0.1']),
    # Claim 10: terrain shortest path (Table 7 rows alpha = 0 and 0.2).
    'terrain_id': ('terrain_shortest_path', TERRAIN),
    'terrain_bb': ('terrain_shortest_path', TERRAIN + ['--backward',
                                                       'blackbox']),
    'terrain_id_noise0.2': ('terrain_shortest_path', TERRAIN + [
        '--noise', '0.2']),
    'terrain_bb_noise0.2': ('terrain_shortest_path', TERRAIN + [
        '--noise', '0.2', '--backward', 'blackbox']),
    # Claims 2, 3, 9: retrieval projection ablation (MNIST for CUB).
    **{f'ret_id_{p}': ('retrieval', RETRIEVAL + ['--projection', p])
       for p in ('none', 'mean', 'norm', 'std')},
    'ret_bb_none': ('retrieval', RETRIEVAL + ['--backward', 'blackbox',
                                             '--projection', 'none']),
    'ret_bb_std': ('retrieval', RETRIEVAL + ['--backward', 'blackbox',
                                            '--projection', 'std']),
    # Claims 2, 4, 11: DVAE projection ablation, Identity vs BB.
    **{f'dvae_id_{p}': ('dvae', DVAE + ['--projection', p])
       for p in ('none', 'mean', 'norm', 'std')},
    'dvae_bb_std': ('dvae', DVAE + ['--backward', 'blackbox',
                                   '--projection', 'std']),
}


def run(config: str, seed: int) -> Optional[dict]:
    r"""The metrics of one run: runs/reproduce/<config>/seed<s>/, else the
    committed copy in docs/reproduction/metrics/; in the current metric
    keys whichever release wrote them (the old keys, e.g. :obj:`test_acc`
    or the fraction :obj:`test_recall_at_1`, are renamed and rescaled by
    the one table :obj:`RENAMED_METRICS`)."""
    for path in (os.path.join(RUNS, config, f'seed{seed}', 'metrics.json'),
                 os.path.join(METRICS, config, f'seed{seed}.json')):
        if os.path.exists(path):
            with open(path) as f:
                return current_result(json.load(f))
    return None


def log_row(line: str) -> Dict[str, Any]:
    r"""The metrics of one :obj:`Epoch NNN | key value | ...` line of an
    experiment's log, numbers as floats, in the current metric keys."""
    row: Dict[str, Any] = {}
    for part in line.split('|'):
        key, value = part.strip().split(' ', 1)
        try:
            row[key] = float(value)
        except ValueError:
            row[key] = value
    return current_metrics(row)


def collect() -> int:
    r"""Copies every run's metrics.json into docs/reproduction/metrics/
    (to be committed); returns the number copied."""
    n = 0
    for config in CONFIGS:
        folder = os.path.join(RUNS, config)
        if not os.path.isdir(folder):
            continue
        for seed_dir in sorted(os.listdir(folder)):
            src = os.path.join(folder, seed_dir, 'metrics.json')
            if not os.path.exists(src):
                continue
            with open(src) as f:
                data = json.load(f)
            data['args'] = _portable(data.get('args', {}))
            os.makedirs(os.path.join(METRICS, config), exist_ok=True)
            with open(os.path.join(METRICS, config, f'{seed_dir}.json'),
                      'w') as f:
                json.dump(data, f, indent=1)
            n += 1
    return n


def _portable(args: dict) -> dict:
    # No absolute paths of the machine that ran it.
    out = {}
    for k, v in args.items():
        marker = os.path.join('runs', 'reproduce', '')
        if isinstance(v, str) and marker in v:  # a run folder, wherever run
            v = marker + v.split(marker, 1)[1]
        elif isinstance(v, str) and os.path.isabs(v):
            v = (MNIST_SHOWN if os.path.abspath(v) == os.path.abspath(MNIST)
                 else os.path.relpath(v, REPO))
        out[k] = v
    return out


# Configurations run with one seed only (the most expensive ones).
ONE_SEED = ('paper_', 'globe10_id_s', 'globe10_bb_s', 'dvae_')


def seeds_of(config: str, seeds: int) -> int:
    return 1 if config.startswith(ONE_SEED) else seeds


def execute(config: str, seed: int) -> Optional[dict]:
    task, flags = CONFIGS[config]
    out = os.path.join(RUNS, config, f'seed{seed}')
    cmd = [sys.executable, '-m', f'pyg_identity.experiments.{task}'] + \
        flags + ['--seed', str(seed), '--out', out, '--quiet']
    t = time.perf_counter()
    print(f'[{time.strftime("%H:%M:%S")}] {config} seed {seed}: '
          f'{" ".join(cmd[2:])}', flush=True)
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}  # small tensors: 1 thread
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:  # e.g. two runs racing to build one dataset
        print(f'    {config} seed {seed} FAILED:\n{proc.stderr[-2000:]}',
              flush=True)
        return None
    print(f'    done in {time.perf_counter() - t:.0f} s', flush=True)
    return run(config, seed)


def command(config: str, seed: int) -> str:
    task, flags = CONFIGS[config]
    shown = [MNIST_SHOWN if f == MNIST else f for f in flags]
    return (f'python -m pyg_identity.experiments.{task} '
            f'{" ".join(shown)} --seed {seed}')


def stat(results: Dict[str, List[dict]], config: str, key: str,
         scale: float = 1.0) -> Optional[str]:
    vals = [r['final'][key] * scale for r in results.get(config, [])
            if r and r['final'].get(key) is not None]
    return _mean_sd(vals) if vals else None


def mean(results, config, key, scale=1.0) -> Optional[float]:
    vals = [r['final'][key] * scale for r in results.get(config, [])
            if r and r['final'].get(key) is not None]
    return statistics.mean(vals) if vals else None


def plots(results: Dict[str, List[dict]]) -> List[str]:
    from pyg_identity.experiments._common import import_pyplot
    plt = import_pyplot()
    os.makedirs(PLOTS, exist_ok=True)
    made = []
    # Fig. 4c: raw cost norm per epoch, Identity vs BB, margin off after 50.
    panels = [('Globe TSP(10), σ = 0, paper scale', (
        ('paper_globe10_id_a0.1', 'Identity, α = 0.1', 'C0'),
        ('paper_globe10_bb_a0.1', 'BB, α = 0.1', 'C1'),
        ('paper_globe10_id_a0', 'Identity, α = 0', 'C2')))]
    if any(results.get(f'paper_globe20_{b}_a0.1_s0.25')
           or _partial_history(f'paper_globe20_{b}_a0.1_s0.25')
           for b in ('id', 'bb')):
        panels.append(('Globe TSP(20), σ = 0.25, the Fig. 4c setting', (
            ('paper_globe20_id_a0.1_s0.25', 'Identity, α = 0.1', 'C0'),
            ('paper_globe20_bb_a0.1_s0.25', 'BB, α = 0.1', 'C1'))))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.4),
                             squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels):
        true_norm = None
        for config, label, color in curves:
            for i, r in enumerate(results.get(config, [])):
                pts = [(h['epoch'], h['cost_norm']) for h in r['history']]
                ax.plot(*zip(*pts), color=color, alpha=0.85,
                        label=label if i == 0 else None)
                true_norm = r['final'].get('true_cost_norm', true_norm)
            part = _partial_history(config)
            if not results.get(config) and part:
                ax.plot([e for e, _ in part], [v for _, v in part],
                        color=color, ls='--', alpha=0.85,
                        label=f'{label} (unfinished, {part[-1][0]} epochs)')
        if true_norm is not None:
            ax.axhline(true_norm, color='k', ls=':', lw=1,
                       label='true distances')
        ax.axvline(50.5, color='gray', ls='--', lw=1)
        ax.set_xlabel('epoch (margin off after the dashed line)')
        ax.set_ylabel('mean raw cost norm per graph')
        ax.set_title(title if 'Fig. 4c' in title else f'{title} (cf. Fig. 4c)',
                     fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(PLOTS, 'cost_norm.png')
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(path)
    # Fig. 4a: accuracy vs gradient noise (reduced setting).
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for method, key in (('Identity', 'id'), ('BB', 'bb')):
        xs, ys = [], []
        for sigma, suffix in ((0.0, ''), (0.25, '_s0.25'), (0.5, '_s0.5')):
            v = mean(results, f'globe10_{key}{suffix}', 'test_acc_pct')
            if v is not None:
                xs.append(sigma)
                ys.append(v)
        ax.plot(xs, ys, marker='o', label=method)
    ax.set_xlabel('gradient noise sigma')
    ax.set_ylabel('test tour accuracy %')
    ax.set_title('Globe TSP(10) robustness, reduced (cf. Fig. 4a)')
    ax.legend()
    fig.tight_layout()
    path = os.path.join(PLOTS, 'grad_noise.png')
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(path)
    return made


def values(results, config, key, scale=1.0) -> List[float]:
    return [r['final'][key] * scale for r in results.get(config, [])
            if r and r['final'].get(key) is not None]


def judge(ours: List[float], paper: float, paper_sd: Optional[float],
          at_scale: bool, why_not: str = '') -> str:
    r"""Applies :data:`RULE` to one number."""
    if not ours:
        return 'not run'
    if not at_scale:
        return f'not reproduced (not at the paper\'s scale: {why_not})'
    within, text = _against(ours, paper, paper_sd)
    return f'reproduced ({text})' if within else f'not reproduced ({text})'


def _against(ours: List[float], paper: float,
             paper_sd: Optional[float]) -> Tuple[bool, str]:
    r"""Whether the mean of :obj:`ours` lies within the paper's band (its ±,
    or 1.5 points), and that said in words: :obj:`"98.47 outside 99.67 ±
    0.1"`."""
    m = statistics.mean(ours)
    tol = paper_sd if paper_sd is not None else 1.5
    within = abs(m - paper) <= tol
    return within, (f"{m:.2f} {'within' if within else 'outside'} "
                     f'{paper} ± {tol}')


# The Globe TSP runs report two accuracies: full tours (`test_acc_pct`) and
# the share of right entries of the k x k tour adjacency matrix
# (`test_entry_acc_pct`, the Blackbox code's `accuracy`; runs of earlier
# releases lack it).
ENTRY = 'test_entry_acc_pct'


def _entries(results: Dict[str, List[dict]], config: str, paper: float,
             paper_sd: float, at_scale: bool = True) -> Tuple[str, str]:
    r"""The entry accuracy of :obj:`config` as a cell, and its comparison
    with Table 6 (judged by :data:`RULE` where :obj:`at_scale`)."""
    vals = values(results, config, ENTRY)
    if not vals:
        return 'not measured', 'entries: not measured'
    runs = len(results.get(config, []))
    cell = stat(results, config, ENTRY) + (
        f' ({len(vals)} of {runs} seeds)' if len(vals) < runs else '')
    if at_scale:
        return cell, 'entries: ' + judge(vals, paper, paper_sd, True)
    return cell, 'entries ' + _against(vals, paper, paper_sd)[1]


# Table 6 of the paper: (k, alpha) -> (mean, sd) of the test accuracy.
TABLE6 = {(5, '0'): (91.09, 0.07), (5, '0.1'): (99.67, 0.10),
          (5, '0.2'): (99.67, 0.10), (5, '0.5'): (99.68, 0.09),
          (10, '0'): (85.31, 0.15), (10, '0.1'): (99.72, 0.04),
          (10, '0.2'): (99.76, 0.07), (10, '0.5'): (99.76, 0.04),
          (20, '0'): (88.45, 0.88), (20, '0.1'): (99.78, 0.04),
          (20, '0.2'): (94.50, 10.53), (20, '0.5'): (99.80, 0.06)}


def _collapse(results, config) -> Optional[str]:
    r = results.get(config)
    if not r:
        return None
    norms = {h['epoch']: h['cost_norm'] for h in r[0]['history']}
    off = max(e for e in norms if e <= 50) if any(
        e <= 50 for e in norms) else min(norms)
    last = norms[max(norms)]
    return (f'{norms[off]:.2f} at epoch {off} → {last:.2f} at epoch '
            f'{max(norms)} (×{last / norms[off]:.2f})')


def _ratio(results, config) -> float:
    # The raw cost norm at the end over the one at epoch 50 (margin off).
    norms = {h['epoch']: h['cost_norm'] for h in results[config][0]['history']}
    off = max(e for e in norms if e <= 50) if any(
        e <= 50 for e in norms) else min(norms)
    return norms[max(norms)] / norms[off]


def _wall(results, config) -> str:
    vals = [r['wall_time_s'] / 60 for r in results.get(config, [])
            if r.get('wall_time_s') is not None]
    if not vals:
        return 'not run'
    return ' / '.join(f'{v:.0f}' for v in vals)


def globe_table(results: Dict[str, List[dict]]) -> str:
    head = ('| k | α | backward | seeds | test accuracy %: full tours | '
            'test accuracy %: right entries of the k × k tour adjacency | '
            'paper (Table 6) '
            '| spread of the 100 learned points, rad (true 1.18) | location '
            'error, km (BB paper 69 ± 11) | raw cost norm at the end (true) '
            '| wall time per run, min | verdict |\n'
            '|---|---|---|---|---|---|---|---|---|---|---|---|\n')
    rows = []
    for k in (5, 10, 20):
        for a in ('0', '0.1', '0.2', '0.5'):
            for b in ('id', 'bb'):
                config = f'paper_globe{k}_{b}_a{a}'
                if config not in CONFIGS:
                    continue
                res = results.get(config, [])
                pm, psd = TABLE6[(k, a)]
                paper = f'{pm} ± {psd}' if b == 'id' else '— (Identity)'
                if not res:
                    rows.append(f'| {k} | {a} | {b} | 0 | not run | | '
                                f'{paper} | | | | | not run |')
                    continue
                acc = stat(results, config, 'test_acc_pct')
                spread = stat(results, config, 'spread')
                err = stat(results, config, 'location_error_km')
                norm = stat(results, config, 'final_cost_norm')
                true = stat(results, config, 'true_cost_norm')
                wall = _wall(results, config)
                entry, entry_verdict = _entries(results, config, pm, psd)
                verdict = 'full tours: ' + judge(
                    values(results, config, 'test_acc_pct'), pm, psd,
                    True) + '; ' + entry_verdict if b == 'id' else '—'
                rows.append(f'| {k} | {a} | {b} | {len(res)} | {acc} | '
                            f'{entry} | {paper} | {spread} | {err} | {norm} '
                            f'({true}) | {wall} | {verdict} |')
    for b in ('id', 'bb'):
        config = f'paper_globe20_{b}_a0.1_s0.25'
        if not results.get(config):
            continue
        rows.append(
            f"| 20 | 0.1 | {b}, gradient noise σ = 0.25 on dl/dy (Fig. 4a, "
            f"4c setting) | {len(results[config])} | "
            f"{stat(results, config, 'test_acc_pct')} | "
            f"{stat(results, config, ENTRY) or 'not measured'} | "
            "curves only | "
            f"{stat(results, config, 'spread')} | "
            f"{stat(results, config, 'location_error_km')} | "
            f"{stat(results, config, 'final_cost_norm')} "
            f"({stat(results, config, 'true_cost_norm')}) | "
            f"{_wall(results, config)} | — (no number in the paper) |")
    for suffix, (_, label, runs) in GLOBE_DEVIATIONS.items():
        for k, a in sorted(runs):
            config = f'paper_globe{k}_id_a{a}{suffix}'
            if not results.get(config):
                continue
            pm, psd = TABLE6[(k, a)]
            _, against = _against(values(results, config, 'test_acc_pct'),
                                  pm, psd)
            entry, entry_against = _entries(results, config, pm, psd, False)
            if entry != 'not measured':
                against += '; ' + entry_against
            rows.append(
                f"| {k} | {a} | id, {label} (not the paper's stated "
                f"setting) | {len(results[config])} | "
                f"{stat(results, config, 'test_acc_pct')} | {entry} | "
                f"{pm} ± {psd} | "
                f"{stat(results, config, 'spread')} | "
                f"{stat(results, config, 'location_error_km')} | "
                f"{stat(results, config, 'final_cost_norm')} "
                f"({stat(results, config, 'true_cost_norm')}) | "
                f"{_wall(results, config)} | not reproduced (a stated "
                f"deviation from the paper's setting; {against}) |")
    return (head + '\n'.join(rows) + '\n' + _globe_metric(results) +
            _globe_schedule(results) + _globe_tsp5_limit(results) +
            _globe_curves(results) + _partial_runs() + _globe_precision())


def _load_precision() -> Optional[dict]:
    path = os.path.join(REPO, 'docs', 'reproduction', 'globe_precision.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _globe_metric(results: Dict[str, List[dict]]) -> str:
    # Which of the Blackbox code's two accuracies Table 6 reports, and what
    # ours are in each.
    measured = [(k, a) for k in (5, 10, 20) for a in ('0', '0.1')
                if values(results, f'paper_globe{k}_id_a{a}', ENTRY)]
    if not measured:
        return ''
    stepped = [k for k in (5, 10, 20)
               if values(results, f'paper_globe{k}_id_a0.1_step', ENTRY)]
    precision = _load_precision() or {}
    rand = precision.get('random_tour', {})

    def both(k: int, a: str, suffix: str = '') -> str:
        config = f'paper_globe{k}_id_a{a}{suffix}'
        n = len(values(results, config, ENTRY))
        full = [r['final']['test_acc_pct'] for r in results[config]
                if r['final'].get(ENTRY) is not None]
        return (f'TSP({k}), α = {a}: {stat(results, config, ENTRY)}% of the '
                f'entries, {_mean_sd(full)}% of the tours '
                f'({n} seed{"s" if n > 1 else ""}; paper '
                f'{TABLE6[(k, a)][0]} ± {TABLE6[(k, a)][1]})')

    within = []
    for k, a, suffix in ([(k, a, '') for k, a in measured]
                         + [(k, '0.1', '_step') for k in stepped]):
        for key, name in (('test_acc_pct', 'tours'), (ENTRY, 'entries')):
            vals = values(results, f'paper_globe{k}_id_a{a}{suffix}', key)
            if vals and _against(vals, *TABLE6[(k, a)])[0]:
                within.append(f'TSP({k}), α = {a}{" (decay)" * bool(suffix)}'
                              f', {name}')
    floor = ''
    if '20' in rand:
        floor = (f" (a uniformly random tour: {rand['20']['acc']:.1f}% of "
                 f"the tours, {rand['20']['entry_acc']:.1f}% of the entries "
                 'at k = 20; ' + ', '.join(
                     f"{rand[str(k)]['entry_acc']:.1f}% at k = {k}"
                     for k in (5, 10) if str(k) in rand) +
                 '; `benchmarks/globe_precision.py`)')
    collapsed = stat(results, 'paper_globe20_id_a0', 'test_acc_pct')
    return (
        '\n**Which accuracy Table 6 reports.** The paper does not define its '
        'TSP accuracy. The Blackbox code, whose Globe TSP task, data and '
        'solver the Identity paper uses, logs two: `accuracy`, the share of '
        'right entries of the k × k tour adjacency matrix '
        '(`(abs(tours - label) < 0.5).mean()` in `globe_tsp/trainers.py`, '
        'the zero diagonal included), and `perfect_match_accuracy`, the '
        'share of exactly optimal tours (`globe_tsp/metrics.py`). Two '
        'patterns of Table 6 fit the entries, not full tours: at α = 0.1 '
        'its accuracy rises with k (99.67 → 99.72 → 99.78) where full tours '
        'get harder with k (any location error costs more at larger k, '
        'table below); and α = 0 gives 88.45% at k = 20, above the 85.31% '
        'of k = 10: a model whose costs collapsed gets almost no 20-tour '
        f'right (ours: {collapsed}%), but a wrong tour still has most of '
        f'its entries right{floor}. Every run of this release reports both '
        '(`test_acc_pct`, `test_entry_acc_pct`; runs of earlier releases '
        'only the first, "not measured" above). At the paper\'s stated '
        'setting: ' + '; '.join(both(k, a) for k, a in measured) + '.'
        + (' With the step decay once the margin is off (`--lr-milestones '
           '70 85`, rows above): ' + '; '.join(both(k, '0.1', '_step')
                                              for k in stepped) + '.'
           if stepped else '') + _collapsed_entries(results)
        + ' Within the paper\'s ± in either reading: '
        + (', '.join(within) if within else 'none') + '.\n')


def _collapsed_entries(results: Dict[str, List[dict]]) -> str:
    # The α = 0 rows across k, read as entries: does the order over k of
    # Table 6 follow the one a collapsed model's entries must follow?
    ours = [(k, statistics.mean(v)) for k in (5, 10, 20)
            if (v := values(results, f'paper_globe{k}_id_a0', ENTRY))]
    if len(ours) < 2:
        return ''
    paper = [TABLE6[(k, '0')][0] for k, _ in ours]

    def rises(vals: List[float]) -> bool:
        return all(a < b for a, b in zip(vals, vals[1:]))

    ks = ' / '.join(str(k) for k, _ in ours)
    text = (f' At α = 0 (collapsed), read as entries, k = {ks}: ours '
            + ' / '.join(f'{m:.2f}' for _, m in ours) + ', the paper '
            + ' / '.join(f'{p:.2f}' for p in paper) + '. ')
    if rises([m for _, m in ours]) and not rises(paper):
        text += ('Ours rise with k, as a collapsed model\'s entries tend '
                 'to (a k-tour has 2k ones among k² entries, so a wrong '
                 'edge costs a smaller share at larger k); the paper\'s do '
                 'not (its TSP(5) is the highest), so this pattern does not '
                 'single out the entry reading either.')
    elif rises([m for _, m in ours]) == rises(paper):
        text += 'Both rise with k.' if rises(paper) else (
            'Neither rises with k.')
    else:
        text += 'The paper\'s rise with k; ours do not.'
    return text


def _mean_sd(vals: List[float]) -> str:
    if len(vals) == 1:
        return f'{vals[0]:.2f}'
    return f'{statistics.mean(vals):.2f} ± {statistics.stdev(vals):.2f}'


def _globe_schedule(results: Dict[str, List[dict]]) -> str:
    # What the authors' code does that the paper's text does not say, and
    # what each part of it is worth here (the deviation rows above).
    def acc(config: str) -> str:
        n = len(results.get(config, []))
        a = stat(results, config, 'test_acc_pct')
        if a is None:
            return 'not run'
        km = stat(results, config, 'location_error_km')
        return f"{a}% ({n} seed{'s' if n > 1 else ''}; {km} km)"

    ks = [k for k in (5, 10, 20)
          if results.get(f'paper_globe{k}_id_a0.1_step')]
    steps = [f'{acc(f"paper_globe{k}_id_a0.1_step")} at k = {k}'
             for k in ks]
    if not steps:
        return ''
    return (
        '\n**The schedule.** The paper states Adam lr 1e-4, batch 50 and 100 '
        'epochs, and no schedule. The Blackbox paper\'s public Globe TSP code '
        '(martius-lab/blackbox-differentiation-combinatorial-solvers, '
        '`globe_tsp/trainers.py` and `settings/globe_tsp/*.json`; the '
        'Identity paper\'s Globe TSP is that task, with its data and '
        'solver), '
        'decays the lr stepwise in every Globe TSP setting (MultiStepLR, '
        '×0.1; TSP(5): after epochs 20, 40, 60, 80, 90) and builds Adam with '
        'β = (0.5, 0.999), ε = 1e-3 (1e-2 in its TSP(10) setting). '
        'Measured here at the paper\'s scale, α '
        '= 0.1 (rows above): that Adam alone changes nothing (TSP(5): '
        f"{acc('paper_globe5_id_a0.1_bbadam')}, torch's defaults "
        f"{acc('paper_globe5_id_a0.1')}); a step decay once the margin is "
        "off does: the paper's lr 1e-4 ÷10 after epochs 70 and 85 gives "
        + ', '.join(steps) + ', against '
        + ', '.join(f"{acc(f'paper_globe{k}_id_a0.1')} at k = {k}"
                    for k in ks) +
        " with the constant lr. The scripts keep the paper's stated "
        'constant lr as the default (`--lr-milestones 70 85` adds the '
        "decay); the Blackbox code's own milestones are not used: they cut "
        'the lr to 1e-6 while the margin is still on (its whole TSP(5) '
        f"optimiser: {acc('paper_globe5_id_a0.1_bbcode')}).\n")


def _globe_tsp5_limit(results: Dict[str, List[dict]]) -> str:
    # Why TSP(5) stays below the target whatever the optimiser: the runs
    # that report the accuracy on their training split (train_acc_pct).
    decays = [c for c in ('_step', '_decay', '_early', '_stepbbadam',
                          '_step_byte')
              if results.get(f'paper_globe5_id_a0.1{c}')]
    if not decays:
        return ''
    accs = [v for c in decays
            for v in values(results, f'paper_globe5_id_a0.1{c}',
                            'test_acc_pct')]
    accs += values(results, 'paper_globe5_id_a0.5_step', 'test_acc_pct')
    gaps = []
    for config in sorted(results):
        if not config.startswith('paper_globe'):
            continue
        for r in results[config]:
            train = r['final'].get('train_acc_pct')
            if train is not None and r['final'].get('test_acc_pct'):
                gaps.append(f"`{config}` seed {r['args']['seed']}: "
                            f"{train:.2f} / {r['final']['test_acc_pct']:.2f}")
    text = (
        '\n**What limits TSP(5).** Every TSP(5) run with a step decay once '
        f'the margin is off ends between {min(accs):.1f} and '
        f'{max(accs):.1f}% ({len(accs)} runs: Adam 1e-4 or 1e-3 ÷10 after '
        'epochs 70, 85, 1e-4 after 55, 85, the Blackbox code\'s Adam, flags '
        'in [0, 255], α = 0.1 or 0.5; rows above), whatever the optimiser. ')
    if gaps:
        text += (
            'The accuracy on the training split beside the test accuracy '
            '(`train_acc_pct` / `test_acc_pct`, %): ' + '; '.join(gaps) +
            '. The same 100 points serve every example, and the Identity '
            'gradient of a right tour is zero, so once the training tours '
            'are right nothing pulls the points closer to the truth than '
            'those tours pin them; other 5-subsets need them closer. ')
    big = stat(results, 'paper_globe5_id_a0.1_step_train20k', 'test_acc_pct')
    if big is not None:
        km = stat(results, 'paper_globe5_id_a0.1_step_train20k',
                  'location_error_km')
        text += (f'With twice the paper\'s training examples (20,000, the '
                 f'same decay): {big}% ({km} km). ')
    rest = []
    for config, what in (
            ('paper_globe5_id_a0.1_step_noiseall',
             'the margin kept on to the end'),
            ('paper_globe5_id_a0.1_bbcode',
             'the Blackbox code\'s whole TSP(5) optimiser, whose milestones '
             'cut the lr to 1e-6 after epoch 40, while the margin is on')):
        if results.get(config):
            rest.append(f"{what}: {stat(results, config, 'test_acc_pct')}% "
                        f"({stat(results, config, 'location_error_km')} km, "
                        f"spread {stat(results, config, 'spread')} rad)")
    if rest:
        text += 'Worse: ' + '; '.join(rest) + '. '
    if results.get('paper_globe5_id_a0_byte'):
        text += ("Flags in [0, 255] do not stop the collapse without the "
                 "margin: α = 0 ends at "
                 f"{stat(results, 'paper_globe5_id_a0_byte', 'test_acc_pct')}"
                 f"% (spread "
                 f"{stat(results, 'paper_globe5_id_a0_byte', 'spread')} "
                 'rad). ')
    text += _real_flags()
    return text.rstrip() + '\n'


def _real_flags() -> str:
    # The round-11 check with real flag icons (REAL_FLAGS, run outside
    # reproduce.py; its README says how), in the current metric keys.
    def final(cfg: str) -> Optional[Dict[str, Any]]:
        path = os.path.join(REAL_FLAGS, cfg, 'seed0', 'metrics.json')
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return current_result(json.load(f))['final']

    runs = [(a, final(f'globe5_a{a}')) for a in ('0.1', '0')]
    runs = [(a, r) for a, r in runs if r is not None]
    if not runs:
        return ''
    return ('Real flag icons in place of our procedural flags do no better '
            '(TSP(5), constant 1e-4, seed 0; docs/reproduction/real_flags/): '
            + '; '.join(f"α = {a}: {r['test_acc_pct']:.1f}% full tours, "
                        f"{r['test_entry_acc_pct']:.2f}% entries, spread "
                        f"{r['spread']:.2f} rad" for a, r in runs) + '. ')


def _partial_history(config: str) -> List[tuple]:
    # (epoch, raw cost norm) of an unfinished run's committed log.
    path = os.path.join(REPO, 'docs', 'reproduction', 'partial',
                        f'{config}-seed0.log')
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith('Epoch '):
                kv = log_row(line)
                out.append((int(kv['Epoch']), kv['cost_norm']))
    return out


def _partial_runs() -> str:
    # Runs stopped before their last epoch (the session ended): their
    # per-epoch log is committed under docs/reproduction/partial/; they are
    # reported, never judged.
    folder = os.path.join(REPO, 'docs', 'reproduction', 'partial')
    if not os.path.isdir(folder):
        return ''
    lines = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as f:
            epochs = [ln for ln in f if ln.startswith('Epoch ')]
        if not epochs:
            continue
        last = log_row(epochs[-1])
        lines.append(
            f"- `{name}` (stopped after epoch "
            f"{int(epochs[-1].split()[1])}, not finished): test accuracy {float(last['test_acc_pct']):.1f}%, "
            f"spread {float(last['spread']):.2f} rad, raw cost norm "
            f"{float(last['cost_norm']):.2f} (true "
            f"{float(last['true_cost_norm']):.2f}).")
    if not lines:
        return ''
    return ('\nUnfinished runs (their per-epoch logs are in '
            '`docs/reproduction/partial/`):\n\n' + '\n'.join(lines) + '\n')


def _globe_precision() -> str:
    # benchmarks/globe_precision.py: the accuracy a location error buys.
    data = _load_precision()
    if data is None:
        return ''
    kms = [row['km'] for row in next(iter(data['accuracy'].values()))]
    head = ('| k | ' + ' | '.join(f'{km:g} km' for km in kms) + ' |\n|---|'
            + '---|' * len(kms) + '\n')
    rows = ''.join(
        f'| {k} | ' + ' | '.join(f"{row['acc']:.1f}" for row in rows) + ' |\n'
        for k, rows in data['accuracy'].items())
    if all('entry_acc' in row for rows_k in data['accuracy'].values()
           for row in rows_k):
        rows += ''.join(
            f'| {k}, entries | ' + ' | '.join(
                f"{row['entry_acc']:.2f}" for row in rows_k) + ' |\n'
            for k, rows_k in data['accuracy'].items())
    nn = data['nearest_neighbour_km']
    return (
        '\nWhat a location error buys on our 100 capitals '
        '(`python benchmarks/globe_precision.py`): every true capital moved '
        'by an independent random offset of the given median length, the '
        f"optimal tours of {data['args']['num_subsets']} random k-subsets "
        'through the moved points compared with the true ones (full-tour '
        'accuracy %; the rows "entries": the share of right entries of the '
        f"k × k adjacency, %; mean of {data['args']['draws']} noise draws; "
        "nearest "
        f"capitals {nn['min']:.0f} km apart, median nearest neighbour "
        f"{nn['median']:.0f} km):\n\n" + head + rows +
        '\nIndependent errors are a pessimistic model (learned errors are '
        'correlated: our decay run at 17 km reaches 99.4% at k = 10, where '
        'independent 17 km errors give less), but the table bounds what the '
        "paper's numbers need: read as full tours, 99.7% at k = 10 or 20 on "
        'these capitals requires errors of a few km, far below the BB '
        'paper\'s reported 69 ± 11 km' + _entries_need(data) + '. Our '
        'capitals (`CAPITALS` in '
        '`pyg_identity/datasets/globe_tsp.py`) are our own choice; the '
        "papers' 100 countries are not published with the text, so a "
        'denser or sparser set changes what a given error costs.\n')


def _entries_need(data: dict) -> str:
    # The entry accuracy that independent errors of about 17 and 69 km buy.
    def at(km: float) -> str:
        cells = []
        for rows in data['accuracy'].values():
            row = min(rows, key=lambda r: abs(r['km'] - km))
            if 'entry_acc' not in row:
                return ''
            cells.append(f"{row['entry_acc']:.2f}")
        return ' / '.join(cells)

    near, far = at(17), at(69)
    if not near or not far:
        return ''
    ks = ' / '.join(data['accuracy'])
    return (f'; read as entries, about 17 km at every k (k = {ks}: {near}% '
            f'of the entries right), four times closer than 69 km ({far}%)')


def _globe_curves(results: Dict[str, List[dict]]) -> str:
    # The test accuracy around the switch-off of the margin and over the last
    # ten epochs: with the paper's constant lr it oscillates, so one final
    # number understates the spread of a single run.
    lines = []
    for config in CONFIGS:
        if not config.startswith('paper_globe'):
            continue
        for i, r in enumerate(results.get(config, [])):
            acc = {h['epoch']: h['test_acc_pct'] for h in r['history']}
            last = [acc[e] for e in sorted(acc)[-10:]]
            at50 = acc.get(50)
            lines.append(
                f'- `{config}` seed {r["args"].get("seed", i)}: test accuracy '
                + (f'{at50:.1f}% at epoch 50 (margin on), ' if at50 else '')
                + f'{statistics.mean(last):.1f} ± '
                f'{statistics.pstdev(last):.1f}% over the last ten epochs '
                f'(min {min(last):.1f}, max {max(last):.1f}); best epoch '
                f'{max(acc.values()):.1f}%.')
    if not lines:
        return ''
    return ('\nLearning curves (from the per-epoch log; the curves and the '
            'full history are in docs/reproduction/metrics/):\n\n' +
            '\n'.join(lines) + '\n')


def report(results: Dict[str, List[dict]], seeds: int) -> str:
    def s(config, key, scale=1.0):
        return stat(results, config, key, scale) or 'not run'

    rows = []

    def add(claim, paper, ours, setting, cmd, verdict):
        rows.append(f'| {claim} | {paper} | {ours} | {setting} | `{cmd}` | '
                    f'{verdict} |')

    globe = 'GlobeTSP k=10, 2,000 train / 200 test, 16 epochs (noise: first 8)'
    paper_globe = ('GlobeTSP, paper scale: 10,000 train / 1,000 test, 100 '
                   'epochs, Adam 1e-4, batch 50, margin in the first 50')
    small = 'far below the paper\'s data and epochs'
    # 1. Train time.
    t_id = mean(results, 'paper_globe10_id_a0.1', 'train_time_per_epoch_s')
    t_bb = mean(results, 'paper_globe10_bb_a0.1', 'train_time_per_epoch_s')
    ratio = [100 * t_id / t_bb] if t_id and t_bb else []
    add('1. Identity needs no extra solver call: train time Identity / BB',
        'TSP(10) 53.1 / 84.6 min = 63%',
        f'Globe TSP(10) {ratio[0]:.0f}% ({t_id:.1f} / {t_bb:.1f} s per '
        f'epoch)' if ratio else 'not run', paper_globe,
        command('paper_globe10_bb_a0.1', 0),
        judge(ratio, 63.0, None, True))
    add('2./3. Projection ordering none < mean < norm < std (retrieval R@1)',
        'CUB 13.9 → 44.6 → 59.0 → 60.2',
        ' → '.join(s(f'ret_id_{p}', 'test_recall_at_1_pct')
                   for p in ('none', 'mean', 'norm', 'std')),
        'MNIST classes for CUB, 4 epochs', command('ret_id_std', 0),
        judge(values(results, 'ret_id_std', 'test_recall_at_1_pct'), 60.2,
              None, False, 'MNIST stand-in for CUB, 4 of 80 epochs; order '
              + _order(results, 'ret_id_', 'test_recall_at_1_pct', True)))
    add('2. Projection ordering (DVAE N-ELBO, lower is better)',
        'Fig. 5: none worst, std best (curves only)',
        ' / '.join(s(f'dvae_id_{p}', 'test_n_elbo')
                   for p in ('none', 'mean', 'norm', 'std')),
        'MNIST test images split 8k/2k, 4 epochs', command('dvae_id_std', 0),
        'not reproduced (not at the paper\'s scale: 4 of 100 epochs on 8k '
        'images; order ' + _order(results, 'dvae_id_', 'test_n_elbo', False)
        + ')' if 'dvae_id_std' in results else 'not run')
    add('3. L2X BeerAdvocate MSE', '2.62 / 2.47 / 2.39 (P_std) vs 4.75 / '
        '4.43 / 4.20 (no P)', 'no number', '—', '—',
        'not reproduced: BeerAdvocate is not available offline')
    imle_ours, imle_verdict = _imle_claim()
    add('4. Identity + P_std beats I-MLE on k-subsets',
        'DVAE lower N-ELBO than I-MLE (curve); L2X 2.47 vs 2.71 (k=10)',
        imle_ours, 'as claim 2; I-MLE without projection',
        'pyg-identity compare dvae --backward imle blackbox --projection '
        'none --seeds 3 -- --epochs 4 --root $MNIST', imle_verdict)
    add('5. GM: Identity (no P) on par with BB; P_norm hurts Identity',
        'VOC no margin 77.2 vs 74.9; P_norm 72.6 vs 63.5',
        f"Identity {s('gm_id', 'test_acc_pct')} vs BB "
        f"{s('gm_bb', 'test_acc_pct')}; P_norm {s('gm_id_norm', 'test_acc_pct')}"
        f" vs {s('gm_bb_norm', 'test_acc_pct')}",
        'SyntheticKeypoints for VOC, 400 pairs, 5 epochs', command('gm_id', 0),
        judge(values(results, 'gm_id', 'test_acc_pct'), 77.2, None, False,
              'synthetic keypoints for Pascal VOC, 400 pairs × 5 epochs'))
    add('6. Noise margin ≈ informed margin (GM)',
        'VOC Identity noise 1.0: 79.6 vs informed 0.1: 79.7; BB noise 1.0 '
        '80.1',
        f"Identity noise 1.0 {s('gm_id_noise1', 'test_acc_pct')} vs informed "
        f"0.1 {s('gm_id_informed0.1', 'test_acc_pct')}; BB noise 1.0 "
        f"{s('gm_bb_noise1', 'test_acc_pct')} (margin before P)", 'as claim 5',
        command('gm_id_noise1', 0),
        judge(values(results, 'gm_id_noise1', 'test_acc_pct'), 79.6, None,
              False, 'as claim 5; gap to informed ' + _gap(
                  results, 'gm_id_noise1', 'gm_id_informed0.1', 'test_acc_pct')))
    for k in (5, 10, 20):
        a0, a1 = f'paper_globe{k}_id_a0', f'paper_globe{k}_id_a0.1'
        add(f'7. Noise in the first half prevents cost collapse (TSP({k}))',
            f'{TABLE6[(k, "0")][0]} ± {TABLE6[(k, "0")][1]} → '
            f'{TABLE6[(k, "0.1")][0]} ± {TABLE6[(k, "0.1")][1]} '
            '(α = 0 → 0.1)',
            f"full tours {s(a0, 'test_acc_pct')} → {s(a1, 'test_acc_pct')}"
            + (f"; entries {_entries(results, a0, *TABLE6[(k, '0')])[0]} → "
               f"{_entries(results, a1, *TABLE6[(k, '0.1')])[0]}"
               if values(results, a0, ENTRY) or values(results, a1, ENTRY)
               else ''), paper_globe,
            command(a1, 0),
            'α = 0: full tours ' + judge(values(results, a0, 'test_acc_pct'),
                                         *TABLE6[(k, '0')], True) +
            ', ' + _entries(results, a0, *TABLE6[(k, '0')])[1] +
            '; α = 0.1: full tours ' + judge(
                values(results, a1, 'test_acc_pct'), *TABLE6[(k, '0.1')],
                True) + ', ' + _entries(results, a1, *TABLE6[(k, '0.1')])[1])
    # Fig. 4c's own setting (TSP(20), sigma = 0.25) where it ran; TSP(10)
    # without gradient noise besides.
    s_id = _collapse(results, 'paper_globe20_id_a0.1_s0.25')
    s_bb = _collapse(results, 'paper_globe20_bb_a0.1_s0.25')
    c_id = _collapse(results, 'paper_globe10_id_a0.1')
    c_bb = _collapse(results, 'paper_globe10_bb_a0.1')
    ours7 = []
    if s_id and s_bb:
        ours7.append(f'TSP(20), σ = 0.25: raw cost norm Identity {s_id}; '
                     f'BB {s_bb}')
    if c_id and c_bb:
        ours7.append(f'TSP(10), σ = 0: Identity {c_id}; BB {c_bb}')
    if s_id and s_bb:
        collapsed = _ratio(results, 'paper_globe20_bb_a0.1_s0.25') < 0.5 \
            and _ratio(results, 'paper_globe20_id_a0.1_s0.25') > 0.8
        verdict7 = ('not judged (the paper gives curves only; one seed '
                    'each); the direction is the paper\'s: after epoch '
                    '50 BB\'s norm collapses, Identity\'s does not; but BB '
                    'never learned at σ = 0.25 (0% accuracy, spread 0.11 '
                    'rad; the paper gives no accuracy for it)' if collapsed else
                    'not reproduced (measured: see ours)')
    else:
        verdict7 = 'not run'
    add('7. After the margin is off, BB cost norm collapses, Identity\'s not',
        'Fig. 4c (TSP(20), gradient noise σ = 0.25; curves only)',
        '; '.join(ours7) + ' (cost_norm.png)' if ours7 else 'not run',
        paper_globe + ', k=20, gradient noise σ = 0.25',
        command('paper_globe20_bb_a0.1_s0.25', 0), verdict7)
    add('8. Identity degrades less than BB under gradient noise',
        'Fig. 4a (curves only)',
        f"σ 0/0.25/0.5: Identity {s('globe10_id', 'test_acc_pct')} / "
        f"{s('globe10_id_s0.25', 'test_acc_pct')} / {s('globe10_id_s0.5', 'test_acc_pct')};"
        f" BB {s('globe10_bb', 'test_acc_pct')} / {s('globe10_bb_s0.25', 'test_acc_pct')}"
        f" / {s('globe10_bb_s0.5', 'test_acc_pct')} (see grad_noise.png)", globe,
        command('globe10_id_s0.5', 0),
        'not reproduced (not at the paper\'s scale: ' + small + '; ' +
        _robust(results) + ')')
    add('9. Retrieval: Identity + P_std below BB',
        'CUB 60.5 vs 62.6–63.2',
        f"Identity {s('ret_id_std', 'test_recall_at_1_pct')} vs BB "
        f"{s('ret_bb_std', 'test_recall_at_1_pct')} (BB no P "
        f"{s('ret_bb_none', 'test_recall_at_1_pct')})", 'as claim 2',
        command('ret_bb_std', 0),
        judge(values(results, 'ret_id_std', 'test_recall_at_1_pct'), 60.5,
              None, False, 'MNIST stand-in for CUB; gap BB − Identity ' +
              _gap(results, 'ret_bb_std', 'ret_id_std',
                   'test_recall_at_1_pct')))
    add('10. Warcraft parity: cost ratio ×100',
        'α = 0: BB 100.9 vs Identity 101.0; α = 0.2: 101.1 vs 101.0 (± 0.1)',
        f"α = 0: BB {s('terrain_bb', 'test_cost_ratio_pct')} vs Identity "
        f"{s('terrain_id', 'test_cost_ratio_pct')}; α = 0.2 (margin before P): "
        f"BB {s('terrain_bb_noise0.2', 'test_cost_ratio_pct')} vs Identity "
        f"{s('terrain_id_noise0.2', 'test_cost_ratio_pct')}",
        'TerrainShortestPath 12×12 for Warcraft 32×32, 600 maps, 8 epochs',
        command('terrain_id_noise0.2', 0),
        judge(values(results, 'terrain_id', 'test_cost_ratio_pct'), 101.0, 0.1,
              False, '12×12 procedural maps, 600 maps × 8 epochs'))
    add('11. P_std changes the direction a lot (cosine < 0.05) yet learns',
        'DVAE cosine < 0.05',
        f"DVAE per-block cosine P_std {s('dvae_id_std', 'grad_cosine')}, "
        f"none {s('dvae_id_none', 'grad_cosine')}; every other definition "
        '0.15–0.94 (see below)', 'as claim 2',
        command('dvae_id_std', 0),
        'not reproduced (no definition we tried gets below 0.15)')
    head = ('| claim | paper | ours | setting | command (seed 0) | verdict |\n'
            '|---|---|---|---|---|---|\n')
    return head + '\n'.join(rows) + '\n'


def _order(results, prefix, key, higher) -> str:
    vals = [mean(results, f'{prefix}{p}', key)
            for p in ('none', 'mean', 'norm', 'std')]
    if any(v is None for v in vals):
        return 'not run'
    sign = 1 if higher else -1
    if all(sign * (b - a) >= -1e-9 for a, b in zip(vals, vals[1:])):
        return 'monotone as in the paper'
    if sign * (vals[3] - vals[0]) > 0:
        return 'not monotone, std beats none'
    return 'not as in the paper'


def _gap(results, a, b, key, scale=1.0) -> str:
    x, y = mean(results, a, key, scale), mean(results, b, key, scale)
    return 'not run' if x is None or y is None else f'{x - y:+.2f}'


def _robust(results) -> str:
    vals = {k: mean(results, k, 'test_acc_pct') for k in (
        'globe10_id', 'globe10_id_s0.5', 'globe10_bb', 'globe10_bb_s0.5')}
    if any(v is None for v in vals.values()):
        return 'not run'
    drop_id = vals['globe10_id'] - vals['globe10_id_s0.5']
    drop_bb = vals['globe10_bb'] - vals['globe10_bb_s0.5']
    text = (f'drop at σ = 0.5: Identity {drop_id:.1f}, BB {drop_bb:.1f} '
            f'points')
    if max(vals['globe10_id'], vals['globe10_bb']) < 50:
        text += (f'; at σ = 0 only {vals["globe10_id"]:.0f}% / '
                 f'{vals["globe10_bb"]:.0f}%: 16 epochs at the paper\'s lr '
                 f'1e-4 learn too little for a comparison')
    return text


def dvae_cosine_table() -> str:
    path = os.path.join(PLOTS, 'dvae_cosine.json')
    if not os.path.exists(path):
        return 'not run (`python benchmarks/dvae_cosine.py`)\n'
    with open(path) as f:
        rows = json.load(f)['rows']
    keys = [k for k in rows[0] if k != 'epoch']
    out = ('| definition | ' + ' | '.join(f'epoch {r["epoch"]}'
                                         for r in rows) + ' |\n')
    out += '|---|' + '---|' * len(rows) + '\n'
    for k in keys:
        out += f'| {k} | ' + ' | '.join(f'{r[k]:.3f}' for r in rows) + ' |\n'
    return out


DVAE_TEXT = (
    'Claim 11 compares $-\\mathrm d\\ell/\\mathrm dy$ with the projected '
    'update $-P\'_{\\text{std}}\\mathrm d\\ell/\\mathrm dy$. The projection '
    'acts on each latent block (the paper\'s code reshapes the logits to '
    '(batch·20, 20) and normalises per row), so the cosine that matches the '
    'paper\'s definition is the per-block one, with the Jacobian at the '
    'perturbed logits (the solver input): `block`, what '
    '`SolverDiagnostics.grad_cosine` reports. `benchmarks/dvae_cosine.py` '
    '(Identity, P_std, 8k MNIST images, fixed probe batch and Sum-of-Gamma '
    'seed) also computes it over the whole latent vector per sample '
    '(`sample`), over the batch (`batch`), with the Jacobian at the logits '
    'without the sampling noise (`_nosog`), against the full gradient of '
    'the N-ELBO including the KL term (`_total`) and with the argmin sign '
    '(`_flipsign`); `mean_share` is the part of '
    '$\\mathrm d\\ell/\\mathrm dy$ along the per-block constant direction '
    '(what P_mean removes). None gets near 0.05: the lowest, 0.15, is the '
    'batch-wide cosine without the sampling noise after one epoch; the '
    'paper\'s definition stays at 0.58–0.94. The paper\'s < 0.05 is not '
    'reproduced by any definition we could derive from its text; a sign '
    'error would give ≈ −0.9, not ≈ 0.\n\n')


# Committed outputs of `pyg-identity compare` (issue 13): one folder per
# comparison with compare.json / compare.md / compare.png.
COMPARE = os.path.join(PLOTS, 'compare')
# folder -> what it compares, in report order.
COMPARISONS = [
    ('terrain', 'terrain shortest path (12×12, 600 maps, 8 epochs)'),
    ('terrain_perturbed_m10', 'terrain, perturbed with 10 samples '
     '(σ = 0.1)'),
    ('terrain_perturbed_s1_m10', 'terrain, perturbed with 10 samples '
     '(σ = 1)'),
    ('globe10', 'Globe TSP(10) (2,000 train / 200 test, 16 epochs, margin '
     'in the first 8)'),
    ('graph_matching', 'graph matching (SyntheticKeypoints, 400 pairs, 5 '
     'epochs)'),
    ('dvae', 'DVAE (MNIST test images 8k/2k, 4 epochs), projection P_std'),
    ('dvae_noproj', 'DVAE, no projection (the I-MLE baseline as in the '
     'paper: Sum-of-Gamma noise, λ = 10)'),
]


def load_compare(name: str) -> Optional[dict]:
    path = os.path.join(COMPARE, name, 'compare.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


COMPARE_TEXT = (
    'Every estimator of the one mechanism on the same data and seeds, by '
    '`pyg-identity compare TASK --backward identity blackbox perturbed imle '
    '--seeds 3 -- FLAGS` (the reduced settings of the rows above; '
    'perturbed and I-MLE with `--sigma 0.1 --num-samples 3` unless stated, '
    'λ the experiment\'s Blackbox λ). Wall time: one whole run (training '
    'and its per-epoch evaluation); solver calls per training step as the '
    'run logged them. None of these settings is the paper\'s scale, and '
    'σ, the number of samples and λ were not tuned for any estimator.'
    '\n\n')

COMPARE_NOTES = (
    'Reading the tables. *I-MLE = Blackbox on the DVAE without projection, '
    'to the digit*: the DVAE\'s Sum-of-Gamma sample is I-MLE\'s '
    'perturbation (drawn once by the estimator, from the same random '
    'stream as the model\'s own sampler), and I-MLE\'s target MAP call '
    'with the same noise is the Blackbox update on the perturbed logits, '
    'so both runs are the same computation (`tests/nn/test_estimators.py` '
    'checks the identity of the two updates). *Perturbed optimizers with '
    'the experiments\' Hamming losses* trail the others on terrain and '
    'graph matching: their Gaussian-smoothing gradient vanishes once the '
    'cost margins exceed σ (every sample returns the same solution), and '
    'with few samples it is noisy; more samples (10) and a larger σ (1) '
    'help on terrain (183.6 → 142.2) but the seeds still spread widely. '
    'Their natural loss is the Fenchel-Young loss '
    '(`pyg_identity.nn.functional.fy_loss`), which the experiments do not '
    'use; no experiment was tuned for it. *I-MLE leads on the reduced '
    'Globe TSP(10)* (16 epochs at the paper\'s lr 1e-4, where Identity and '
    'BB have barely started to learn): its Gumbel perturbation of the '
    'projected costs acts as a second margin; this is not a paper-scale '
    'comparison and costs 6 solver calls per step.\n')


def compare_section() -> str:
    r"""The tables of the committed estimator comparisons."""
    out = []
    for name, what in COMPARISONS:
        data = load_compare(name)
        if data is None:
            continue
        metric = data['metric']
        cmd = data.get('command', '').replace(MNIST, MNIST_SHOWN)
        out.append(f'**{what}** (`{cmd}`; '
                   f'{data["seeds"]} seeds; '
                   f'docs/reproduction/compare/{name}/compare.png):\n\n')
        out.append(f'| estimator | {metric["header"]} | wall time per run '
                   '(s) | solver calls / step |\n|---|---|---|---|\n')
        for est, e in data['estimators'].items():
            calls = e.get('solver_calls_mean')
            out.append(f'| {est} | {e["mean"]:.2f} ± {e["sd"]:.2f} | '
                       f'{e["wall_mean"]:.1f} | '
                       f'{"n/a" if calls is None else f"{calls:g}"} |\n')
        out.append('\n')
    return ''.join(out)


def _imle_claim() -> Tuple[str, str]:
    # Claim 4 on the DVAE: Identity + P_std vs the I-MLE baseline.
    ident, imle = load_compare('dvae'), load_compare('dvae_noproj')
    if not ident or not imle or 'imle' not in imle['estimators']:
        return ('not run', 'not run')
    a = ident['estimators']['identity']
    b = imle['estimators']['imle']
    ours = (f"DVAE N-ELBO Identity + P_std {a['mean']:.2f} ± {a['sd']:.2f} "
            f"vs I-MLE {b['mean']:.2f} ± {b['sd']:.2f} "
            f"({ident['seeds']} seeds)")
    direction = 'lower' if a['mean'] < b['mean'] else 'not lower'
    verdict = (f'not reproduced (not at the paper\'s scale: 4 of 100 epochs '
               f'on 8k images; Identity + P_std {direction} than I-MLE, as '
               f'the paper\'s curve' + (')' if direction == 'lower' else
                                         ' is not)'))
    return ours, verdict


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--no-run', action='store_true')
    parser.add_argument('--only', nargs='*', default=None,
                        help='config names (prefixes) to run')
    parser.add_argument('--jobs', type=int, default=2,
                        help='runs in parallel (one torch thread each)')
    parser.add_argument('--collect', action='store_true',
                        help='copy the runs\' metrics into '
                        'docs/reproduction/metrics/ (committed) first')
    args = parser.parse_args(argv)
    todo = [(c, s) for c in CONFIGS for s in range(seeds_of(c, args.seeds))
            if run(c, s) is None and not args.no_run and (
                args.only is None or any(c.startswith(p) for p in args.only))]
    if todo:
        from concurrent.futures import ThreadPoolExecutor

        # Seed 0 of each experiment first, alone, so the datasets are built
        # once before parallel runs read them.
        first = {}
        for c, s in todo:
            first.setdefault(CONFIGS[c][0], (c, s))
        for c, s in first.values():
            execute(c, s)
        rest = [cs for cs in todo if run(*cs) is None]
        with ThreadPoolExecutor(args.jobs) as pool:
            failed = [cs for cs, r in zip(rest, pool.map(
                lambda cs: execute(*cs), rest)) if r is None]
        for cs in failed:  # once more, alone
            execute(*cs)
    if args.collect:
        print(f'collected {collect()} runs into {METRICS}')
    results: Dict[str, List[dict]] = {}
    for config in CONFIGS:
        # Every seed that ran (the expensive configs run one by default).
        for seed in range(args.seeds):
            r = run(config, seed)
            if r is not None:
                results.setdefault(config, []).append(r)
    made = plots(results)
    done = sum(len(v) for v in results.values())
    text = (
        '# Reproduction report\n\n' + RULE + '\n\n'
        'Generated by `python benchmarks/reproduce.py` from the '
        '`metrics.json` files the experiment scripts write (runs/reproduce/,'
        ' copied to docs/reproduction/metrics/ by `--collect`; '
        f'{done} runs; mean ± std where several seeds ran). Commands show '
        '`$MNIST` for the folder of the MNIST IDX files (e.g. '
        '`../shared/data/mnist`). The noise margin goes on the raw costs, '
        'before the projection (the default since this release). Offline stand-ins:'
        ' SyntheticKeypoints for Pascal VOC, MNIST classes for CUB, '
        'procedural terrain for Warcraft, procedural 16×16 flags for the '
        'Globe TSP.\n\n'
        '## Globe TSP at the paper\'s scale (Table 6, Fig. 4c)\n\n'
        + globe_table(results) +
        '\n## Every claim\n\n' + report(results, args.seeds) +
        '\n## DVAE gradient cosine (claim 11)\n\n' + DVAE_TEXT +
        dvae_cosine_table() +
        '\n## Gradient estimators compared (issue 13)\n\n' + COMPARE_TEXT +
        compare_section() + COMPARE_NOTES +
        '\n## Plots\n\n' + ''.join(
            f'![{os.path.basename(p)}]({os.path.relpath(p, REPO)})\n\n'
            for p in made))
    with open(os.path.join(REPO, 'REPRODUCTION.md'), 'w') as f:
        f.write(text)
    print(f'wrote REPRODUCTION.md ({done} runs)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
