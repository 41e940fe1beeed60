r"""Exact :math:`s`-:math:`t` shortest paths with costs on the edges or on the
nodes, for one graph or a batch of disjoint graphs: Dijkstra's algorithm
(:func:`scipy.sparse.csgraph.dijkstra`) if no cost is negative, else a
batched Bellman-Ford restricted to the nodes that lie on
:math:`s`-:math:`t` walks, which finds the exact :math:`\arg\min` whenever
no cycle of negative cost lies on such a walk and reports the graphs where
one does (the problem is then ill-posed).

:func:`solve_shortest_path` and :func:`solve_vertex_shortest_path` take a
PyG batch as torch tensors (costs, :obj:`edge_index`, batch vector, sizes)
and return the path indicators in the costs' layout; the differentiable
functionals of :mod:`pyg_identity.nn.functional` run the same per-batch
solver (built once per call by :func:`_shortest_path_solver`) inside the
gradient mechanism."""
import warnings
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.projection import edge_batch, validate_mode
from pyg_identity.solvers._checks import count_nodes, looks_like
from pyg_identity.solvers._dispatch import (
    GraphBlocks,
    check_num_workers,
    graph_blocks,
    map_graphs,
    to_numpy,
    with_stack,
)
from pyg_identity.solvers._edges import check_graph_arrays
from pyg_identity.utils._checks import check_tensor

NEGATIVE_COSTS = ('raise', 'clamp')

# The status of every graph of a batched solve.
OK, UNREACHABLE, NEGATIVE_CYCLE = 0, 1, 2

