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


TASKS = {
    'random_tsp': 'TSP edge-cost GNN on RandomTSP (IdentityTSP)',
    'globe_tsp': 'Globe TSP: country images to tours (IdentityTSP)',
    'terrain_shortest_path': 'terrain maps to shortest paths '
    '(IdentityShortestPath)',
    'graph_matching': 'keypoint matching (IdentityMatching / '
    'IdentityGraphMatching)',
    'dvae': 'discrete VAE on MNIST with k-hot latents (IdentityTopK)',
    'retrieval': 'MNIST retrieval with a recall loss (IdentityRanking)',
}

# Which experiment module evaluates a checkpoint, by its model's module.
EXPERIMENT_OF_MODEL = {
    'pyg_identity.models.tsp_gnn': 'random_tsp',
    'pyg_identity.models.globe_tsp': 'globe_tsp',
    'pyg_identity.models.terrain_net': 'terrain_shortest_path',
    'pyg_identity.models.keypoint_matcher': 'graph_matching',
}


def _experiment(task: str):
    import importlib
    if task not in TASKS:
        raise SystemExit(f"pyg-identity: unknown task {task!r}; choose one "
                         f"of {', '.join(TASKS)}")
    return importlib.import_module(f'pyg_identity.experiments.{task}')


def train(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(
        prog='pyg-identity train',
        description='Trains a paper experiment; options after the task go '
        'to the experiment (see pyg-identity train TASK --help).',
        epilog='tasks: ' + '; '.join(f'{k}: {v}' for k, v in TASKS.items()))
    parser.add_argument('task', choices=list(TASKS))
    parser.add_argument('options', nargs=argparse.REMAINDER,
                        help='options of the experiment')
    args = parser.parse_args(argv)
    _experiment(args.task).main(args.options)
    return 0


def evaluate(argv: List[str]) -> int:
    from pyg_identity.models.pretrained import (
        available,
        card_dataset,
        load_pretrained,
        model_card,
    )
    parser = argparse.ArgumentParser(
        prog='pyg-identity eval',
        description='Evaluates a pretrained checkpoint (or the one of a '
        'task) on the fixed test split of its model card.')
    parser.add_argument('name', help='checkpoint name (see list-models) or '
                        'task name')
    parser.add_argument('--root', default=None,
                        help='dataset root (default: the dataset default)')
    args = parser.parse_args(argv)
    names = available()
    name = args.name
    if name not in names:
        matches = [n for n in names if EXPERIMENT_OF_MODEL.get(
            model_card(n)['class'].rpartition('.')[0]) == name]
        if not matches:
            raise SystemExit(f"pyg-identity: no checkpoint {name!r}; "
                             f"available: {', '.join(names) or 'none'}")
        name = matches[0]
    card = model_card(name)
    model = load_pretrained(name)
    task = EXPERIMENT_OF_MODEL[card['class'].rpartition('.')[0]]
    dataset = card_dataset(card, args.root)
    t0 = time.perf_counter()
    value = _experiment(task).evaluate(model, dataset)
    print(f"{'checkpoint':18s} {'metric':28s} {'card':>10s} {'now':>10s}")
    print(f"{name:18s} {card['metric']:28s} {card['value']:10.4f} "
          f"{value:10.4f}   ({time.perf_counter() - t0:.1f} s, "
          f"{len(dataset)} test instances)")
    return 0


def list_models(argv: List[str]) -> int:
    from pyg_identity.models.pretrained import (
        available,
        checkpoint_dir,
        model_card,
    )
    argparse.ArgumentParser(
        prog='pyg-identity list-models',
        description='Lists the pretrained checkpoints.').parse_args(argv)
    names = available()
    print(f'Pretrained checkpoints in {checkpoint_dir()}:')
    if not names:
        print('  (none)')
    for n in names:
        card = model_card(n)
        print(f"  {n:18s} {card['task']:34s} {card['metric']} = "
              f"{card['value']:.4g}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='pyg-identity',
        description='Exact combinatorial solvers as trainable PyG layers '
        '(Identity gradient with projections, Sahoo et al. ICLR 2023).')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('demo', add_help=False,
                   help='the main job: train a TSP model through IdentityTSP')
    sub.add_parser('train', add_help=False,
                   help='train a paper experiment: ' + ', '.join(TASKS))
    sub.add_parser('eval', add_help=False,
                   help='evaluate a pretrained checkpoint on its test split')
    sub.add_parser('list-models', add_help=False,
                   help='list the pretrained checkpoints')
    args, rest = parser.parse_known_args(argv)
    commands = {'demo': lambda r: demo(r) and 0, 'train': train,
                'eval': evaluate, 'list-models': list_models}
    return int(commands[args.command](rest) or 0)


if __name__ == '__main__':
    sys.exit(main())
