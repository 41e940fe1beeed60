from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GINConv, GINEConv
from torch_geometric.nn.inits import reset
from torch_geometric.nn.models import MLP
from torch_geometric.typing import OptTensor

from pyg_identity.nn.edge_cost import EdgeCost
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.tsp import IdentityTSP
from pyg_identity.utils._checks import check_non_negative, check_positive


class TSPEdgeGNN(torch.nn.Module):
    r"""A small graph neural network that predicts the edge costs of a
    travelling-salesman instance and solves it with
    :class:`~pyg_identity.nn.IdentityTSP`, trained end to end against optimal
    tours with the Identity gradient of the `"Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper.

    The node coordinates are embedded linearly and refined by
    :obj:`num_layers` residual GIN(E) layers on the complete graph (mean
    aggregation, so the scale does not grow with the number of nodes),

    .. math::
        \mathbf{h}_i^{(\ell + 1)} = \mathbf{h}_i^{(\ell)} +
        \mathrm{ReLU}\Big(h_{\mathbf{\Theta}}^{(\ell)}\big(
        \mathbf{h}_i^{(\ell)} + \mathrm{mean}_{j \neq i}
        \mathrm{ReLU}(\mathbf{h}_j^{(\ell)} + \mathbf{W}^{(\ell)}
        \mathbf{e}_{j,i})\big)\Big),

    then a symmetric :class:`~pyg_identity.nn.EdgeCost` head maps every edge
    to a cost :math:`\omega_{ij} = \omega_{ji}` and the layer returns the
    tour :math:`\mathbf{y} = \arg\min_{\mathbf{y} \in Y} \langle
    P_{\text{std}}(\omega + \xi), \mathbf{y} \rangle` over the tour
    indicators :math:`Y` of each graph. Edge features (*e.g.* the
    Euclidean distances of :class:`~pyg_identity.datasets.RandomTSP`) are
    optional; without them the model must infer distances from the
    coordinates alone.

    Args:
        in_channels (int, optional): Size of the node coordinates.
            (default: :obj:`2`)
        hidden_channels (int, optional): Size of the node embeddings.
            (default: :obj:`32`)
        num_layers (int, optional): The number of message-passing layers.
            (default: :obj:`2`)
        edge_dim (int, optional): Size of the edge features; :obj:`None`
            means none. (default: :obj:`1`)
        solver (str, optional): The TSP solver of
            :class:`~pyg_identity.nn.IdentityTSP`. (default: :obj:`"elkai"`)
        runs (int, optional): The number of LKH runs per graph (a small
            value keeps training fast). (default: :obj:`1`)
        settings (GradientSettings, optional): The gradient settings of the
            solver layer (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`, as in all TSP experiments of the paper.
            (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`noise=0.1, backward="blackbox"`).

    Shapes:
        - **input:**
          node coordinates :math:`(|\mathcal{V}|, F_{in})`,
          edge indices :math:`(2, |\mathcal{E}|)` (complete graphs, both
          directions),
          edge features :math:`(|\mathcal{E}|, D)` *(optional)*,
          batch vector :math:`(|\mathcal{V}|)` *(optional)*
        - **output:** the tour indicator :math:`(|\mathcal{E}|)`, both
          directions of every tour edge marked
    """
    def __init__(
        self,
        in_channels: int = 2,
        hidden_channels: int = 32,
        num_layers: int = 2,
        edge_dim: Optional[int] = 1,
        solver: str = 'elkai',
        runs: int = 1,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        check_positive(in_channels, 'in_channels')
        check_positive(hidden_channels, 'hidden_channels')
        check_non_negative(num_layers, 'num_layers')
        if edge_dim is not None and (isinstance(edge_dim, bool) or
                                     not isinstance(edge_dim, int)
                                     or edge_dim < 1):
            raise ValueError(f"'edge_dim' must be a positive integer or None "
                             f"(got {edge_dim!r})")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.edge_dim = edge_dim

        self.lin = torch.nn.Linear(in_channels, hidden_channels)
        self.convs = torch.nn.ModuleList()
        for _ in range(num_layers):
            mlp = MLP([hidden_channels, hidden_channels, hidden_channels],
                      norm=None)
            if edge_dim is None:
                self.convs.append(GINConv(mlp, aggr='mean'))
            else:
                self.convs.append(GINEConv(mlp, edge_dim=edge_dim,
                                           aggr='mean'))
        self.cost = EdgeCost(hidden_channels, hidden_channels, num_layers=2,
                             edge_dim=edge_dim, symmetric=True)
        self.tsp = IdentityTSP(solver, runs, settings=settings, **kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        self.lin.reset_parameters()
        for conv in self.convs:
            reset(conv)
        self.cost.reset_parameters()

    def edge_costs(self, pos: Tensor, edge_index: Tensor,
                   edge_attr: OptTensor = None) -> Tensor:
        r"""Returns the predicted symmetric edge costs :math:`\omega`
        (before the projection of the solver layer), shape
        :obj:`[num_edges]`."""
        if self.edge_dim is not None and edge_attr is not None \
                and edge_attr.dim() == 1:
            edge_attr = edge_attr.view(-1, 1)
        h = self.lin(pos)
        for conv in self.convs:
            if self.edge_dim is None:
                h = h + F.relu(conv(h, edge_index))
            else:
                h = h + F.relu(conv(h, edge_index, edge_attr))
        return self.cost(h, edge_index, edge_attr)

    def forward(
        self,
        pos: Tensor,
        edge_index: Tensor,
        edge_attr: OptTensor = None,
        batch: OptTensor = None,
        num_graphs: Optional[int] = None,
    ) -> Tensor:
        r"""Forward pass.

        Args:
            pos (torch.Tensor): The node coordinates.
            edge_index (torch.Tensor): The edges of the complete graphs.
            edge_attr (torch.Tensor, optional): The edge features, required
                if :obj:`edge_dim` is set. (default: :obj:`None`)
            batch (torch.Tensor, optional): The batch vector.
                (default: :obj:`None`)
            num_graphs (int, optional): The number of graphs.
                (default: :obj:`None`)
        """
        cost = self.edge_costs(pos, edge_index, edge_attr)
        return self.tsp(cost, edge_index, batch, num_nodes=pos.size(0),
                        num_graphs=num_graphs)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.hidden_channels}, num_layers={self.num_layers}, '
                f'edge_dim={self.edge_dim}, {self.tsp.extra_repr()})')


__all__ = ['TSPEdgeGNN']