_CLAMP_WARNING = ("'cost' (the {what} costs) has negative entries, which "
                  "negative_costs="
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


def _clamp_negative_costs(cost: np.ndarray, what: str) -> np.ndarray:
    r"""Returns :obj:`cost` clamped at zero, with a :class:`UserWarning` if
    an entry was negative (the message is constant, so Python's default
    warning filter shows it once)."""
    if cost.size and cost.min() < 0:
        warnings.warn(_CLAMP_WARNING.format(what=what), UserWarning,
                      stacklevel=2)
        return np.clip(cost, 0.0, None)
    return cost


def _check_graph(cost: np.ndarray, edge_index: np.ndarray, num_nodes: int,
                 source: int, target: int,
                 on_nodes: bool) -> Tuple[np.ndarray, np.ndarray]:
    edge_index, cost = check_graph_arrays(cost, edge_index, num_nodes,
                                          on_nodes=on_nodes)
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
        what = (f"'cost' has a negative entry on {walk}; with "
                f"directed=False its edge can be traversed both ways, a "
                f"cycle of negative cost")
    else:
        what = f"A cycle of negative cost lies on {walk}"
    return ValueError(f"{what}, so the shortest path is ill-posed (no walk "
                      f"is shortest, and shortest simple paths are "
                      f"NP-hard); pass negative_costs='clamp' to clamp "
                      f"negative costs at zero instead")


def _solve_one(cost: np.ndarray, edge_index: np.ndarray, num_nodes: int,
               source: int, target: int, directed: bool, on_nodes: bool,
               negative_costs: str) -> np.ndarray:
    _check_negative_costs(negative_costs)
    edge_index, cost = _check_graph(cost, edge_index, num_nodes, source,
                                    target, on_nodes)
    if negative_costs == 'clamp':
        cost = _clamp_negative_costs(cost, 'node' if on_nodes else 'edge')
    y, status = _solve_batch(edge_index, cost, num_nodes, np.array([source]),
                             np.array([target]), directed, on_nodes)
    if status[0] == UNREACHABLE:
        raise _unreachable(source, target)
    if status[0] == NEGATIVE_CYCLE:
        raise _negative_cycle(source, target, not directed and not on_nodes)
    return y


def _shortest_path(
    cost: np.ndarray,
    edge_index: np.ndarray,
    num_nodes: int,
    *,
    source: int,
    target: int,
    directed: bool = True,
    negative_costs: str = 'raise',
) -> np.ndarray:
    r"""Returns the edge indicator :math:`y \in \{0, 1\}^E` of a shortest
    :obj:`source`-:obj:`target` path of one graph, :math:`\arg\min_y
    \langle c, y \rangle` over all :math:`s`-:math:`t` paths (the per-graph
    numpy kernel of :func:`solve_shortest_path`).

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
        cost (numpy.ndarray): The edge costs :obj:`[E]`.
        edge_index (numpy.ndarray): The edges :obj:`[2, E]`, local node
            indices.
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
    return _solve_one(cost, edge_index, num_nodes, source, target, directed,
                      False, negative_costs)


def _vertex_shortest_path(
    cost: np.ndarray,
    edge_index: np.ndarray,
    num_nodes: int,
    *,
    source: int,
    target: int,
    directed: bool = True,
    negative_costs: str = 'raise',
) -> np.ndarray:
    r"""Returns the node indicator :math:`y \in \{0, 1\}^N` of a shortest
    :obj:`source`-:obj:`target` path of one graph with costs on the nodes,
    :math:`\arg\min_y \langle c, y \rangle`: the cost of a path is the sum of
    the costs of the nodes it visits, :obj:`source` and :obj:`target`
    included (as in the Warcraft maps of Vlastelica et al., 2020; the
    per-graph numpy kernel of :func:`solve_vertex_shortest_path`).

    It weights arc :math:`(u, v)` by :math:`c_v`, so a path costs
    :math:`c_s` plus its arc weights, and solves that with Dijkstra's
    algorithm if no cost is negative, else exactly with Bellman-Ford unless
    a cycle of negative cost (*e.g.* two adjacent nodes :math:`u, v` with
    :math:`c_u + c_v < 0` joined both ways) lies on a
    :obj:`source`-:obj:`target` walk (see :func:`_shortest_path`).
    Zero costs are exact; ties are broken deterministically.

    Args:
        cost (numpy.ndarray): The node costs :obj:`[N]`.
        edge_index (numpy.ndarray): The edges :obj:`[2, E]`, local node
            indices, *e.g.* from
            :func:`pyg_identity.utils.grid.grid_edge_index`.
        num_nodes (int): The number of nodes :math:`N`.
        source (int): The start node.
        target (int): The end node.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)
        negative_costs (str, optional): :obj:`"raise"` or :obj:`"clamp"`
            (see :func:`_shortest_path`). (default: :obj:`"raise"`)

    Raises:
        ValueError: If :obj:`target` is unreachable, if a negative cycle
            lies on a :obj:`source`-:obj:`target` walk, or on invalid input.
    """
    return _solve_one(cost, edge_index, num_nodes, source, target, directed,
                      True, negative_costs)


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



# The batched torch tier ####################################################

Terminal = Union[int, Tensor]

_ORDER = ('cost, edge_index, batch, num_nodes, num_graphs; source= and '
          'target= are keyword-only')
_NOUNS = {
    'float': 'costs',
    'edge_index': 'an edge_index',
    'vector': "a batch vector (or 'source'/'target' node indices)",
}


def _looks_like(value: Any) -> str:
    # What a misplaced tensor looks like, for an error message.
    return looks_like(value, _NOUNS, _ORDER) or f'the order is {_ORDER}'


def _check_cost(cost: Tensor) -> None:
    check_tensor(cost, 'cost', 'float', _looks_like)
    if cost.dim() != 1:
        raise ValueError(f"'cost' must be one-dimensional (got shape "
                         f"{list(cost.size())})")


def _check_edge_index(edge_index: Tensor) -> None:
    check_tensor(edge_index, 'edge_index', 'integer', _looks_like)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        hint = f'; {_looks_like(edge_index)}' if edge_index.dim() == 1 else ''
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.size())}{hint})")


def _check_batch(batch: OptTensor) -> None:
    check_tensor(batch, 'batch', 'integer', _looks_like, none=True)
    if batch is None:
        return
    if batch.dim() != 1:
        hint = (f'; {_looks_like(batch)}' if batch.dim() == 2
                and batch.size(0) == 2 else '')
        raise ValueError(f"'batch' must be one-dimensional (got shape "
                         f"{list(batch.size())}{hint})")


def _check_size(value: Optional[int], name: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < 0:
        hint = (f'; {_looks_like(value)}' if isinstance(value, Tensor)
                else '')
        raise ValueError(f"'{name}' must be a non-negative integer (got "
                         f"{value!r}{hint})")
    return int(value)


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


def _num_nodes(cost: Tensor, edge_index: Tensor, batch: OptTensor,
               num_nodes: Optional[int], source: Terminal, target: Terminal,
               on_nodes: bool) -> int:
    # The number of nodes of the batch: the size of `batch`, else
    # `num_nodes`, else the node costs' size, else one more than the
    # largest node index of `edge_index` and the terminals.
    if on_nodes and num_nodes is not None and num_nodes != cost.numel():
        raise ValueError(f"'num_nodes' ({num_nodes}) does not match the "
                         f"number of node costs ({cost.numel()})")
    if on_nodes and batch is None and num_nodes is None:
        top = int(edge_index.max()) + 1 if edge_index.numel() else 0
        if top > cost.numel():
            raise ValueError(f"'cost' must have one entry per node (got "
                             f"{cost.numel()} entries, but 'edge_index' "
                             f"refers to node {top - 1})")
        return cost.numel()
    return count_nodes(batch, num_nodes, edge_index,
                       extra=(*_terminal_hint(source),
                              *_terminal_hint(target)))


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
                      on_nodes: bool) -> None:
    # 'mean' and 'std' shift the costs of a graph by a constant, which moves
    # the cost of a path by that constant times its number of arcs (nodes):
    # they keep the argmin only if all source-target walks have the same
    # number of arcs, which is checked on the graph structure.
    projection = validate_mode(projection, 'projection')
    if projection not in ('mean', 'std'):
        return
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


def _raise_for_status(status: np.ndarray, source: np.ndarray,
                      target: np.ndarray, two_way: bool,
                      num_graphs: Optional[int] = None) -> None:
    # The error of the first graph that has no (well-posed) shortest path
    # (of a stacked batch: named by its graph in one copy).
    bad = np.flatnonzero(status != OK)
    if bad.size == 0:
        return
    g = int(bad[0])
    s, t = int(source[g]), int(target[g])
    unreachable = status[g] == UNREACHABLE
    if num_graphs:
        g %= num_graphs
    if unreachable:
        raise _unreachable(s, t, g)
    raise _negative_cycle(s, t, two_way, g)


def _batch_solver(blocks: GraphBlocks, edge_index: np.ndarray,
                  source: np.ndarray, target: np.ndarray, directed: bool,
                  negative_costs: str, num_workers: int,
                  on_nodes: bool) -> Callable[[Tensor], Tensor]:
    # The solver of a validated batch: costs in, path indicators out; its
    # stack solves copies of the batch in one call.
    def stack(times: int) -> Callable[[Tensor], Tensor]:
        tiled = blocks.tile(times)
        return _paths(tiled, _global_edge_index(tiled),
                      np.tile(source, times), np.tile(target, times),
                      directed, negative_costs, num_workers, on_nodes,
                      blocks.num_graphs)

    return with_stack(_paths(blocks, edge_index, source, target, directed,
                             negative_costs, num_workers, on_nodes), stack)


def _paths(blocks: GraphBlocks, edge_index: np.ndarray, source: np.ndarray,
           target: np.ndarray, directed: bool, negative_costs: str,
           num_workers: int, on_nodes: bool,
           num_graphs: Optional[int] = None) -> Callable[[Tensor], Tensor]:
    fn = _shortest_path_nodes if on_nodes else _shortest_path_edges
    node_ptr = blocks.node_ptr[:-1]
    what = 'node' if on_nodes else 'edge'
    two_way = not directed and not on_nodes

    def solver(cost: Tensor) -> Tensor:
        # The exact argmin for costs of any sign (after projection, noise
        # or the Blackbox perturbation), or the clamped problem on opt-in.
        c = to_numpy(cost)
        if negative_costs == 'clamp':
            c = _clamp_negative_costs(c, what)
        if num_workers <= 1:  # one solver call for the whole batch
            y, status = _solve_batch(edge_index, c, int(blocks.node_ptr[-1]),
                                     node_ptr + source, node_ptr + target,
                                     directed, on_nodes)
            _raise_for_status(status, source, target, two_way, num_graphs)
        else:
            parts = [blocks.nodes(g) if on_nodes else blocks.edges(g)
                     for g in range(blocks.num_graphs)]
            tasks = [(blocks.edge_index(g), c[parts[g]], blocks.num_nodes(g),
                      int(source[g]), int(target[g]), directed)
                     for g in range(blocks.num_graphs)]
            sols = map_graphs(fn, tasks, num_workers)
            _raise_for_status(np.array([st for _, st in sols],
                                       dtype=np.int64), source, target,
                              two_way, num_graphs)
            y = np.zeros(c.size, dtype=np.float64)
            for g, (y_g, _) in enumerate(sols):
                y[parts[g]] = y_g
        return torch.from_numpy(y).to(device=cost.device, dtype=cost.dtype)

    return solver


def _shortest_path_solver(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor,
    num_nodes: Optional[int],
    num_graphs: Optional[int],
    *,
    source: Terminal,
    target: Terminal,
    directed: bool,
    negative_costs: str,
    num_workers: int,
    on_nodes: bool,
    projection: Optional[str] = None,
) -> Tuple[Callable[[Tensor], Tensor], OptTensor, int]:
    r"""Validates a batch of shortest-path problems and splits it into
    graphs, once per call. Returns the solver of the batch (costs of the
    shape of :obj:`cost` in, path indicators in their dtype and device
    out), the graph of every cost entry (:obj:`None` for one graph without
    :obj:`batch`) and the number of graphs. Raises if :obj:`projection` is
    :obj:`"mean"` or :obj:`"std"` and some graph has
    :obj:`source`-:obj:`target` walks of different lengths (the shift would
    change its shortest path)."""
    _check_negative_costs(negative_costs)
    _check_cost(cost)
    _check_edge_index(edge_index)
    _check_batch(batch)
    num_nodes = _check_size(num_nodes, 'num_nodes')
    num_graphs = _check_size(num_graphs, 'num_graphs')
    if not isinstance(directed, bool):
        raise ValueError(f"'directed' must be a bool (got {directed!r})")
    check_num_workers(num_workers)
    n = _num_nodes(cost, edge_index, batch, num_nodes, source, target,
                   on_nodes)
    expected = n if on_nodes else edge_index.size(1)
    if cost.numel() != expected:
        what = 'num_nodes' if on_nodes else 'num_edges'
        raise ValueError(f"'cost' must have {what} = {expected} entries "
                         f"(got {cost.numel()})")
    blocks = graph_blocks(batch, n, edge_index, num_graphs)
    s = _terminal(source, 'source', blocks)
    t = _terminal(target, 'target', blocks)
    ei = _global_edge_index(blocks)
    _check_projection(projection, blocks, ei, s, t, directed, on_nodes)
    solver = _batch_solver(blocks, ei, s, t, directed, negative_costs,
                           num_workers, on_nodes)
    index = batch if on_nodes or batch is None else edge_batch(batch,
                                                               edge_index)
    return solver, index, blocks.num_graphs


def _solve(solver: Callable[[Tensor], Tensor], cost: Tensor) -> Tensor:
    # The pure solver's call: finite costs, no autograd.
    c = cost.detach()
    if c.numel() and not bool(torch.isfinite(c).all()):
        raise ValueError("'cost' must be finite (got NaN or inf)")
    return solver(c)


def solve_shortest_path(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    source: Terminal,
    target: Terminal,
    directed: bool = True,
    negative_costs: str = 'raise',
    num_workers: int = 0,
) -> Tensor:
    r"""Returns the edge indicator :math:`y \in \{0, 1\}^{|\mathcal{E}|}`
    of a shortest :obj:`source`-:obj:`target` path in every graph of a
    batch, :math:`\arg\min_y \langle c, y \rangle` over the paths of each
    graph, as a tensor of the dtype, device and shape of :obj:`cost` with
    values :obj:`0` and :obj:`1` (no autograd; see
    :func:`pyg_identity.nn.functional.shortest_path` for the
    differentiable version).

    With :obj:`directed=True`, edge :math:`(u, v)` can only be traversed
    from :math:`u` to :math:`v`; with :obj:`directed=False`, every listed
    edge can be traversed both ways. Of parallel edges (including
    :math:`(u, v)` and :math:`(v, u)` if :obj:`directed=False`) the path
    uses the cheapest, and of equally cheap ones the lowest edge index.
    Costs of zero are exact (no epsilon). Ties between paths are broken
    deterministically. If :obj:`source == target`, the path is empty;
    self-loops are never on a path.

    If no cost is negative, ONE call of
    :func:`scipy.sparse.csgraph.dijkstra` solves all graphs (a virtual root
    joined to every graph's source by a zero-cost arc reaches each disjoint
    graph only through its source). Otherwise one batched Bellman-Ford
    solves them exactly, unless a cycle of negative cost lies on a
    :obj:`source`-:obj:`target` walk of a graph, *e.g.* an edge of negative
    cost with :obj:`directed=False`: the problem is then ill-posed and a
    :class:`ValueError` naming the graph is raised, unless
    :obj:`negative_costs="clamp"`.

    Args:
        cost (torch.Tensor): The edge costs :obj:`[num_edges]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`.
        batch (torch.Tensor, optional): The batch vector :obj:`[num_nodes]`
            (sorted, as PyG's); :obj:`None` means a single graph.
            (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes if :obj:`batch` is
            not given. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        source (int or torch.Tensor): The start node of every graph, as a
            *local* node index (:obj:`0` is the first node of each graph),
            one integer for all graphs or a tensor :obj:`[num_graphs]`.
        target (int or torch.Tensor): The end node, like :obj:`source`.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)
        negative_costs (str, optional): :obj:`"raise"` solves costs of any
            sign exactly and raises if a negative cycle makes the problem
            ill-posed; :obj:`"clamp"` clamps negative costs at zero (with a
            warning) and solves that problem instead.
            (default: :obj:`"raise"`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)

    Raises:
        ValueError: If :obj:`target` is unreachable in a graph, if a
            negative cycle lies on a :obj:`source`-:obj:`target` walk, or on
            invalid input (NaN or inf costs, out-of-range nodes, edges
            between graphs); the message names the graph.
    """
    solver, _, _ = _shortest_path_solver(
        cost, edge_index, batch, num_nodes, num_graphs, source=source,
        target=target, directed=directed, negative_costs=negative_costs,
        num_workers=num_workers, on_nodes=False)
    return _solve(solver, cost)


def solve_vertex_shortest_path(
    cost: Tensor,
    edge_index: Tensor,
    batch: OptTensor = None,
    num_nodes: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    source: Terminal,
    target: Terminal,
    directed: bool = True,
    negative_costs: str = 'raise',
    num_workers: int = 0,
) -> Tensor:
    r"""Returns the node indicator :math:`y \in \{0, 1\}^{|\mathcal{V}|}`
    of a shortest :obj:`source`-:obj:`target` path with costs on the nodes
    in every graph of a batch: the cost of a path is the sum of the costs
    of the nodes it visits, :obj:`source` and :obj:`target` included (as in
    the Warcraft maps of Vlastelica et al., 2020). The result has the
    dtype, device and shape of :obj:`cost`, with values :obj:`0` and
    :obj:`1` (no autograd; see
    :func:`pyg_identity.nn.functional.vertex_shortest_path` for the
    differentiable version).

    It weights arc :math:`(u, v)` by :math:`c_v`, so a path costs
    :math:`c_s` plus its arc weights, and solves that as
    :func:`solve_shortest_path` does: exactly for costs of any sign unless
    a cycle of negative cost (*e.g.* two adjacent nodes :math:`u, v` with
    :math:`c_u + c_v < 0` joined both ways) lies on a
    :obj:`source`-:obj:`target` walk. Zero costs are exact; ties are broken
    deterministically.

    Args:
        cost (torch.Tensor): The node costs :obj:`[num_nodes]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`, *e.g.*
            from :func:`pyg_identity.utils.grid.grid_edge_index`.
        batch (torch.Tensor, optional): The batch vector :obj:`[num_nodes]`
            (sorted, as PyG's); :obj:`None` means a single graph.
            (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes; if given, it must
            equal :obj:`cost.numel()`. (default: :obj:`None`)
        num_graphs (int, optional): The number of graphs.
            (default: :obj:`None`)
        source (int or torch.Tensor): The start node of every graph, as a
            *local* node index, one integer for all graphs or a tensor
            :obj:`[num_graphs]`.
        target (int or torch.Tensor): The end node, like :obj:`source`.
        directed (bool, optional): Whether edges are one-way.
            (default: :obj:`True`)
        negative_costs (str, optional): :obj:`"raise"` or :obj:`"clamp"`
            (see :func:`solve_shortest_path`). (default: :obj:`"raise"`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)

    Raises:
        ValueError: If :obj:`target` is unreachable in a graph, if a
            negative cycle lies on a :obj:`source`-:obj:`target` walk, or on
            invalid input; the message names the graph.
    """
    solver, _, _ = _shortest_path_solver(
        cost, edge_index, batch, num_nodes, num_graphs, source=source,
        target=target, directed=directed, negative_costs=negative_costs,
        num_workers=num_workers, on_nodes=True)
    return _solve(solver, cost)


__all__ = ['solve_shortest_path', 'solve_vertex_shortest_path']
