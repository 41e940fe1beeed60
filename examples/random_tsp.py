r"""Learning the edge costs of random Euclidean TSP instances through a TSP
solver (the paper's Sec. 3.2 and claim 7 outside the Globe task).

A small GNN (:class:`~pyg_identity.models.tsp_gnn.TSPEdgeGNN`) predicts
symmetric edge costs from the points of
:class:`~pyg_identity.datasets.RandomTSP` instances;
:class:`~pyg_identity.nn.IdentityTSP` (projection :obj:`"std"`) turns them
into a tour, and the Hamming loss to the optimal tour trains the GNN through
the Identity gradient (no second solver call, unlike Blackbox). The noise
margin is switched on for the first half of the epochs only, which keeps the
costs from collapsing around ties.

    python examples/random_tsp.py --nodes 20
    python examples/random_tsp.py --nodes 20 --noise 0            # no margin
    python examples/random_tsp.py --nodes 20 --backward blackbox

The full experiment (optimality-gap plots, cost-norm monitor, DDP) is
:mod:`pyg_identity.experiments.random_tsp`
(``python -m pyg_identity.experiments.random_tsp``).
"""
import argparse

import torch
from torch_geometric import seed_everything
from torch_geometric.loader import DataLoader
from torch_geometric.utils import scatter

from pyg_identity import edge_batch
from pyg_identity.datasets import RandomTSP
from pyg_identity.models.tsp_gnn import TSPEdgeGNN
from pyg_identity.nn.functional import hamming_loss

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument('--nodes', type=int, default=20)
parser.add_argument('--num-train', type=int, default=2000)
parser.add_argument('--num-test', type=int, default=200)
parser.add_argument('--epochs', type=int, default=20)
parser.add_argument('--batch-size', type=int, default=32)
parser.add_argument('--lr', type=float, default=1e-3)
parser.add_argument('--noise', type=float, default=0.1)
parser.add_argument('--backward', default='identity',
                    choices=['identity', 'blackbox'])
parser.add_argument('--root', default=None, help='dataset root')
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()

seed_everything(args.seed)
kwargs = dict(num_train=args.num_train, num_test=args.num_test,
              num_nodes=args.nodes, num_workers=0)
train_dataset = RandomTSP(args.root, split='train', **kwargs)
test_dataset = RandomTSP(args.root, split='test', **kwargs)
train_loader = DataLoader(train_dataset, args.batch_size, shuffle=True)
test_loader = DataLoader(test_dataset, batch_size=64)

model = TSPEdgeGNN(hidden_channels=32, num_layers=2, edge_dim=1,
                   projection='std', noise=args.noise,
                   backward=args.backward)
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)


def forward(data):
    # The Euclidean distances are the edge features (and the true costs).
    return model(data.pos, data.edge_index, edge_attr=data.edge_attr,
                 batch=data.batch, num_graphs=data.num_graphs)


def train(epoch):
    model.train()
    model.tsp.noise = args.noise if epoch <= args.epochs // 2 else 0.0
    total_loss = 0
    for data in train_loader:
        optimizer.zero_grad()
        y = forward(data)  # The tour: 1 on both directions of its edges.
        graph = edge_batch(data.batch, data.edge_index)
        loss = hamming_loss(y, data.y, graph, data.num_graphs, form='l1')
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * data.num_graphs
    return total_loss / len(train_dataset)


@torch.no_grad()
def test(loader):
    model.eval()
    gap = optimal = 0
    for data in loader:
        y = forward(data)
        graph = edge_batch(data.batch, data.edge_index)
        length = 0.5 * scatter(y * data.edge_attr.view(-1), graph, 0,
                               dim_size=data.num_graphs, reduce='sum')
        gap += float((length / data.tour_length.view(-1) - 1).sum())
        optimal += int((hamming_loss(y, data.y, graph, data.num_graphs,
                                     reduction='none') == 0).sum())
    return 100 * gap / len(loader.dataset), optimal / len(loader.dataset)


for epoch in range(1, args.epochs + 1):
    loss = train(epoch)
    gap, acc = test(test_loader)
    print(f'Epoch: {epoch:03d}, Loss: {loss:.4f}, Test gap: {gap:.2f}%, '
          f'Optimal tours: {acc:.4f}')
