from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.shortest_path import IdentityShortestPath
from pyg_identity.utils._checks import check_non_negative, check_positive
from pyg_identity.utils.grid import grid_edge_index


class _BasicBlock(torch.nn.Module):
    # The residual block of ResNet18: two 3x3 convolutions with batch norm and
    # an identity shortcut (the number of channels and the resolution stay).
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, channels, 3, padding=1,
                                     bias=False)
        self.bn1 = torch.nn.BatchNorm2d(channels)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, padding=1,
                                     bias=False)
        self.bn2 = torch.nn.BatchNorm2d(channels)

    def reset_parameters(self) -> None:
        for conv in (self.conv1, self.conv2):
            torch.nn.init.kaiming_normal_(conv.weight, mode='fan_out',
                                          nonlinearity='relu')
        self.bn1.reset_parameters()
        self.bn2.reset_parameters()
        # Zero-init the last norm of the residual branch, so that every block
        # starts as the identity (Goyal et al., 2017).
        torch.nn.init.zeros_(self.bn2.weight)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)


class TerrainNet(torch.nn.Module):
    r"""The Warcraft shortest-path network of the `"Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper (Suppl. B.5, after
    `"Differentiation of Blackbox Combinatorial Solvers"
    <https://arxiv.org/abs/1912.02175>`_): a small ResNet maps the RGB image
    of a :math:`k \times k` terrain map to one non-negative cost per cell,
    and :class:`~pyg_identity.nn.IdentityShortestPath` (with
    :obj:`vertex_costs=True`) returns the indicator of a cheapest path from
    the top-left to the bottom-right cell on the 8-neighbourhood grid

    .. math::
        \mathbf{c} &= \mathrm{softplus}\left(\mathrm{head}\left(
        \mathrm{maxpool}_{k \times k}\left(\mathrm{ResNet}(\mathbf{x})
        \right)\right)\right) \in \mathbb{R}_{\geq 0}^{k^2}

        \mathbf{y} &= \operatorname*{arg\,min}_{\mathbf{y} \in Y_{st}}
        \langle P(\mathbf{c}), \mathbf{y} \rangle

    with :math:`Y_{st}` the node indicators of the paths from :math:`s = 0`
    to :math:`t = k^2 - 1` (cells in row-major order, see
    :func:`pyg_identity.utils.grid.grid_edge_index`).

    The backbone follows the first layers of ResNet18 used by both papers,
    at a smaller width: a :math:`7 \times 7` stride-2 stem convolution,
    batch norm, ReLU and a stride-2 max pooling, :obj:`num_blocks` residual
    blocks of two :math:`3 \times 3` convolutions, an adaptive max pooling to
    the :math:`k \times k` grid, and a :math:`1 \times 1` convolution followed
    by a softplus (non-negative costs: the 8-neighbourhood grid lists every
    edge both ways, so a negative cell cost would make a negative cycle).
    The costs the solver sees can still turn negative: the Blackbox backward
    solves at :math:`c + \lambda\,\partial\ell/\partial y`, and a noise
    margin on the raw costs adds :math:`\pm\alpha/2`. By default those are
    clamped at zero, as in the Blackbox paper's Dijkstra
    (:obj:`negative_costs="clamp"`, which warns once); pass
    :obj:`"raise"` to get an error instead.
    It is written in plain :mod:`torch` (no torchvision).

    The default projection is :obj:`None`; :obj:`"norm"`
    (:math:`P_{\text{norm}}`) also keeps the solution, since shortest paths
    are invariant to positive scaling of the costs. :obj:`"mean"` and
    :obj:`"std"` are rejected: paths differ in length, so a shift of the
    costs changes the solution (and makes costs negative).

    Args:
        grid_size (int, optional): The map size :math:`k`.
            (default: :obj:`12`)
        in_channels (int, optional): The number of image channels.
            (default: :obj:`3`)
        hidden_channels (int, optional): The width of the backbone (ResNet18
            has :obj:`64`). (default: :obj:`32`)
        num_blocks (int, optional): The number of residual blocks (ResNet18's
            first stage has :obj:`2`). (default: :obj:`2`)
        negative_costs (str, optional): :obj:`"clamp"` or :obj:`"raise"`,
            for negative costs reaching the solver (see above).
            (default: :obj:`"clamp"`)
        settings (GradientSettings, optional): The gradient settings of the
            solver layer :obj:`model.solver` (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`None` (:obj:`"norm"` also allowed, see above).
            (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`noise=0.2, backward="blackbox"`;
            :obj:`diagnostics=True` records the raw cost norm of the last
            call in :obj:`model.solver.diagnostics`).

    Shapes:
        - **input:**
          images :math:`(B, C_{in}, H, W)`,
          edge indices :math:`(2, |\mathcal{E}|)` *(optional)*,
          batch vector :math:`(B k^2)` *(optional)*
        - **output:** path indicators :math:`(B k^2)` (cells of map
          :math:`b` at :math:`b k^2, \ldots, (b + 1) k^2 - 1`, row-major)
    """
    grid_edge_index: Tensor

    def __init__(
        self,
        grid_size: int = 12,
        in_channels: int = 3,
        hidden_channels: int = 32,
        num_blocks: int = 2,
        negative_costs: str = 'clamp',
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        check_positive(grid_size, 'grid_size')
        if grid_size < 2:
            raise ValueError(f"'grid_size' must be at least 2 (got "
                             f"{grid_size})")
        check_positive(in_channels, 'in_channels')
        check_positive(hidden_channels, 'hidden_channels')
        check_non_negative(num_blocks, 'num_blocks')
        settings = GradientSettings.resolve(settings, kwargs,
                                            projection=None)
        if settings.projection in ('mean', 'std'):
            raise ValueError(f"'projection' must be None or 'norm' for "
                             f"shortest paths, whose solutions differ in "
                             f"length (got {settings.projection!r})")
        self.grid_size = grid_size
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_blocks = num_blocks

        self.stem = torch.nn.Conv2d(in_channels, hidden_channels, 7,
                                    stride=2, padding=3, bias=False)
        self.stem_norm = torch.nn.BatchNorm2d(hidden_channels)
        self.blocks = torch.nn.ModuleList(
            [_BasicBlock(hidden_channels) for _ in range(num_blocks)])
        self.head = torch.nn.Conv2d(hidden_channels, 1, 1)
        self.solver = IdentityShortestPath(
            directed=True, vertex_costs=True, negative_costs=negative_costs,
            settings=settings)
        self.register_buffer('grid_edge_index',
                             grid_edge_index(grid_size, diagonal=True),
                             persistent=False)
        self.reset_parameters()

    @property
    def settings(self) -> GradientSettings:
        r"""The gradient settings of the solver layer."""
        return self.solver.settings

    @property
    def projection(self) -> Optional[str]:
        r"""The projection of the solver layer."""
        return self.solver.projection

    @property
    def noise(self) -> float:
        r"""The noise margin of the solver layer (assignable)."""
        return self.solver.noise

    @noise.setter
    def noise(self, value: float) -> None:
        self.solver.noise = value

    @property
    def backward_mode(self) -> str:
        r"""The backward of the solver layer."""
        return self.solver.backward_mode

    @property
    def lambda_(self) -> float:
        r"""The Blackbox :math:`\lambda` of the solver layer."""
        return self.solver.lambda_

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        torch.nn.init.kaiming_normal_(self.stem.weight, mode='fan_out',
                                      nonlinearity='relu')
        self.stem_norm.reset_parameters()
        for block in self.blocks:
            assert isinstance(block, _BasicBlock)
            block.reset_parameters()
        self.head.reset_parameters()

    def cost(self, img: Tensor) -> Tensor:
        r"""Returns the non-negative cell costs :obj:`[B * k * k]` of the
        images :obj:`img` (:obj:`[B, C_in, H, W]`), before the solver.

        Args:
            img (torch.Tensor): The map images.
        """
        if img.dim() != 4 or img.size(1) != self.in_channels:
            raise ValueError(f"'img' must have shape [batch_size, "
                             f"{self.in_channels}, height, width] (got "
                             f"{list(img.size())})")
        if not img.is_floating_point():
            raise ValueError(f"'img' must be a floating-point tensor (got "
                             f"{img.dtype})")
        x = F.relu(self.stem_norm(self.stem(img)))
        x = F.max_pool2d(x, 3, stride=2, padding=1)
        for block in self.blocks:
            x = block(x)
        k = self.grid_size
        x = F.adaptive_max_pool2d(x, (k, k))
        return F.softplus(self.head(x)).reshape(-1)

    def grid(self, batch_size: int) -> Tuple[Tensor, Tensor]:
        r"""Returns the edge indices and the batch vector of a batch of
        :obj:`batch_size` :math:`k \times k` grid graphs (as the
        :class:`~torch_geometric.loader.DataLoader` collates them)."""
        n = self.grid_size**2
        ei = self.grid_edge_index
        offset = torch.arange(batch_size, device=ei.device) * n
        edge_index = (ei.unsqueeze(0) + offset.view(-1, 1, 1)).permute(
            1, 0, 2).reshape(2, -1)
        batch = torch.arange(batch_size, device=ei.device).repeat_interleave(n)
        return edge_index, batch

    def forward(
        self,
        img: Tensor,
        edge_index: OptTensor = None,
        batch: OptTensor = None,
    ) -> Tensor:
        r"""Forward pass.

        Args:
            img (torch.Tensor): The map images :obj:`[B, C_in, H, W]`.
            edge_index (torch.Tensor, optional): The edges of the batch of
                grid graphs, *e.g.* :obj:`data.edge_index` of a
                :class:`~torch_geometric.data.Batch` of
                :class:`~pyg_identity.datasets.TerrainShortestPath` maps;
                :obj:`None` builds the 8-neighbourhood grids.
                (default: :obj:`None`)
            batch (torch.Tensor, optional): The batch vector
                :obj:`[B * k * k]`; built if :obj:`None`.
                (default: :obj:`None`)
        """
        cost = self.cost(img)
        num_graphs = img.size(0)
        if edge_index is None or batch is None:
            grid_ei, grid_batch = self.grid(num_graphs)
            edge_index = grid_ei if edge_index is None else edge_index
            batch = grid_batch if batch is None else batch
        if batch.numel() != cost.numel():
            raise ValueError(f"'batch' must have {cost.numel()} entries "
                             f"(batch_size * grid_size**2), got "
                             f"{batch.numel()}")
        n = self.grid_size**2
        return self.solver(cost, edge_index, batch, num_graphs=num_graphs,
                           source=0, target=n - 1)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(grid_size={self.grid_size}, '
                f'hidden_channels={self.hidden_channels}, '
                f'num_blocks={self.num_blocks}, {self.solver.extra_repr()})')


__all__ = ['TerrainNet']
