"""Runs every benchmark (`make bench`) and writes one Markdown table plus a
JSON file with all figures: benchmarks/results/latest.{md,json}.

Every figure is a ratio measured within one run (interleaved repetitions,
medians), with the absolute medians beside it: these machines are shared and
noisy.

    python benchmarks/run_all.py [--quick]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

BENCHES = [
    # name, script, args, quick args
    ('projection', 'bench_projection.py', [], ['--graphs', '2000',
                                              '--edges', '200000']),
    ('dispatch', 'bench_dispatch.py', [], ['--graphs', '64', '--reps',
                                            '3']),
    ('matching', 'bench_matching.py', [], ['--pairs', '64', '--reps', '5']),
    ('vs_networkx', 'bench_vs_networkx.py', [], ['--graphs', '64', '--reps',
                                                  '3']),
    ('tsp', 'bench_tsp.py', [], ['--graphs', '16', '--reps', '3',
                                 '--sizes', '20,50', '--effort-graphs',
                                 '2']),
    ('training', 'bench_training.py', [], ['--reps', '2']),
    ('estimators', 'bench_estimators.py', [], ['--graphs', '8', '--samples',
                                                 '4', '--reps', '3']),
    # The full reliability run (10,000 instances per family) is run by hand.
    ('reliability', 'bench_reliability.py', ['--quick'],
     ['--quick', '--instances', '120']),
]


def table(results: dict) -> str:
    rows = []

    def add(group, what, value, context=''):
        rows.append(f'| {group} | {what} | {value} | {context} |')

    def ms(s):
        return f'{1e3 * s:.1f} ms'

    p = results.get('projection')
    if p:
        t = p['times_s']
        add('projection', 'per-graph P_std / global norm (index)',
            f"{p['ratio_index_vs_global']:.2f}x",
            f"{ms(t['per_graph_index'])} vs {ms(t['global_norm'])}; "
            'target <= 3x')
        add('projection', 'per-graph P_std / global norm (ptr)',
            f"{p['ratio_ptr_vs_global']:.2f}x", ms(t['per_graph_ptr']))
        add('projection', 'slice loop / per-graph',
            f"{p['speedup_vs_loop']:.0f}x",
            f"{ms(t['python_loop'])}; target >= 100x")
        add('projection', 'mask loop / per-graph',
            f"{p['speedup_vs_mask_loop']:.0f}x",
            f"{ms(t['python_mask_loop'])} (extrapolated)")
    for name, r in (results.get('dispatch') or {}).items():
        add('dispatch', f'{name}: layer / bare loop',
            f"{1 + r['overhead']:.2f}x",
            f"{ms(r['layer_s'])} vs {ms(r['bare_s'])}; target <= 1.15x")
    m = results.get('matching')
    if m:
        for batch, r in m.items():
            if not isinstance(r, dict) or 'ours_s' not in r:
                continue
            add('matching', f'{batch}: ours / pygmtools.hungarian',
                f"{r['ours_s'] / r['pygmtools_s']:.2f}x",
                f"{ms(r['ours_s'])} vs {ms(r['pygmtools_s'])}")
            add('matching', f'{batch}: ours / bare scipy loop',
                f"{r['ours_s'] / r['bare_s']:.2f}x", ms(r['bare_s']))
    for name, r in (results.get('vs_networkx') or {}).items():
        add('networkx', f'{name}: ours / networkx', f"{r['ratio']:.2f}x",
            f"{ms(r['ours_s'])} vs {ms(r['networkx_s'])}")
    t = results.get('tsp')
    if t:
        add('tsp', '1 worker / 2 workers', f"{t['speedup_2_vs_1']:.2f}x",
            f"control {t['control_speedup']:.2f}x; target >= 1.8x")
        for r in t['effort']:
            add('tsp', f"LKH n={r['n']} runs={r['runs']}",
                f"{r['excess_pct']:.3f}% over best",
                f"{r['ms_per_graph']:.1f} ms/graph")
    for name, r in (results.get('training') or {}).items():
        add('training', f'{name}: identity / blackbox step',
            f"{r['ratio']:.2f}x",
            f"{ms(r['identity_s'])} vs {ms(r['blackbox_s'])}; solver "
            f"share {100 * r['solver_share_identity']:.0f}% / "
            f"{100 * r['solver_share_blackbox']:.0f}%; peak RSS "
            f"{r['peak_mb']:.0f} MB")
    for name, r in (results.get('estimators') or {}).items():
        add('estimators', f'{name}: stacked / one call per sample',
            f"{r['ratio']:.2f}x",
            f"{ms(r['stacked_s'])} vs {ms(r['looped_s'])}")
    for name, r in (results.get('reliability') or {}).get(
            'families', {}).items():
        bad = sum(r[k] for k in ('infeasible', 'suboptimal', 'errors',
                                 'hangs'))
        add('reliability', f'{name}: failures / instances',
            f"{bad} / {r['instances']}",
            f"checked {r['checked']}, refused {r['refused']}, infeasible "
            f"{r['infeasible']}, suboptimal {r['suboptimal']}, errors "
            f"{r['errors']}, hangs {r['hangs']}")
    head = ('| group | figure | value | context |\n'
            '|---|---|---|---|\n')
    return head + '\n'.join(rows) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quick', action='store_true',
                        help='small settings (a smoke run)')
    parser.add_argument('--only', nargs='*', default=None)
    parser.add_argument('--out', default=os.path.join(HERE, 'results'))
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results, logs = {}, []
    start = time.perf_counter()
    for name, script, full, quick in BENCHES:
        if args.only and name not in args.only:
            continue
        path = os.path.join(args.out, f'{name}.json')
        cmd = [sys.executable, os.path.join(HERE, script), '--json', path]
        cmd += quick if args.quick else full
        print(f'== {name}: {" ".join(cmd[1:])}', flush=True)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        print(proc.stdout, end='', flush=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f'benchmark {name} failed')
        with open(path) as f:
            results[name] = json.load(f)
        logs.append(f'### {name} ({time.perf_counter() - t:.0f} s)\n\n```\n'
                    f'{proc.stdout.strip()}\n```\n')
    load = os.getloadavg()
    meta = dict(python=platform.python_version(), machine=platform.machine(),
                cpus=os.cpu_count(), load_average=load,
                wall_s=time.perf_counter() - start, quick=args.quick,
                date=time.strftime('%Y-%m-%d %H:%M:%S'))
    with open(os.path.join(args.out, 'latest.json'), 'w') as f:
        json.dump(dict(meta=meta, results=results), f, indent=2)
    quick = ', quick settings' if args.quick else ''
    md = (f"# Benchmarks\n\nGenerated by `make bench` "
          f"(`benchmarks/run_all.py`) on {meta['date']}: {meta['cpus']} CPUs,"
          f" load average {load[0]:.1f} at the end, "
          f"{meta['wall_s']:.0f} s in all{quick}."
          f" Ratios are measured within one run (interleaved repetitions, "
          f"medians).\n\n" + table(results) + '\n## Raw output\n\n' +
          '\n'.join(logs))
    with open(os.path.join(args.out, 'latest.md'), 'w') as f:
        f.write(md)
    print(f"wrote {os.path.join(args.out, 'latest.md')} "
          f"({meta['wall_s']:.0f} s)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
