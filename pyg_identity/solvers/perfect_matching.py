r"""Exact minimum-cost perfect matching on general graphs with Edmonds'
blossom algorithm (:func:`networkx.max_weight_matching`)."""
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.solvers._dispatch import (
    GraphBlocks,
    check_num_workers,
    check_timeout,
    graph_blocks,
    map_graphs,
    to_numpy,
    with_stack,
)
from pyg_identity.solvers._edges import (
    check_edge_inputs,
    check_finite_cost,
    check_graph_arrays,
)


def _undirected_edges(edge_index: np.ndarray, num_nodes: int) -> Tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # Groups the entries of `edge_index` into undirected edges {a, b}, a < b.
    # Returns the entries that are not self-loops, their undirected edge id,
    # and the end nodes (a, b) of every undirected edge. Raises on duplicate
    # entries and on a mix of single and two-way listings.
    u, v = edge_index
    entries = np.flatnonzero(u != v)
    u, v = u[entries], v[entries]
    directed_keys = u * num_nodes + v
    if np.unique(directed_keys).size != directed_keys.size:
        raise ValueError("'edge_index' contains duplicate edges (parallel "
                         "edges are not supported by the perfect matching "
                         "solver; keep the cheapest with "
                         "torch_geometric.utils.coalesce(reduce='min'))")
    a, b = np.minimum(u, v), np.maximum(u, v)
    keys, edge_id, counts = np.unique(a * num_nodes + b, return_inverse=True,
                                      return_counts=True)
    if counts.size and counts.min() != counts.max():
        raise ValueError("'edge_index' must list every undirected edge either "
                         "once or in both directions, not a mix of both (got "
                         f"{int((counts == 1).sum())} edges listed once and "
                         f"{int((counts == 2).sum())} listed twice)")
    return entries, edge_id.reshape(-1), keys // num_nodes, keys % num_nodes


