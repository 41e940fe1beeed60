r"""Exact :math:`s`-:math:`t` shortest paths with costs on the edges or on the
nodes, for one graph or a batch of disjoint graphs: Dijkstra's algorithm
(:func:`scipy.sparse.csgraph.dijkstra`) if no cost is negative, else a
batched Bellman-Ford restricted to the nodes that lie on
:math:`s`-:math:`t` walks, which finds the exact :math:`\arg\min` whenever
no cycle of negative cost lies on such a walk and reports the graphs where
one does (the problem is then ill-posed)."""
import warnings
from typing import List, Optional, Tuple

import numpy as np

NEGATIVE_COSTS = ('raise', 'clamp')

# The status of every graph of a batched solve.
OK, UNREACHABLE, NEGATIVE_CYCLE = 0, 1, 2

_CLAMP_WARNING = ("'{name}' has negative entries, which negative_costs="
                  "'clamp' clamps at zero: the path returned is shortest for "
                  "the clamped costs, not for the given ones (the default "
                  "negative_costs='raise' solves the given costs exactly)")


def _check_negative_costs(negative_costs: str) -> str:
    r"""Returns :obj:`negative_costs` if it is :obj:`"raise"` or
    :obj:`"clamp"`, else raises a :class:`ValueError`."""
    if not isinstance(negative_costs, str) or \
            negative_costs not in NEGATIVE_COSTS:
        raise ValueError(f"'negative_costs' must be 'raise' or 'clamp' (got "
                         f"{negative_costs!r})")
    return negative_costs


def _clamp_negative_costs(cost: np.ndarray, name: str) -> np.ndarray:
    r"""Returns :obj:`cost` clamped at zero, with a :class:`UserWarning` if
    an entry was negative (the message is constant, so Python's default
    warning filter shows it once)."""
    if cost.size and cost.min() < 0:
        warnings.warn(_CLAMP_WARNING.format(name=name), UserWarning,
                      stacklevel=2)
        return np.clip(cost, 0.0, None)
    return cost


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
    # undirected edge gives two arcs. Self-loops are never on a path and
    # are dropped, whatever their cost.
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


def _reach(src: np.ndarray, dst: np.ndarray, num_nodes: int,
           starts: np.ndarray) -> np.ndarray:
    # The nodes reachable from any of `starts` along the arcs (src, dst).
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    mask = np.zeros(num_nodes + 1, dtype=bool)
    if starts.size == 0:
        return mask[:num_nodes]
    root = num_nodes  # a virtual root joined to every start
    s = np.concatenate([src, np.full(starts.size, root)])
    d = np.concatenate([dst, starts])
    graph = csr_matrix((np.ones(s.size), (s, d)), shape=(num_nodes + 1, ) * 2)
    mask[breadth_first_order(graph, root, directed=True,
                             return_predecessors=False)] = True
    return mask[:num_nodes]


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    # concatenate([arange(a, a + c) for a, c in zip(starts, counts)])
    ends = np.cumsum(counts)
    total = int(ends[-1]) if ends.size else 0
    return (np.arange(total, dtype=np.int64) +
            np.repeat(starts - (ends - counts), counts))


