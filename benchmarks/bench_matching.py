r"""Benchmarks the forward pass of :class:`IdentityMatching` against
:func:`pygmtools.linear_solvers.hungarian` (numpy backend) and against a bare
loop of the per-pair solver on the same problems.

Two batches of B graph pairs: a padded one (every pair n_s = n_t = 20) and a
skewed one (most pairs small, a few large; sizes 5..60 with a long tail).
pygmtools gets the padded [B, max_n, max_n] score tensor plus the true sizes
(n1, n2), so it solves the same problems. Repetitions are interleaved (the
order of the contenders is shuffled every round) and medians are printed.

Two more contenders show the adapters of the layer: "ours dense" is the
layer on pygmtools' dense layout (cost = the padded [B, max_n, max_n]
tensor with n1, n2; dense solution out), "ours pygm" the layer with
solver='pygmtools'. Every time is measured twice: wall clock (what a user
waits) and the process's CPU time (thread_time: robust to other processes
on a busy machine, which only deschedule it); both medians are printed.

Targets: ours <= 1.0x pygmtools on the padded batch, <= 0.7x on the skewed
batch, and <= 15% overhead over the bare per-pair loop.

Run: python benchmarks/bench_matching.py [--reps 30] [--pairs 256]
"""
import argparse
import os
import random
import statistics
import sys
import time
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import write_json  # noqa: E402


def make_batch(sizes: np.ndarray, seed: int) -> Dict[str, object]:
    rng = np.random.default_rng(seed)
    blocks = [rng.standard_normal((n, n)) for n in sizes]
    max_n = int(sizes.max())
    padded = np.zeros((len(sizes), max_n, max_n))
    for b, (n, c) in enumerate(zip(sizes, blocks)):
        padded[b, :n, :n] = c
    costs = torch.from_numpy(np.concatenate([c.ravel() for c in blocks]))
    batch = torch.repeat_interleave(torch.arange(len(sizes)),
                                    torch.from_numpy(sizes))
    return dict(blocks=blocks, padded=padded, costs=costs, batch=batch,
                n=sizes.astype(np.int64))


def time_once(fn: Callable[[], object]) -> Tuple[float, float]:
    t, c = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - t, time.thread_time() - c


def run(name: str, data: Dict[str, object], reps: int) -> Dict[str, float]:
    import pygmtools
    from scipy.optimize import linear_sum_assignment

    from pyg_identity.nn.matching import IdentityMatching

    layer = IdentityMatching().eval()
    layer_pygm = IdentityMatching(solver='pygmtools').eval()
    costs, batch = data['costs'], data['batch']
    score = -data['padded']  # pygmtools maximises scores.
    n = data['n']
    blocks = data['blocks']

    def ours() -> object:
        return layer(cost=costs, batch_s=batch, batch_t=batch)

    def pygm() -> object:
        return pygmtools.linear_solvers.hungarian(score, n, n,
                                                  backend='numpy')

    def bare() -> object:
        return [linear_sum_assignment(c) for c in blocks]

    dense_cost = torch.from_numpy(data['padded'])
    n_t = torch.from_numpy(n)

    def ours_dense() -> object:
        return layer(cost=dense_cost, n1=n_t, n2=n_t)

    def ours_pygm() -> object:
        return layer_pygm(cost=costs, batch_s=batch, batch_t=batch)

    # Same solutions (objective values) before timing.
    y = ours().numpy()
    p = pygm()
    obj_ours = float((y * costs.numpy()).sum())
    obj_pygm = float((p * data['padded']).sum())
    assert abs(obj_ours - obj_pygm) < 1e-6 * max(1.0, abs(obj_pygm)), (
        obj_ours, obj_pygm)
    # The adapters return the same matchings (ties-free random costs).
    assert np.array_equal(ours_dense().numpy(), p)
    assert np.array_equal(ours_pygm().numpy(), y)

    contenders = {'ours': ours, 'pygmtools': pygm, 'bare loop': bare,
                  'ours dense': ours_dense, 'ours pygm': ours_pygm}
    times: Dict[str, List[float]] = {k: [] for k in contenders}
    cpu: Dict[str, List[float]] = {k: [] for k in contenders}
    for fn in contenders.values():  # warm-up
        fn()
    for _ in range(reps):
        order = list(contenders)
        random.shuffle(order)
        for k in order:
            wall, c = time_once(contenders[k])
            times[k].append(wall)
            cpu[k].append(c)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    med_cpu = {k: statistics.median(v) * 1e3 for k, v in cpu.items()}
    print(f'\n{name}: B={len(blocks)}, sizes {int(n.min())}..{int(n.max())}'
          f' (mean {n.mean():.1f}), {reps} interleaved reps, medians '
          f'(wall / CPU)')
    for k, v in med.items():
        print(f'  {k:<10} {v:8.3f} ms  {med_cpu[k]:8.3f} ms')
    for k in ('ours', 'ours dense', 'ours pygm'):
        print(f'  {k} / pygmtools = {med[k] / med["pygmtools"]:.3f}')
    print(f'  ours / bare loop = {med["ours"] / med["bare loop"]:.3f} '
          f'(dispatch overhead {100 * (med["ours"] / med["bare loop"] - 1):+.1f}%)'  # noqa: E501
          f'; CPU time {med_cpu["ours"] / med_cpu["bare loop"]:.3f}')
    med.update({f'{k} cpu': v for k, v in med_cpu.items()})
    return med


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument('--pairs', type=int, default=256)
    parser.add_argument('--reps', type=int, default=30)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', type=str, default=None)
    args = parser.parse_args(argv)
    random.seed(args.seed)
    torch.set_num_threads(1)

    padded = np.full(args.pairs, 20)
    rng = np.random.default_rng(args.seed)
    # Long tail: most pairs have 5..15 nodes, a few up to 60.
    skewed = np.clip(5 + rng.geometric(0.12, args.pairs) - 1, 5, 60)
    skewed[:max(1, args.pairs // 64)] = 60
    rng.shuffle(skewed)

    start = time.perf_counter()
    res = {}
    for name, sizes, seed in (('padded', padded, args.seed),
                              ('skewed', skewed, args.seed + 1)):
        med = run(f'{name} batch', make_batch(sizes, seed), args.reps)
        res[name] = dict(ours_s=med['ours'] / 1e3,
                         pygmtools_s=med['pygmtools'] / 1e3,
                         bare_s=med['bare loop'] / 1e3,
                         ours_dense_s=med['ours dense'] / 1e3,
                         ours_pygmtools_s=med['ours pygm'] / 1e3,
                         ours_cpu_s=med['ours cpu'] / 1e3,
                         bare_cpu_s=med['bare loop cpu'] / 1e3)
    print(f'\ntotal {time.perf_counter() - start:.1f} s')
    return write_json(args.json, res)


if __name__ == '__main__':
    main()
