r"""Differentiable per-group top-:math:`k` selection (Identity or Blackbox
backward)."""
from typing import Any, Optional, Union

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.identity_solver import identity_solver
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.solvers.topk import _topk_solver


def topk(
    cost: Tensor,
    batch: OptTensor = None,
    num_graphs: Optional[int] = None,
    *,
    k: Union[int, Tensor],
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Tensor:
    r"""Selects the :math:`k` highest scores per group, :math:`y =
    \arg\max_{y \in \{0,1\}^n,\, \mathbf{1}^\top y = k} \langle \omega, y
    \rangle` (ties to the lower position), with the Identity gradient
    :math:`\partial\ell/\partial\omega = +P'(\omega)^\top
    \partial\ell/\partial y` (or the Blackbox update), see
    :class:`pyg_identity.nn.topk.IdentityTopK` and
    :func:`pyg_identity.solvers.solve_topk`.

    Args:
        cost (torch.Tensor): The scores (the solver maximises
            :math:`\langle \mathrm{cost}, y \rangle`), a vector grouped by
            :obj:`batch` or a matrix with one group per row.
        batch (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`cost`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
        k (int or torch.Tensor): The number of selected entries, for all
            groups or one per group (integer tensor of shape
            :obj:`[num_graphs]`), :math:`0 \leq k \leq n_g`.
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`. (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied.
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings`.

    Returns:
        The :math:`k`-hot indicator, in the shape, dtype and device of
        :obj:`cost`.
    """
    settings = GradientSettings.resolve(settings, kwargs, projection='std')
    solver, grp = _topk_solver(cost, batch, num_graphs, k=k)
    out = identity_solver(cost.reshape(-1), solver, grp.index, grp.num_graphs,
                          sense='max', settings=settings, training=training)
    return out.view_as(cost)


__all__ = ['topk']
