"""IdentityShortestPath forward on B ragged graphs: non-negative costs
(one Dijkstra call) and negative costs (one batched Bellman-Ford, exact),
beside negative_costs='clamp' (Dijkstra on the clamped costs, a different
problem) and a networkx Bellman-Ford loop on the same graphs.

    python benchmarks/bench_shortest_path.py [--graphs 256] [--reps 5]
"""
import argparse
import os
import sys
import warnings

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Batch, Data

sys.path.insert(0, os.path.dirname(__file__))
from _timing import fmt_ms, interleaved, write_json  # noqa: E402

from pyg_identity.nn import IdentityShortestPath  # noqa: E402
from pyg_identity.utils import grid_edge_index  # noqa: E402


def random_digraph(n: int, gen: torch.Generator) -> torch.Tensor:
    src = torch.randint(0, n, (4 * n, ), generator=gen)
    dst = torch.randint(0, n, (4 * n, ), generator=gen)
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    return torch.cat([ring, torch.stack([src, dst])], 1)  # t reachable


def right_down_grid(k: int) -> torch.Tensor:
    node = torch.arange(k * k).view(k, k)
    right = torch.stack([node[:, :-1].reshape(-1), node[:, 1:].reshape(-1)])
    down = torch.stack([node[:-1].reshape(-1), node[1:].reshape(-1)])
    return torch.cat([right, down], dim=1)


def nx_loop(batch: Batch, cost: torch.Tensor, target: torch.Tensor,
            vertex: bool):
    # Per-graph networkx digraphs (cheapest of parallel edges), weights on
    # the arcs (node costs as the cost of the arc's head).
    graphs = []
    eb = batch.batch[batch.edge_index[0]]
    for g in range(batch.num_graphs):
        off = int(batch.ptr[g])
        ei = batch.edge_index[:, eb == g] - off
        w = (cost[off:int(batch.ptr[g + 1])][ei[1]] if vertex else
             cost[eb == g])
        G = nx.DiGraph()
        for (u, v), x in zip(ei.t().tolist(), w.tolist()):
            if u != v and (not G.has_edge(u, v) or G[u][v]['weight'] > x):
                G.add_edge(u, v, weight=x)
        graphs.append(G)
    t = target.tolist()
    return lambda: [nx.bellman_ford_path(G, 0, t[g])
                    for g, G in enumerate(graphs)]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--graphs', type=int, default=256)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--json', type=str, default=None)
    args = parser.parse_args(argv)
    B = args.graphs
    rs = np.random.RandomState(0)
    gen = torch.Generator().manual_seed(0)
    k = 12

    sizes = rs.randint(20, 101, B)
    rand = Batch.from_data_list([
        Data(edge_index=random_digraph(int(n), gen), num_nodes=int(n))
        for n in sizes])
    rand_t = torch.from_numpy(sizes - 1)
    grid = Batch.from_data_list(
        [Data(edge_index=grid_edge_index(k), num_nodes=k * k)
         for _ in range(B)])
    dag = Batch.from_data_list(
        [Data(edge_index=right_down_grid(k), num_nodes=k * k)
         for _ in range(B)])
    corner = torch.full((B, ), k * k - 1)

    # Reduced costs c + pi(u) - pi(v): negative on many arcs, no negative
    # cycle (every cycle keeps its cost c >= 0).
    pi = 2.0 * torch.rand(rand.num_nodes, generator=gen)
    c = torch.rand(rand.num_edges, generator=gen) + 0.01
    reduced = c + pi[rand.edge_index[0]] - pi[rand.edge_index[1]]

    edge = IdentityShortestPath(projection=None).eval()
    vertex = IdentityShortestPath(vertex_costs=True, projection=None).eval()
    edge_clamp = IdentityShortestPath(projection=None,
                                      negative_costs='clamp').eval()
    vertex_clamp = IdentityShortestPath(vertex_costs=True, projection=None,
                                        negative_costs='clamp').eval()
    cases = {
        'edge, random digraphs, c >= 0': (edge, edge_clamp, rand, c, rand_t,
                                          False),
        'vertex, 12x12 8-grid, c >= 0': (
            vertex, vertex_clamp, grid,
            torch.rand(grid.num_nodes, generator=gen) + 0.1, corner, True),
        'edge, random digraphs, reduced c': (edge, edge_clamp, rand,
                                             reduced, rand_t, False),
        'edge, 12x12 right/down, N(0,1)': (
            edge, edge_clamp, dag, torch.randn(dag.num_edges, generator=gen),
            corner, False),
        'vertex, 12x12 right/down, N(0,1)': (
            vertex, vertex_clamp, dag,
            torch.randn(dag.num_nodes, generator=gen), corner, True),
    }
    res = {}
    for name, (layer, clamp, batch, cost, target, on_nodes) in cases.items():
        def exact(layer=layer, batch=batch, cost=cost, target=target):
            return layer(cost, batch.edge_index, batch.batch, source=0,
                         target=target)

        def clamped(clamp=clamp, batch=batch, cost=cost, target=target):
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                return clamp(cost, batch.edge_index, batch.batch, source=0,
                             target=target)

        fns = dict(exact=exact, clamp=clamped,
                   networkx=nx_loop(batch, cost, target, on_nodes))
        t = interleaved(fns, reps=args.reps)
        res[name] = dict(exact_s=t['exact'], clamp_s=t['clamp'],
                         networkx_s=t['networkx'],
                         negative=bool((cost < 0).any()))

    print(f'IdentityShortestPath forward on B={B} graphs (median of '
          f'{args.reps}, interleaved); networkx: Bellman-Ford per graph')
    for name, v in res.items():
        print(f"  {name:34s} exact {fmt_ms(v['exact_s'])}  clamp "
              f"{fmt_ms(v['clamp_s'])}  networkx {fmt_ms(v['networkx_s'])}"
              f"  exact/networkx = {v['exact_s'] / v['networkx_s']:.3f}")
    return write_json(args.json, res)


if __name__ == '__main__':
    main()
