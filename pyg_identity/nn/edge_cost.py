from typing import Any, Dict, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MLP
from torch_geometric.typing import OptTensor

from pyg_identity.utils._checks import check_positive


class _MLPCost(torch.nn.Module):
    r"""The shared part of the MLP cost heads: validated hyperparameters, an
    MLP from :obj:`num_ends` node embeddings (and :obj:`edge_dim` edge
    features) to one cost, the check of the node embeddings and the
    optional softplus."""
    def __init__(
        self,
        in_channels: int,
        hidden_channels: Optional[int],
        num_layers: int,
        positive: bool,
        dropout: float,
        act: Union[str, Any, None],
        norm: Union[str, Any, None],
        bias: bool,
        edge_dim: Optional[int] = None,
        num_ends: int = 1,
    ) -> None:
        super().__init__()
        check_positive(in_channels, 'in_channels')
        check_positive(hidden_channels, 'hidden_channels', allow_none=True)
        check_positive(num_layers, 'num_layers')
        check_positive(edge_dim, 'edge_dim', allow_none=True)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must lie in [0, 1) (got {dropout})")
        self.in_channels = in_channels
        self.hidden_channels = (in_channels if hidden_channels is None else
                                hidden_channels)
        self.num_layers = num_layers
        self.positive = bool(positive)
        self.dropout = dropout
        kwargs: Dict[str, Any] = dict(dropout=dropout, act=act, norm=norm,
                                      bias=bias)
        self.mlp = MLP(in_channels=num_ends * in_channels + (edge_dim or 0),
                       hidden_channels=self.hidden_channels, out_channels=1,
                       num_layers=num_layers, **kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        self.mlp.reset_parameters()

    def _check_x(self, x: Tensor) -> None:
        if x.dim() != 2 or x.size(-1) != self.in_channels:
            raise ValueError(f"'x' must have shape [num_nodes, "
                             f"{self.in_channels}] (got {list(x.size())})")

    def _activate(self, out: Tensor) -> Tensor:
        out = out.view(-1)
        return F.softplus(out) if self.positive else out


class EdgeCost(_MLPCost):
    r"""A cost head that maps node embeddings (and edge features) to one
    cost per edge, to feed edge-level solver layers such as
    :class:`pyg_identity.nn.IdentityShortestPath` or
    :class:`pyg_identity.nn.IdentityPerfectMatching`

    .. math::
        c_{j \rightarrow i} = h_{\mathbf{\Theta}}\left(\mathbf{x}_i \,
        \Vert \, \mathbf{x}_j \, \Vert \, \mathbf{e}_{j,i}\right)

    for every edge :math:`(j, i)` of :obj:`edge_index` (source :math:`j =`
    :obj:`edge_index[0]`, target :math:`i =` :obj:`edge_index[1]`, PyG's
    convention), with :math:`h_{\mathbf{\Theta}}` an MLP
    (:class:`torch_geometric.nn.models.MLP`). With :obj:`symmetric=True`,

    .. math::
        c_{j \rightarrow i} = \tfrac{1}{2} \left(
        h_{\mathbf{\Theta}}(\mathbf{x}_i \Vert \mathbf{x}_j \Vert
        \mathbf{e}_{j,i}) + h_{\mathbf{\Theta}}(\mathbf{x}_j \Vert
        \mathbf{x}_i \Vert \mathbf{e}_{j,i}) \right),

    so that :math:`c_{j \rightarrow i} = c_{i \rightarrow j}` whenever
    :math:`\mathbf{e}_{j,i} = \mathbf{e}_{i,j}` (as after
    :func:`torch_geometric.utils.to_undirected`). With :obj:`positive=True`
    a softplus makes the costs positive, as the Dijkstra solver of
    :class:`~pyg_identity.nn.IdentityShortestPath` needs.

    Args:
        in_channels (int): Size of each node embedding.
        hidden_channels (int, optional): Size of the hidden layers;
            :obj:`None` means :obj:`in_channels`. (default: :obj:`None`)
        num_layers (int, optional): The number of layers of the MLP
            (:obj:`1` is a linear map). (default: :obj:`2`)
        edge_dim (int, optional): Size of the edge features; :obj:`None`
            means no edge features. (default: :obj:`None`)
        symmetric (bool, optional): If set to :obj:`True`, the cost does
            not depend on the direction of the edge. (default: :obj:`False`)
        positive (bool, optional): If set to :obj:`True`, a softplus is
            applied to the costs. (default: :obj:`False`)
        dropout (float, optional): Dropout probability of the hidden layers.
            (default: :obj:`0.0`)
        act (str or Callable, optional): The non-linear activation.
            (default: :obj:`"relu"`)
        norm (str or Callable, optional): The normalization of the hidden
            layers (see :class:`torch_geometric.nn.models.MLP`).
            (default: :obj:`None`)
        bias (bool, optional): If set to :obj:`False`, the layers will not
            learn an additive bias. (default: :obj:`True`)

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})`,
          edge indices :math:`(2, |\mathcal{E}|)`,
          edge features :math:`(|\mathcal{E}|, D)` *(optional)*
        - **output:** edge costs :math:`(|\mathcal{E}|)`
    """
    def __init__(
        self,
        in_channels: int,
        hidden_channels: Optional[int] = None,
        num_layers: int = 2,
        edge_dim: Optional[int] = None,
        symmetric: bool = False,
        positive: bool = False,
        dropout: float = 0.0,
        act: Union[str, Any, None] = 'relu',
        norm: Union[str, Any, None] = None,
        bias: bool = True,
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, positive,
                         dropout, act, norm, bias, edge_dim=edge_dim,
                         num_ends=2)
        self.edge_dim = edge_dim
        self.symmetric = bool(symmetric)

    def forward(self, x: Tensor, edge_index: Tensor,
                edge_attr: OptTensor = None) -> Tensor:
        r"""Forward pass.

        Args:
            x (torch.Tensor): The node embeddings.
            edge_index (torch.Tensor): The edge indices.
            edge_attr (torch.Tensor, optional): The edge features, required
                if :obj:`edge_dim` was given. (default: :obj:`None`)
        """
        self._check_x(x)
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                             f"(got {list(edge_index.size())})")
        parts = []
        if self.edge_dim is not None:
            if edge_attr is None:
                raise ValueError(f"'edge_attr' is required (edge_dim="
                                 f"{self.edge_dim})")
            if edge_attr.dim() == 1:
                edge_attr = edge_attr.view(-1, 1)
            if edge_attr.size() != (edge_index.size(1), self.edge_dim):
                raise ValueError(f"'edge_attr' must have shape "
                                 f"[{edge_index.size(1)}, {self.edge_dim}] "
                                 f"(got {list(edge_attr.size())})")
            parts.append(edge_attr)
        elif edge_attr is not None:
            raise ValueError("'edge_attr' was given but 'edge_dim' is None")

        x_j = x.index_select(0, edge_index[0])
        x_i = x.index_select(0, edge_index[1])
        out = self.mlp(torch.cat([x_i, x_j, *parts], dim=-1))
        if self.symmetric:
            out = 0.5 * (out + self.mlp(torch.cat([x_j, x_i, *parts], -1)))
        return self._activate(out)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'num_layers={self.num_layers}, edge_dim={self.edge_dim}, '
                f'symmetric={self.symmetric}, positive={self.positive})')
