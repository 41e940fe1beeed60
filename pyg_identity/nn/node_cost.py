from typing import Any, Optional, Union

from torch import Tensor

from pyg_identity.nn.edge_cost import _MLPCost


class NodeCost(_MLPCost):
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
        super().__init__(in_channels, hidden_channels, num_layers, positive,
                         dropout, act, norm, bias)

    def forward(self, x: Tensor) -> Tensor:
        r"""Forward pass.

        Args:
            x (torch.Tensor): The node embeddings.
        """
        self._check_x(x)
        return self._activate(self.mlp(x))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'num_layers={self.num_layers}, positive={self.positive})')
