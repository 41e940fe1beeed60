r"""Differentiable per-group top-:math:`k` selection (Identity or Blackbox
backward)."""
from typing import Callable, Optional, Union

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.identity_solver import (
    SolverDiagnostics,
    identity_solver,
)
from pyg_identity.nn.functional.ranking import _cols, _flatten
from pyg_identity.solvers.ranking import group_sizes
from pyg_identity.solvers.topk import _topk, check_k


def _topk_solver(k: Tensor, index: OptTensor, num_graphs: int,
                 cols: Optional[int]) -> Callable[[Tensor], Tensor]:
    # The closure run (again, by the Blackbox backward) on detached costs;
    # dense rows are solved as rows (one sort along the last dimension).
    def solver(costs: Tensor) -> Tensor:
        if cols is not None:
            return _topk(costs.view(num_graphs, cols), k, None,
                         num_graphs).view(-1)
        return _topk(costs, k, index, num_graphs)

    return solver


def topk(
    scores: Tensor,
    k: Union[int, Tensor],
    index: OptTensor = None,
    num_graphs: Optional[int] = None,
    projection: Optional[str] = 'std',
    noise: float = 0.0,
    training: bool = False,
    backward: str = 'identity',
    lambda_: float = 20.0,
    noise_position: str = 'before',
    generator: Optional[torch.Generator] = None,
    diagnostics: Optional[SolverDiagnostics] = None,
) -> Tensor:
    r"""Selects the :math:`k` highest scores per group, :math:`y =
    \arg\max_{y \in \{0,1\}^n,\, \mathbf{1}^\top y = k} \langle \omega, y
    \rangle` (ties to the lower position), with the Identity gradient
    :math:`\partial\ell/\partial\omega = +P'(\omega)^\top
    \partial\ell/\partial y` (or the Blackbox update), see
    :class:`pyg_identity.nn.topk.IdentityTopK`.

    Args:
        scores (torch.Tensor): The scores, a vector grouped by :obj:`index`
            or a matrix with one group per row.
        k (int or torch.Tensor): The number of selected entries, for all
            groups or one per group (integer tensor of shape
            :obj:`[num_graphs]`), :math:`0 \leq k \leq n_g`.
        index (torch.Tensor, optional): The group of every entry of a 1-D
            :obj:`scores`. (default: :obj:`None`)
        num_graphs (int, optional): The number of groups.
            (default: :obj:`None`)
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`, per group. (default: :obj:`"std"`)
        noise (float, optional): The noise margin :math:`\alpha`.
            (default: :obj:`0.0`)
        training (bool, optional): Whether noise is applied.
            (default: :obj:`False`)
        backward (str, optional): :obj:`"identity"` or :obj:`"blackbox"`.
            (default: :obj:`"identity"`)
        lambda_ (float, optional): The Blackbox :math:`\lambda`.
            (default: :obj:`20.0`)
        noise_position (str, optional): :obj:`"before"` adds the margin
            to the raw costs, before the projection (it keeps them from
            collapsing); :obj:`"after"` to the projected costs.
            (default: :obj:`"before"`)
        generator (torch.Generator, optional): The generator for the noise.
            (default: :obj:`None`)
        diagnostics (SolverDiagnostics, optional): Records cost norms and
            gradient cosines of this call. (default: :obj:`None`)

    Returns:
        The :math:`k`-hot indicator, in the shape, dtype and device of
        :obj:`scores`.
    """
    flat, index, num_graphs = _flatten(scores, index, num_graphs)
    kt = check_k(k, group_sizes(flat, index, num_graphs))
    out = identity_solver(
        flat, _topk_solver(kt, index, num_graphs, _cols(scores)),
        sense='max',
        projection=projection, index=index, num_graphs=num_graphs,
        noise=noise, training=training, backward=backward, lambda_=lambda_,
        noise_position=noise_position, generator=generator,
        diagnostics=diagnostics)
    return out.view_as(scores)


__all__ = ['topk']
