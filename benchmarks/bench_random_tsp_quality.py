"""Label quality of RandomTSP: the mean optimal-tour length of 1,000 random
uniform instances vs the published optimal means (Concorde, Kool et al.,
"Attention, Learn to Solve Routing Problems!", 2019: 3.84, 5.70, 7.76 for
n = 20, 50, 100; target: within 0.3%), and the generation time.

The mean over 1,000 instances has a sampling standard error of its own
(printed as `s.e.`), about 0.3% of the mean for n = 20 and 0.1% for
n = 100, so a relative difference within about two standard errors is as
close as 1,000 instances can tell.

    python benchmarks/bench_random_tsp_quality.py [--instances 1000]
        [--nodes 20 50 100] [--runs 10] [--workers 2]
"""
import argparse
import math
import tempfile
import time

from pyg_identity.datasets.random_tsp import RandomTSP

PUBLISHED = {20: 3.84, 50: 5.70, 100: 7.76}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--instances', type=int, default=1000)
    parser.add_argument('--nodes', type=int, nargs='+', default=[20, 50, 100])
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    print(f'{args.instances} instances per size, LKH-3 runs={args.runs}, '
          f'num_workers={args.workers}, split=test, seed={args.seed}')
    print(f'{"n":>4} {"mean":>8} {"s.e.":>7} {"published":>9} '
          f'{"rel. diff":>9} {"s/1000":>8}')
    with tempfile.TemporaryDirectory() as root:
        for n in args.nodes:
            start = time.perf_counter()
            dataset = RandomTSP(f'{root}/{n}', split='test', num_train=0,
                                num_val=0, num_test=args.instances,
                                num_nodes=n, runs=args.runs, seed=args.seed,
                                num_workers=args.workers, log=False)
            seconds = time.perf_counter() - start
            lengths = dataset._data.tour_length.double()
            mean = float(lengths.mean())
            se = float(lengths.std()) / math.sqrt(lengths.numel())
            ref = PUBLISHED.get(n)
            diff = (f'{100 * (mean / ref - 1):+8.2f}%'
                    if ref is not None else f'{"-":>9}')
            ref_s = f'{ref:9.2f}' if ref is not None else f'{"-":>9}'
            print(f'{n:>4} {mean:8.4f} {se:7.4f} {ref_s} {diff} '
                  f'{seconds * 1000 / args.instances:8.1f}', flush=True)


if __name__ == '__main__':
    main()