def _dijkstra_tree(src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                   num_nodes: int, source: np.ndarray,
                   target: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    # The shortest-path predecessors for non-negative arc weights, with ONE
    # Dijkstra call: a virtual root joined to every graph's source by a
    # zero-cost arc reaches each (disjoint) graph only through its source.
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    if source.size == 1:  # one graph: no root needed
        start, size = int(source[0]), num_nodes
    else:
        start, size = num_nodes, num_nodes + 1
        src = np.concatenate([src, np.full(source.size, start)])
        dst = np.concatenate([dst, source])
        w = np.concatenate([w, np.zeros(source.size)])
    # The arcs are unique, so no duplicates get summed. scipy.sparse.csgraph
    # treats *explicit* zeros of a sparse matrix as edges of cost zero; the
    # assertion guards against a conversion dropping them.
    graph = csr_matrix((w, (src, dst)), shape=(size, size))
    assert graph.nnz == src.size
    dist, pred = dijkstra(graph, directed=True, indices=start,
                          return_predecessors=True)
    status = np.where(np.isfinite(dist[target]), OK, UNREACHABLE)
    return pred[:num_nodes], status


def _bellman_ford_tree(src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                       num_nodes: int, source: np.ndarray, target: np.ndarray,
                       two_way: bool) -> Tuple[np.ndarray, np.ndarray]:
    # The shortest-path predecessors for arc weights of any sign, for all
    # graphs at once: Bellman-Ford by rounds (Jacobi), relaxing only the arcs
    # out of the nodes improved in the previous round. Round r finds the
    # cheapest walks of at most r arcs, so an improvement in round r >= n
    # (n: the nodes on source-target walks of that graph) proves a cycle of
    # negative cost on such a walk. Nodes on no source-target walk are
    # dropped first: a negative cycle there does not matter.
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    status = np.zeros(source.size, dtype=np.int64)
    pred = np.full(num_nodes, -9999, dtype=np.int64)
    act = np.flatnonzero(source != target)  # s == t: the empty path
    fwd = _reach(src, dst, num_nodes, source[act])
    reached = fwd[target[act]]
    status[act[~reached]] = UNREACHABLE
    act = act[reached]
    if act.size == 0:
        return pred, status
    on_walk = fwd & _reach(dst, src, num_nodes, target[act])
    keep = on_walk[src] & on_walk[dst]
    src, dst, w = src[keep], dst[keep], w[keep]  # still sorted by src

    # The nodes on walks of one graph are weakly connected (all reachable
    # from its source) and disjoint from those of the other graphs.
    graph = csr_matrix((np.ones(src.size), (src, dst)),
                       shape=(num_nodes, num_nodes))
    num_comp, comp = connected_components(graph, directed=True,
                                          connection='weak')
    comp_graph = np.full(num_comp, -1, dtype=np.int64)
    comp_graph[comp[source[act]]] = act
    limit = np.bincount(comp, minlength=num_comp)[comp]
    if two_way and np.any(w < 0):
        # An undirected edge of negative cost is a negative 2-cycle.
        bad = np.unique(comp_graph[comp[src[w < 0]]])
        status[bad] = NEGATIVE_CYCLE
        act = act[status[act] == OK]

    indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=num_nodes), out=indptr[1:])
    dist = np.full(num_nodes, np.inf)
    frontier = np.sort(source[act])
    dist[frontier] = 0.0
    r = 0
    while frontier.size:
        r += 1
        lo = indptr[frontier]
        arc = _ranges(lo, indptr[frontier + 1] - lo)
        cand = dist[src[arc]] + w[arc]
        better = cand < dist[dst[arc]]
        arc, cand = arc[better], cand[better]
        if arc.size == 0:
            break
        head = dst[arc]
        # Per improved node the cheapest candidate (ties: the lowest arc).
        order = np.lexsort((arc, cand, head))
        sh = head[order]
        first = np.ones(sh.size, dtype=bool)
        first[1:] = sh[1:] != sh[:-1]
        pick = order[first]
        v = head[pick]  # sorted, unique
        dist[v] = cand[pick]
        pred[v] = src[arc[pick]]
        cyc = r >= limit[v]
        if cyc.any():
            bad_comp = np.unique(comp[v[cyc]])
            status[comp_graph[bad_comp]] = NEGATIVE_CYCLE
            v = v[~np.isin(comp[v], bad_comp)]
        frontier = v
    return pred, status


