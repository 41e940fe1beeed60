r"""Exact :math:`s`-:math:`t` shortest paths with Dijkstra's algorithm
(:func:`scipy.sparse.csgraph.dijkstra`), with costs on the edges or on the
nodes of one graph."""
from typing import List, Optional, Tuple

import numpy as np


def _check_graph(edge_index: np.ndarray, cost: np.ndarray, num_nodes: int,
                 source: int, target: int, cost_size: int,
                 cost_name: str) -> Tuple[np.ndarray, np.ndarray]:
    edge_index = np.asarray(edge_index, dtype=np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.shape)})")
    if cost.shape != (cost_size, ):
        raise ValueError(f"'{cost_name}' must have shape [{cost_size}] (got "
                         f"{list(cost.shape)})")
    if not np.all(np.isfinite(cost)):
        raise ValueError(f"'{cost_name}' must be finite (got NaN or inf)")
    if np.any(cost < 0):
        raise ValueError(f"'{cost_name}' must be non-negative (got minimum "
                         f"{cost.min()}); Dijkstra's algorithm needs "
                         f"non-negative costs")
    if edge_index.size and (edge_index.min() < 0
                            or edge_index.max() >= num_nodes):
        raise ValueError(f"'edge_index' refers to nodes outside [0, "
                         f"{num_nodes})")
    for name, v in (('source', source), ('target', target)):
        if not 0 <= v < num_nodes:
            raise ValueError(f"'{name}' must lie in [0, {num_nodes}) (got "
                             f"{v})")
    return edge_index, cost


def _arcs(edge_index: np.ndarray, cost: np.ndarray, directed: bool) -> Tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # The arcs (src, dst) the path may use, each with the cheapest edge that
    # realises it (ties: the lowest edge id), sorted by (src, dst); an
    # undirected edge gives two arcs. Self-loops are never on a shortest
    # path and are dropped.
    src, dst = edge_index
    eid = np.arange(src.size, dtype=np.int64)
    if not directed:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        eid, cost = np.concatenate([eid, eid]), np.concatenate([cost, cost])
    keep = src != dst
    src, dst, eid, cost = src[keep], dst[keep], eid[keep], cost[keep]
    key = src * (int(max(src.max(initial=0), dst.max(initial=0))) + 1) + dst
    order = np.argsort(key, kind='stable')  # radix sort of one int key
    skey = key[order]
    first = np.ones(src.size, dtype=bool)
    first[1:] = skey[1:] != skey[:-1]
    if not first.all():  # parallel arcs: keep the cheapest, then lowest id
        order = np.lexsort((eid, cost, key))
        skey = key[order]
        first[1:] = skey[1:] != skey[:-1]
    src, dst, eid, cost = src[order], dst[order], eid[order], cost[order]
    return src[first], dst[first], eid[first], cost[first]


def _dijkstra_path(src: np.ndarray, dst: np.ndarray, weight: np.ndarray,
                   num_nodes: int, source: int,
                   target: int) -> Optional[np.ndarray]:
    # The nodes of a shortest source-target path, or None if unreachable.
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    # The arcs are unique, so no duplicates get summed. scipy.sparse.csgraph
    # treats *explicit* zeros of a sparse matrix as edges of cost zero; the
    # assertion guards against a conversion dropping them.
    graph = csr_matrix((weight, (src, dst)), shape=(num_nodes, num_nodes))
    assert graph.nnz == src.size
    dist, pred = dijkstra(graph, directed=True, indices=source,
                          return_predecessors=True)
    if not np.isfinite(dist[target]):
        return None
    path = [target]
    while path[-1] != source:
        path.append(int(pred[path[-1]]))
    return np.asarray(path[::-1], dtype=np.int64)


def _unreachable(source: int, target: int) -> ValueError:
    return ValueError(f"'target' (node {target}) is unreachable from "
                      f"'source' (node {source})")


def shortest_path(
    edge_index: np.ndarray,
    edge_cost: np.ndarray,
    num_nodes: int,
    source: int,
    target: int,
    directed: bool = True,
) -> np.ndarray:
    r"""Returns the edge indicator :math:`y \in \{0, 1\}^E` of a shortest
    :obj:`source`-:obj:`target` path of one graph, :math:`\arg\min_y
    \langle c, y \rangle` over all :math:`s`-:math:`t` paths.

    With :obj:`directed=True`, edge :math:`(u, v)` can only be traversed
    from :math:`u` to :math:`v`; with :obj:`directed=False`, every listed
    edge can be traversed both ways. Of parallel edges (including
    :math:`(u, v)` and :math:`(v, u)` if :obj:`directed=False`) the path
    uses the cheapest, and of equally cheap ones the lowest edge index.
    Costs of zero are exact (no epsilon). Ties between paths are broken
    deterministically (by Dijkstra's visiting order). If
    :obj:`source == target`, the path is empty.

    Args:
        edge_index (numpy.ndarray): The edges :obj:`[2, E]`, local node
            indices.
        edge_cost (numpy.ndarray): The non-negative edge costs :obj:`[E]`.
        num_nodes (int): The number of nodes.
        source (int): The start node.
        target (int): The end node.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)

    Raises:
        ValueError: If :obj:`target` is unreachable, or on invalid input
            (negative, NaN or inf costs, out-of-range nodes).
    """
    edge_index, cost = _check_graph(edge_index, edge_cost, num_nodes, source,
                                    target, np.shape(edge_index)[-1],
                                    'edge_cost')
    y = _shortest_path_edges(edge_index, cost, num_nodes, source, target,
                             directed)
    if y is None:
        raise _unreachable(source, target)
    return y


