r"""Differentiable :math:`s`-:math:`t` shortest paths on a ragged batch of
graphs, with costs on the edges or on the nodes, exact for costs of any
sign (see :mod:`pyg_identity.solvers.shortest_path`)."""
from typing import Callable, List, Optional, Tuple, Union

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
from pyg_identity.projection import edge_batch, validate_mode
from pyg_identity.solvers._dispatch import (
    GraphBlocks,
    check_num_workers,
    graph_blocks,
    map_graphs,
    to_numpy,
)
from pyg_identity.solvers.shortest_path import (
    OK,
    UNREACHABLE,
    _check_negative_costs,
    _clamp_negative_costs,
    _negative_cycle,
    _shortest_path_edges,
    _shortest_path_nodes,
    _solve_batch,
    _uneven_path_nodes,
    _unreachable,
)

Terminal = Union[int, Tensor]


def _terminal(value: Terminal, name: str, blocks: GraphBlocks) -> np.ndarray:
    # Local node index of `value` in every graph, validated.
    b = blocks.num_graphs
    if isinstance(value, Tensor):
        if value.is_floating_point() or value.dtype == torch.bool:
            raise ValueError(f"'{name}' must hold integer node indices (got "
                             f"{value.dtype})")
        if value.dim() == 0:
            out = np.full(b, int(value), dtype=np.int64)
        elif value.dim() == 1 and value.numel() == b:
            out = value.detach().cpu().numpy().astype(np.int64)
        else:
            raise ValueError(f"'{name}' must be an integer or a tensor of "
                             f"shape [num_graphs] = [{b}] (got shape "
                             f"{list(value.size())})")
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = np.full(b, int(value), dtype=np.int64)
    else:
        raise ValueError(f"'{name}' must be an integer or an integer tensor "
                         f"(got {type(value).__name__})")
    sizes = np.diff(blocks.node_ptr)
    bad = np.flatnonzero((out < 0) | (out >= sizes))
    if bad.size:
        g = int(bad[0])
        raise ValueError(f"'{name}' must be a local node index in [0, "
                         f"{int(sizes[g])}) of graph {g} (got {int(out[g])})")
    return out


def _terminal_hint(value: Terminal) -> List[int]:
    # Node indices to cover when the number of nodes is inferred.
    if isinstance(value, Tensor) and not value.is_floating_point() and \
            value.numel() > 0 and value.dtype != torch.bool:
        return [int(value.max())]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return [int(value)]
    return []


def _prepare(cost: Tensor, cost_name: str, edge_index: Tensor,
             source: Terminal, target: Terminal, batch: OptTensor,
             num_nodes: Optional[int], num_graphs: Optional[int],
             directed: bool,
             num_workers: int) -> Tuple[GraphBlocks, np.ndarray, np.ndarray]:
    _check_cost(cost, cost_name)
    _check_edge_index(edge_index)
    if not isinstance(directed, bool):
        raise ValueError(f"'directed' must be a bool (got {directed!r})")
    check_num_workers(num_workers)
    if cost_name == 'node_cost' and num_nodes is None and batch is None:
        num_nodes = cost.numel()
        if edge_index.numel() and int(edge_index.max()) >= num_nodes:
            raise ValueError(f"'node_cost' must have one entry per node "
                             f"(got {num_nodes} entries, but 'edge_index' "
                             f"refers to node {int(edge_index.max())})")
    n = _infer_num_nodes(edge_index, batch, num_nodes,
                        *_terminal_hint(source), *_terminal_hint(target))
    expected = n if cost_name == 'node_cost' else edge_index.size(1)
    if cost.numel() != expected:
        what = 'num_nodes' if cost_name == 'node_cost' else 'num_edges'
        raise ValueError(f"'{cost_name}' must have {what} = {expected} "
                         f"entries (got {cost.numel()})")
    blocks = graph_blocks(batch, n, edge_index, num_graphs)
    return (blocks, _terminal(source, 'source', blocks),
            _terminal(target, 'target', blocks))


def _global_edge_index(blocks: GraphBlocks) -> np.ndarray:
    # The edges in their input order, as host node indices of the batch.
    edge_index = np.empty((2, 0), dtype=np.int64)
    if blocks.local_edge_index is not None:
        assert blocks.edge_perm is not None and blocks.edge_ptr is not None
        edge_index = np.empty_like(blocks.local_edge_index)
        edge_index[:, blocks.edge_perm] = blocks.local_edge_index + \
            blocks.node_ptr[:-1][np.repeat(np.arange(blocks.num_graphs),
                                           np.diff(blocks.edge_ptr))]
    return edge_index