def _solve_batch(edge_index: np.ndarray, cost: np.ndarray, num_nodes: int,
                 source: np.ndarray, target: np.ndarray, directed: bool,
                 on_nodes: bool) -> Tuple[np.ndarray, np.ndarray]:
    # The path indicator of every graph (edges, or nodes if `on_nodes`) and
    # the status of every graph (OK, UNREACHABLE or NEGATIVE_CYCLE).
    weights = np.zeros(edge_index.shape[1]) if on_nodes else cost
    src, dst, eid, w = _arcs(edge_index, weights, directed)
    if on_nodes:
        w = cost[dst]  # a path costs c_s plus the costs of its arcs' heads
    if w.size == 0 or w.min() >= 0:
        pred, status = _dijkstra_tree(src, dst, w, num_nodes, source, target)
    else:
        pred, status = _bellman_ford_tree(src, dst, w, num_nodes, source,
                                          target, not directed
                                          and not on_nodes)
    size = num_nodes if on_nodes else edge_index.shape[1]
    y = np.zeros(size, dtype=np.float64)
    heads: List[int] = []
    tails: List[int] = []
    for g in np.flatnonzero(status == OK):
        s, v = int(source[g]), int(target[g])
        if on_nodes:
            y[v] = 1.0
        for _ in range(num_nodes):  # a path visits each node at most once
            if v == s:
                break
            u = int(pred[v])
            heads.append(u)
            tails.append(v)
            v = u
            if on_nodes:
                y[v] = 1.0
        else:  # a cycle of predecessors: negative up to rounding
            status[g] = NEGATIVE_CYCLE
    if not on_nodes and heads:
        # (src, dst) are sorted and unique, so the arcs are found by keys.
        keys = src * num_nodes + dst
        pos = np.searchsorted(keys, np.asarray(heads) * num_nodes +
                              np.asarray(tails))
        y[eid[pos]] = 1.0
    return y, status


def _unreachable(source: int, target: int,
                 graph: Optional[int] = None) -> ValueError:
    where = '' if graph is None else f' in graph {graph}'
    return ValueError(f"'target' (node {target}) is unreachable from "
                      f"'source' (node {source}){where}")


def _negative_cycle(source: int, target: int, two_way: bool,
                    graph: Optional[int] = None) -> ValueError:
    where = '' if graph is None else f' in graph {graph}'
    walk = (f"a walk from 'source' (node {source}) to 'target' (node "
            f"{target}){where}")
    if two_way:
        what = (f"'edge_cost' has a negative entry on {walk}; with "
                f"directed=False its edge can be traversed both ways, a "
                f"cycle of negative cost")
    else:
        what = f"A cycle of negative cost lies on {walk}"
    return ValueError(f"{what}, so the shortest path is ill-posed (no walk "
                      f"is shortest, and shortest simple paths are "
                      f"NP-hard); pass negative_costs='clamp' to clamp "
                      f"negative costs at zero instead")


def _solve_one(edge_index: np.ndarray, cost: np.ndarray, num_nodes: int,
               source: int, target: int, directed: bool, on_nodes: bool,
               negative_costs: str, cost_name: str) -> np.ndarray:
    _check_negative_costs(negative_costs)
    if negative_costs == 'clamp':
        cost = _clamp_negative_costs(cost, cost_name)
    y, status = _solve_batch(edge_index, cost, num_nodes, np.array([source]),
                             np.array([target]), directed, on_nodes)
    if status[0] == UNREACHABLE:
        raise _unreachable(source, target)
    if status[0] == NEGATIVE_CYCLE:
        raise _negative_cycle(source, target, not directed and not on_nodes)
    return y


