"""IdentityShortestPath vs a networkx loop (Dijkstra per graph), and
IdentityPerfectMatching vs the networkx call it wraps (max_weight_matching
with maxcardinality=True per graph), on the same ragged batches.

    python benchmarks/bench_vs_networkx.py [--graphs 256] [--reps 5]
"""
import argparse
import os
import sys

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Batch, Data

sys.path.insert(0, os.path.dirname(__file__))
from _timing import fmt_ms, interleaved, write_json  # noqa: E402

from pyg_identity.nn import (  # noqa: E402
    IdentityPerfectMatching,
    IdentityShortestPath,
)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--graphs', type=int, default=256)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--json', type=str, default=None)
    args = parser.parse_args(argv)
    B = args.graphs
    rs = np.random.RandomState(0)
    gen = torch.Generator().manual_seed(0)
    res = {}

    # Shortest path: sparse random digraphs with a ring (t reachable).
    graphs = []
    for n in rs.randint(20, 101, B):
        n = int(n)
        m = 4 * n
        src = torch.randint(0, n, (m, ), generator=gen)
        dst = torch.randint(0, n, (m, ), generator=gen)
        ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
        ei = torch.cat([ring, torch.stack([src, dst])], 1)
        graphs.append(Data(edge_index=ei, num_nodes=n))
    batch = Batch.from_data_list(graphs)
    cost = torch.rand(batch.num_edges, generator=gen) + 0.01
    target = torch.tensor([g.num_nodes - 1 for g in graphs])
    sp = IdentityShortestPath(projection=None).eval()
    nx_graphs = []
    off = 0
    for g in graphs:
        G = nx.DiGraph()
        G.add_nodes_from(range(g.num_nodes))
        c = cost[off:off + g.num_edges].tolist()
        for (u, v), w in zip(g.edge_index.t().tolist(), c):
            if u != v and (not G.has_edge(u, v) or G[u][v]['weight'] > w):
                G.add_edge(u, v, weight=w)
        nx_graphs.append(G)
        off += g.num_edges

    def ours_sp():
        return sp(cost, batch.edge_index, batch.batch, source=0,
                  target=target)

    def nx_sp():
        return [nx.dijkstra_path(G, 0, G.number_of_nodes() - 1)
                for G in nx_graphs]

    y = ours_sp()
    ours_len = float((y * cost).sum())
    nx_len = sum(nx.path_weight(G, p, 'weight')
                 for G, p in zip(nx_graphs, nx_sp()))
    assert abs(ours_len - nx_len) < 1e-3 * nx_len, (ours_len, nx_len)
    t = interleaved(dict(ours=ours_sp, networkx=nx_sp), reps=args.reps)
    res['shortest_path'] = dict(ours_s=t['ours'], networkx_s=t['networkx'],
                                ratio=t['ours'] / t['networkx'])

    # Perfect matching: complete graphs of even size 10..40, one direction.
    pgraphs, nxp = [], []
    for n in 2 * rs.randint(5, 21, B):
        n = int(n)
        r, c = torch.triu_indices(n, n, offset=1)
        pgraphs.append(Data(edge_index=torch.stack([r, c]), num_nodes=n))
    pbatch = Batch.from_data_list(pgraphs)
    pcost = torch.rand(pbatch.num_edges, generator=gen)
    off = 0
    for g in pgraphs:
        G = nx.Graph()
        c = pcost[off:off + g.num_edges].tolist()
        G.add_weighted_edges_from(
            (u, v, -w) for (u, v), w in zip(g.edge_index.t().tolist(), c))
        nxp.append(G)
        off += g.num_edges
    pm = IdentityPerfectMatching(projection=None).eval()

    def ours_pm():
        return pm(pcost, pbatch.edge_index, pbatch.batch)

    def nx_pm():
        return [nx.max_weight_matching(G, maxcardinality=True) for G in nxp]

    t = interleaved(dict(ours=ours_pm, networkx=nx_pm), reps=args.reps)
    res['perfect_matching'] = dict(ours_s=t['ours'],
                                   networkx_s=t['networkx'],
                                   ratio=t['ours'] / t['networkx'])

    print(f'Layer forward vs networkx on B={B} ragged graphs (median of '
          f'{args.reps}, interleaved)')
    for k, v in res.items():
        print(f"  {k:18s} ours {fmt_ms(v['ours_s'])}  networkx "
              f"{fmt_ms(v['networkx_s'])}  ours/networkx = "
              f"{v['ratio']:.3f}")
    return write_json(args.json, res)


if __name__ == '__main__':
    main()
