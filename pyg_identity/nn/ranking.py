from typing import Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import SolverLayer
from pyg_identity.nn.functional.ranking import (
    identity_recall_loss,
    ranking,
)


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

    Groups are given either by a group vector :obj:`index` over a 1-D score
    vector (groups of different sizes) or by the rows of a 2-D score matrix
    (*e.g.* one query per row). Runs on the scores' device, without a loop
    over groups. See :class:`RecallLoss` for the paper's recall loss.

    Args:
        normalize (bool, optional): If set, returns :math:`\mathrm{rk}/n_g
            \in (0, 1]` (the normalised ranks of Blackbox ranking).
            (default: :obj:`False`)
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`, per group.
            (default: :obj:`"std"`)
        noise (float, optional): The noise margin :math:`\alpha`: in
            training, :math:`\xi \sim \mathrm{Unif}\{-\alpha/2, +\alpha/2\}`
            per entry. (default: :obj:`0.0`)
        backward (str, optional): :obj:`"identity"` or :obj:`"blackbox"`.
            (default: :obj:`"identity"`)
        lambda_ (float, optional): The Blackbox :math:`\lambda > 0`.
            (default: :obj:`20.0`)
        noise_position (str, optional): :obj:`"before"` adds the margin
            to the raw costs, before the projection (it keeps them from
            collapsing); :obj:`"after"` to the projected costs.
            (default: :obj:`"before"`)
        diagnostics (bool, optional): If set, :obj:`layer.diagnostics` records
            the cost norm and gradient cosine of the last call.
            (default: :obj:`False`)

    Shapes:
        - **input:** scores :math:`(N)` with index :math:`(N)` (optional),
          or :math:`(B, n)` with one group per row
        - **output:** ranks of the shape of the scores, in their dtype and
          device
    """
    sense = 'min'

    def __init__(
        self,
        normalize: bool = False,
        projection: Optional[str] = 'std',
        noise: float = 0.0,
        backward: str = 'identity',
        lambda_: float = 20.0,
        noise_position: str = 'before',
        diagnostics: bool = False,
    ) -> None:
        super().__init__(projection=projection, noise=noise, backward=backward,
                         lambda_=lambda_, noise_position=noise_position,
                         diagnostics=diagnostics)
        if not isinstance(normalize, bool):
            raise ValueError(f"'normalize' must be a bool (got "
                             f"{normalize!r})")
        self.normalize = normalize

    def forward(self, scores: Tensor, index: OptTensor = None,
                num_graphs: Optional[int] = None) -> Tensor:
        r"""Forward pass.

        Args:
            scores (torch.Tensor): The scores, a vector grouped by
                :obj:`index` or a matrix with one group per row.
            index (torch.Tensor, optional): The group of every entry of a
                1-D :obj:`scores`. (default: :obj:`None`)
            num_graphs (int, optional): The number of groups.
                (default: :obj:`None`)
        """
        return ranking(
            scores, index, num_graphs, normalize=self.normalize,
            projection=self.projection, noise=self.noise,
            training=self.training, backward=self.backward_mode,
            lambda_=self.lambda_, noise_position=self.noise_position,
            diagnostics=self.diagnostics)

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
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`, per group.
            (default: :obj:`"std"`)
        noise (float, optional): The noise margin :math:`\alpha`, in
            training. (default: :obj:`0.0`)
        backward (str, optional): :obj:`"identity"` or :obj:`"blackbox"`.
            (default: :obj:`"identity"`)
        lambda_ (float, optional): The Blackbox :math:`\lambda > 0`.
            (default: :obj:`20.0`)
        noise_position (str, optional): :obj:`"before"` adds the margin
            to the raw costs, before the projection (it keeps them from
            collapsing); :obj:`"after"` to the projected costs.
            (default: :obj:`"before"`)
        diagnostics (bool, optional): If set, :obj:`layer.diagnostics` records
            the raw score norm and gradient cosine of the ranking of all
            items. (default: :obj:`False`)

    Shapes:
        - **input:** scores :math:`(N)` with index :math:`(N)` (optional),
          or :math:`(B, n)` with one query per row; boolean relevance labels
          of the same shape
        - **output:** scalar
    """
    sense = 'min'

    def __init__(
        self,
        projection: Optional[str] = 'std',
        noise: float = 0.0,
        backward: str = 'identity',
        lambda_: float = 20.0,
        noise_position: str = 'before',
        diagnostics: bool = False,
    ) -> None:
        super().__init__(projection=projection, noise=noise, backward=backward,
                         lambda_=lambda_, noise_position=noise_position,
                         diagnostics=diagnostics)

    def forward(self, scores: Tensor, relevant: Tensor,
                index: OptTensor = None,
                num_graphs: Optional[int] = None) -> Tensor:
        r"""Forward pass.

        Args:
            scores (torch.Tensor): The scores, a vector grouped by
                :obj:`index` or a matrix with one query per row.
            relevant (torch.Tensor): Boolean relevance labels of the shape
                of :obj:`scores`.
            index (torch.Tensor, optional): The group of every entry of a
                1-D :obj:`scores`. (default: :obj:`None`)
            num_graphs (int, optional): The number of groups.
                (default: :obj:`None`)
        """
        return identity_recall_loss(
            scores, relevant, index, num_graphs, projection=self.projection,
            noise=self.noise, training=self.training,
            backward=self.backward_mode, lambda_=self.lambda_,
            noise_position=self.noise_position, diagnostics=self.diagnostics)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.extra_repr()})'
