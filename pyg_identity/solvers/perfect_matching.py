r"""Exact minimum-cost perfect matching on general graphs with Edmonds'
blossom algorithm (:func:`networkx.max_weight_matching`)."""
from typing import List, Optional, Tuple

import numpy as np


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


def _perfect_matching(edge_index: np.ndarray, cost: np.ndarray,
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


def perfect_matching(
    edge_index: np.ndarray,
    edge_cost: np.ndarray,
    num_nodes: int,
) -> np.ndarray:
    r"""Returns the edge indicator :math:`y \in \{0, 1\}^E` of a
    minimum-cost perfect matching of one undirected graph,
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
        edge_cost (numpy.ndarray): The edge costs :obj:`[E]`.
        num_nodes (int): The number of nodes :math:`N`.

    Raises:
        ValueError: If :math:`N` is odd, the graph has no perfect matching,
            or on invalid input (NaN or inf costs, out-of-range nodes,
            duplicate edges, mixed listing).
    """
    edge_index = np.asarray(edge_index, dtype=np.int64)
    cost = np.asarray(edge_cost, dtype=np.float64)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.shape)})")
    if cost.shape != (edge_index.shape[1], ):
        raise ValueError(f"'edge_cost' must have shape "
                         f"[{edge_index.shape[1]}] (got {list(cost.shape)})")
    if not np.all(np.isfinite(cost)):
        raise ValueError("'edge_cost' must be finite (got NaN or inf)")
    if edge_index.size and (edge_index.min() < 0
                            or edge_index.max() >= num_nodes):
        raise ValueError(f"'edge_index' refers to nodes outside [0, "
                         f"{num_nodes})")
    if num_nodes % 2 == 1:
        raise _odd(num_nodes)
    y = _perfect_matching(edge_index, cost, num_nodes)
    if y is None:
        raise _no_matching()
    return y


def _odd(num_nodes: int) -> ValueError:
    return ValueError(f"A perfect matching needs an even number of nodes "
                      f"(got a graph with {num_nodes} nodes)")


def _no_matching() -> ValueError:
    return ValueError("The graph has no perfect matching")


__all__ = ['perfect_matching']