def _exact_integers(values: np.ndarray) -> List[int]:
    # Python integers proportional to `values` (float64 are dyadic rationals,
    # so a common power-of-two denominator makes them integers exactly).
    ratios = [float(x).as_integer_ratio() for x in values]
    denom = max([d for _, d in ratios] or [1])
    return [n * (denom // d) for n, d in ratios]


def _blossom(edge_index: np.ndarray, cost: np.ndarray,
             num_nodes: int) -> Optional[np.ndarray]:
    # The indicator of a minimum-cost perfect matching over the entries of
    # `edge_index`, or None if the graph has no perfect matching.
    import networkx as nx

    y = np.zeros(edge_index.shape[1], dtype=np.float64)
    if num_nodes == 0:
        return y
    if num_nodes % 2 == 1:
        return None
    entries, edge_id, a, b = _undirected_edges(edge_index, num_nodes)
    # The cost of an undirected edge is the sum of its entries' costs.
    c = np.bincount(edge_id, weights=cost[entries], minlength=a.size)
    # Maximum weight among maximum-cardinality matchings with weights M - c:
    # every perfect matching has n / 2 edges, so this is the cheapest one.
    # Integer weights keep the blossom algorithm exact.
    ints = _exact_integers(c)
    big = max(ints, default=0) + 1
    graph = nx.Graph()
    graph.add_nodes_from(range(num_nodes))
    graph.add_weighted_edges_from(
        (int(a[i]), int(b[i]), big - ints[i]) for i in range(a.size))
    matching = nx.max_weight_matching(graph, maxcardinality=True)
    if 2 * len(matching) != num_nodes:
        return None
    lookup = {(int(a[i]), int(b[i])): i for i in range(a.size)}
    chosen = np.zeros(a.size, dtype=bool)
    for p, q in matching:
        chosen[lookup[(min(p, q), max(p, q))]] = True
    y[entries[chosen[edge_id]]] = 1.0
    return y


def _perfect_matching(
    edge_index: np.ndarray,
    cost: np.ndarray,
    num_nodes: int,
) -> np.ndarray:
    r"""The validated per-graph numpy kernel (a reference for the tests;
    the batched solver is :func:`solve_perfect_matching`): returns the edge
    indicator :math:`y \in \{0, 1\}^E` of a minimum-cost perfect matching
    of one undirected graph,
    :math:`\arg\min_y \langle c, y \rangle` over all perfect matchings.

    :obj:`edge_index` lists every undirected edge either once (in either
    orientation) or in both directions (PyG's convention), the same way for
    all edges of the graph. In the second case the cost of edge
    :math:`\{u, v\}` is :math:`c_{uv} + c_{vu}` and, if it is matched, both
    entries are set to one, so :math:`\langle c, y \rangle` is always the
    matching's cost and every perfect matching has the same number of ones
    (:math:`N/2` or :math:`N`). Self-loops are allowed and never matched.
    Costs may be negative.

    The problem is solved exactly with Edmonds' blossom algorithm
    (:func:`networkx.max_weight_matching` with :obj:`maxcardinality=True`)
    on the weights :math:`M - c_e`, converted to exact integers.
    Ties are broken deterministically.

    Args:
        edge_index (numpy.ndarray): The edges :obj:`[2, E]`, local node
            indices.
        cost (numpy.ndarray): The edge costs :obj:`[E]`.
        num_nodes (int): The number of nodes :math:`N`.

    Raises:
        ValueError: If :math:`N` is odd, the graph has no perfect matching,
            or on invalid input (NaN or inf costs, out-of-range nodes,
            duplicate edges, mixed listing).
    """
    edge_index, cost = check_graph_arrays(cost, edge_index, num_nodes)
    if num_nodes % 2 == 1:
        raise _odd(num_nodes)
    y = _blossom(edge_index, cost, num_nodes)
    if y is None:
        raise _no_matching()
    return y


def _odd(num_nodes: int) -> ValueError:
    return ValueError(f"A perfect matching needs an even number of nodes "
                      f"(got a graph with {num_nodes} nodes)")


def _no_matching() -> ValueError:
    return ValueError("The graph has no perfect matching")


def _perfect_matching_solver(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    num_workers: int = 0,
    timeout: Optional[float] = None,
) -> Tuple[Callable[[Tensor], Tensor], int]:
    # Validates the arguments (the layout of `cost`, not its values) and
    # splits the batch once; returns the per-call solver (costs of that
    # layout to the matching indicator in their dtype and device) and the
    # number of graphs. Shared by `solve_perfect_matching` and the
    # functional `perfect_matching`.
    check_num_workers(num_workers)
    check_timeout(timeout)
    n = check_edge_inputs(cost, edge_index, batch, num_nodes,
                          allow_column=False)
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
    num_graphs = blocks.num_graphs

    def stack(times: int) -> Callable[[Tensor], Tensor]:
        return _matching_closure(blocks.tile(times), num_graphs, num_workers,
                                 timeout)

    return with_stack(_matching_closure(blocks, num_graphs, num_workers,
                                        timeout), stack), num_graphs


def _matching_closure(blocks: GraphBlocks, num_graphs: int,
                      num_workers: int,
                      timeout: Optional[float]) -> Callable[[Tensor], Tensor]:
    # The per-call solver of validated blocks (graph g of a stacked copy is
    # reported as graph g % num_graphs of the batch).
    edges = [blocks.edges(g) for g in range(blocks.num_graphs)]
    local = [(blocks.edge_index(g), blocks.num_nodes(g))
             for g in range(blocks.num_graphs)]

    def solve(c: Tensor) -> Tensor:
        w = to_numpy(c)
        tasks = [(ei, w[e], n) for (ei, n), e in zip(local, edges)]
        out = np.zeros(w.size, dtype=np.float64)
        for g, (e, y) in enumerate(zip(edges, map_graphs(
                _blossom, tasks, num_workers, timeout))):
            if y is None:
                raise ValueError(f"Graph {g % num_graphs} has no perfect "
                                 f"matching")
            out[e] = y
        return torch.from_numpy(out).to(c.device, c.dtype)

    return solve


def solve_perfect_matching(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    num_workers: int = 0,
    timeout: Optional[float] = None,
) -> Tensor:
    r"""Returns the edge indicator :math:`y \in \{0, 1\}^E` of a
    minimum-cost perfect matching of every graph of a PyG batch,
    :math:`\arg\min_y \langle c, y \rangle` over the perfect matchings
    (no autograd; see :class:`pyg_identity.nn.IdentityPerfectMatching` for
    the layer and :func:`pyg_identity.nn.functional.perfect_matching` for
    the functional, which run this solver).

    :obj:`edge_index` lists every undirected edge either once (in either
    orientation) or in both directions (PyG's convention), the same way for
    all edges of a graph. In the second case the cost of edge
    :math:`\{u, v\}` is :math:`c_{uv} + c_{vu}` and, if it is matched,
    both entries are set to one, so :math:`\langle c, y \rangle` is always
    the matching's cost. Self-loops are allowed and never matched. Costs may
    be negative. Each graph is solved exactly with Edmonds' blossom
    algorithm (:func:`networkx.max_weight_matching` with
    :obj:`maxcardinality=True`) on the weights :math:`M - c_e`, converted to
    exact integers; ties are broken deterministically.

    Args:
        cost (torch.Tensor): The edge costs :obj:`[num_edges]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`.
        batch (torch.Tensor, optional): The batch vector :obj:`[num_nodes]`.
            (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes if :obj:`batch` is
            not given. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)

    Returns:
        The matching indicator (0/1 values) in the dtype, shape and device
        of :obj:`cost`.

    Raises:
        ValueError: If a graph has an odd number of nodes or no perfect
            matching, or on invalid input (NaN or inf costs, out-of-range
            nodes, duplicate edges, mixed listing).
    """
    solve, _ = _perfect_matching_solver(
        cost, edge_index, batch, num_nodes, num_graphs,
        num_workers=num_workers, timeout=timeout)
    check_finite_cost(cost)
    return solve(cost.detach())


__all__ = ['solve_perfect_matching']