def _check_projection(projection: Optional[str], blocks: GraphBlocks,
                      edge_index: np.ndarray, source: np.ndarray,
                      target: np.ndarray, directed: bool,
                      on_nodes: bool) -> Optional[str]:
    # 'mean' and 'std' shift the costs of a graph by a constant, which moves
    # the cost of a path by that constant times its number of arcs (nodes):
    # they keep the argmin only if all source-target walks have the same
    # number of arcs, which is checked on the graph structure.
    projection = validate_mode(projection, 'projection')
    if projection not in ('mean', 'std'):
        return projection
    node_ptr = blocks.node_ptr
    bad = _uneven_path_nodes(edge_index, int(node_ptr[-1]),
                             node_ptr[:-1] + source, node_ptr[:-1] + target,
                             directed)
    if bad.size:
        g = int(np.searchsorted(node_ptr, bad[0], side='right') - 1)
        unit = 'nodes' if on_nodes else 'arcs'
        raise ValueError(
            f"Invalid 'projection' {projection!r} for graph {g}, whose walks "
            f"from 'source' to 'target' differ in their number of {unit}: "
            f"it shifts the costs of every graph by a constant, which then "
            f"changes the shortest path (use projection='norm' or None)")
    return projection


def _raise_for_status(status: np.ndarray, source: np.ndarray,
                      target: np.ndarray, two_way: bool) -> None:
    # The error of the first graph that has no (well-posed) shortest path.
    bad = np.flatnonzero(status != OK)
    if bad.size == 0:
        return
    g = int(bad[0])
    s, t = int(source[g]), int(target[g])
    if status[g] == UNREACHABLE:
        raise _unreachable(s, t, g)
    raise _negative_cycle(s, t, two_way, g)


def _make_solver(blocks: GraphBlocks, edge_index: np.ndarray,
                 source: np.ndarray, target: np.ndarray, directed: bool,
                 negative_costs: str, num_workers: int, size: int,
                 on_nodes: bool) -> Callable[[Tensor], Tensor]:
    fn = _shortest_path_nodes if on_nodes else _shortest_path_edges
    node_ptr = blocks.node_ptr[:-1]
    cost_name = 'node_cost' if on_nodes else 'edge_cost'
    two_way = not directed and not on_nodes

    def solver(cost: Tensor) -> Tensor:
        # The exact argmin for costs of any sign (after projection, noise
        # or the Blackbox perturbation), or the clamped problem on opt-in.
        c = to_numpy(cost)
        if negative_costs == 'clamp':
            c = _clamp_negative_costs(c, cost_name)
        if num_workers <= 1:  # one solver call for the whole batch
            y, status = _solve_batch(edge_index, c, int(blocks.node_ptr[-1]),
                                     node_ptr + source, node_ptr + target,
                                     directed, on_nodes)
            _raise_for_status(status, source, target, two_way)
            return torch.from_numpy(y)
        parts = [blocks.nodes(g) if on_nodes else blocks.edges(g)
                 for g in range(blocks.num_graphs)]
        tasks = [(blocks.edge_index(g), c[parts[g]], blocks.num_nodes(g),
                  int(source[g]), int(target[g]), directed)
                 for g in range(blocks.num_graphs)]
        sols = map_graphs(fn, tasks, num_workers)
        _raise_for_status(np.array([st for _, st in sols], dtype=np.int64),
                          source, target, two_way)
        out = np.zeros(size, dtype=np.float64)
        for g, (y, _) in enumerate(sols):
            out[parts[g]] = y
        return torch.from_numpy(out)

    return solver


