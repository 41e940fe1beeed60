r"""Shortest paths on Warcraft-style terrain maps (paper Sec. 5.6, Table 7).

A small ResNet (:class:`~pyg_identity.models.terrain_net.TerrainNet`) reads
the image of a :math:`k \times k` map of
:class:`~pyg_identity.datasets.TerrainShortestPath` and predicts one
non-negative cost per cell; Dijkstra
(:class:`~pyg_identity.nn.IdentityShortestPath`, vertex costs on the
8-neighbourhood grid) returns the cheapest top-left to bottom-right path,
and the L1 (Hamming) loss to the true path trains the network through the
Identity or the Blackbox backward. The metric is the cost ratio
:math:`100 \cdot \langle c^*, \hat{y}\rangle / \langle c^*, y^*\rangle`
under the true costs (100 = optimal). The paper's claim: Identity is on par
with Blackbox (101.0 vs 100.9 on 32x32 maps).

    python examples/terrain_shortest_path.py --epochs 5
    python examples/terrain_shortest_path.py --epochs 5 --backward blackbox

Table 7 (its rows, the validation split, plots and checkpoints) is
reproduced by :mod:`pyg_identity.experiments.terrain_shortest_path`
(``python -m pyg_identity.experiments.terrain_shortest_path``).
"""
import argparse

import torch
from torch_geometric import seed_everything
from torch_geometric.loader import DataLoader
from torch_geometric.utils import scatter

from pyg_identity.datasets import TerrainShortestPath
from pyg_identity.models.terrain_net import TerrainNet
from pyg_identity.nn.functional import hamming_loss

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument('--grid-size', type=int, default=12)
parser.add_argument('--num-train', type=int, default=1000)
parser.add_argument('--num-test', type=int, default=200)
parser.add_argument('--epochs', type=int, default=5)
parser.add_argument('--batch-size', type=int, default=32)
parser.add_argument('--lr', type=float, default=5e-3)
parser.add_argument('--hidden-channels', type=int, default=32)
parser.add_argument('--backward', default='identity',
                    choices=['identity', 'blackbox'])
parser.add_argument('--root', default=None, help='dataset root')
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()

seed_everything(args.seed)
kwargs = dict(num_train=args.num_train, num_val=0, num_test=args.num_test,
              grid_size=args.grid_size, num_workers=0)
train_dataset = TerrainShortestPath(args.root, split='train', **kwargs)
test_dataset = TerrainShortestPath(args.root, split='test', **kwargs)
train_loader = DataLoader(train_dataset, args.batch_size, shuffle=True)
test_loader = DataLoader(test_dataset, batch_size=100)

model = TerrainNet(grid_size=args.grid_size,
                   hidden_channels=args.hidden_channels, projection=None,
                   backward=args.backward, lambda_=20.0)
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)


def train():
    model.train()
    total_loss = 0
    for data in train_loader:
        optimizer.zero_grad()
        y = model(data.img, data.edge_index, batch=data.batch)  # 1 per cell
        loss = hamming_loss(y, data.y, data.batch, data.num_graphs,
                            form='l1')
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * data.num_graphs
    return total_loss / len(train_dataset)


@torch.no_grad()
def test(loader):
    model.eval()
    ratio = 0
    for data in loader:
        y = model(data.img, data.edge_index, batch=data.batch)
        cost = scatter(data.cost * y, data.batch, dim_size=data.num_graphs,
                       reduce='sum')
        ratio += float((100 * cost / data.path_cost.view(-1)).sum())
    return ratio / len(loader.dataset)


for epoch in range(1, args.epochs + 1):
    loss = train()
    ratio = test(test_loader)
    print(f'Epoch: {epoch:03d}, Loss: {loss:.4f}, Test cost ratio: '
          f'{ratio:.2f}')
