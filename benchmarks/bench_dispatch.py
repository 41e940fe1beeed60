"""Dispatch overhead: each solver layer's forward on B ragged graphs vs the
bare loop of its per-graph solver on the same, pre-split problems (issue
target: at most 15% overhead).

    python benchmarks/bench_dispatch.py [--graphs 256] [--reps 5]
"""
import argparse
import os
import sys

import numpy as np
import torch
from torch_geometric.data import Batch, Data

sys.path.insert(0, os.path.dirname(__file__))
from _timing import fmt_ms, interleaved, write_json  # noqa: E402

from pyg_identity.nn import (  # noqa: E402
    IdentityPerfectMatching,
    IdentityRanking,
    IdentityShortestPath,
    IdentityTopK,
    IdentityTSP,
)
from pyg_identity.solvers.perfect_matching import (  # noqa: E402
    _perfect_matching,
)
from pyg_identity.solvers.shortest_path import (  # noqa: E402
    _shortest_path,
    _vertex_shortest_path,
)
from pyg_identity.solvers.tsp import _tsp_edges  # noqa: E402
from pyg_identity.utils import grid_edge_index  # noqa: E402


def complete(n: int) -> torch.Tensor:
    row, col = torch.meshgrid(torch.arange(n), torch.arange(n),
                              indexing='ij')
    mask = row != col
    return torch.stack([row[mask], col[mask]])


def random_graph(n: int, p: float, gen: torch.Generator) -> torch.Tensor:
    ei = complete(n)
    keep = torch.rand(ei.size(1), generator=gen) < p
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    return torch.cat([ring, ei[:, keep]], dim=1)  # a ring keeps t reachable


def split(batch: Batch, cost: torch.Tensor, edge_level: bool = True):
    out = []
    for g in range(batch.num_graphs):
        d = batch.get_example(g)
        a, b = int(batch.ptr[g]), int(batch.ptr[g + 1])
        if edge_level:
            m = batch.batch[batch.edge_index[0]] == g
            c = cost[m]
        else:
            c = cost[a:b]
        out.append((d.edge_index.numpy(), c.double().numpy(), d.num_nodes))
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--graphs', type=int, default=256)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--json', type=str, default=None)
    args = parser.parse_args(argv)
    B = args.graphs
    gen = torch.Generator().manual_seed(0)
    rs = np.random.RandomState(0)
    cases = {}

    # Shortest path, edge costs, random sparse digraphs of 10..60 nodes.
    sizes = rs.randint(10, 61, B)
    batch = Batch.from_data_list([
        Data(edge_index=random_graph(int(n), 0.1, gen), num_nodes=int(n))
        for n in sizes])
    cost = torch.rand(batch.num_edges, generator=gen)
    target = torch.from_numpy(sizes - 1)
    sp = IdentityShortestPath(projection=None).eval()
    probs = split(batch, cost)
    cases['shortest_path (edge)'] = (
        lambda: sp(cost, batch.edge_index, batch.batch, source=0,
                   target=target),
        lambda: [_shortest_path(c, ei, n, source=0, target=n - 1)
                 for ei, c, n in probs])

    # Shortest path, vertex costs, 12x12 grids (Warcraft-style).
    k = 12
    grid = grid_edge_index(k, k)
    gbatch = Batch.from_data_list(
        [Data(edge_index=grid, num_nodes=k * k) for _ in range(B)])
    ncost = torch.rand(gbatch.num_nodes, generator=gen) + 0.1
    vsp = IdentityShortestPath(vertex_costs=True, projection=None).eval()
    vprobs = split(gbatch, ncost, edge_level=False)
    cases['shortest_path (vertex, 12x12)'] = (
        lambda: vsp(ncost, gbatch.edge_index, gbatch.batch, source=0,
                    target=k * k - 1),
        lambda: [_vertex_shortest_path(c, ei, n, source=0, target=n - 1)
                 for ei, c, n in vprobs])

    # TSP, complete graphs of 10..30 nodes, LKH runs=1.
    tsizes = rs.randint(10, 31, B)
    tbatch = Batch.from_data_list([
        Data(pos=torch.rand(int(n), 2, generator=gen),
             edge_index=complete(int(n)), num_nodes=int(n))
        for n in tsizes])
    tcost = (tbatch.pos[tbatch.edge_index[0]] -
             tbatch.pos[tbatch.edge_index[1]]).norm(dim=-1)
    tsp = IdentityTSP(runs=1, projection=None).eval()
    tprobs = split(tbatch, tcost)
    cases['tsp (n=10..30, runs=1)'] = (
        lambda: tsp(tcost, tbatch.edge_index, tbatch.batch),
        lambda: [_tsp_edges(ei, c, n, runs=1) for ei, c, n in tprobs])

    # Perfect matching, complete graphs of even size 6..20, one direction.
    psizes = 2 * rs.randint(3, 11, B)

    def upper(n):
        r, c = torch.triu_indices(n, n, offset=1)
        return torch.stack([r, c])

    pbatch = Batch.from_data_list([
        Data(edge_index=upper(int(n)), num_nodes=int(n)) for n in psizes])
    pcost = torch.rand(pbatch.num_edges, generator=gen)
    pm = IdentityPerfectMatching(projection=None).eval()
    pprobs = split(pbatch, pcost)
    cases['perfect_matching (n=6..20)'] = (
        lambda: pm(pcost, pbatch.edge_index, pbatch.batch),
        lambda: [_perfect_matching(ei, c, n) for ei, c, n in pprobs])

    # Top-k and ranking: device-side segment ops vs a per-group torch loop.
    gsizes = torch.from_numpy(rs.randint(10, 200, B))
    index = torch.repeat_interleave(torch.arange(B), gsizes)
    scores = torch.randn(index.numel(), generator=gen)
    chunks = list(zip(torch.cat([torch.zeros(1, dtype=torch.long),
                                 gsizes.cumsum(0)[:-1]]).tolist(),
                      gsizes.tolist()))
    topk = IdentityTopK(k=5, projection=None).eval()
    rank = IdentityRanking(projection=None).eval()

    def topk_loop():
        y = torch.zeros_like(scores)
        for a, n in chunks:
            y[a + scores[a:a + n].topk(5).indices] = 1.0
        return y

    def rank_loop():
        y = torch.empty_like(scores)
        for a, n in chunks:
            order = scores[a:a + n].argsort(descending=True, stable=True)
            y[a + order] = torch.arange(1, n + 1, dtype=scores.dtype)
        return y

    cases['topk (k=5, n=10..200)'] = (
        lambda: topk(scores, index, B), topk_loop)
    cases['ranking (n=10..200)'] = (lambda: rank(scores, index, B), rank_loop)

    results = {}
    print(f'Layer forward on B={B} ragged graphs vs the bare per-graph '
          f'solver loop (median of {args.reps}, interleaved)')
    print(f"  {'layer':32s} {'layer':>12s} {'bare loop':>12s} "
          f"{'overhead':>9s}")
    with torch.no_grad():
        for name, (ours, bare) in cases.items():
            t = interleaved(dict(ours=ours, bare=bare), reps=args.reps)
            over = t['ours'] / t['bare'] - 1
            results[name] = dict(layer_s=t['ours'], bare_s=t['bare'],
                                 overhead=over)
            print(f'  {name:32s} {fmt_ms(t["ours"])} {fmt_ms(t["bare"])} '
                  f'{100 * over:+8.1f}%', flush=True)
    return write_json(args.json, results)


if __name__ == '__main__':
    main()
