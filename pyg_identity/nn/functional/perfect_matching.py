r"""Differentiable minimum-cost perfect matching on a ragged batch of general
graphs."""
from typing import Optional

import numpy as np
import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional._validation import (
    _check_cost,
    _check_edge_index,
    _infer_num_nodes,
)
from pyg_identity.nn.functional.identity_solver import (
    SolverDiagnostics,
    identity_solver,
)
from pyg_identity.projection import edge_batch
from pyg_identity.solvers._dispatch import (
    check_num_workers,
    check_timeout,
    graph_blocks,
    map_graphs,
    to_numpy,
)
from pyg_identity.solvers.perfect_matching import (
    _perfect_matching,
    _undirected_edges,
)


def perfect_matching(
    edge_cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    projection: Optional[str] = 'std',
    noise: float = 0.0,
    training: bool = False,
    backward: str = 'identity',
    lambda_: float = 20.0,
    noise_position: str = 'before',
    num_workers: int = 0,
    timeout: Optional[float] = None,
    generator: Optional[torch.Generator] = None,
    diagnostics: Optional[SolverDiagnostics] = None,
) -> Tensor:
    r"""Differentiable minimum-cost perfect matching: returns the edge
    indicator :math:`y = \arg\min_{y \in Y} \langle P(c) + \xi, y \rangle`
    over the perfect matchings :math:`Y` of every graph of a batch, with the
    Identity (or Blackbox) gradient (see
    :class:`pyg_identity.nn.IdentityPerfectMatching`).

    Args:
        edge_cost (torch.Tensor): The edge costs :obj:`[num_edges]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`, every
            undirected edge listed once or in both directions (the same way
            for all edges of a graph).
        batch (torch.Tensor, optional): The batch vector :obj:`[num_nodes]`.
            (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes if :obj:`batch` is
            not given. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`. (default: :obj:`"std"`)
        noise (float, optional): The noise margin :math:`\alpha`.
            (default: :obj:`0.0`)
        training (bool, optional): Whether the noise is applied.
            (default: :obj:`False`)
        backward (str, optional): :obj:`"identity"` or :obj:`"blackbox"`.
            (default: :obj:`"identity"`)
        lambda_ (float, optional): The Blackbox :math:`\lambda`.
            (default: :obj:`20.0`)
        noise_position (str, optional): :obj:`"before"` adds the margin
            to the raw costs, before the projection (it keeps them from
            collapsing); :obj:`"after"` to the projected costs.
            (default: :obj:`"before"`)
        num_workers (int, optional): Solve the graphs in this many processes
            if :obj:`> 1`. (default: :obj:`0`)
        timeout (float, optional): Seconds each solver call (the whole
            batch) may take; past it the solver processes are terminated and
            a :class:`TimeoutError` is raised. With a timeout, the graphs are
            solved in worker processes even for :obj:`num_workers=0` (see
            :func:`pyg_identity.solvers.map_graphs`). (default: :obj:`None`)
        generator (torch.Generator, optional): The generator for the noise.
            (default: :obj:`None`)
        diagnostics (SolverDiagnostics, optional): Records cost norms and
            gradient cosines. (default: :obj:`None`)
    """
    _check_cost(edge_cost, 'edge_cost')
    _check_edge_index(edge_index)
    check_num_workers(num_workers)
    check_timeout(timeout)
    n = _infer_num_nodes(edge_index, batch, num_nodes)
    if edge_cost.numel() != edge_index.size(1):
        raise ValueError(f"'edge_cost' must have num_edges = "
                         f"{edge_index.size(1)} entries (got "
                         f"{edge_cost.numel()})")
    blocks = graph_blocks(batch, n, edge_index, num_graphs)
    for g in range(blocks.num_graphs):
        n_g = blocks.num_nodes(g)
        if n_g % 2 == 1:
            raise ValueError(f"A perfect matching needs an even number of "
                             f"nodes (got {n_g} nodes in graph {g})")
        try:
            _undirected_edges(blocks.edge_index(g), n_g)
        except ValueError as e:
            raise ValueError(f'In graph {g}: {e}') from None

    def solver(cost: Tensor) -> Tensor:
        c = to_numpy(cost)
        tasks = [(blocks.edge_index(g), c[blocks.edges(g)],
                  blocks.num_nodes(g)) for g in range(blocks.num_graphs)]
        sols = map_graphs(_perfect_matching, tasks, num_workers, timeout)
        out = np.zeros(c.size, dtype=np.float64)
        for g, y in enumerate(sols):
            if y is None:
                raise ValueError(f"Graph {g} has no perfect matching")
            out[blocks.edges(g)] = y
        return torch.from_numpy(out)

    index = None if batch is None else edge_batch(batch, edge_index)
    return identity_solver(
        edge_cost, solver, sense='min', projection=projection, index=index,
        num_graphs=blocks.num_graphs, noise=noise, training=training,
        backward=backward, lambda_=lambda_, noise_position=noise_position,
        generator=generator, diagnostics=diagnostics)


__all__ = ['perfect_matching']
