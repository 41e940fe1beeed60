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
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = os.path.join(REPO, 'runs', 'reproduce')
PLOTS = os.path.join(REPO, 'docs', 'reproduction')

# The affordable settings (2 CPU cores): small data, few epochs.
GLOBE = ['--num-train', '2000', '--num-test', '200', '--epochs', '16',
         '--batch-size', '50', '--lr', '1e-3']
GLOBE_LONG = ['--num-train', '5000', '--num-test', '500', '--epochs', '30',
              '--batch-size', '50', '--lr', '1e-3']
GM = ['--num-train', '400', '--num-test', '100', '--epochs', '5']
TERRAIN = ['--num-train', '600', '--num-val', '100', '--num-test', '200',
           '--epochs', '8', '--batch-size', '35']
# MNIST from a local copy: ../shared/data/mnist beside the checkout here,
# or $PYG_IDENTITY_MNIST.
MNIST = os.environ.get('PYG_IDENTITY_MNIST') or os.path.join(
    os.path.dirname(REPO), 'shared', 'data', 'mnist')
RETRIEVAL = ['--epochs', '4', '--root', MNIST]
DVAE = ['--epochs', '4', '--root', MNIST]

# config name -> (experiment, flags)
CONFIGS: Dict[str, tuple] = {
    # Claim 7 / Table 6: noise during the first half of the epochs.
    'globe5_id_a0': ('globe_tsp', GLOBE + ['--k', '5', '--projection', 'std',
                                           '--noise', '0']),
    'globe5_id_a0.1': ('globe_tsp', GLOBE + [
        '--k', '5', '--projection', 'std', '--noise', '0.1',
        '--noise-epochs', '8']),
    # Table 6 at a larger (still small) setting: 5,000 samples, 30 epochs.
    'globe5long_id_a0': ('globe_tsp', GLOBE_LONG + [
        '--k', '5', '--projection', 'std', '--noise', '0']),
    'globe5long_id_a0.1': ('globe_tsp', GLOBE_LONG + [
        '--k', '5', '--projection', 'std', '--noise', '0.1',
        '--noise-epochs', '15']),
    # Claims 1, 7 (Fig. 4c), 8 (Fig. 4a): Identity vs BB, gradient noise.
    'globe10_id': ('globe_tsp', GLOBE + ['--k', '10', '--projection', 'std',
                                         '--noise', '0.1', '--noise-epochs',
                                         '8']),
    'globe10_bb': ('globe_tsp', GLOBE + [
        '--k', '10', '--projection', 'std', '--noise', '0.1',
        '--noise-epochs', '8', '--backward', 'blackbox']),
    'globe10_id_s0.25': ('globe_tsp', GLOBE + [
        '--k', '10', '--projection', 'std', '--noise', '0.1',
        '--noise-epochs', '8', '--grad-noise', '0.25']),
    'globe10_bb_s0.25': ('globe_tsp', GLOBE + [
        '--k', '10', '--projection', 'std', '--noise', '0.1',
        '--noise-epochs', '8', '--grad-noise', '0.25', '--backward',
        'blackbox']),
    'globe10_id_s0.5': ('globe_tsp', GLOBE + [
        '--k', '10', '--projection', 'std', '--noise', '0.1',
        '--noise-epochs', '8', '--grad-noise', '0.5']),
    'globe10_bb_s0.5': ('globe_tsp', GLOBE + [
        '--k', '10', '--projection', 'std', '--noise', '0.1',
        '--noise-epochs', '8', '--grad-noise', '0.5', '--backward',
        'blackbox']),
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
    # Claim 10: terrain shortest path.
    'terrain_id': ('terrain_shortest_path', TERRAIN),
    'terrain_bb': ('terrain_shortest_path', TERRAIN + ['--backward',
                                                       'blackbox']),
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
    out = os.path.join(RUNS, config, f'seed{seed}')
    path = os.path.join(out, 'metrics.json')
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


# Configurations run with one seed only (the most expensive ones).
ONE_SEED = ('globe10_id_s', 'globe10_bb_s', 'dvae_')


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
    return (f'python -m pyg_identity.experiments.{task} '
            f'{" ".join(flags)} --seed {seed}')


def stat(results: Dict[str, List[dict]], config: str, key: str,
         scale: float = 1.0) -> Optional[str]:
    vals = [r['final'][key] * scale for r in results.get(config, [])
            if r and r['final'].get(key) is not None]
    if not vals:
        return None
    if len(vals) == 1:
        return f'{vals[0]:.2f}'
    return f'{statistics.mean(vals):.2f} ± {statistics.stdev(vals):.2f}'


def mean(results, config, key, scale=1.0) -> Optional[float]:
    vals = [r['final'][key] * scale for r in results.get(config, [])
            if r and r['final'].get(key) is not None]
    return statistics.mean(vals) if vals else None


def plots(results: Dict[str, List[dict]]) -> List[str]:
    from pyg_identity.experiments._common import import_pyplot
    plt = import_pyplot()
    os.makedirs(PLOTS, exist_ok=True)
    made = []
    # Fig. 4c: cost norm per epoch, Identity vs BB, gradient noise 0.25.
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for config, label in (('globe10_id_s0.25', 'Identity'),
                          ('globe10_bb_s0.25', 'BB')):
        for i, r in enumerate(results.get(config, [])):
            pts = [(h['epoch'], h['cost_norm']) for h in r['history']
                   if 'cost_norm' in h]
            ax.plot(*zip(*pts), color='C0' if label == 'Identity' else 'C1',
                    alpha=0.8, label=label if i == 0 else None)
    ax.axvline(8.5, color='gray', ls='--', lw=1)
    ax.set_xlabel('epoch (noise margin off after the dashed line)')
    ax.set_ylabel('mean cost norm')
    ax.set_title('Globe TSP(10), gradient noise 0.25 (cf. Fig. 4c)')
    ax.legend()
    fig.tight_layout()
    path = os.path.join(PLOTS, 'cost_norm.png')
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(path)
    # Fig. 4a: accuracy vs gradient noise.
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for method, key in (('Identity', 'id'), ('BB', 'bb')):
        xs, ys = [], []
        for sigma, suffix in ((0.0, ''), (0.25, '_s0.25'), (0.5, '_s0.5')):
            v = mean(results, f'globe10_{key}{suffix}', 'test_acc')
            if v is not None:
                xs.append(sigma)
                ys.append(v)
        ax.plot(xs, ys, marker='o', label=method)
    ax.set_xlabel('gradient noise sigma')
    ax.set_ylabel('test tour accuracy %')
    ax.set_title('Globe TSP(10) robustness (cf. Fig. 4a)')
    ax.legend()
    fig.tight_layout()
    path = os.path.join(PLOTS, 'grad_noise.png')
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(path)
    return made


def report(results: Dict[str, List[dict]], seeds: int) -> str:
    def s(config, key, scale=1.0):
        return stat(results, config, key, scale) or 'not run'

    def ratio(a, b, key):
        x, y = mean(results, a, key), mean(results, b, key)
        return f'{x / y:.2f}' if x and y else 'not run'

    rows = []

    def add(claim, paper, ours, setting, cmd, verdict):
        rows.append(f'| {claim} | {paper} | {ours} | {setting} | `{cmd}` | '
                    f'{verdict} |')

    globe = 'GlobeTSP, 2,000 train / 200 test, 16 epochs (noise: first 8)'
    add('1. Identity needs no extra solver call: train time Identity / BB',
        'TSP(10) 53.1 / 84.6 min = 0.63; GM VOC 97.0 / 104.4 = 0.93',
        f"Globe TSP(10) {ratio('globe10_id', 'globe10_bb', 'train_time_per_epoch_s')}; "
        f"GM {ratio('gm_id', 'gm_bb', 'train_time_per_epoch_s')}",
        f'{globe}; SyntheticKeypoints 400 pairs, 5 epochs',
        command('globe10_id', 0), _verdict_time(results))
    add('2./3. Projection ordering none < mean < norm < std (retrieval R@1)',
        'CUB 13.9 → 44.6 → 59.0 → 60.2',
        ' → '.join(s(f'ret_id_{p}', 'test_recall_at_1', 100)
                   for p in ('none', 'mean', 'norm', 'std')),
        'MNIST classes for CUB, 4 epochs', command('ret_id_std', 0),
        _verdict_order(results, 'ret_id_', 'test_recall_at_1', True))
    add('2. Projection ordering (DVAE N-ELBO, lower is better)',
        'Fig. 5: none worst, std best (curves only)',
        ' / '.join(s(f'dvae_id_{p}', 'test_n_elbo')
                   for p in ('none', 'mean', 'norm', 'std')),
        'MNIST test images split 8k/2k, 4 epochs', command('dvae_id_std', 0),
        _verdict_order(results, 'dvae_id_', 'test_n_elbo', False))
    add('3. L2X BeerAdvocate MSE', '2.62 / 2.47 / 2.39 (P_std) vs 4.75 / '
        '4.43 / 4.20 (no P)', 'no number', '—', '—',
        'not reproduced: BeerAdvocate is not available offline')
    add('4. Identity + P_std beats I-MLE on k-subsets',
        'DVAE lower N-ELBO than I-MLE (curve); L2X 2.47 vs 2.71 (k=10)',
        f"DVAE N-ELBO Identity {s('dvae_id_std', 'test_n_elbo')} vs BB "
        f"{s('dvae_bb_std', 'test_n_elbo')}", 'as claim 2',
        command('dvae_bb_std', 0),
        'partially: no I-MLE implementation; BB (a BB-type update like '
        'I-MLE) stands in')
    add('5. GM: Identity (no P) on par with BB; P_norm hurts Identity',
        'VOC no margin 77.2 vs 74.9; P_norm 72.6 vs 63.5',
        f"Identity {s('gm_id', 'accuracy')} vs BB "
        f"{s('gm_bb', 'accuracy')}; P_norm {s('gm_id_norm', 'accuracy')}"
        f" vs {s('gm_bb_norm', 'accuracy')}",
        'SyntheticKeypoints for VOC, 400 pairs, 5 epochs', command('gm_id', 0),
        _verdict_gm(results))
    add('6. Noise margin ≈ informed margin (GM)',
        'VOC Identity noise 1.0: 79.6 vs informed 0.1: 79.7; BB noise 1.0 '
        '80.1',
        f"Identity noise 1.0 {s('gm_id_noise1', 'accuracy')} vs informed "
        f"0.1 {s('gm_id_informed0.1', 'accuracy')}; BB noise 1.0 "
        f"{s('gm_bb_noise1', 'accuracy')}", 'as claim 5',
        command('gm_id_noise1', 0), _verdict_close(
            results, 'gm_id_noise1', 'gm_id_informed0.1', 'accuracy', 3.0))
    add('7. Noise in the first half prevents cost collapse (TSP(5) accuracy)',
        '91.09 → 99.67 (α = 0 → 0.1)',
        f"{s('globe5_id_a0', 'test_acc')} → {s('globe5_id_a0.1', 'test_acc')}",
        globe + ', k=5',
        command('globe5_id_a0.1', 0), _verdict_better(
            results, 'globe5_id_a0.1', 'globe5_id_a0', 'test_acc'))
    add('7. Same, longer training (TSP(5) accuracy)',
        '91.09 ± 0.07 → 99.67 ± 0.10 (α = 0 → 0.1)',
        f"{s('globe5long_id_a0', 'test_acc')} → "
        f"{s('globe5long_id_a0.1', 'test_acc')}",
        'GlobeTSP k=5, 5,000 train / 500 test, 30 epochs (noise: first 15)',
        command('globe5long_id_a0.1', 0), _verdict_better(
            results, 'globe5long_id_a0.1', 'globe5long_id_a0', 'test_acc'))
    add('7. After the margin is off, BB cost norm collapses, Identity\'s not',
        'Fig. 4c (σ = 0.25)',
        f"final/min cost norm Identity {s('globe10_id_s0.25', 'final_cost_norm')}"
        f", BB {s('globe10_bb_s0.25', 'final_cost_norm')} "
        '(see cost_norm.png)', globe + ', σ = 0.25',
        command('globe10_bb_s0.25', 0), _verdict_collapse(results))
    add('8. Identity degrades less than BB under gradient noise',
        'Fig. 4a (curves only)',
        f"σ 0/0.25/0.5: Identity {s('globe10_id', 'test_acc')} / "
        f"{s('globe10_id_s0.25', 'test_acc')} / {s('globe10_id_s0.5', 'test_acc')};"
        f" BB {s('globe10_bb', 'test_acc')} / {s('globe10_bb_s0.25', 'test_acc')}"
        f" / {s('globe10_bb_s0.5', 'test_acc')} (see grad_noise.png)", globe,
        command('globe10_id_s0.5', 0), _verdict_robust(results))
    add('9. Retrieval: Identity + P_std below BB',
        'CUB 60.5 vs 62.6–63.2',
        f"Identity {s('ret_id_std', 'test_recall_at_1', 100)} vs BB "
        f"{s('ret_bb_std', 'test_recall_at_1', 100)} (BB no P "
        f"{s('ret_bb_none', 'test_recall_at_1', 100)})", 'as claim 2',
        command('ret_bb_std', 0), _verdict_better(
            results, 'ret_bb_std', 'ret_id_std', 'test_recall_at_1'))
    add('10. Warcraft parity: cost ratio ×100',
        'BB 100.9 vs Identity 101.0',
        f"BB {s('terrain_bb', 'test_cost_ratio')} vs Identity "
        f"{s('terrain_id', 'test_cost_ratio')}",
        'TerrainShortestPath 12×12 for Warcraft 32×32, 600 maps, 8 epochs',
        command('terrain_id', 0), _verdict_close(
            results, 'terrain_id', 'terrain_bb', 'test_cost_ratio', 1.0))
    add('11. P_std changes the direction a lot (cosine < 0.05) yet learns',
        'DVAE cosine < 0.05',
        f"DVAE cosine P_std {s('dvae_id_std', 'grad_cosine')}, none "
        f"{s('dvae_id_none', 'grad_cosine')}", 'as claim 2',
        command('dvae_id_std', 0), _verdict_cos(results))
    head = ('| claim | paper | ours | setting | command (seed 0) | verdict |\n'
            '|---|---|---|---|---|---|\n')
    return head + '\n'.join(rows) + '\n'


def _verdict_time(results) -> str:
    x = mean(results, 'globe10_id', 'train_time_per_epoch_s')
    y = mean(results, 'globe10_bb', 'train_time_per_epoch_s')
    if not x or not y:
        return 'not run'
    r = x / y
    if r < 0.8:
        return f'reproduced ({r:.2f} ≤ 0.8; bound 0.5)'
    return f'partially ({r:.2f}: the solver is not the bottleneck here)'


def _verdict_order(results, prefix, key, higher) -> str:
    vals = [mean(results, f'{prefix}{p}', key)
            for p in ('none', 'mean', 'norm', 'std')]
    if any(v is None for v in vals):
        return 'not run'
    sign = 1 if higher else -1
    ok = all(sign * (b - a) >= -1e-9 for a, b in zip(vals, vals[1:]))
    ends = sign * (vals[3] - vals[0]) > 0
    if ok:
        return 'reproduced (monotone)'
    return 'partially (std beats none)' if ends else 'not reproduced'


def _verdict_gm(results) -> str:
    a, b = mean(results, 'gm_id', 'accuracy'), mean(results, 'gm_bb',
                                                    'accuracy')
    c = mean(results, 'gm_id_norm', 'accuracy')
    if None in (a, b, c):
        return 'not run'
    parity = a >= b - 3.0  # percentage points
    hurts = c <= a
    if parity and hurts:
        return 'reproduced'
    return 'partially' if parity or hurts else 'not reproduced'


def _verdict_close(results, a, b, key, tol) -> str:
    x, y = mean(results, a, key), mean(results, b, key)
    if x is None or y is None:
        return 'not run'
    return ('reproduced' if abs(x - y) <= tol else
            f'not reproduced (gap {abs(x - y):.3g} > {tol})')


def _spread(results, config, key) -> float:
    vals = [r['final'][key] for r in results.get(config, [])]
    return statistics.stdev(vals) if len(vals) > 1 else 0.0


def _verdict_better(results, a, b, key) -> str:
    x, y = mean(results, a, key), mean(results, b, key)
    if x is None or y is None:
        return 'not run'
    noise = max(_spread(results, a, key), _spread(results, b, key))
    if x > y + noise:
        return 'reproduced'
    if x > y:
        return ('not reproduced at this setting (same direction, within '
                'the seed-to-seed spread)')
    return 'not reproduced'


def _verdict_collapse(results) -> str:
    def drop(config):
        r = results.get(config)
        if not r:
            return None
        norms = {h['epoch']: h['cost_norm'] for h in r[0]['history']
                 if 'cost_norm' in h}
        off = max(e for e in norms if e <= 8)
        return norms[max(norms)] / norms[off]
    bb, ident = drop('globe10_bb_s0.25'), drop('globe10_id_s0.25')
    if bb is None or ident is None:
        return 'not run'
    text = (f'norm after / at switch-off: BB {bb:.2f}, Identity '
            f'{ident:.2f}')
    if bb < 0.5 and ident >= 0.5:
        return f'reproduced ({text})'
    return f'not reproduced at this setting ({text}; no collapse)'


def _verdict_robust(results) -> str:
    vals = {k: mean(results, k, 'test_acc') for k in (
        'globe10_id', 'globe10_id_s0.5', 'globe10_bb', 'globe10_bb_s0.5')}
    if any(v is None for v in vals.values()):
        return 'not run'
    drop_id = vals['globe10_id'] - vals['globe10_id_s0.5']
    drop_bb = vals['globe10_bb'] - vals['globe10_bb_s0.5']
    return ('reproduced' if drop_id < drop_bb else 'not reproduced') + \
        f' (drop at σ=0.5: Identity {drop_id:.1f}, BB {drop_bb:.1f} points)'


def _verdict_cos(results) -> str:
    v = mean(results, 'dvae_id_std', 'grad_cosine')
    if v is None:
        return 'not run'
    return 'reproduced' if v < 0.05 else f'not reproduced ({v:.3f} ≥ 0.05)'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--no-run', action='store_true')
    parser.add_argument('--only', nargs='*', default=None,
                        help='config names (prefixes) to run')
    parser.add_argument('--jobs', type=int, default=2,
                        help='runs in parallel (one torch thread each)')
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
    results: Dict[str, List[dict]] = {}
    for config in CONFIGS:
        for seed in range(seeds_of(config, args.seeds)):
            r = run(config, seed)
            if r is not None:
                results.setdefault(config, []).append(r)
    made = plots(results)
    done = sum(len(v) for v in results.values())
    text = (
        '# Reproduction report\n\n'
        'Generated by `python benchmarks/reproduce.py` from the '
        '`metrics.json` files the experiment scripts write '
        f'(runs/reproduce/; {done} runs: {args.seeds} seeds per '
        'configuration, one for the most expensive ones; mean ± std where '
        'several seeds ran). Every claim of '
        'the paper digest (§7) has a row: the paper\'s number, ours, the '
        'setting, the command, and a verdict. **Our settings are far smaller'
        ' than the paper\'s** (2 CPU cores, minutes per run) and several '
        'datasets are offline stand-ins (SyntheticKeypoints for Pascal VOC, '
        'MNIST classes for CUB, procedural terrain for Warcraft, procedural '
        'flags for the Globe TSP), so numbers are comparable in direction, '
        'not in value.\n\n' + report(results, args.seeds) +
        '\n## Plots\n\n' + ''.join(
            f'![{os.path.basename(p)}]({os.path.relpath(p, REPO)})\n\n'
            for p in made))
    with open(os.path.join(REPO, 'REPRODUCTION.md'), 'w') as f:
        f.write(text)
    print(f'wrote REPRODUCTION.md ({done} runs)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
