from typing import Any, Callable, Optional, Sequence, Union

from torch import Tensor

from pyg_identity.nn._base import SolverLayer
from pyg_identity.nn.functional.identity_solver import identity_solver
from pyg_identity.nn.functional.settings import SENSES, GradientSettings


class IdentitySolver(SolverLayer):
    r"""Wraps any combinatorial solver :math:`y(\omega) = \arg\min_{y \in Y}
    \langle \omega, y \rangle` (or :math:`\arg\max`) into a layer one can
    train through, as in the `"Backpropagation through Combinatorial
    Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper.

    .. math::
        y = \mathrm{solve}(P(\omega + \xi)), \qquad
        \frac{\partial \ell}{\partial \omega} = \mp P'(\omega)^\top
        \frac{\partial \ell}{\partial y}

    with the minus sign for :obj:`sense="min"` and the plus sign for
    :obj:`sense="max"`; :math:`\xi \sim \mathrm{Unif}\{-\alpha/2,
    +\alpha/2\}` is the noise margin, applied in training mode only.
    With :obj:`backward="blackbox"`, the Blackbox update of
    Vlastelica et al. (2020) is used instead (one extra solver call).

    Args:
        solve_fn (callable): Maps detached costs (plus the keyword arguments
            given to :meth:`forward`) to solutions of the same shape.
        sense (str, optional): :obj:`"min"` or :obj:`"max"`.
            (default: :obj:`"min"`)
        settings (GradientSettings, optional): The gradient settings
            (projection, noise margin, backward, generator, diagnostics;
            see :class:`~pyg_identity.nn.functional.GradientSettings`). The
            default projection :obj:`"norm"` is valid for every linear
            solver; use :obj:`"std"` when all solutions have the same size.
            (default: :obj:`None`)
        **kwargs: Fields of
            :class:`~pyg_identity.nn.functional.GradientSettings`
            overriding :obj:`settings`.

    Shapes:
        - **input:** costs :math:`(N, *)`, index :math:`(N)` (optional)
        - **output:** solutions :math:`(N, *)`, in the costs' dtype and
          device
    """
    def __init__(
        self,
        solve_fn: Callable[..., Any],
        sense: str = 'min',
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        if not callable(solve_fn):
            raise ValueError(f"'solve_fn' must be callable (got "
                             f"{type(solve_fn)})")
        if sense not in SENSES:
            raise ValueError(f"'sense' must be 'min' or 'max' (got "
                             f"{sense!r})")
        self.solve_fn = solve_fn
        self.sense = sense

    def forward(self, cost: Union[Tensor, Sequence[Tensor]],
                batch: Any = None, num_graphs: Optional[int] = None,
                **kwargs: Any) -> Any:
        r"""Forward pass.

        Args:
            cost (torch.Tensor or sequence of torch.Tensor): The costs (one
                tensor per cost part of the solver).
            batch (torch.Tensor or sequence, optional): The graph of every
                cost entry along the first dimension (one per cost tensor).
                (default: :obj:`None`)
            num_graphs (int, optional): The number of graphs.
                (default: :obj:`None`)
            **kwargs: Passed on to :obj:`solve_fn` (*e.g.* :obj:`edge_index`).
        """
        fn = self.solve_fn
        solver = (lambda *c: fn(*c, **kwargs)) if kwargs else fn
        return identity_solver(cost, solver, batch, num_graphs,
                               sense=self.sense, settings=self.settings,
                               training=self.training)

    def __repr__(self) -> str:
        name = getattr(self.solve_fn, '__name__', type(self.solve_fn).__name__)
        return (f'{self.__class__.__name__}({name}, sense={self.sense!r}, '
                f'{self.extra_repr()})')
