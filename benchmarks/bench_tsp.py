"""IdentityTSP forward with one vs two worker processes (target: two workers
>= 1.8x faster on a machine with two free cores), and LKH effort (runs) vs
tour quality vs time.

Instances are Euclidean: random points in the unit square, both directions
of every pair (PyG's complete graphs). Quality is the mean excess of a
setting's tour over the best tour found by any setting or by a runs=30
reference, per graph.

    python benchmarks/bench_tsp.py [--graphs 64] [--nodes 50] [--reps 5]
        [--sizes 20,50,100,200]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import fmt_ms, interleaved, write_json  # noqa: E402

from pyg_identity.nn.tsp import IdentityTSP  # noqa: E402
from pyg_identity.solvers import map_graphs  # noqa: E402
from pyg_identity.solvers.tsp import tour_length, tsp_tour  # noqa: E402


def burn(k: int) -> int:
    # Pure CPU work: the parallel speedup the machine allows right now.
    s = 0
    for i in range(2_000_000 + k):
        s += i
    return s


def euclidean_batch(num_graphs: int, n: int, rng: np.random.Generator):
    pts = rng.random((num_graphs, n, 2))
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    dist = np.linalg.norm(pts[:, i] - pts[:, j], axis=-1)  # [B, n(n-1)]
    off = (np.arange(num_graphs) * n)[:, None]
    edge_index = np.stack([(i + off).reshape(-1), (j + off).reshape(-1)])
    batch = np.repeat(np.arange(num_graphs), n)
    return (torch.from_numpy(dist.reshape(-1)), torch.from_numpy(edge_index),
            torch.from_numpy(batch))


def effort_table(sizes, runs_list, num_graphs, reps, rng):
    rows = []
    for n in sizes:
        mats = []
        for _ in range(num_graphs):
            p = rng.random((n, 2))
            mats.append(np.linalg.norm(p[:, None] - p[None], axis=-1))
        tours = {}

        def make(runs, mats=mats, tours=tours):
            def fn():
                tours[runs] = [tsp_tour(c, runs=runs) for c in mats]
            return fn

        t = interleaved({r: make(r) for r in runs_list}, reps=reps,
                        warmup=0)
        ref = [tour_length(c, tsp_tour(c, runs=30)) for c in mats]
        best = [min([ref[k]] + [tour_length(c, tours[r][k])
                                for r in runs_list])
                for k, c in enumerate(mats)]
        for r in runs_list:
            excess = np.mean([tour_length(c, tours[r][k]) / best[k] - 1
                              for k, c in enumerate(mats)])
            rows.append(dict(n=n, runs=r, ms_per_graph=1e3 * t[r] /
                             num_graphs, excess_pct=100 * excess))
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--graphs', type=int, default=64)
    parser.add_argument('--nodes', type=int, default=50)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--effort-graphs', type=int, default=5)
    parser.add_argument('--sizes', type=str, default='20,50,100,200',
                        help='comma-separated n for the effort table')
    parser.add_argument('--json', type=str, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    torch.set_num_threads(1)

    cost, edge_index, batch = euclidean_batch(args.graphs, args.nodes, rng)
    load = os.getloadavg()[0]
    out = {}

    def forward(workers):
        layer = IdentityTSP(num_workers=workers)

        def fn():
            out[workers] = layer(cost, edge_index, batch)
        return fn

    def control(workers):
        return lambda: map_graphs(burn, [(k, ) for k in range(8)], workers)

    # The warm-up round starts the worker pool.
    t = interleaved(dict(workers_1=forward(1), workers_2=forward(2),
                         control_1=control(1), control_2=control(2)),
                    reps=args.reps, warmup=1)
    assert torch.equal(out[1], out[2])
    speedup = t['workers_1'] / t['workers_2']
    control_speedup = t['control_1'] / t['control_2']
    print(f'IdentityTSP forward, {args.graphs} graphs x {args.nodes} nodes, '
          f'runs=10 (median of {args.reps}, interleaved; '
          f'{os.cpu_count()} CPUs, load average {load:.1f} before, '
          f'{os.getloadavg()[0]:.1f} after)')
    for k, v in t.items():
        print(f'  {k:10s} {fmt_ms(v)}')
    print(f'  1 worker / 2 workers = {speedup:.2f}x   (target >= 1.8x with '
          f'two free cores)')
    print(f'  control: a pure-Python loop in the same pool gives '
          f'{control_speedup:.2f}x (the most the machine allows now)')

    sizes = [int(n) for n in args.sizes.split(',')]
    rows = effort_table(sizes, [1, 3, 10], args.effort_graphs,
                        max(1, args.reps // 2), rng)
    print(f'LKH effort vs quality ({args.effort_graphs} Euclidean graphs per '
          f'size; excess over the best tour found, incl. runs=30)')
    print('      n  runs   ms/graph   excess %')
    for r in rows:
        print(f"  {r['n']:5d} {r['runs']:5d} {r['ms_per_graph']:10.2f} "
              f"{r['excess_pct']:10.4f}")
    res = dict(times_s=t, speedup_2_vs_1=speedup,
               control_speedup=control_speedup, effort=rows,
               wall_s=time.perf_counter() - start)
    print(f"total {res['wall_s']:.0f} s")
    return write_json(args.json, res)


if __name__ == '__main__':
    main()
