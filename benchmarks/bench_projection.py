"""Per-graph P_std on a ragged batch vs one global normalisation of the same
tensor vs a Python loop over the graphs (issue targets: <= 3x global,
>= 100x faster than the loop).

    python benchmarks/bench_projection.py [--graphs 10000] [--edges 1000000]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import fmt_ms, interleaved, write_json  # noqa: E402

from pyg_identity import project  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--graphs', type=int, default=10_000)
    parser.add_argument('--edges', type=int, default=1_000_000)
    parser.add_argument('--reps', type=int, default=7)
    parser.add_argument('--json', type=str, default=None)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    B, E = args.graphs, args.edges
    # Ragged sizes: random edge counts per graph summing to E.
    sizes = torch.distributions.Dirichlet(torch.ones(B)).sample() * E
    sizes = sizes.round().long().clamp(min=1)
    sizes[-1] += E - int(sizes.sum())
    index = torch.repeat_interleave(torch.arange(B), sizes)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)])
    src = torch.randn(E)

    def global_norm():
        x = src - src.mean()
        return x / x.norm()

    def per_graph_index():
        return project(src, index, num_graphs=B, mode='std')

    def per_graph_ptr():
        return project(src, ptr=ptr, mode='std')

    chunks = list(zip(ptr[:-1].tolist(), ptr[1:].tolist()))

    def python_loop():  # best case: precomputed slice bounds
        out = torch.empty_like(src)
        for a, b in chunks:
            x = src[a:b] - src[a:b].mean()
            out[a:b] = x / x.norm().clamp(min=1e-6)
        return out

    sub = min(B, 300)  # the mask loop is timed on `sub` graphs, x B / sub

    def python_mask_loop():  # the loop a user writes without a ptr
        out = torch.empty_like(src)
        for g in range(sub):
            m = index == g
            x = src[m] - src[m].mean()
            out[m] = x / x.norm().clamp(min=1e-6)
        return out

    torch.testing.assert_close(per_graph_index(), python_loop())
    torch.set_num_threads(max(1, torch.get_num_threads()))
    t = interleaved(
        dict(global_norm=global_norm, per_graph_index=per_graph_index,
             per_graph_ptr=per_graph_ptr, python_loop=python_loop,
             python_mask_loop=python_mask_loop),
        reps=args.reps, warmup=0,
        reps_for=dict(python_loop=3, python_mask_loop=3))
    t['python_mask_loop'] *= B / sub

    print(f'P_std on {B:,} graphs / {E:,} entries '
          f'(median of {args.reps}, interleaved; torch threads='
          f'{torch.get_num_threads()})')
    for k, v in t.items():
        print(f'  {k:16s} {fmt_ms(v)}')
    best = min(t['per_graph_index'], t['per_graph_ptr'])
    res = dict(
        times_s=t,
        ratio_index_vs_global=t['per_graph_index'] / t['global_norm'],
        ratio_ptr_vs_global=t['per_graph_ptr'] / t['global_norm'],
        speedup_vs_loop=t['python_loop'] / best,
        speedup_vs_mask_loop=t['python_mask_loop'] / best,
    )
    print(f"  per-graph (index) / global = "
          f"{res['ratio_index_vs_global']:.2f}x   (target <= 3x)")
    print(f"  per-graph (ptr)   / global = "
          f"{res['ratio_ptr_vs_global']:.2f}x   (target <= 3x)")
    print(f"  slice loop / per-graph     = {res['speedup_vs_loop']:.0f}x   "
          f"(target >= 100x; the best possible Python loop)")
    print(f"  mask loop / per-graph      = {res['speedup_vs_mask_loop']:.0f}x"
          f"   (target >= 100x; `index == g` masks, extrapolated)")
    return write_json(args.json, res)


if __name__ == '__main__':
    main()
