"""How precisely must the Globe TSP points be learned? (claim 7, issue 9)

The paper's Table 6 reports 99.67 / 99.72 / 99.78% test accuracy at
TSP(5) / (10) / (20) (full tours or adjacency entries: it does not say
which); the BB paper reports a median location error of the
learned capitals of 69 +- 11 km. Our runs at the paper's settings learn the
points to 117-206 km and reach 83-91%. This script asks what accuracy a
given location error buys on *our* 100 capitals: it moves every true
capital by an independent random offset along the sphere (isotropic in the
tangent plane, scaled so that the median displacement is the given number
of km), solves the optimal tour of random k-subsets through the moved
points (exactly for k <= 12, LKH above) and counts the tours that equal the
true optimal tour (as edge sets), and the share of right entries of the
k x k tour adjacency matrix (the Blackbox code's per-entry ``accuracy``).
Several noise draws per error level. A uniformly random tour per subset
gives the floor of both metrics (what a fully collapsed model scores).

    python benchmarks/globe_precision.py \
        --out docs/reproduction/globe_precision.json
"""
import argparse
import json
import os
import time
from typing import Dict, List

import numpy as np

from pyg_identity.datasets.globe_tsp import capital_positions, sphere_tour

EARTH_RADIUS_KM = 6371.0


def _edges(tour) -> frozenset:
    t = [int(v) for v in tour]
    return frozenset(frozenset((t[i], t[(i + 1) % len(t)]))
                     for i in range(len(t)))


def entry_accuracy(pred: frozenset, true: frozenset, k: int) -> float:
    r"""The share of right entries of the :math:`k \times k` adjacency
    matrix: each undirected edge in one tour only is two wrong entries."""
    return 1.0 - 2.0 * len(pred ^ true) / k**2


def perturb(pos: np.ndarray, km: float, rng: np.random.Generator
            ) -> np.ndarray:
    r"""Moves each unit vector by an isotropic tangent offset whose median
    length is :obj:`km` kilometres."""
    sigma = km / EARTH_RADIUS_KM / np.sqrt(2.0 * np.log(2.0))
    t = rng.normal(0.0, sigma, pos.shape)
    t -= (t * pos).sum(1, keepdims=True) * pos  # tangent plane
    r = np.linalg.norm(t, axis=1, keepdims=True)
    u = np.divide(t, r, out=np.zeros_like(t), where=r > 0)
    return np.cos(r) * pos + np.sin(r) * u  # along the great circle


def main(argv=None) -> Dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--ks', type=int, nargs='*', default=[5, 10, 20])
    p.add_argument('--num-subsets', type=int, default=1000)
    p.add_argument('--draws', type=int, default=3)
    p.add_argument('--km', type=float, nargs='*',
                   default=[5, 10, 17, 35, 69, 117, 200])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=None)
    args = p.parse_args(argv)
    pos = capital_positions()
    rng = np.random.default_rng(args.seed)
    d = np.arccos(np.clip(pos @ pos.T, -1, 1)) * EARTH_RADIUS_KM
    np.fill_diagonal(d, np.inf)
    out: Dict = dict(args=vars(args),
                     nearest_neighbour_km=dict(
                         min=float(d.min()),
                         median=float(np.median(d.min(1)))),
                     accuracy={})
    t0 = time.perf_counter()
    for k in args.ks:
        subsets = [rng.choice(len(pos), k, replace=False)
                   for _ in range(args.num_subsets)]
        true = [_edges(sphere_tour(pos[s], runs=1)) for s in subsets]
        rows: List[Dict] = []
        for km in args.km:
            accs, entries, errs = [], [], []
            for _ in range(args.draws):
                q = perturb(pos, km, rng)
                errs.append(float(np.median(np.arccos(np.clip(
                    (q * pos).sum(1), -1, 1))) * EARTH_RADIUS_KM))
                pred = [_edges(sphere_tour(q[s], runs=1)) for s in subsets]
                accs.append(100.0 * np.mean([
                    p == t for p, t in zip(pred, true)]))
                entries.append(100.0 * np.mean([
                    entry_accuracy(p, t, k) for p, t in zip(pred, true)]))
            rows.append(dict(km=km, median_error_km=float(np.mean(errs)),
                             acc=float(np.mean(accs)),
                             acc_std=float(np.std(accs)),
                             entry_acc=float(np.mean(entries))))
            print(f'k={k:2d}  median error {np.mean(errs):6.1f} km  '
                  f'full-tour accuracy {np.mean(accs):5.1f} '
                  f'+- {np.std(accs):.1f} %  entries {np.mean(entries):.2f} '
                  '%', flush=True)
        out['accuracy'][str(k)] = rows
        # A random tour (its own generator: the rows above stay as they
        # were without it).
        shuffle = np.random.default_rng([args.seed, k])
        rand = [_edges(shuffle.permutation(k)) for _ in subsets]
        out.setdefault('random_tour', {})[str(k)] = dict(
            acc=100.0 * float(np.mean([r == t for r, t in zip(rand, true)])),
            entry_acc=100.0 * float(np.mean([
                entry_accuracy(r, t, k) for r, t in zip(rand, true)])))
        print(f'k={k:2d}  a random tour: {out["random_tour"][str(k)]}',
              flush=True)
    out['wall_time_s'] = time.perf_counter() - t0
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)),
                    exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == '__main__':
    main()
