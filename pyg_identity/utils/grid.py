r"""Grid graphs for vertex-cost shortest paths on terrain maps (Warcraft)."""
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.data import Data

from pyg_identity.utils._checks import check_positive


def grid_edge_index(
    height: int,
    width: Optional[int] = None,
    diagonal: bool = True,
    device: Optional[torch.device] = None,
) -> Tensor:
    r"""Returns the edge indices of a :obj:`height` :math:`\times`
    :obj:`width` grid graph whose nodes are the cells in row-major order
    (cell :math:`(r, c)` is node :math:`r \cdot \text{width} + c`) and whose
    edges join every cell to its 8 neighbours (4 if :obj:`diagonal=False`),
    as in the Warcraft shortest-path maps of the `"Differentiation of
    Blackbox Combinatorial Solvers" <https://arxiv.org/abs/1912.02175>`_
    paper.

    Every undirected edge is listed in both directions (PyG's convention),
    without self-loops (unlike :func:`torch_geometric.utils.grid`), sorted
    by source and then target node.

    Args:
        height (int): The number of rows.
        width (int, optional): The number of columns; :obj:`None` means a
            square grid. (default: :obj:`None`)
        diagonal (bool, optional): If set to :obj:`False`, only the 4
            horizontal and vertical neighbours are joined.
            (default: :obj:`True`)
        device (torch.device, optional): The device of the returned tensor.
            (default: :obj:`None`)

    Shapes:
        - **output:** :math:`(2, E)` with :math:`E = 2(2hw - h - w) +
          4(h-1)(w-1)` for 8 neighbours
    """
    height = check_positive(height, 'height')
    width = height if width is None else check_positive(width, 'width')
    offsets = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0),
               (1, 1)]
    if not diagonal:
        offsets = [(dr, dc) for dr, dc in offsets if dr == 0 or dc == 0]
    rows = torch.arange(height, device=device).view(-1, 1).expand(
        height, width).reshape(-1)
    cols = torch.arange(width, device=device).view(1, -1).expand(
        height, width).reshape(-1)
    src, dst = [], []
    for dr, dc in offsets:
        r, c = rows + dr, cols + dc
        mask = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        src.append((rows * width + cols)[mask])
        dst.append((r * width + c)[mask])
    edge_index = torch.stack([torch.cat(src), torch.cat(dst)], dim=0)
    # Sort by (source, target), as torch_geometric.utils.sort_edge_index.
    perm = (edge_index[0] * (height * width) + edge_index[1]).argsort()
    return edge_index[:, perm]


def grid_graph(
    height: int,
    width: Optional[int] = None,
    diagonal: bool = True,
    device: Optional[torch.device] = None,
) -> Data:
    r"""Returns a :obj:`height` :math:`\times` :obj:`width` grid as a
    :class:`torch_geometric.data.Data` object with :obj:`edge_index` from
    :func:`grid_edge_index`, :obj:`num_nodes` and node positions :obj:`pos`
    (:math:`(c, h - 1 - r)` for cell :math:`(r, c)`, as in
    :func:`torch_geometric.utils.grid`). Node costs of a :math:`h \times w`
    map are :obj:`cost_map.reshape(-1)`.

    Args:
        height (int): The number of rows.
        width (int, optional): The number of columns; :obj:`None` means a
            square grid. (default: :obj:`None`)
        diagonal (bool, optional): If set to :obj:`False`, only the 4
            horizontal and vertical neighbours are joined.
            (default: :obj:`True`)
        device (torch.device, optional): The device of the returned tensors.
            (default: :obj:`None`)
    """
    edge_index = grid_edge_index(height, width, diagonal, device)
    width = height if width is None else width
    idx = torch.arange(height * width, device=device)
    pos = torch.stack([idx % width, height - 1 - idx // width], dim=1)
    return Data(edge_index=edge_index, pos=pos.to(torch.get_default_dtype()),
                num_nodes=height * width)


__all__ = ['grid_edge_index', 'grid_graph']
