r"""An adapter from `PyEPO <https://github.com/khalil-research/PyEPO>`_
optimisation models to pyg_identity solver callables (extra
:obj:`pyepo`)."""
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

PYEPO_EXTRA = "pip install 'pyg_identity[pyepo]' (or pip install pyepo)"


def _import_pyepo() -> Any:
    try:
        import pyepo
    except ImportError as e:
        raise ImportError(f"'pyepo_solver' needs PyEPO: {PYEPO_EXTRA}; its "
                          f"Gurobi models also need gurobipy") from e
    return pyepo


class PyEPOSolver:
    r"""A PyEPO :obj:`optModel` as a batched solver callable (see
    :func:`pyepo_solver`).

    Args:
        opt_model (pyepo.model.opt.optModel): The PyEPO model.

    Attributes:
        opt_model: The wrapped model.
        sense (str): :obj:`"min"` or :obj:`"max"`, from the model's
            :obj:`modelSense`.
        num_cost (int): The number of costs of one instance.
    """
    def __init__(self, opt_model: Any) -> None:
        pyepo = _import_pyepo()
        if not isinstance(opt_model, pyepo.model.opt.optModel):
            raise ValueError(f"'opt_model' must be a PyEPO optModel (got "
                             f"{type(opt_model).__name__})")
        sense = opt_model.modelSense
        if sense == pyepo.EPO.MINIMIZE:
            self.sense = 'min'
        elif sense == pyepo.EPO.MAXIMIZE:
            self.sense = 'max'
        else:
            raise ValueError(f"'opt_model' has an unknown modelSense "
                             f"{sense!r}")
        self.opt_model = opt_model
        self.num_cost = int(opt_model.num_cost)

    def __call__(self, cost: Tensor) -> Tensor:
        r"""Solves every instance of :obj:`cost` with the PyEPO model, one
        :obj:`setObj` / :obj:`solve` per instance; returns the solutions in
        the shape, dtype and device of :obj:`cost` (no autograd).

        Args:
            cost (torch.Tensor): The costs :obj:`[batch, num_cost]` (any
                leading dimensions: :obj:`[..., num_cost]`), or the
                instances one after the other :obj:`[batch * num_cost]`
                (the layout for per-instance projections, see
                :meth:`batch_vector`).
        """
        if not isinstance(cost, Tensor) or not cost.is_floating_point():
            raise ValueError(f"'cost' must be a floating point tensor (got "
                             f"{getattr(cost, 'dtype', type(cost))})")
        n = self.num_cost
        if not ((cost.dim() >= 2 and cost.size(-1) == n) or
                (cost.dim() == 1 and cost.numel() % n == 0)):
            raise ValueError(f"'cost' must have the shape [..., {n}] or "
                             f"[batch * {n}] (the model's num_cost is {n}; "
                             f"got {list(cost.shape)})")
        rows = cost.detach().reshape(-1, n).cpu().to(
            torch.float64).numpy()
        out = np.empty_like(rows)
        for i, c in enumerate(rows):
            self.opt_model.setObj(c)
            sol, _ = self.opt_model.solve()
            out[i] = np.asarray(sol, dtype=np.float64).reshape(-1)
        return torch.from_numpy(out).to(cost.dtype).to(
            cost.device).reshape(cost.shape)

    def batch_vector(self, batch_size: int,
                     device: Optional[torch.device] = None) -> Tensor:
        r"""The batch vector :obj:`[batch_size * num_cost]` of flat costs
        (instance :obj:`i` owns entries :obj:`i * num_cost` to
        :obj:`(i + 1) * num_cost - 1`): pass :obj:`cost.view(-1)` with it
        as the index of :func:`~pyg_identity.nn.functional.identity_solver`
        or :class:`~pyg_identity.nn.IdentitySolver` so that the projection
        normalises every instance on its own. (With costs
        :obj:`[batch, num_cost]` and index :obj:`torch.arange(batch)`, the
        statistics are taken per cost position across the batch instead,
        as for every :obj:`(N, *)` cost tensor.)"""
        return torch.arange(batch_size, device=device).repeat_interleave(
            self.num_cost)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.opt_model!r}, '
                f'sense={self.sense!r}, num_cost={self.num_cost})')


def pyepo_solver(opt_model: Any) -> PyEPOSolver:
    r"""Wraps a PyEPO optimisation model (an :obj:`optModel`, *e.g.*
    :obj:`pyepo.model.grb.shortestPathModel((5, 5))`) as a solver callable
    for :func:`~pyg_identity.nn.functional.identity_solver` and
    :class:`~pyg_identity.nn.IdentitySolver`: it maps costs
    :obj:`[batch, num_cost]` to solutions of the same shape and dtype,
    solving one instance per row (PyEPO models are per-instance). Its
    :obj:`sense` attribute is the model's :obj:`modelSense` as
    :obj:`"min"` or :obj:`"max"`; pass it on as :obj:`sense=`.

    .. code-block:: python

        from pyepo.model.grb import shortestPathModel
        from pyg_identity.nn import IdentitySolver
        from pyg_identity.solvers import pyepo_solver

        solver = pyepo_solver(shortestPathModel((5, 5)))
        layer = IdentitySolver(solver, sense=solver.sense, projection='std')
        # cost: [batch, solver.num_cost]; one projection per instance:
        batch = solver.batch_vector(cost.size(0))
        y = layer(cost.view(-1), batch, cost.size(0)).view_as(cost)

    Needs the extra :obj:`pyepo` (and the model's own backend, *e.g.*
    :obj:`gurobipy` for :obj:`pyepo.model.grb`).

    Args:
        opt_model (pyepo.model.opt.optModel): The PyEPO model.
    """
    return PyEPOSolver(opt_model)
