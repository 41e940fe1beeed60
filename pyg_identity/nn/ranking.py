from typing import Any, Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import Option, SolverLayer, check_bool
from pyg_identity.nn.functional.ranking import (
    identity_recall_loss,
    ranking,
)
from pyg_identity.nn.functional.settings import GradientSettings


class IdentityRanking(SolverLayer):
    r"""Ranks the scores of every group, a rank vector one can train through,
    as in the rank-based retrieval experiment of the `"Backpropagation
    through Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper (Eq. 24).

    .. math::
        \mathrm{rk}(\omega) = \arg\min_{y \in \Pi_n}
        \langle P(\omega + \xi), y \rangle, \qquad
        \frac{\partial \ell}{\partial \omega} = -P'(\omega)^\top
        \frac{\partial \ell}{\partial y}

    for every group, where :math:`\Pi_n` holds the permutations of
    :math:`(1, \dots, n)`: rank :math:`1` goes to the highest score (an
    :math:`\arg\min`, so the Identity gradient is
    :math:`-\partial\ell/\partial y`: a loss that wants item :math:`i`
    ranked better raises its score). Ties are broken deterministically: of
    two equal scores, the one at the lower position gets the better rank.
    With :obj:`backward="blackbox"`, the Blackbox update
    :math:`-(y - \mathrm{rk}(\omega + \lambda\,\partial\ell/\partial y))
    /\lambda` is used instead.
    The default projection :obj:`"std"` is valid because all rank vectors
    of a group are permutations of each other (fixed sum and norm), so the
    ranking is invariant to subtracting the group mean and to positive
    scaling; :math:`P_{\text{mean}}` also removes the
    :math:`\omega = \lambda\mathbf{1}` singularity of ranking.

    Groups are given either by a batch vector :obj:`batch` over a 1-D score
    vector (groups of different sizes) or by the rows of a 2-D score matrix
    (*e.g.* one query per row). Runs on the scores' device, without a loop
    over groups. See :class:`RecallLoss` for the paper's recall loss.

    Args:
        normalize (bool, optional): If set, returns :math:`\mathrm{rk}/n_g
            \in (0, 1]` (the normalised ranks of Blackbox ranking).
            (default: :obj:`False`)
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
        - **output:** ranks of the shape of the cost, in its dtype and
          device
    """
    default_projection = 'std'

    def __init__(
        self,
        normalize: bool = False,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self.normalize = normalize

    normalize = Option[bool](
        lambda _, value: check_bool(value, 'normalize'), r"""Whether the
        ranks are divided by the group size (assignable).""")

    def forward(self, cost: Tensor, batch: OptTensor = None,
                num_graphs: Optional[int] = None) -> Tensor:
        r"""Forward pass.

        Args:
            cost (torch.Tensor): The scores (the solver minimises
                :math:`\langle \mathrm{cost}, y \rangle` over the rank
                vectors, so rank :math:`1` goes to the highest score), a
                vector grouped by :obj:`batch` or a matrix with one group per
                row.
            batch (torch.Tensor, optional): The group of every entry of a
                1-D :obj:`cost`. (default: :obj:`None`)
            num_graphs (int, optional): The number of groups.
                (default: :obj:`None`)
        """
        return ranking(cost, batch, num_graphs, normalize=self.normalize,
                       settings=self.settings, training=self.training)

    def __repr__(self) -> str:
        out = f'{self.__class__.__name__}('
        if self.normalize:
            out += 'normalize=True, '
        return out + f'{self.extra_repr()})'


class RecallLoss(SolverLayer):
    r"""The "loglog" recall loss of the retrieval experiment of the
    `"Backpropagation through Combinatorial Algorithms: Identity with
    Projection Works" <https://arxiv.org/abs/2205.15213>`_ paper (Eq. 26,
    from Rolínek et al., 2020), through two differentiable rankings:

    .. math::
        \ell = \frac{1}{|\mathrm{rel}|} \sum_{i \in \mathrm{rel}}
        \log\big(1 + \log(1 + \mathrm{rk}(\omega)_i -
        \mathrm{rk}(\omega^+)_i)\big),

    where :math:`\mathrm{rk}(\omega)` ranks all items of a group and
    :math:`\mathrm{rk}(\omega^+)` only its relevant ones (both as in
    :class:`IdentityRanking`), averaged per group, then over the groups
    with a relevant item.
    Keep a projection (:obj:`"mean"` or :obj:`"std"`) with the Identity
    backward: without one, the gradients of the two rankings cancel on the
    relevant items and the loss cannot be trained.

    Args:
        settings (GradientSettings, optional): The gradient settings
            (projection, noise margin, backward, generator, diagnostics; see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`; used by both rankings, diagnostics
            record the ranking of all items. (default: :obj:`None`)
        **kwargs: Fields of
            :class:`~pyg_identity.nn.functional.GradientSettings`
            overriding :obj:`settings` (*e.g.* :obj:`noise=0.1`).

    Shapes:
        - **input:** cost (scores) :math:`(N)` with batch :math:`(N)`
          (optional), or :math:`(B, n)` with one query per row; boolean
          relevance labels of the same shape
        - **output:** scalar
    """
    default_projection = 'std'

    def __init__(
        self,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)

    def forward(self, cost: Tensor, relevant: Tensor,
                batch: OptTensor = None,
                num_graphs: Optional[int] = None) -> Tensor:
        r"""Forward pass.

        Args:
            cost (torch.Tensor): The scores (ranked as in
                :class:`IdentityRanking`), a vector grouped by :obj:`batch`
                or a matrix with one query per row.
            relevant (torch.Tensor): Boolean relevance labels of the shape
                of :obj:`cost`.
            batch (torch.Tensor, optional): The group of every entry of a
                1-D :obj:`cost`. (default: :obj:`None`)
            num_graphs (int, optional): The number of groups.
                (default: :obj:`None`)
        """
        return identity_recall_loss(cost, relevant, batch, num_graphs,
                                    settings=self.settings,
                                    training=self.training)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.extra_repr()})'
