from numbers import Integral
from typing import Optional, Union

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import SolverLayer
from pyg_identity.nn.functional.topk import topk


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

    Groups are given either by a group vector :obj:`index` over a 1-D score
    vector (groups of different sizes, *e.g.* the nodes of a PyG batch) or
    by the rows of a 2-D score matrix (*e.g.* the 20 blocks of 20 logits of
    the discrete VAE). Runs on the scores' device, without a loop over
    groups.

    Args:
        k (int): The number of selected entries per group, :math:`0 \leq k
            \leq n_g`; a per-group tensor can be passed to :meth:`forward`.
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
        - **output:** :math:`k`-hot indicator of the shape of the scores,
          in their dtype and device
    """
    sense = 'max'

    def __init__(
        self,
        k: int,
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
        if not isinstance(k, Integral) or isinstance(k, bool) or k < 0:
            raise ValueError(f"'k' must be a non-negative integer (got "
                             f"{k!r})")
        self.k: int = int(k)

    def forward(self, scores: Tensor, index: OptTensor = None,
                num_graphs: Optional[int] = None,
                k: Optional[Union[int, Tensor]] = None) -> Tensor:
        r"""Forward pass.

        Args:
            scores (torch.Tensor): The scores, a vector grouped by
                :obj:`index` or a matrix with one group per row.
            index (torch.Tensor, optional): The group of every entry of a
                1-D :obj:`scores`. (default: :obj:`None`)
            num_graphs (int, optional): The number of groups.
                (default: :obj:`None`)
            k (int or torch.Tensor, optional): Overrides :obj:`self.k`, for
                all groups or one per group (integer tensor of shape
                :obj:`[num_graphs]`). (default: :obj:`None`)
        """
        return topk(
            scores, self.k if k is None else k, index, num_graphs,
            projection=self.projection, noise=self.noise,
            training=self.training, backward=self.backward_mode,
            lambda_=self.lambda_, noise_position=self.noise_position,
            diagnostics=self.diagnostics)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(k={self.k}, {self.extra_repr()})'
