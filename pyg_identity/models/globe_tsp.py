from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.functional.settings import (
    check_positive as check_finite_positive,
)
from pyg_identity.nn.tsp import IdentityTSP
from pyg_identity.utils._checks import check_positive

DISTANCES = ('geodesic', 'chord')


def _conv_out(size: int) -> int:
    # A 4 x 4 convolution with stride 2 and no padding.
    return (size - 4) // 2 + 1


class GlobeTSPNet(torch.nn.Module):
    r"""The Globe travelling-salesman network of the `"Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper (Sec. 4.4, after the
    `"Differentiation of Blackbox Combinatorial Solvers"
    <https://arxiv.org/abs/1912.02175>`_ paper): a CNN maps the flag of every
    country to a 3-D point, the points are put on the unit sphere, their
    pairwise distances are the edge costs of the complete graph and
    :class:`~pyg_identity.nn.IdentityTSP` returns the shortest tour

    .. math::
        \mathbf{p}_i = \frac{f_{\mathbf{\Theta}}(\mathbf{x}_i)}
        {\| f_{\mathbf{\Theta}}(\mathbf{x}_i) \|_2}, \qquad
        \omega_{ij} = d(\mathbf{p}_i, \mathbf{p}_j), \qquad
        \mathbf{y} = \arg\min_{\mathbf{y} \in Y} \langle
        P_{\text{std}}(\omega + \xi), \mathbf{y} \rangle

    with :math:`d` the great-circle distance
    :math:`2 \arcsin(\|\mathbf{p}_i - \mathbf{p}_j\| / 2)` or the chord
    :math:`\|\mathbf{p}_i - \mathbf{p}_j\|`. The CNN
    :math:`f_{\mathbf{\Theta}}` is the paper's: convolutions with 20 and 50
    channels (kernel 4, stride 2, ReLU), a fully connected layer of 500 units
    (ReLU) and a linear map to :math:`\mathbb{R}^3`, shared by all countries
    (the paper's network outputs all :math:`3k` coordinates at once).

    Args:
        image_size (int, optional): The height and width of the flags
            (at least 10). (default: :obj:`32`)
        in_channels (int, optional): The number of image channels.
            (default: :obj:`3`)
        hidden_channels (int, optional): The size of the fully connected
            layer. (default: :obj:`500`)
        distance (str, optional): :obj:`"geodesic"` or :obj:`"chord"`.
            (default: :obj:`"geodesic"`)
        solver (str, optional): The TSP solver of
            :class:`~pyg_identity.nn.IdentityTSP`. (default: :obj:`"elkai"`)
        runs (int, optional): The number of LKH runs per graph.
            (default: :obj:`1`)
        input_scale (float, optional): The factor the flags are multiplied
            by before the first convolution. Our flags lie in :math:`[0, 1]`;
            the Blackbox paper's code feeds its flags unnormalised, in
            :math:`[0, 255]` (:obj:`input_scale=255.0` reproduces that). The
            scale changes how far apart the untrained network puts the
            countries and how fast the first layer learns.
            (default: :obj:`1.0`)
        settings (GradientSettings, optional): The gradient settings of the
            solver layer (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`, as in all TSP experiments of the paper.
            (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`noise=0.1, backward="blackbox"`).

    Shapes:
        - **input:**
          flags :math:`(|\mathcal{V}|, C, H, W)`,
          edge indices :math:`(2, |\mathcal{E}|)` (complete graphs),
          batch vector :math:`(|\mathcal{V}|)` *(optional)*
        - **output:** the tour indicator :math:`(|\mathcal{E}|)`
    """
    def __init__(
        self,
        image_size: int = 32,
        in_channels: int = 3,
        hidden_channels: int = 500,
        distance: str = 'geodesic',
        solver: str = 'elkai',
        runs: int = 1,
        *,
        input_scale: float = 1.0,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if isinstance(image_size, bool) or not isinstance(
                image_size, int) or image_size < 10:
            raise ValueError(f"'image_size' must be an integer of at least "
                             f"10 (got {image_size!r})")
        check_positive(in_channels, 'in_channels')
        check_positive(hidden_channels, 'hidden_channels')
        if distance not in DISTANCES:
            raise ValueError(f"'distance' must be 'geodesic' or 'chord' (got "
                             f"{distance!r})")
        self.image_size = image_size
        self.input_scale = check_finite_positive(input_scale, 'input_scale')
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.distance = distance

        self.conv1 = torch.nn.Conv2d(in_channels, 20, kernel_size=4,
                                     stride=2)
        self.conv2 = torch.nn.Conv2d(20, 50, kernel_size=4, stride=2)
        side = _conv_out(_conv_out(image_size))
        self.lin1 = torch.nn.Linear(50 * side * side, hidden_channels)
        self.lin2 = torch.nn.Linear(hidden_channels, 3)
        self.tsp = IdentityTSP(solver, runs, settings=settings, **kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        for lin in (self.conv1, self.conv2, self.lin1, self.lin2):
            lin.reset_parameters()

    def points(self, x: Tensor) -> Tensor:
        r"""Returns the predicted point of every country on the unit sphere,
        shape :obj:`[num_nodes, 3]`."""
        if x.dim() != 4 or x.size(1) != self.in_channels or tuple(
                x.shape[2:]) != (self.image_size, self.image_size):
            raise ValueError(f"'x' must have shape [num_nodes, "
                             f"{self.in_channels}, {self.image_size}, "
                             f"{self.image_size}] (got {list(x.size())})")
        if self.input_scale != 1.0:
            x = x * self.input_scale
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        h = F.relu(self.lin1(h.flatten(1)))
        p = self.lin2(h)
        # Clamp the squared norm before the square root (finite gradients).
        return p / (p * p).sum(-1, keepdim=True).clamp(min=1e-12).sqrt()

    def edge_costs(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""Returns the distances of the predicted points along
        :obj:`edge_index` (before the projection of the solver layer), shape
        :obj:`[num_edges]`."""
        p = self.points(x)
        diff = p.index_select(0, edge_index[0]) - p.index_select(
            0, edge_index[1])
        chord = (diff * diff).sum(-1).clamp(min=1e-12).sqrt()
        if self.distance == 'chord':
            return chord
        # asin is not differentiable at 1 (antipodal points).
        return 2.0 * torch.asin((0.5 * chord).clamp(max=1.0 - 1e-6))

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: OptTensor = None,
        num_graphs: Optional[int] = None,
    ) -> Tensor:
        r"""Forward pass.

        Args:
            x (torch.Tensor): The flags of the countries.
            edge_index (torch.Tensor): The edges of the complete graphs.
            batch (torch.Tensor, optional): The batch vector.
                (default: :obj:`None`)
            num_graphs (int, optional): The number of graphs.
                (default: :obj:`None`)
        """
        cost = self.edge_costs(x, edge_index)
        return self.tsp(cost, edge_index, batch, num_nodes=x.size(0),
                        num_graphs=num_graphs)

    def __repr__(self) -> str:
        scale = ('' if self.input_scale == 1.0 else
                 f'input_scale={self.input_scale:g}, ')
        return (f'{self.__class__.__name__}(image_size={self.image_size}, '
                f'distance={self.distance!r}, {scale}'
                f'{self.tsp.extra_repr()})')


__all__ = ['GlobeTSPNet']
