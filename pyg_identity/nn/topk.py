from typing import Any, Optional, Union

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import Option, SolverLayer
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.functional.topk import topk
from pyg_identity.utils._checks import check_non_negative


class IdentityTopK(SolverLayer):
    r"""Selects the :math:`k` highest scores of every group, a :math:`k`-hot
    indicator one can train through, as in the discrete VAE and
    learning-to-explain experiments of the `"Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper.

    .. math::
        y(\omega) = \arg\max_{y \in \{0, 1\}^n,\ \mathbf{1}^\top y = k}
        \langle P(\omega + \xi), y \rangle, \qquad
        \frac{\partial \ell}{\partial \omega} = +P'(\omega)^\top
        \frac{\partial \ell}{\partial y}

    for every group (an :math:`\arg\max`, so the Identity gradient passes
    :math:`+\partial\ell/\partial y` straight through, the straight-through
    estimator of the paper's top-:math:`k` layer). Ties are broken
    deterministically: of two equal scores, the one at the lower position is
    selected. With :obj:`backward="blackbox"`, the Blackbox update
    :math:`(y - y(\omega - \lambda\,\partial\ell/\partial y))/\lambda` is
    used instead.
    The default projection :obj:`"std"` is valid because every solution
    has exactly :math:`k` ones (fixed size), so top-:math:`k` is invariant
    to subtracting the group mean and to positive scaling.

    Groups are given either by a batch vector :obj:`batch` over a 1-D score
    vector (groups of different sizes, *e.g.* the nodes of a PyG batch) or
    by the rows of a 2-D score matrix (*e.g.* the 20 blocks of 20 logits of
    the discrete VAE). Runs on the scores' device, without a loop over
    groups.

    Args:
        k (int): The number of selected entries per group, :math:`0 \leq k
            \leq n_g` (assignable, validated); a per-group tensor can be
            passed to :meth:`forward`.
        settings (GradientSettings, optional): The gradient settings
            (projection, noise margin, backward, generator, diagnostics; see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`. (default: :obj:`None`)
        **kwargs: Fields of
            :class:`~pyg_identity.nn.functional.GradientSettings`
            overriding :obj:`settings` (*e.g.* :obj:`noise=0.1`).

    Shapes:
        - **input:** cost (scores) :math:`(N)` with batch :math:`(N)`
          (optional), or :math:`(B, n)` with one group per row
        - **output:** :math:`k`-hot indicator of the shape of the cost,
          in its dtype and device
    """
    default_projection = 'std'

    def __init__(
        self,
        k: int,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self.k = k

    k = Option[int](lambda _, value: check_non_negative(value, 'k'),
                    r"""The number of selected entries per group
        (assignable).""")

    def forward(self, cost: Tensor, batch: OptTensor = None,
                num_graphs: Optional[int] = None, *,
                k: Optional[Union[int, Tensor]] = None) -> Tensor:
        r"""Forward pass.

        Args:
            cost (torch.Tensor): The scores (the solver maximises
                :math:`\langle \mathrm{cost}, y \rangle`), a vector grouped
                by :obj:`batch` or a matrix with one group per row.
            batch (torch.Tensor, optional): The group of every entry of a
                1-D :obj:`cost`. (default: :obj:`None`)
            num_graphs (int, optional): The number of groups.
                (default: :obj:`None`)
            k (int or torch.Tensor, optional): Overrides :obj:`self.k`, for
                all groups or one per group (integer tensor of shape
                :obj:`[num_graphs]`). (default: :obj:`None`)
        """
        return topk(cost, batch, num_graphs, k=self.k if k is None else k,
                    settings=self.settings, training=self.training)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(k={self.k}, {self.extra_repr()})'
