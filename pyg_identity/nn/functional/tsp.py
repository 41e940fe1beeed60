from typing import Any, Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional._edges import identity_on_edges
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.solvers.tsp import _tsp_solver


def tsp(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    solver: str = 'elkai',
    runs: int = 10,
    num_workers: int = 0,
    lkh_executable: str = 'LKH',
    timeout: Optional[float] = None,
    settings: Optional[GradientSettings] = None,
    training: bool = False,
    **kwargs: Any,
) -> Tensor:
    r"""Differentiable travelling salesman tours of every graph of a batch:
    :math:`y = \arg\min_{y \in Y} \langle P(\omega + \xi), y\rangle` over
    the indicators :math:`Y` of the Hamiltonian cycles of each graph, with
    the Identity (or Blackbox) gradient (see
    :class:`pyg_identity.nn.IdentityTSP`; the solver is
    :func:`pyg_identity.solvers.solve_tsp`).

    Args:
        cost (torch.Tensor): The edge costs, shape :obj:`[E]` or
            :obj:`[E, 1]`.
        edge_index (torch.Tensor): The edges, shape :obj:`[2, E]`.
        batch (torch.Tensor, optional): The batch vector. (default:
            :obj:`None`)
        num_nodes (int, optional): The number of nodes; taken from
            :obj:`batch` or :obj:`edge_index` if not given. (default:
            :obj:`None`)
        num_graphs (int, optional): The number of graphs. (default:
            :obj:`None`)
        solver (str, optional): :obj:`"elkai"`, :obj:`"exact"` or
            :obj:`"lkh"` (see :func:`~pyg_identity.solvers.solve_tsp`).
            (default: :obj:`"elkai"`)
        runs (int, optional): The number of LKH runs per graph.
            (default: :obj:`10`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        lkh_executable (str, optional): The LKH-3 executable for
            :obj:`solver="lkh"`. (default: :obj:`"LKH"`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`. (default: :obj:`None`)
        training (bool, optional): Whether the noise margin is applied.
            (default: :obj:`False`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings`.
    """
    settings = GradientSettings.resolve(settings, kwargs, projection='std')
    solve, num_graphs = _tsp_solver(
        cost, edge_index, batch, num_nodes, num_graphs, solver=solver,
        runs=runs, num_workers=num_workers, lkh_executable=lkh_executable,
        timeout=timeout)
    return identity_on_edges(cost, solve, edge_index, batch, num_graphs,
                             settings, training, sense='min')


__all__ = ['tsp']
