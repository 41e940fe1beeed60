"""Training step time, Identity vs Blackbox, and the share of time spent in
the solver; peak memory (RSS) of a training step.

Settings (issue 6): TSP50 with B=32 graphs (EdgeCost head -> IdentityTSP,
LKH runs=1) and graph matching with B=8 pairs of 20 keypoints (a GNN +
PairCost -> IdentityMatching, and -> IdentityGraphMatching with learned
pairwise costs). The physical bound of the Identity/BB ratio is 0.5 when
the solver dominates (BB calls it twice); the paper measured 0.63 on
TSP(10) (53.1 vs 84.6 min).

    python benchmarks/bench_training.py [--reps 5] [--json out.json]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import fmt_ms, interleaved, write_json  # noqa: E402


def tsp_setup(backward: str, B: int = 32, n: int = 50):
    from torch_geometric.data import Batch, Data

    from pyg_identity.nn import EdgeCost, IdentityTSP
    gen = torch.Generator().manual_seed(0)
    row, col = torch.meshgrid(torch.arange(n), torch.arange(n),
                              indexing='ij')
    mask = row != col
    ei = torch.stack([row[mask], col[mask]])
    batch = Batch.from_data_list([
        Data(pos=torch.rand(n, 2, generator=gen), edge_index=ei,
             num_nodes=n) for _ in range(B)])
    target = (torch.rand(batch.num_edges, generator=gen) < 2 / n).float()
    head = EdgeCost(2, hidden_channels=64, num_layers=3, symmetric=True)
    layer = IdentityTSP(runs=1, projection='std', backward=backward)
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    solver_time = [0.0]

    def step():
        opt.zero_grad()
        costs = head(batch.pos, batch.edge_index)
        y = layer(costs, batch.edge_index, batch.batch)
        loss = (y * (1 - target) + (1 - y) * target).sum() / B
        loss.backward()
        opt.step()

    return step, layer, solver_time


def matching_setup(backward: str, quadratic: bool = False, B: int = 8,
                   n: int = 20):
    from torch_geometric.nn import GINEConv
    from torch_geometric.nn.models import MLP

    from pyg_identity.nn import (
        IdentityGraphMatching,
        IdentityMatching,
        PairCost,
    )
    from pyg_identity.nn.functional import all_edge_pairs, all_pairs
    gen = torch.Generator().manual_seed(0)
    batch = torch.arange(B).repeat_interleave(n)
    x_s = torch.randn(B * n, 32, generator=gen)
    perm = torch.cat([torch.randperm(n, generator=gen) + b * n
                      for b in range(B)])
    x_t = x_s[perm] + 0.5 * torch.randn(B * n, 32, generator=gen)
    # kNN-like sparse graphs: a ring plus chords, both directions.
    loc = torch.arange(n)
    e = torch.cat([torch.stack([loc, (loc + 1) % n]),
                   torch.stack([loc, (loc + 5) % n])], 1)
    e = torch.cat([e, e.flip(0)], 1)
    ei = torch.cat([e + b * n for b in range(B)], 1)
    ea = torch.randn(ei.size(1), 4, generator=gen)
    conv = GINEConv(MLP([32, 64, 32]), edge_dim=4)
    affinity = PairCost('bilinear', in_channels=32)
    cand = all_pairs(batch, batch)
    # Ground truth: source i of pair b matches target perm^-1.
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(B * n)
    target = (inv[cand[0]] == cand[1]).float()
    params = list(conv.parameters()) + list(affinity.parameters())
    if quadratic:
        layer = IdentityGraphMatching(solver='ipfp', backward=backward)
        edge_mlp = MLP([8, 16, 1])
        params += list(edge_mlp.parameters())
        epairs = all_edge_pairs(ei, ei, batch, batch)
    else:
        layer = IdentityMatching(backward=backward)
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad()
        h_s = conv(x_s, ei, ea)
        h_t = conv(x_t, ei, ea)
        costs = affinity(h_s, h_t, cand)
        if quadratic:
            pw = edge_mlp(torch.cat([ea[epairs[0]], ea[epairs[1]]],
                                    -1)).view(-1)
            y, _ = layer(costs, pw, ei, ei, cand, epairs, batch, batch)
        else:
            y = layer(cost=costs, edge_index=cand, batch_s=batch,
                      batch_t=batch)
        loss = (y * (1 - target) + (1 - y) * target).sum() / B
        loss.backward()
        opt.step()

    return step, layer, None


SETUPS = {
    'tsp50_B32': lambda bw: tsp_setup(bw),
    'matching_B8_n20': lambda bw: matching_setup(bw),
    'qap_B8_n20': lambda bw: matching_setup(bw, quadratic=True),
}


def solver_share(setup, backward: str, steps: int = 3) -> float:
    """Fraction of a training step spent inside the solver calls."""
    from pyg_identity import _autograd
    step, _, _ = setup(backward)
    step()  # warm-up
    spent = [0.0]
    real = _autograd.run_solver

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t

    _autograd.run_solver = timed
    try:
        t = time.perf_counter()
        for _ in range(steps):
            step()
        total = time.perf_counter() - t
    finally:
        _autograd.run_solver = real
    return spent[0] / total


def _hwm_kb() -> float:
    # VmHWM (peak RSS of this process image); ru_maxrss would include the
    # parent's peak inherited through fork + exec on Linux.
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return float(line.split()[1])
    except OSError:  # not Linux
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_rss_child(name: str, steps: int) -> None:
    step, _, _ = SETUPS[name]('identity')
    base = _hwm_kb()
    for _ in range(steps):
        step()
    peak = _hwm_kb()
    print(json.dumps(dict(peak_mb=peak / 1024, step_mb=(peak - base) / 1024)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--json', type=str, default=None)
    parser.add_argument('--rss-child', type=str, default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        peak_rss_child(args.rss_child, 3)
        return {}

    results = {}
    print(f'Training step, Identity vs Blackbox (median of {args.reps}, '
          f'interleaved)')
    print(f"  {'setting':18s} {'identity':>12s} {'blackbox':>12s} "
          f"{'ratio':>6s}  solver share (id / bb)   peak RSS")
    for name, setup in SETUPS.items():
        id_step = setup('identity')[0]
        bb_step = setup('blackbox')[0]
        t = interleaved(dict(identity=id_step, blackbox=bb_step),
                        reps=args.reps, warmup=2)
        share_id = solver_share(setup, 'identity')
        share_bb = solver_share(setup, 'blackbox')
        out = subprocess.run([sys.executable, __file__, '--rss-child', name],
                             capture_output=True, text=True, check=True)
        rss = json.loads(out.stdout.strip().splitlines()[-1])
        ratio = t['identity'] / t['blackbox']
        results[name] = dict(identity_s=t['identity'],
                             blackbox_s=t['blackbox'], ratio=ratio,
                             solver_share_identity=share_id,
                             solver_share_blackbox=share_bb, **rss)
        print(f"  {name:18s} {fmt_ms(t['identity'])} {fmt_ms(t['blackbox'])}"
              f" {ratio:6.2f}  {100 * share_id:5.1f}% / "
              f"{100 * share_bb:5.1f}%         {rss['peak_mb']:.0f} MB "
              f"(+{rss['step_mb']:.0f} MB in the steps)", flush=True)
    print('  bound: 0.5 when the solver dominates; paper TSP(10): 0.63')
    return write_json(args.json, results)


if __name__ == '__main__':
    main()
