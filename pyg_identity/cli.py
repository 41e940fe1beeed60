r"""The :obj:`pyg-identity` command.

    pyg-identity demo [--epochs 8] [--graphs 512] [--nodes 12] [--seed 0]
"""
import argparse
import sys
import time
from typing import List, Optional


def _random_tsp(num_graphs: int, num_nodes: int, seed: int) -> list:
    import torch
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    from pyg_identity.solvers.tsp import solve_tsp

    gen = torch.Generator().manual_seed(seed)
    row, col = torch.triu_indices(num_nodes, num_nodes, offset=1)
    edge_index = to_undirected(torch.stack([row, col]), num_nodes=num_nodes)
    data_list = []
    for _ in range(num_graphs):
        pos = torch.rand(num_nodes, 2, generator=gen)
        dist = (pos[edge_index[0]] - pos[edge_index[1]]).norm(dim=-1)
        y = torch.from_numpy(solve_tsp(dist, edge_index, solver='exact'))
        data_list.append(Data(pos=pos, edge_index=edge_index, y=y.float(),
                              edge_attr=dist.view(-1, 1),
                              num_nodes=num_nodes))
    return data_list


def demo(argv: Optional[List[str]] = None) -> dict:
    r"""Trains an edge-cost MLP through :class:`~pyg_identity.nn.IdentityTSP`
    on random Euclidean TSP graphs: the model sees node coordinates only and
    must learn costs whose optimal tour is the true one."""
    parser = argparse.ArgumentParser(
        prog='pyg-identity demo', description=demo.__doc__)
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--graphs', type=int, default=512)
    parser.add_argument('--nodes', type=int, default=12)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--noise', type=float, default=0.1)
    parser.add_argument('--backward', default='identity',
                        choices=['identity', 'blackbox'])
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)

    import torch
    from torch_geometric.loader import DataLoader

    from pyg_identity.nn import EdgeCost, IdentityTSP

    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    print(f'Generating {args.graphs} + {args.graphs // 4} random '
          f'TSP({args.nodes}) graphs with exact labels ...', flush=True)
    train = _random_tsp(args.graphs, args.nodes, args.seed)
    test = _random_tsp(args.graphs // 4, args.nodes, args.seed + 1)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)

    head = EdgeCost(2, hidden_channels=64, num_layers=3, symmetric=True)
    layer = IdentityTSP(solver='elkai', runs=1, projection='std',
                        noise=args.noise, backward=args.backward)
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)

    def evaluate() -> tuple:
        head.eval()
        layer.eval()
        batch = next(iter(DataLoader(test, batch_size=len(test))))
        with torch.no_grad():
            y = layer(head(batch.pos, batch.edge_index), batch.edge_index,
                      batch.batch)
        true_len = (batch.edge_attr.view(-1) * batch.y).sum()
        pred_len = (batch.edge_attr.view(-1) * y).sum()
        per_graph = torch.zeros(batch.num_graphs).index_add_(
            0, batch.batch[batch.edge_index[0]], (y != batch.y).float())
        acc = float((per_graph == 0).float().mean())
        return float(pred_len / true_len - 1), acc

    gap, acc = evaluate()
    print(f'Epoch 00 | loss    -    | test gap {100 * gap:6.2f}% | '
          f'test tour accuracy {100 * acc:5.1f}%')
    history = []
    for epoch in range(1, args.epochs + 1):
        head.train()
        layer.train()
        layer.noise = args.noise if epoch <= args.epochs // 2 else 0.0
        total = 0.0
        for batch in loader:
            optimizer.zero_grad()
            costs = head(batch.pos, batch.edge_index)
            y = layer(costs, batch.edge_index, batch.batch)
            # Hamming loss per graph (as in BB-GM), averaged over graphs.
            loss = (y * (1 - batch.y) + (1 - y) * batch.y).sum()
            loss = loss / batch.num_graphs
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * batch.num_graphs
        gap, acc = evaluate()
        history.append(total / len(train))
        print(f'Epoch {epoch:02d} | loss {history[-1]:7.3f} | test gap '
              f'{100 * gap:6.2f}% | test tour accuracy {100 * acc:5.1f}%',
              flush=True)
    print(f'Done in {time.perf_counter() - t0:.1f} s. Training loss '
          f'{history[0]:.3f} -> {history[-1]:.3f}.')
    return dict(loss=history, gap=gap, accuracy=acc)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='pyg-identity',
        description='Exact combinatorial solvers as trainable PyG layers.')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('demo', help='train a TSP model through IdentityTSP',
                   add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == 'demo':
        demo(rest)
    return 0


if __name__ == '__main__':
    sys.exit(main())