def shortest_path(
    edge_cost: Tensor,
    edge_index: Tensor,
    source: Terminal,
    target: Terminal,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    directed: bool = True,
    negative_costs: str = 'raise',
    projection: Optional[str] = 'norm',
    noise: float = 0.0,
    training: bool = False,
    backward: str = 'identity',
    lambda_: float = 20.0,
    noise_position: str = 'before',
    num_workers: int = 0,
    generator: Optional[torch.Generator] = None,
    diagnostics: Optional[SolverDiagnostics] = None,
) -> Tensor:
    r"""Differentiable :math:`s`-:math:`t` shortest path with costs on the
    edges: returns the edge indicator :math:`y = \arg\min_{y \in Y}
    \langle \tilde c, y \rangle` of a shortest path in every graph of a
    batch, with :math:`\tilde c = P(c) + \xi` (clamped at zero if
    :obj:`negative_costs="clamp"`) and the Identity (or Blackbox) gradient
    (see :class:`pyg_identity.nn.IdentityShortestPath`).

    Args:
        edge_cost (torch.Tensor): The edge costs :obj:`[num_edges]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`.
        source (int or torch.Tensor): The start node of every graph, as a
            *local* node index (:obj:`0` is the first node of each graph),
            one integer for all graphs or a tensor :obj:`[num_graphs]`.
        target (int or torch.Tensor): The end node, like :obj:`source`.
        batch (torch.Tensor, optional): The batch vector :obj:`[num_nodes]`.
            (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes if :obj:`batch` is
            not given. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        directed (bool, optional): If :obj:`False`, every listed edge can
            be traversed both ways. (default: :obj:`True`)
        negative_costs (str, optional): :obj:`"raise"` solves costs of any
            sign exactly and raises a :class:`ValueError` naming the graph
            if a cycle of negative cost lies on one of its
            :obj:`source`-:obj:`target` walks; :obj:`"clamp"` clamps the
            costs the solver sees at zero (with a warning).
            (default: :obj:`"raise"`)
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`; :obj:`"mean"` and :obj:`"std"`
            only if every :obj:`source`-:obj:`target` walk of a graph has
            the same number of arcs. (default: :obj:`"norm"`)
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
        generator (torch.Generator, optional): The generator for the noise.
            (default: :obj:`None`)
        diagnostics (SolverDiagnostics, optional): Records cost norms and
            gradient cosines. (default: :obj:`None`)
    """
    _check_negative_costs(negative_costs)
    blocks, s, t = _prepare(edge_cost, 'edge_cost', edge_index, source,
                            target, batch, num_nodes, num_graphs, directed,
                            num_workers)
    ei = _global_edge_index(blocks)
    projection = _check_projection(projection, blocks, ei, s, t, directed,
                                   on_nodes=False)
    solver = _make_solver(blocks, ei, s, t, directed, negative_costs,
                          num_workers, edge_index.size(1), on_nodes=False)
    index = None if batch is None else edge_batch(batch, edge_index)
    return identity_solver(
        edge_cost, solver, sense='min', projection=projection, index=index,
        num_graphs=blocks.num_graphs, noise=noise, training=training,
        backward=backward, lambda_=lambda_, noise_position=noise_position,
        generator=generator, diagnostics=diagnostics)


def vertex_shortest_path(
    node_cost: Tensor,
    edge_index: Tensor,
    source: Terminal,
    target: Terminal,
    batch: OptTensor = None,
    num_graphs: Optional[int] = None,
    directed: bool = True,
    negative_costs: str = 'raise',
    projection: Optional[str] = 'norm',
    noise: float = 0.0,
    training: bool = False,
    backward: str = 'identity',
    lambda_: float = 20.0,
    noise_position: str = 'before',
    num_workers: int = 0,
    generator: Optional[torch.Generator] = None,
    diagnostics: Optional[SolverDiagnostics] = None,
) -> Tensor:
    r"""Differentiable :math:`s`-:math:`t` shortest path with costs on the
    nodes (Warcraft maps): returns the node indicator :math:`y` of a path
    minimising the sum of the costs of its nodes, :obj:`source` and
    :obj:`target` included, in every graph of a batch (see
    :class:`pyg_identity.nn.IdentityShortestPath`).

    Args:
        node_cost (torch.Tensor): The node costs :obj:`[num_nodes]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`, *e.g.*
            from :func:`pyg_identity.utils.grid.grid_edge_index`.
        source (int or torch.Tensor): The start node of every graph, as a
            *local* node index, one integer for all graphs or a tensor
            :obj:`[num_graphs]`.
        target (int or torch.Tensor): The end node, like :obj:`source`.
        batch (torch.Tensor, optional): The batch vector :obj:`[num_nodes]`.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        directed (bool, optional): If :obj:`False`, every listed edge can
            be traversed both ways. (default: :obj:`True`)
        negative_costs (str, optional): :obj:`"raise"` or :obj:`"clamp"`
            (see :func:`shortest_path`). (default: :obj:`"raise"`)
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`; :obj:`"mean"` and :obj:`"std"`
            only if every :obj:`source`-:obj:`target` walk of a graph
            visits the same number of nodes. (default: :obj:`"norm"`)
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
        generator (torch.Generator, optional): The generator for the noise.
            (default: :obj:`None`)
        diagnostics (SolverDiagnostics, optional): Records cost norms and
            gradient cosines. (default: :obj:`None`)
    """
    _check_negative_costs(negative_costs)
    blocks, s, t = _prepare(node_cost, 'node_cost', edge_index, source,
                            target, batch, None, num_graphs, directed,
                            num_workers)
    ei = _global_edge_index(blocks)
    projection = _check_projection(projection, blocks, ei, s, t, directed,
                                   on_nodes=True)
    solver = _make_solver(blocks, ei, s, t, directed, negative_costs,
                          num_workers, node_cost.numel(), on_nodes=True)
    return identity_solver(
        node_cost, solver, sense='min', projection=projection, index=batch,
        num_graphs=blocks.num_graphs, noise=noise, training=training,
        backward=backward, lambda_=lambda_, noise_position=noise_position,
        generator=generator, diagnostics=diagnostics)


__all__ = ['shortest_path', 'vertex_shortest_path']
