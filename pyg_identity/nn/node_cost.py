from typing import Any, Dict, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MLP

from pyg_identity.nn.edge_cost import _check_channels


class NodeCost(torch.nn.Module):
    r"""A cost head that maps node embeddings to one cost per node, to feed
    node-level solver layers such as
    :class:`pyg_identity.nn.IdentityShortestPath` with
    :obj:`vertex_costs=True` (the Warcraft shortest-path setting of the
    `"Backpropagation through Combinatorial Algorithms: Identity with
    Projection Works" <https://arxiv.org/abs/2205.15213>`_ paper, whose
    vertex costs pass through a softplus)

    .. math::
        c_i = \sigma\left(h_{\mathbf{\Theta}}(\mathbf{x}_i)\right)

    with :math:`h_{\mathbf{\Theta}}` an MLP
    (:class:`torch_geometric.nn.models.MLP`) and :math:`\sigma` the softplus
    if :obj:`positive=True`, else the identity.

    Args:
        in_channels (int): Size of each node embedding.
        hidden_channels (int, optional): Size of the hidden layers;
            :obj:`None` means :obj:`in_channels`. (default: :obj:`None`)
        num_layers (int, optional): The number of layers of the MLP
            (:obj:`1` is a linear map). (default: :obj:`2`)
        positive (bool, optional): If set to :obj:`True`, a softplus makes
            the costs positive. (default: :obj:`False`)
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
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`
        - **output:** node costs :math:`(|\mathcal{V}|)`
    """
    def __init__(
        self,
        in_channels: int,
        hidden_channels: Optional[int] = None,
        num_layers: int = 2,
        positive: bool = False,
        dropout: float = 0.0,
        act: Union[str, Any, None] = 'relu',
        norm: Union[str, Any, None] = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        _check_channels(in_channels, 'in_channels')
        _check_channels(hidden_channels, 'hidden_channels', allow_none=True)
        _check_channels(num_layers, 'num_layers')
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
        self.mlp = MLP(in_channels=in_channels,
                       hidden_channels=self.hidden_channels, out_channels=1,
                       num_layers=num_layers, **kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        self.mlp.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        r"""Forward pass.

        Args:
            x (torch.Tensor): The node embeddings.
        """
        if x.dim() != 2 or x.size(-1) != self.in_channels:
            raise ValueError(f"'x' must have shape [num_nodes, "
                             f"{self.in_channels}] (got {list(x.size())})")
        out = self.mlp(x).view(-1)
        return F.softplus(out) if self.positive else out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'num_layers={self.num_layers}, positive={self.positive})')
