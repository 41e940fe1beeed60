from typing import Optional

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.projection import project, validate_mode


class CostProjection(torch.nn.Module):
    r"""Projects costs per graph, :math:`P_{\text{mean}}`,
    :math:`P_{\text{norm}}` or :math:`P_{\text{std}} = P_{\text{norm}} \circ
    P_{\text{mean}}`, as in the `"Backpropagation through Combinatorial
    Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper (see
    :func:`pyg_identity.project`).

    Args:
        mode (str, optional): :obj:`None`, :obj:`"mean"`, :obj:`"norm"` or
            :obj:`"std"`. (default: :obj:`"norm"`)
        eps (float, optional): Deprecated and without effect (the
            projection scales each group before squaring; see
            :func:`pyg_identity.project`). (default: :obj:`1e-12`)

    Shapes:
        - **input:** costs :math:`(N, *)`, index :math:`(N)` (optional)
        - **output:** :math:`(N, *)`
    """
    def __init__(self, mode: Optional[str] = 'norm', eps: float = 1e-12):
        super().__init__()
        self.mode = validate_mode(mode)
        if eps <= 0:
            raise ValueError(f"'eps' must be positive (got {eps})")
        self.eps = eps

    def forward(self, src: Tensor, index: OptTensor = None,
                ptr: OptTensor = None, num_graphs: Optional[int] = None,
                dim: int = 0) -> Tensor:
        r"""Forward pass.

        Args:
            src (torch.Tensor): The costs.
            index (torch.Tensor, optional): The graph of every entry.
                (default: :obj:`None`)
            ptr (torch.Tensor, optional): The group boundaries (CSR).
                (default: :obj:`None`)
            num_graphs (int, optional): The number of graphs.
                (default: :obj:`None`)
            dim (int, optional): The grouped dimension. (default: :obj:`0`)
        """
        return project(src, index, ptr, num_graphs, dim, self.mode, self.eps)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(mode={self.mode!r})'
