import math
from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.pairs import (
    PAIR_COST_MODES,
    all_pairs,
    pair_cost,
)


class PairCost(torch.nn.Module):
    r"""The cost head of graph matching: maps source and target node
    embeddings of a pair batch to a cost per candidate pair, the negative
    affinity :math:`c_{ij} = -a(\mathbf{x}_i, \mathbf{x}_j)` with

    .. math::
        a_{\text{dot}} = \mathbf{x}_i^{\top}\mathbf{x}_j, \quad
        a_{\text{cosine}} = \frac{\mathbf{x}_i^{\top}\mathbf{x}_j}
        {\|\mathbf{x}_i\|\|\mathbf{x}_j\|}, \quad
        a_{\text{bilinear}} = \mathbf{x}_i^{\top}\mathbf{A}\mathbf{x}_j,

    ready for :class:`~pyg_identity.nn.matching.IdentityMatching`
    (:obj:`cost=`). The learnable bilinear affinity is the affinity layer
    of deep graph matching (`"Learning Combinatorial Embedding Networks for
    Deep Graph Matching" <https://arxiv.org/abs/1904.00597>`_), with
    :math:`\mathbf{A}` initialised near the identity,
    :math:`\mathbf{A} = \mathbf{I} + \mathcal{U}(-1/\sqrt{F}, 1/\sqrt{F})`;
    BB-GM (`"Deep Graph Matching via Blackbox Differentiation of
    Combinatorial Solvers" <https://arxiv.org/abs/2003.11657>`_) negates
    such affinities to obtain its costs.

    Args:
        mode (str, optional): :obj:`"dot"`, :obj:`"cosine"` or
            :obj:`"bilinear"`. (default: :obj:`"dot"`)
        in_channels (int or tuple, optional): The embedding sizes
            :math:`F` (or :math:`(F_s, F_t)`), required for
            :obj:`"bilinear"`. (default: :obj:`None`)
        eps (float, optional): Lower clamp of the squared norms for
            :obj:`"cosine"`. (default: :obj:`1e-12`)

    Shapes:
        - **input:** :obj:`x_s` :math:`(N_s, F_s)`, :obj:`x_t`
          :math:`(N_t, F_t)`, :obj:`edge_index` :math:`(2, E)` (or
          :obj:`batch_s` :math:`(N_s)`, :obj:`batch_t` :math:`(N_t)` for all
          pairs)
        - **output:** costs :math:`(E)`
    """
    def __init__(
        self,
        mode: str = 'dot',
        in_channels: Union[int, Tuple[int, int], None] = None,
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        if mode not in PAIR_COST_MODES:
            raise ValueError(f"'mode' must be 'dot', 'cosine' or 'bilinear' "
                             f"(got {mode!r})")
        if eps <= 0:
            raise ValueError(f"'eps' must be positive (got {eps})")
        self.mode = mode
        self.eps = eps
        self.in_channels = in_channels
        self.weight: Optional[Parameter] = None
        if mode == 'bilinear':
            if isinstance(in_channels, int):
                in_channels = (in_channels, in_channels)
            if (not isinstance(in_channels, tuple) or len(in_channels) != 2
                    or not all(isinstance(c, int) and c > 0
                               for c in in_channels)):
                raise ValueError(f"'in_channels' must be a positive integer "
                                 f"or a pair of them for mode='bilinear' "
                                 f"(got {self.in_channels!r})")
            self.weight = Parameter(torch.empty(*in_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        if self.weight is not None:
            f_s, f_t = self.weight.size()
            bound = 1.0 / math.sqrt(max(f_s, f_t))
            with torch.no_grad():
                self.weight.uniform_(-bound, bound)
                self.weight.add_(torch.eye(f_s, f_t))

    def forward(
        self,
        x_s: Tensor,
        x_t: Tensor,
        edge_index: OptTensor = None,
        batch_s: OptTensor = None,
        batch_t: OptTensor = None,
    ) -> Tensor:
        r"""Forward pass.

        Args:
            x_s (torch.Tensor): Source node embeddings.
            x_t (torch.Tensor): Target node embeddings.
            edge_index (torch.Tensor, optional): Candidate pairs (global
                source, global target node); :obj:`None` means all pairs of
                :obj:`batch_s` and :obj:`batch_t`. (default: :obj:`None`)
            batch_s (torch.Tensor, optional): The source batch vector.
                (default: :obj:`None`)
            batch_t (torch.Tensor, optional): The target batch vector.
                (default: :obj:`None`)
        """
        if edge_index is None:
            edge_index = all_pairs(batch_s, batch_t, x_s.size(0),
                                   x_t.size(0)).to(x_s.device)
        return pair_cost(x_s, x_t, edge_index, mode=self.mode,
                         weight=self.weight, eps=self.eps)

    def __repr__(self) -> str:
        if self.mode == 'bilinear':
            return (f'{self.__class__.__name__}(mode={self.mode!r}, '
                    f'in_channels={self.in_channels})')
        return f'{self.__class__.__name__}(mode={self.mode!r})'