def _shortest_path_edges(edge_index: np.ndarray, cost: np.ndarray,
                         num_nodes: int, source: int, target: int,
                         directed: bool) -> Optional[np.ndarray]:
    src, dst, eid, w = _arcs(edge_index, cost, directed)
    path = _dijkstra_path(src, dst, w, num_nodes, source, target)
    if path is None:
        return None
    y = np.zeros(edge_index.shape[1], dtype=np.float64)
    if path.size > 1:
        # (src, dst) are sorted and unique, so the arcs are found by keys.
        keys = src * num_nodes + dst
        pos = np.searchsorted(keys, path[:-1] * num_nodes + path[1:])
        y[eid[pos]] = 1.0
    return y


def vertex_shortest_path(
    edge_index: np.ndarray,
    node_cost: np.ndarray,
    num_nodes: int,
    source: int,
    target: int,
    directed: bool = True,
) -> np.ndarray:
    r"""Returns the node indicator :math:`y \in \{0, 1\}^N` of a shortest
    :obj:`source`-:obj:`target` path of one graph with costs on the nodes,
    :math:`\arg\min_y \langle c, y \rangle`: the cost of a path is the sum of
    the costs of the nodes it visits, :obj:`source` and :obj:`target`
    included (as in the Warcraft maps of Vlastelica et al., 2020).

    It runs Dijkstra's algorithm with arc :math:`(u, v)` weighted by
    :math:`c_v`; a path then costs :math:`c_s` plus its arc weights.
    Zero costs are exact; ties are broken deterministically.

    Args:
        edge_index (numpy.ndarray): The edges :obj:`[2, E]`, local node
            indices, *e.g.* from
            :func:`pyg_identity.utils.grid.grid_edge_index`.
        node_cost (numpy.ndarray): The non-negative node costs :obj:`[N]`.
        num_nodes (int): The number of nodes :math:`N`.
        source (int): The start node.
        target (int): The end node.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)

    Raises:
        ValueError: If :obj:`target` is unreachable, or on invalid input.
    """
    edge_index, cost = _check_graph(edge_index, node_cost, num_nodes, source,
                                    target, num_nodes, 'node_cost')
    y = _shortest_path_nodes(edge_index, cost, num_nodes, source, target,
                             directed)
    if y is None:
        raise _unreachable(source, target)
    return y


def _shortest_path_nodes(edge_index: np.ndarray, cost: np.ndarray,
                         num_nodes: int, source: int, target: int,
                         directed: bool) -> Optional[np.ndarray]:
    src, dst, _, _ = _arcs(edge_index, np.zeros(edge_index.shape[1]),
                           directed)
    path = _dijkstra_path(src, dst, cost[dst], num_nodes, source, target)
    if path is None:
        return None
    y = np.zeros(num_nodes, dtype=np.float64)
    y[path] = 1.0
    return y


def batched_shortest_paths(edge_index: np.ndarray, cost: np.ndarray,
                           num_nodes: int, source: np.ndarray,
                           target: np.ndarray, directed: bool = True,
                           on_nodes: bool = False) -> Tuple[
                               np.ndarray, np.ndarray]:
    r"""Solves the shortest-path problems of all graphs of a batch with ONE
    Dijkstra call: a virtual root joined to every graph's source by a
    zero-cost arc reaches each (disjoint) graph only through its source, so
    the root's shortest-path tree holds every graph's source-target path.

    Args:
        edge_index (numpy.ndarray): The edges :obj:`[2, E]` of the whole
            batch (global node indices; graphs are disjoint).
        cost (numpy.ndarray): Non-negative edge costs :obj:`[E]`, or node
            costs :obj:`[N]` if :obj:`on_nodes`.
        num_nodes (int): The number of nodes :math:`N` of the batch.
        source (numpy.ndarray): The global source node of every graph.
        target (numpy.ndarray): The global target node of every graph.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)
        on_nodes (bool, optional): Whether the costs are on the nodes.
            (default: :obj:`False`)

    Returns:
        The indicator (of the edges, or of the nodes if :obj:`on_nodes`)
        and a boolean vector marking the graphs whose target is unreachable.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    weights = np.zeros(edge_index.shape[1]) if on_nodes else cost
    src, dst, eid, w = _arcs(edge_index, weights, directed)
    if on_nodes:
        w = cost[dst]
    root = num_nodes
    src = np.concatenate([src, np.full(source.size, root)])
    dst = np.concatenate([dst, source])
    w = np.concatenate([w, np.zeros(source.size)])
    graph = csr_matrix((w, (src, dst)), shape=(num_nodes + 1, ) * 2)
    assert graph.nnz == src.size  # unique arcs, explicit zeros kept
    dist, pred = dijkstra(graph, directed=True, indices=root,
                          return_predecessors=True)
    unreachable = ~np.isfinite(dist[target])
    size = num_nodes if on_nodes else edge_index.shape[1]
    y = np.zeros(size, dtype=np.float64)
    heads: List[int] = []
    tails: List[int] = []
    for g in np.nonzero(~unreachable)[0]:
        s, v = int(source[g]), int(target[g])
        if on_nodes:
            y[v] = 1.0
        while v != s:
            u = int(pred[v])
            heads.append(u)
            tails.append(v)
            v = u
            if on_nodes:
                y[v] = 1.0
    if not on_nodes and heads:
        keys = src[:-source.size] * (num_nodes + 1) + dst[:-source.size]
        pos = np.searchsorted(keys, np.asarray(heads) * (num_nodes + 1) +
                              np.asarray(tails))
        y[eid[pos]] = 1.0
    return y, unreachable


__all__ = ['shortest_path', 'vertex_shortest_path', 'batched_shortest_paths']
