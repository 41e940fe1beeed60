"""Perturbed and I-MLE training steps with the M samples stacked into one
solver call (the default) vs one solver call per sample, per layer, on the
same batch and noise (issue 13: "samples x graphs in one call where the
solver allows"). Prints both times and their ratio side by side.

    python benchmarks/bench_estimators.py [--samples 10] [--reps 7]
"""
import argparse
import os
import sys
from typing import Callable, Dict

import torch
from torch_geometric.data import Batch, Data

sys.path.insert(0, os.path.dirname(__file__))
from _timing import fmt_ms, interleaved, write_json  # noqa: E402

from pyg_identity import _autograd, nn  # noqa: E402
from pyg_identity.nn.functional import all_pairs  # noqa: E402


def _graphs(sizes, both_ways: bool):
    """A PyG batch of complete graphs (`both_ways`) or DAGs (i -> j, i < j)
    of the given sizes: (edge_index, batch)."""
    data = []
    for n in sizes:
        ei = torch.combinations(torch.arange(n), 2).t()
        if both_ways:
            ei = torch.cat([ei, ei.flip(0)], 1)
        data.append(Data(edge_index=ei, num_nodes=n))
    b = Batch.from_data_list(data)
    return b.edge_index, b.batch


def cases(graphs: int) -> Dict[str, tuple]:
    """Per layer: (factory, cost, call) on a batch of `graphs` graphs."""
    gen = torch.Generator().manual_seed(0)
    sizes = [int(n) for n in torch.randint(6, 12, (graphs, ),
                                           generator=gen)]
    even = [n + n % 2 for n in sizes]
    out = {}
    c = torch.rand(graphs, 20, generator=gen)
    out['IdentityTopK (k=5, 20 per row)'] = (
        lambda **kw: nn.IdentityTopK(5, **kw), c, lambda m, c: m(c))
    out['IdentityRanking'] = (lambda **kw: nn.IdentityRanking(**kw), c,
                              lambda m, c: m(c))
    batch_s = torch.repeat_interleave(torch.arange(graphs),
                                      torch.tensor(sizes))
    ei = all_pairs(batch_s, batch_s)
    cm = torch.rand(ei.size(1), generator=gen)
    out['IdentityMatching (scipy)'] = (
        lambda **kw: nn.IdentityMatching(**kw), cm,
        lambda m, c: m(batch_s=batch_s, batch_t=batch_s, cost=c,
                       edge_index=ei))
    ei_d, b_d = _graphs(sizes, both_ways=False)
    cd = torch.rand(ei_d.size(1), generator=gen)
    out['IdentityShortestPath (DAG)'] = (
        lambda **kw: nn.IdentityShortestPath(**kw), cd,
        lambda m, c: m(c, ei_d, b_d, source=0,
                       target=torch.tensor(sizes) - 1))
    ei_c, b_c = _graphs(even, both_ways=True)
    cc = torch.rand(ei_c.size(1), generator=gen)
    out['IdentityPerfectMatching'] = (
        lambda **kw: nn.IdentityPerfectMatching(**kw), cc,
        lambda m, c: m(c, ei_c, b_c))
    ei_t, b_t = _graphs([5] * graphs, both_ways=True)
    ct = torch.rand(ei_t.size(1), generator=gen)
    out['IdentityTSP (exact, 5 nodes)'] = (
        lambda **kw: nn.IdentityTSP(solver='exact', **kw), ct,
        lambda m, c: m(c, ei_t, b_t))
    return out


def step(make: Callable, cost: torch.Tensor, call: Callable, mode: str,
         samples: int) -> Callable[[], None]:
    layer = make(backward=mode, sigma=0.3, num_samples=samples).train()

    def run() -> None:
        c = cost.clone().requires_grad_()
        out = call(layer, c)
        out.sum().backward()

    return run


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--graphs', type=int, default=32)
    parser.add_argument('--samples', type=int, default=10)
    parser.add_argument('--reps', type=int, default=7)
    parser.add_argument('--json', type=str, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    real = _autograd.stacked_solver
    results = {}
    print(f'B={args.graphs} graphs, M={args.samples} samples, medians of '
          f'{args.reps} interleaved reps (one training step: forward + '
          f'backward)')
    print(f'{"layer":34s} {"mode":9s} {"stacked":>12s} {"per sample":>12s}'
          f' {"ratio":>6s}')
    for name, (make, cost, call) in cases(args.graphs).items():
        for mode in ('perturbed', 'imle'):
            run = step(make, cost, call, mode, args.samples)

            def stacked(run: Callable[[], None] = run) -> None:
                _autograd.stacked_solver = real
                run()

            def looped(run: Callable[[], None] = run) -> None:
                _autograd.stacked_solver = lambda s, times: None
                try:
                    run()
                finally:
                    _autograd.stacked_solver = real

            t = interleaved({'stacked': stacked, 'looped': looped},
                            reps=args.reps)
            ratio = t['stacked'] / t['looped']
            results[f'{name} {mode}'] = dict(stacked_s=t['stacked'],
                                              looped_s=t['looped'],
                                              ratio=ratio)
            print(f'{name:34s} {mode:9s} {fmt_ms(t["stacked"])} '
                  f'{fmt_ms(t["looped"])} {ratio:6.2f}')
    return write_json(args.json, results)


if __name__ == '__main__':
    main()
