r"""Helpers on the candidate pairs of batched graph pairs: all pairs, sparse
:math:`k`-NN candidates, the cost head on candidate pairs, all edge pairs of
graph matching, and views of a matching.

Pairs follow PyG's :class:`PairData` + :obj:`follow_batch` convention: the
source graphs of a batch have nodes :obj:`x_s` with batch vector
:obj:`batch_s`, the target graphs :obj:`x_t` with :obj:`batch_t`, and pair
:math:`b` joins source graph :math:`b` with target graph :math:`b`. Candidate
pairs are a bipartite :obj:`edge_index` of shape :obj:`[2, E]` holding
*global* source node indices in row 0 and global target node indices in row
1, each joining nodes of the same pair. Without it, all
:math:`\sum_b n_s^{(b)} n_t^{(b)}` pairs in the order of :func:`all_pairs` are
the candidates.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.solvers.linear_assignment import (
    _candidate_pair,
    _check_float,
    _check_index,
    _pair_ptr,
)
from pyg_identity.solvers.quadratic_assignment import (
    _all_edge_pairs,
    _all_node_pairs,
)

SIMILARITIES = ('dot', 'cosine')
PAIR_COST_MODES = ('dot', 'cosine', 'bilinear')


def _all_pairs_np(ptr_s: np.ndarray, ptr_t: np.ndarray) -> np.ndarray:
    n_s, n_t = np.diff(ptr_s), np.diff(ptr_t)
    sizes = n_s * n_t
    pair = np.repeat(np.arange(sizes.size), sizes)
    off = np.cumsum(sizes) - sizes
    k = np.arange(int(sizes.sum())) - off[pair]
    nt = n_t[pair]
    return np.stack([ptr_s[pair] + k // nt, ptr_t[pair] + k % nt])


def all_pairs(
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
) -> Tensor:
    r"""Returns all candidate pairs of a batch of graph pairs: for every pair
    :math:`b`, every source node :math:`i` with every target node :math:`j`,
    pairs in order, sources then targets in row-major order.

    Args:
        batch_s (torch.Tensor, optional): The source batch vector
            (sorted). :obj:`None` means a single pair. (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The target batch vector (sorted).
            (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes, required
            without :obj:`batch_s`. (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes, required
            without :obj:`batch_t`. (default: :obj:`None`)
        num_graphs (int, optional): The number of pairs.
            (default: :obj:`None`)

    Shapes:
        - **input:** :obj:`batch_s` :math:`(N_s)`, :obj:`batch_t`
          :math:`(N_t)`
        - **output:** :obj:`edge_index` :math:`(2, \sum_b n_s^{(b)}
          n_t^{(b)})` of global (source, target) node indices
    """
    ptr_s, ptr_t, _ = _pair_ptr(None, batch_s, batch_t, num_nodes_s,
                                num_nodes_t, num_graphs)
    device = batch_s.device if batch_s is not None else (
        batch_t.device if batch_t is not None else None)
    return torch.from_numpy(_all_pairs_np(ptr_s, ptr_t)).to(device)


@torch.no_grad()
def knn_candidates(
    x_s: Tensor,
    x_t: Tensor,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_graphs: Optional[int] = None,
    *,
    k: int,
    similarity: str = 'dot',
) -> Tensor:
    r"""Returns sparse candidate pairs: for every source node, the :obj:`k`
    target nodes of the same pair with the largest similarity (all of them if
    the target graph has fewer). A sparse candidate set may admit no matching
    that covers the smaller side of a pair; then use an :obj:`unmatch_cost`
    or a larger :obj:`k`.

    Similarities are computed on padded per-pair blocks, so memory grows
    with :math:`B \cdot \max n_s \cdot \max n_t`.

    Args:
        x_s (torch.Tensor): Source node embeddings.
        x_t (torch.Tensor): Target node embeddings.
        batch_s (torch.Tensor, optional): The source batch vector.
            (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The target batch vector.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of pairs.
            (default: :obj:`None`)
        k (int): The number of candidates per source node (keyword-only).
        similarity (str, optional): :obj:`"dot"` or :obj:`"cosine"`.
            (default: :obj:`"dot"`)

    Shapes:
        - **input:** :obj:`x_s` :math:`(N_s, F)`, :obj:`x_t` :math:`(N_t, F)`
        - **output:** :obj:`edge_index` :math:`(2, E)` with
          :math:`E \leq k N_s`, sorted by source node
    """
    from torch_geometric.utils import to_dense_batch

    _check_features(x_s, x_t)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"'k' must be a positive integer (got {k!r})")
    if similarity not in SIMILARITIES:
        raise ValueError(f"'similarity' must be 'dot' or 'cosine' (got "
                         f"{similarity!r})")
    ptr_s, ptr_t, num_graphs = _pair_ptr(None, batch_s, batch_t, x_s.size(0),
                                         x_t.size(0), num_graphs)
    if x_s.size(0) == 0 or x_t.size(0) == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=x_s.device)
    if similarity == 'cosine':
        x_s, x_t = _normalize(x_s), _normalize(x_t)
    bs = batch_s if batch_s is not None else x_s.new_zeros(
        x_s.size(0), dtype=torch.long)
    bt = batch_t if batch_t is not None else x_t.new_zeros(
        x_t.size(0), dtype=torch.long)
    xs, mask_s = to_dense_batch(x_s, bs, batch_size=num_graphs)
    xt, mask_t = to_dense_batch(x_t, bt, batch_size=num_graphs)
    sim = xs @ xt.transpose(1, 2)
    sim = sim.masked_fill(~mask_t.unsqueeze(1), float('-inf'))
    kk = min(k, xt.size(1))
    val, idx = sim.topk(kk, dim=-1)
    valid = mask_s.unsqueeze(-1) & (val > float('-inf'))
    b, i, _ = valid.nonzero(as_tuple=True)
    ps = torch.from_numpy(ptr_s).to(x_s.device)
    pt = torch.from_numpy(ptr_t).to(x_s.device)
    src = ps[b] + i
    dst = pt[b] + idx[valid]
    return torch.stack([src, dst])


def _check_features(x_s: Tensor, x_t: Tensor,
                    order: str = 'x_s, x_t, edge_index') -> None:
    for name, x in (('x_s', x_s), ('x_t', x_t)):
        _check_float(x, name, order)
        if x.dim() != 2:
            raise ValueError(f"'{name}' must have shape [num_nodes, "
                             f"channels] (got {list(x.size())})")


def _normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    # Clamp the squared norm before the square root (finite gradients at 0).
    sq = (x * x).sum(dim=-1, keepdim=True)
    return x * sq.clamp(min=eps).rsqrt()


def pair_cost(
    x_s: Tensor,
    x_t: Tensor,
    edge_index: Tensor,
    *,
    mode: str = 'dot',
    weight: OptTensor = None,
    eps: float = 1e-12,
) -> Tensor:
    r"""Returns the cost :math:`c_{ij} = -a(\mathbf{x}_i, \mathbf{x}_j)` of
    every candidate pair, the negative affinity

    .. math::
        a_{\text{dot}} = \mathbf{x}_i^{\top}\mathbf{x}_j, \quad
        a_{\text{cosine}} = \frac{\mathbf{x}_i^{\top}\mathbf{x}_j}
        {\|\mathbf{x}_i\|\|\mathbf{x}_j\|}, \quad
        a_{\text{bilinear}} = \mathbf{x}_i^{\top}\mathbf{A}\mathbf{x}_j.

    Args:
        x_s (torch.Tensor): Source node embeddings.
        x_t (torch.Tensor): Target node embeddings.
        edge_index (torch.Tensor): Candidate pairs (global source, global
            target node).
        mode (str, optional): :obj:`"dot"`, :obj:`"cosine"` or
            :obj:`"bilinear"`. (default: :obj:`"dot"`)
        weight (torch.Tensor, optional): :math:`\mathbf{A}` of shape
            :obj:`[F_s, F_t]`, required for :obj:`"bilinear"`.
            (default: :obj:`None`)
        eps (float, optional): Lower clamp of the squared norms for
            :obj:`"cosine"`. (default: :obj:`1e-12`)

    Shapes:
        - **input:** :obj:`x_s` :math:`(N_s, F_s)`, :obj:`x_t`
          :math:`(N_t, F_t)`, :obj:`edge_index` :math:`(2, E)`
        - **output:** costs :math:`(E)`
    """
    _check_features(x_s, x_t)
    if mode not in PAIR_COST_MODES:
        raise ValueError(f"'mode' must be 'dot', 'cosine' or 'bilinear' "
                         f"(got {mode!r})")
    _check_index(edge_index, 'edge_index', dim=2)
    if edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.size())})")
    if edge_index.numel() and (
            int(edge_index[0].min()) < 0 or int(edge_index[1].min()) < 0
            or int(edge_index[0].max()) >= x_s.size(0)
            or int(edge_index[1].max()) >= x_t.size(0)):
        raise ValueError(f"'edge_index' refers to nodes outside x_s "
                         f"({x_s.size(0)} nodes) or x_t ({x_t.size(0)} "
                         f"nodes)")
    if mode == 'bilinear':
        if weight is None or weight.dim() != 2 or tuple(weight.size()) != (
                x_s.size(1), x_t.size(1)):
            raise ValueError(f"'weight' must have shape [{x_s.size(1)}, "
                             f"{x_t.size(1)}] for mode='bilinear' (got "
                             f"{None if weight is None else list(weight.size())})")  # noqa: E501
        x_s = x_s @ weight
    elif x_s.size(1) != x_t.size(1):
        raise ValueError(f"'x_s' and 'x_t' must have the same number of "
                         f"channels for mode={mode!r} (got {x_s.size(1)} and "
                         f"{x_t.size(1)})")
    if mode == 'cosine':
        x_s, x_t = _normalize(x_s, eps), _normalize(x_t, eps)
    a = x_s.index_select(0, edge_index[0])
    b = x_t.index_select(0, edge_index[1])
    return -(a * b).sum(dim=-1)


def all_node_pairs(
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
) -> Tensor:
    r"""Returns all candidate pairs of every graph pair: for each pair
    :math:`g` (in order), each source node :math:`i` of :math:`g` (in order)
    and each target node :math:`a` of :math:`g` (in order), the column
    :math:`(i, a)` (global node indices). This is the default
    :obj:`edge_index` of :func:`graph_matching`; the unary costs of pair
    :math:`g` are then its :obj:`[n_s, n_t]` cost matrix flattened row-major.

    Args:
        batch_s (torch.Tensor, optional): The sorted batch vector of the
            source nodes. (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The sorted batch vector of the
            target nodes. (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes, required
            without :obj:`batch_s`. (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes, required
            without :obj:`batch_t`. (default: :obj:`None`)
        num_graphs (int, optional): The number of graph pairs.
            (default: :obj:`None`)

    Shapes:
        - **output:** :obj:`[2, sum_g n_s(g) * n_t(g)]`
    """
    return _all_node_pairs(batch_s, batch_t, num_nodes_s, num_nodes_t,
                           num_graphs)


def all_edge_pairs(
    edge_index_s: Tensor,
    edge_index_t: Tensor,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_graphs: Optional[int] = None,
) -> Tensor:
    r"""Returns all (source edge, target edge) combinations of every graph
    pair: for each pair :math:`g`, each source edge of :math:`g` (in column
    order of :obj:`edge_index_s`) and each target edge of :math:`g` (in
    column order of :obj:`edge_index_t`), the column :math:`(e_s, e_t)` of
    edge ids. This is the default :obj:`edge_pair_index` of
    :func:`graph_matching`.

    Args:
        edge_index_s (torch.Tensor): The source graph edges.
        edge_index_t (torch.Tensor): The target graph edges.
        batch_s (torch.Tensor, optional): The batch vector of the source
            nodes. (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The batch vector of the target
            nodes. (default: :obj:`None`)
        num_graphs (int, optional): The number of graph pairs.
            (default: :obj:`None`)

    Shapes:
        - **input:** :obj:`edge_index_s` :math:`(2, E_s)`,
          :obj:`edge_index_t` :math:`(2, E_t)`
        - **output:** :obj:`[2, sum_g E_s(g) * E_t(g)]`
    """
    return _all_edge_pairs(edge_index_s, edge_index_t, batch_s, batch_t,
                           num_graphs)


def _resolve(
    y: Tensor,
    edge_index: OptTensor,
    batch_s: OptTensor,
    batch_t: OptTensor,
    num_nodes_s: Optional[int],
    num_nodes_t: Optional[int],
    num_graphs: Optional[int],
) -> Tuple[Tensor, Tensor, np.ndarray, np.ndarray, int]:
    if not isinstance(y, Tensor) or y.dim() != 1:
        raise ValueError(f"'y' must be a one-dimensional tensor, one entry "
                         f"per candidate pair (got shape "
                         f"{list(getattr(y, 'shape', []))})")
    ptr_s, ptr_t, num_graphs = _pair_ptr(edge_index, batch_s, batch_t,
                                         num_nodes_s, num_nodes_t, num_graphs)
    if edge_index is None:
        edge_index = torch.from_numpy(_all_pairs_np(ptr_s, ptr_t)).to(
            y.device)
    if edge_index.size(1) != y.numel():
        raise ValueError(f"'y' must have one entry per candidate pair "
                         f"({edge_index.size(1)}) (got {y.numel()})")
    pair = _candidate_pair(edge_index, batch_s, ptr_s, ptr_t, y.device)
    return edge_index, pair, ptr_s, ptr_t, num_graphs


def matched_pairs(
    y: Tensor,
    edge_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
) -> Tensor:
    r"""Returns the matched (global source, global target) node index pairs
    of a matching indicator.

    Args:
        y (torch.Tensor): The 0/1 indicator on candidate pairs.
        edge_index (torch.Tensor, optional): The candidate pairs;
            :obj:`None` means :func:`all_pairs`. (default: :obj:`None`)
        batch_s (torch.Tensor, optional): The source batch vector.
            (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The target batch vector.
            (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes.
            (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes.
            (default: :obj:`None`)

    Shapes:
        - **input:** :obj:`y` :math:`(E)`, :obj:`edge_index` :math:`(2, E)`
        - **output:** :math:`(2, M)`
    """
    if edge_index is None:
        edge_index = _resolve(y, None, batch_s, batch_t, num_nodes_s,
                              num_nodes_t, None)[0]
    elif not isinstance(y, Tensor) or y.shape != (edge_index.size(1), ):
        raise ValueError(f"'y' must have shape [{edge_index.size(1)}] (got "
                         f"{list(getattr(y, 'shape', []))})")
    return edge_index[:, y.detach() > 0.5]


def to_dense_matching(
    y: Tensor,
    edge_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    *,
    fill_value: float = 0.0,
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Returns a padded dense view of values on candidate pairs (*e.g.* a
    matching indicator or costs), differentiable with respect to :obj:`y`.

    Args:
        y (torch.Tensor): Values on candidate pairs.
        edge_index (torch.Tensor, optional): The candidate pairs;
            :obj:`None` means :func:`all_pairs`. (default: :obj:`None`)
        batch_s (torch.Tensor, optional): The source batch vector.
            (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The target batch vector.
            (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes.
            (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of pairs.
            (default: :obj:`None`)
        fill_value (float, optional): The value of non-candidate and padding
            entries. (default: :obj:`0.0`)

    Shapes:
        - **input:** :obj:`y` :math:`(E)`
        - **output:** dense :math:`(B, \max n_s, \max n_t)`, source mask
          :math:`(B, \max n_s)`, target mask :math:`(B, \max n_t)`
    """
    edge_index, pair, ptr_s, ptr_t, num_graphs = _resolve(
        y, edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
        num_graphs)
    n_s = torch.from_numpy(np.diff(ptr_s)).to(y.device)
    n_t = torch.from_numpy(np.diff(ptr_t)).to(y.device)
    max_s = int(n_s.max()) if num_graphs else 0
    max_t = int(n_t.max()) if num_graphs else 0
    ps = torch.from_numpy(ptr_s).to(y.device)
    pt = torch.from_numpy(ptr_t).to(y.device)
    dense = y.new_full((num_graphs, max_s, max_t), fill_value)
    dense = dense.index_put((pair, edge_index[0] - ps[pair],
                             edge_index[1] - pt[pair]), y)
    mask_s = torch.arange(max_s, device=y.device) < n_s.unsqueeze(-1)
    mask_t = torch.arange(max_t, device=y.device) < n_t.unsqueeze(-1)
    return dense, mask_s, mask_t


__all__ = [
    'all_pairs',
    'knn_candidates',
    'pair_cost',
    'all_node_pairs',
    'all_edge_pairs',
    'matched_pairs',
    'to_dense_matching',
]