def shortest_path(
    edge_index: np.ndarray,
    edge_cost: np.ndarray,
    num_nodes: int,
    source: int,
    target: int,
    directed: bool = True,
    negative_costs: str = 'raise',
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
    deterministically. If :obj:`source == target`, the path is empty;
    self-loops are never on a path.

    Non-negative costs are solved with Dijkstra's algorithm. Negative costs
    are solved exactly (by Bellman-Ford) unless a cycle of negative cost
    lies on a :obj:`source`-:obj:`target` walk, *e.g.* an edge of negative
    cost with :obj:`directed=False`: then the problem is ill-posed and a
    :class:`ValueError` is raised, unless :obj:`negative_costs="clamp"`.

    Args:
        edge_index (numpy.ndarray): The edges :obj:`[2, E]`, local node
            indices.
        edge_cost (numpy.ndarray): The edge costs :obj:`[E]`.
        num_nodes (int): The number of nodes.
        source (int): The start node.
        target (int): The end node.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)
        negative_costs (str, optional): :obj:`"raise"` solves negative costs
            exactly and raises if a negative cycle makes the problem
            ill-posed; :obj:`"clamp"` clamps negative costs at zero (with a
            warning) and solves that problem instead.
            (default: :obj:`"raise"`)

    Raises:
        ValueError: If :obj:`target` is unreachable, if a negative cycle
            lies on a :obj:`source`-:obj:`target` walk, or on invalid input
            (NaN or inf costs, out-of-range nodes).
    """
    edge_index, cost = _check_graph(edge_index, edge_cost, num_nodes, source,
                                    target, np.shape(edge_index)[-1],
                                    'edge_cost')
    return _solve_one(edge_index, cost, num_nodes, source, target, directed,
                      False, negative_costs, 'edge_cost')


def vertex_shortest_path(
    edge_index: np.ndarray,
    node_cost: np.ndarray,
    num_nodes: int,
    source: int,
    target: int,
    directed: bool = True,
    negative_costs: str = 'raise',
) -> np.ndarray:
    r"""Returns the node indicator :math:`y \in \{0, 1\}^N` of a shortest
    :obj:`source`-:obj:`target` path of one graph with costs on the nodes,
    :math:`\arg\min_y \langle c, y \rangle`: the cost of a path is the sum of
    the costs of the nodes it visits, :obj:`source` and :obj:`target`
    included (as in the Warcraft maps of Vlastelica et al., 2020).

    It weights arc :math:`(u, v)` by :math:`c_v`, so a path costs
    :math:`c_s` plus its arc weights, and solves that with Dijkstra's
    algorithm if no cost is negative, else exactly with Bellman-Ford unless
    a cycle of negative cost (*e.g.* two adjacent nodes :math:`u, v` with
    :math:`c_u + c_v < 0` joined both ways) lies on a
    :obj:`source`-:obj:`target` walk (see :func:`shortest_path`).
    Zero costs are exact; ties are broken deterministically.

    Args:
        edge_index (numpy.ndarray): The edges :obj:`[2, E]`, local node
            indices, *e.g.* from
            :func:`pyg_identity.utils.grid.grid_edge_index`.
        node_cost (numpy.ndarray): The node costs :obj:`[N]`.
        num_nodes (int): The number of nodes :math:`N`.
        source (int): The start node.
        target (int): The end node.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)
        negative_costs (str, optional): :obj:`"raise"` or :obj:`"clamp"`
            (see :func:`shortest_path`). (default: :obj:`"raise"`)

    Raises:
        ValueError: If :obj:`target` is unreachable, if a negative cycle
            lies on a :obj:`source`-:obj:`target` walk, or on invalid input.
    """
    edge_index, cost = _check_graph(edge_index, node_cost, num_nodes, source,
                                    target, num_nodes, 'node_cost')
    return _solve_one(edge_index, cost, num_nodes, source, target, directed,
                      True, negative_costs, 'node_cost')


def _shortest_path_edges(edge_index: np.ndarray, cost: np.ndarray,
                         num_nodes: int, source: int, target: int,
                         directed: bool) -> Tuple[np.ndarray, int]:
    # One graph for a worker pool: the edge indicator and the status.
    y, status = _solve_batch(edge_index, cost, num_nodes, np.array([source]),
                             np.array([target]), directed, False)
    return y, int(status[0])


def _shortest_path_nodes(edge_index: np.ndarray, cost: np.ndarray,
                         num_nodes: int, source: int, target: int,
                         directed: bool) -> Tuple[np.ndarray, int]:
    # One graph for a worker pool: the node indicator and the status.
    y, status = _solve_batch(edge_index, cost, num_nodes, np.array([source]),
                             np.array([target]), directed, True)
    return y, int(status[0])


def batched_shortest_paths(edge_index: np.ndarray, cost: np.ndarray,
                           num_nodes: int, source: np.ndarray,
                           target: np.ndarray, directed: bool = True,
                           on_nodes: bool = False,
                           negative_costs: str = 'raise') -> Tuple[
                               np.ndarray, np.ndarray]:
    r"""Solves the shortest-path problems of all graphs of a batch at once:
    with ONE Dijkstra call if no cost is negative (a virtual root joined to
    every graph's source by a zero-cost arc reaches each disjoint graph only
    through its source), else with one batched Bellman-Ford (see
    :func:`shortest_path`).

    Args:
        edge_index (numpy.ndarray): The edges :obj:`[2, E]` of the whole
            batch (global node indices; graphs are disjoint).
        cost (numpy.ndarray): Edge costs :obj:`[E]`, or node costs
            :obj:`[N]` if :obj:`on_nodes`.
        num_nodes (int): The number of nodes :math:`N` of the batch.
        source (numpy.ndarray): The global source node of every graph.
        target (numpy.ndarray): The global target node of every graph.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)
        on_nodes (bool, optional): Whether the costs are on the nodes.
            (default: :obj:`False`)
        negative_costs (str, optional): :obj:`"raise"` or :obj:`"clamp"`
            (see :func:`shortest_path`). (default: :obj:`"raise"`)

    Returns:
        The indicator (of the edges, or of the nodes if :obj:`on_nodes`)
        and a boolean vector marking the graphs whose target is unreachable.

    Raises:
        ValueError: If a negative cycle lies on a source-target walk of a
            graph (the message names the first such graph's index).
    """
    _check_negative_costs(negative_costs)
    cost = np.asarray(cost, dtype=np.float64)
    if negative_costs == 'clamp':
        cost = _clamp_negative_costs(cost, 'cost')
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    y, status = _solve_batch(np.asarray(edge_index, dtype=np.int64), cost,
                             num_nodes, source, target, directed, on_nodes)
    bad = np.flatnonzero(status == NEGATIVE_CYCLE)
    if bad.size:
        g = int(bad[0])
        raise _negative_cycle(int(source[g]), int(target[g]),
                              not directed and not on_nodes, g)
    return y, status == UNREACHABLE


def _uneven_path_nodes(edge_index: np.ndarray, num_nodes: int,
                      source: np.ndarray, target: np.ndarray,
                      directed: bool = True) -> np.ndarray:
    r"""Returns the nodes :math:`u` of every arc :math:`(u, v)` on a
    :obj:`source`-:obj:`target` walk of its graph with :math:`d(v) \neq
    d(u) + 1`, where :math:`d` is the number of arcs from the source; there
    is none iff every :obj:`source`-:obj:`target` walk of a graph has the
    same number of arcs (*e.g.* a grid with right and down edges), which is
    when a shift of all costs of the graph by a constant (the projections
    :obj:`"mean"` and :obj:`"std"`) keeps its shortest paths.

    A cycle on a walk, *e.g.* any edge of a walk with
    :obj:`directed=False`, gives such an arc. Graphs with
    :obj:`source == target` (one path, the empty one) never do.

    Args:
        edge_index (numpy.ndarray): The edges :obj:`[2, E]` of the batch.
        num_nodes (int): The number of nodes :math:`N` of the batch.
        source (numpy.ndarray): The global source node of every graph.
        target (numpy.ndarray): The global target node of every graph.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    edge_index = np.asarray(edge_index, dtype=np.int64)
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    src, dst, _, _ = _arcs(edge_index, np.zeros(edge_index.shape[1]),
                           directed)
    act = source != target
    s, t = source[act], target[act]
    on_walk = _reach(src, dst, num_nodes, s) & _reach(dst, src, num_nodes, t)
    keep = on_walk[src] & on_walk[dst]
    src, dst = src[keep], dst[keep]
    if src.size == 0:
        return src
    root = num_nodes
    graph = csr_matrix((np.ones(src.size + s.size),
                        (np.concatenate([src, np.full(s.size, root)]),
                         np.concatenate([dst, s]))),
                       shape=(num_nodes + 1, ) * 2)
    hops = dijkstra(graph, directed=True, indices=root, unweighted=True)
    return np.unique(src[hops[dst] != hops[src] + 1])


__all__ = ['shortest_path', 'vertex_shortest_path', 'batched_shortest_paths']
