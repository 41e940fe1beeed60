from typing import Optional

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.identity_solver import (
    SolverDiagnostics,
    identity_solver,
)
from pyg_identity.solvers._dispatch import (
    check_num_workers,
    check_timeout,
    graph_blocks,
    to_numpy,
)
from pyg_identity.solvers.tsp import (
    check_backend,
    check_tsp_graphs,
    solve_blocks,
)


def tsp(
    edge_cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    solver: str = 'elkai',
    runs: int = 10,
    num_workers: int = 0,
    lkh_executable: str = 'LKH',
    timeout: Optional[float] = None,
    projection: Optional[str] = 'std',
    noise: float = 0.0,
    training: bool = False,
    backward: str = 'identity',
    lambda_: float = 20.0,
    noise_position: str = 'before',
    generator: Optional[torch.Generator] = None,
    diagnostics: Optional[SolverDiagnostics] = None,
) -> Tensor:
    r"""Differentiable travelling salesman tours of every graph of a batch:
    :math:`y = \arg\min_{y \in Y} \langle P(\omega + \xi), y\rangle` over
    the indicators :math:`Y` of the Hamiltonian cycles of each graph, with
    the Identity (or Blackbox) gradient (see
    :class:`pyg_identity.nn.IdentityTSP`).

    Args:
        edge_cost (torch.Tensor): The edge costs, shape :obj:`[E]` or
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
            :obj:`"lkh"`. (default: :obj:`"elkai"`)
        runs (int, optional): The number of LKH runs. (default: :obj:`10`)
        num_workers (int, optional): Processes solving graphs in parallel.
            (default: :obj:`0`)
        lkh_executable (str, optional): The LKH-3 executable for
            :obj:`solver="lkh"`. (default: :obj:`"LKH"`)
        timeout (float, optional): Seconds each solver call (the whole
            batch) may take; past it the solver processes are terminated and
            a :class:`TimeoutError` is raised. With a timeout, the graphs are
            solved in worker processes even for :obj:`num_workers=0` (see
            :func:`pyg_identity.solvers.map_graphs`). (default: :obj:`None`)
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`. (default: :obj:`"std"`)
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
            gradient cosines. (default: :obj:`None`)
    """
    check_backend(solver, runs, lkh_executable)
    check_num_workers(num_workers)
    check_timeout(timeout)
    if not isinstance(edge_cost, Tensor) or not edge_cost.is_floating_point():
        raise ValueError(f"'edge_cost' must be a floating point tensor (got "
                         f"{getattr(edge_cost, 'dtype', type(edge_cost))})")
    if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 \
            or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must be a tensor of shape "
                         f"[2, num_edges] (got "
                         f"{list(getattr(edge_index, 'shape', []))})")
    if edge_index.is_floating_point() or edge_index.is_complex():
        raise ValueError(f"'edge_index' must be an integer tensor (got "
                         f"{edge_index.dtype})")
    num_edges = edge_index.size(1)
    if edge_cost.dim() not in (1, 2) or edge_cost.size(0) != num_edges or (
            edge_cost.dim() == 2 and edge_cost.size(1) != 1):
        raise ValueError(f"'edge_cost' must have shape [num_edges] or "
                         f"[num_edges, 1] with num_edges = {num_edges} (got "
                         f"{list(edge_cost.size())})")
    if batch is not None and (not isinstance(batch, Tensor)
                              or batch.is_floating_point()):
        raise ValueError(f"'batch' must be an integer tensor (got "
                         f"{getattr(batch, 'dtype', type(batch))})")
    if num_nodes is None:
        num_nodes = (batch.numel() if batch is not None else
                     int(edge_index.max()) + 1 if num_edges else 0)
    blocks = graph_blocks(batch, num_nodes, edge_index, num_graphs)
    check_tsp_graphs(blocks, num_nodes, solver)

    index = None if batch is None else batch.index_select(0, edge_index[0])

    def solve(c: Tensor) -> Tensor:
        y = solve_blocks(blocks, to_numpy(c), solver, runs, num_workers,
                         lkh_executable, timeout)
        return torch.from_numpy(y).view(c.shape)

    return identity_solver(
        edge_cost, solve, sense='min', projection=projection, index=index,
        num_graphs=blocks.num_graphs, noise=noise, training=training,
        backward=backward, lambda_=lambda_, noise_position=noise_position,
        generator=generator, diagnostics=diagnostics)


__all__ = ['tsp']
