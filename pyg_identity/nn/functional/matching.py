r"""Differentiable linear assignment on ragged batches of graph pairs, cost
heads on candidate pairs, and the matching losses and metrics of BB-GM.

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
from torch_geometric.utils import scatter

from pyg_identity.nn.functional.identity_solver import (
    SolverDiagnostics,
    identity_solver,
)
from pyg_identity.solvers._dispatch import (
    check_num_workers,
    check_timeout,
    graph_blocks,
)
from pyg_identity.solvers.linear_assignment import (
    METHODS,
    _check_unmatch_cost,
    assignment_plan,
    solve_assignment,
)

SIMILARITIES = ('dot', 'cosine')
PAIR_COST_MODES = ('dot', 'cosine', 'bilinear')
REDUCTIONS = ('mean', 'sum', 'none')


# Batch handling #############################################################

def _check_index(src: OptTensor, name: str, dim: int = 1) -> None:
    if src is None:
        return
    if not isinstance(src, Tensor) or src.is_floating_point() or \
            src.is_complex() or src.dtype == torch.bool:
        raise ValueError(f"'{name}' must be an integer tensor (got "
                         f"{getattr(src, 'dtype', type(src))})")
    if src.dim() != dim:
        raise ValueError(f"'{name}' must be {dim}-dimensional (got shape "
                         f"{list(src.size())})")


def _num_nodes(batch: OptTensor, num_nodes: Optional[int], row: int,
               edge_index: OptTensor, side: str) -> int:
    if batch is not None:
        if num_nodes is not None and num_nodes != batch.numel():
            raise ValueError(f"'batch_{side}' must have one entry per "
                             f"{side} node ({num_nodes}), got "
                             f"{batch.numel()} entries")
        return batch.numel()
    if num_nodes is not None:
        if not isinstance(num_nodes, int) or num_nodes < 0:
            raise ValueError(f"'num_nodes_{side}' must be a non-negative "
                             f"integer (got {num_nodes!r})")
        return num_nodes
    if edge_index is not None:  # PyG's `maybe_num_nodes`.
        return int(edge_index[row].max()) + 1 if edge_index.numel() else 0
    raise ValueError(f"'batch_{side}' or 'num_nodes_{side}' is required "
                     f"(got neither)")


def _pair_ptr(
    batch_s: OptTensor,
    batch_t: OptTensor,
    num_nodes_s: Optional[int],
    num_nodes_t: Optional[int],
    num_graphs: Optional[int],
    edge_index: OptTensor = None,
) -> Tuple[np.ndarray, np.ndarray, int]:
    r"""Host-side source and target node boundaries of every pair."""
    _check_index(batch_s, 'batch_s')
    _check_index(batch_t, 'batch_t')
    _check_index(edge_index, 'edge_index', dim=2)
    if edge_index is not None and edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{list(edge_index.size())})")
    n_s = _num_nodes(batch_s, num_nodes_s, 0, edge_index, 's')
    n_t = _num_nodes(batch_t, num_nodes_t, 1, edge_index, 't')
    if num_graphs is None:
        b_s = int(batch_s[-1]) + 1 if batch_s is not None and n_s else 1
        b_t = int(batch_t[-1]) + 1 if batch_t is not None and n_t else 1
        if b_s != b_t:
            raise ValueError(f"'batch_s' and 'batch_t' describe different "
                             f"numbers of pairs ({b_s} and {b_t}); pass "
                             f"'num_graphs' if trailing graphs are empty")
        num_graphs = b_s
    elif not isinstance(num_graphs, int) or num_graphs < 0:
        raise ValueError(f"'num_graphs' must be a non-negative integer (got "
                         f"{num_graphs!r})")
    if batch_s is None and num_graphs != 1:
        raise ValueError(f"'batch_s' is required for {num_graphs} pairs")
    if batch_t is None and num_graphs != 1:
        raise ValueError(f"'batch_t' is required for {num_graphs} pairs")
    ptr_s = graph_blocks(batch_s, n_s, num_graphs=num_graphs).node_ptr
    ptr_t = graph_blocks(batch_t, n_t, num_graphs=num_graphs).node_ptr
    return ptr_s, ptr_t, num_graphs


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
    ptr_s, ptr_t, _ = _pair_ptr(batch_s, batch_t, num_nodes_s, num_nodes_t,
                                num_graphs)
    device = batch_s.device if batch_s is not None else (
        batch_t.device if batch_t is not None else None)
    return torch.from_numpy(_all_pairs_np(ptr_s, ptr_t)).to(device)


@torch.no_grad()
def knn_candidates(
    x_s: Tensor,
    x_t: Tensor,
    k: int,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    similarity: str = 'dot',
    num_graphs: Optional[int] = None,
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
        k (int): The number of candidates per source node.
        batch_s (torch.Tensor, optional): The source batch vector.
            (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The target batch vector.
            (default: :obj:`None`)
        similarity (str, optional): :obj:`"dot"` or :obj:`"cosine"`.
            (default: :obj:`"dot"`)
        num_graphs (int, optional): The number of pairs.
            (default: :obj:`None`)

    Shapes:
        - **input:** :obj:`x_s` :math:`(N_s, F)`, :obj:`x_t` :math:`(N_t, F)`
        - **output:** :obj:`edge_index` :math:`(2, E)` with
          :math:`E \leq k N_s`, sorted by source node
    """
    from torch_geometric.utils import to_dense_batch

    _check_features(x_s, x_t)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"'k' must be a positive integer (got {k!r})")
    if similarity not in SIMILARITIES:
        raise ValueError(f"'similarity' must be 'dot' or 'cosine' (got "
                         f"{similarity!r})")
    ptr_s, ptr_t, num_graphs = _pair_ptr(batch_s, batch_t, x_s.size(0),
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


# Costs ######################################################################

def _check_features(x_s: Tensor, x_t: Tensor) -> None:
    for name, x in (('x_s', x_s), ('x_t', x_t)):
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise ValueError(f"'{name}' must be a floating point tensor (got "
                             f"{getattr(x, 'dtype', type(x))})")
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


# The solver #################################################################

def _check_projection_for_partial(projection: Optional[str],
                                  unmatch_cost: Optional[float]) -> None:
    # A shift of all costs by the per-pair mean changes which partial
    # matching is cheapest (their sizes differ); only scaling keeps it.
    if unmatch_cost is not None and projection in ('mean', 'std'):
        raise ValueError(f"'projection' {projection!r} changes the solution "
                         f"of a partial matching ('unmatch_cost' = "
                         f"{unmatch_cost}: matchings differ in size); use "
                         f"projection=None or 'norm'")


def matching(
    costs: Tensor,
    edge_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    unmatch_cost: Optional[float] = None,
    method: str = 'auto',
    projection: Optional[str] = None,
    noise: float = 0.0,
    training: bool = False,
    backward: str = 'identity',
    lambda_: float = 20.0,
    noise_position: str = 'before',
    generator: Optional[torch.Generator] = None,
    diagnostics: Optional[SolverDiagnostics] = None,
    num_workers: int = 0,
    timeout: Optional[float] = None,
) -> Tensor:
    r"""Differentiable linear assignment on a batch of graph pairs, see
    :class:`pyg_identity.nn.matching.IdentityMatching`.

    Returns the 0/1 indicator :math:`y \in \{0, 1\}^E` of the matched
    candidate pairs, the argmin of :math:`\langle c, y\rangle` (plus the
    unmatch penalty), in the dtype and device of :obj:`costs`; on the
    backward pass :math:`\partial\ell/\partial c = -\partial\ell/\partial y`
    (Identity) or the Blackbox update.

    Args:
        costs (torch.Tensor): The cost of every candidate pair, :obj:`[E]`.
        edge_index (torch.Tensor, optional): Candidate pairs :obj:`[2, E]`
            (global source, global target node), unique, each within one
            pair. :obj:`None` means all pairs in the order of
            :func:`all_pairs`. (default: :obj:`None`)
        batch_s (torch.Tensor, optional): The source batch vector.
            (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The target batch vector.
            (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes, if
            :obj:`batch_s` is not given. (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes, if
            :obj:`batch_t` is not given. (default: :obj:`None`)
        num_graphs (int, optional): The number of pairs.
            (default: :obj:`None`)
        unmatch_cost (float, optional): The cost :math:`u \geq 0` of leaving
            one node unmatched, compared with the costs after the
            projection. (default: :obj:`None`)
        method (str, optional): :obj:`"auto"`, :obj:`"dense"` or
            :obj:`"sparse"` (see
            :func:`pyg_identity.solvers.linear_assignment.assignment_plan`).
            (default: :obj:`"auto"`)
        projection (str, optional): The per-pair projection.
            (default: :obj:`None`)
        noise (float, optional): The noise margin. (default: :obj:`0.0`)
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
        generator (torch.Generator, optional): The generator of the noise.
            (default: :obj:`None`)
        diagnostics (SolverDiagnostics, optional): Records cost norms and
            gradient cosines. (default: :obj:`None`)
        num_workers (int, optional): Solve pairs in a pool of this many
            processes if :obj:`> 1`. (default: :obj:`0`)
        timeout (float, optional): Seconds each solver call (the whole
            batch) may take; past it the solver processes are terminated and
            a :class:`TimeoutError` is raised. With a timeout, the pairs are
            solved in worker processes even for :obj:`num_workers=0` (see
            :func:`pyg_identity.solvers.map_graphs`). (default: :obj:`None`)
    """
    if not isinstance(costs, Tensor) or not costs.is_floating_point():
        raise ValueError(f"'costs' must be a floating point tensor (got "
                         f"{getattr(costs, 'dtype', type(costs))})")
    if costs.dim() != 1:
        raise ValueError(f"'costs' must be one-dimensional, one entry per "
                         f"candidate pair (got shape {list(costs.size())})")
    if method not in METHODS:
        raise ValueError(f"'method' must be 'auto', 'dense' or 'sparse' (got "
                         f"{method!r})")
    u = _check_unmatch_cost(unmatch_cost)
    _check_projection_for_partial(projection, u)
    check_num_workers(num_workers)
    check_timeout(timeout)
    ptr_s, ptr_t, num_graphs = _pair_ptr(batch_s, batch_t, num_nodes_s,
                                         num_nodes_t, num_graphs, edge_index)
    if edge_index is None:
        num_edges = int((np.diff(ptr_s) * np.diff(ptr_t)).sum())
        if costs.numel() != num_edges:
            raise ValueError(f"'costs' must have one entry per pair of "
                             f"source and target nodes of the same pair "
                             f"({num_edges}) when 'edge_index' is None (got "
                             f"{costs.numel()})")
        ei = None
    else:
        if edge_index.size(1) != costs.numel():
            raise ValueError(f"'costs' must have one entry per candidate "
                             f"pair ({edge_index.size(1)}) (got "
                             f"{costs.numel()})")
        ei = edge_index.detach().cpu().numpy()
    plan = assignment_plan(ptr_s, ptr_t, ei, method)

    def solver(c: Tensor) -> Tensor:
        if c.dtype not in (torch.float32, torch.float64):
            c = c.double()
        y = solve_assignment(c.cpu().numpy(), plan, u, num_workers, timeout)
        return torch.from_numpy(y)

    index: OptTensor = None
    if projection not in (None, 'none') or diagnostics is not None:
        index = _edge_pair(edge_index, batch_s, ptr_s, ptr_t, costs.device)
    return identity_solver(costs, solver, sense='min', projection=projection,
                           index=index, num_graphs=num_graphs, noise=noise,
                           training=training, backward=backward,
                           lambda_=lambda_, noise_position=noise_position,
                           generator=generator, diagnostics=diagnostics)


def _edge_pair(edge_index: OptTensor, batch_s: OptTensor, ptr_s: np.ndarray,
               ptr_t: np.ndarray, device: torch.device) -> Tensor:
    r"""The pair of every candidate pair."""
    if edge_index is None:
        sizes = torch.from_numpy(np.diff(ptr_s) * np.diff(ptr_t))
        pair = torch.arange(sizes.numel()).repeat_interleave(sizes)
        return pair.to(device)
    if batch_s is None:
        return torch.zeros(edge_index.size(1), dtype=torch.long,
                           device=device)
    return batch_s.index_select(0, edge_index[0]).to(device)


# Helpers on solutions #######################################################

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
    ptr_s, ptr_t, num_graphs = _pair_ptr(batch_s, batch_t, num_nodes_s,
                                         num_nodes_t, num_graphs, edge_index)
    if edge_index is None:
        edge_index = torch.from_numpy(_all_pairs_np(ptr_s, ptr_t)).to(
            y.device)
    if edge_index.size(1) != y.numel():
        raise ValueError(f"'y' must have one entry per candidate pair "
                         f"({edge_index.size(1)}) (got {y.numel()})")
    pair = _edge_pair(edge_index, batch_s, ptr_s, ptr_t, y.device)
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


# Losses and metrics #########################################################

def _ground_truth(
    y: Tensor,
    y_true: Tensor,
    edge_index: OptTensor,
    batch_s: OptTensor,
    batch_t: OptTensor,
    num_nodes_s: Optional[int],
    num_nodes_t: Optional[int],
    num_graphs: Optional[int],
) -> Tuple[Tensor, Tensor, Tensor, int]:
    r"""Returns the true indicator on candidate pairs, the pair of every
    candidate, the number of true pairs per pair (including true pairs that
    are not candidates) and the number of pairs."""
    edge_index, pair, ptr_s, ptr_t, num_graphs = _resolve(
        y, edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
        num_graphs)
    if not isinstance(y_true, Tensor):
        raise ValueError(f"'y_true' must be a tensor (got {type(y_true)})")
    if y_true.shape == y.shape:
        y_star = y_true.to(y.dtype)
        n_true = scatter(y_star, pair, 0, dim_size=num_graphs, reduce='sum')
        return y_star, pair, n_true, num_graphs
    if y_true.dim() != 2 or y_true.size(0) != 2 or y_true.is_floating_point():
        raise ValueError(f"'y_true' must be an indicator of shape "
                         f"{list(y.shape)} or an integer tensor of true "
                         f"pairs of shape [2, K] (got {y_true.dtype} of "
                         f"shape {list(y_true.size())})")
    num_s, num_t = int(ptr_s[-1]), int(ptr_t[-1])
    true = y_true.to(y.device)
    if true.numel() and (int(true.min()) < 0 or int(true[0].max()) >= num_s
                         or int(true[1].max()) >= num_t):
        raise ValueError(f"'y_true' refers to nodes outside [0, {num_s}) x "
                         f"[0, {num_t})")
    key_true = torch.unique(true[0] * max(num_t, 1) + true[1])
    key_edge = edge_index[0] * max(num_t, 1) + edge_index[1]
    y_star = torch.isin(key_edge, key_true).to(y.dtype)
    ps = torch.from_numpy(ptr_s).to(y.device)
    true_pair = torch.searchsorted(ps, key_true // max(num_t, 1),
                                   right=True) - 1
    n_true = scatter(torch.ones_like(key_true, dtype=y.dtype), true_pair, 0,
                     dim_size=num_graphs, reduce='sum')
    return y_star, pair, n_true, num_graphs


def _reduce(src: Tensor, reduction: str) -> Tensor:
    if reduction == 'mean':
        return src.mean() if src.numel() else src.sum()
    if reduction == 'sum':
        return src.sum()
    return src


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"'reduction' must be 'mean', 'sum' or 'none' (got "
                         f"{reduction!r})")


def matching_hamming_loss(
    y: Tensor,
    y_true: Tensor,
    edge_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    reduction: str = 'mean',
    form: str = 'squared',
) -> Tensor:
    r"""The Hamming loss of BB-GM (Rolínek et al., ECCV 2020): the number
    of wrong entries of the 0/1 matching indicator,

    .. math::
        \ell_b = \sum_{(i, j)} (y_{ij} - y^*_{ij})^2
        = \sum_{(i, j)} y_{ij}(1 - y^*_{ij}) + (1 - y_{ij}) y^*_{ij}

    summed over the pairs :math:`(i, j)` of graph pair :math:`b` and averaged
    over graph pairs. True pairs that are not candidates count as missed.

    Both forms have the same value on 0/1 indicators but not the same
    gradient. The default :obj:`form="squared"` has the gradient
    :math:`2(y - y^*)`, zero on the pairs the prediction gets right, so the
    Identity update points exactly at the true matching (paper Sec. 3.2).
    :obj:`form="bbgm"` is BB-GM's algebraic form with the constant gradient
    :math:`1 - 2y^*`, which pushes every candidate's cost at every step: it
    works with the Blackbox backward but makes Identity without projection
    collapse (measured: 5.9% accuracy vs 84.1% with the squared form on
    SyntheticKeypoints).

    Args:
        y (torch.Tensor): The predicted 0/1 indicator on candidate pairs.
        y_true (torch.Tensor): The ground truth: an indicator on candidate
            pairs of the shape of :obj:`y`, or the true (global source,
            global target) pairs of shape :obj:`[2, K]`.
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
        reduction (str, optional): :obj:`"mean"` over pairs, :obj:`"sum"`
            or :obj:`"none"` (per pair, :obj:`[B]`). (default: :obj:`"mean"`)
        form (str, optional): :obj:`"squared"` or :obj:`"bbgm"` (see
            above). (default: :obj:`"squared"`)
    """
    _check_reduction(reduction)
    if form not in ('squared', 'bbgm'):
        raise ValueError(f"'form' must be 'squared' or 'bbgm' (got "
                         f"{form!r})")
    y_star, pair, n_true, num_graphs = _ground_truth(
        y, y_true, edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
        num_graphs)
    if form == 'squared':
        err = (y - y_star).pow(2)
    else:
        err = y * (1 - y_star) + (1 - y) * y_star
    per_pair = scatter(err, pair, 0, dim_size=num_graphs, reduce='sum')
    covered = scatter(y_star, pair, 0, dim_size=num_graphs, reduce='sum')
    per_pair = per_pair + (n_true - covered)  # True pairs never candidates.
    return _reduce(per_pair, reduction)


def _counts(y: Tensor, y_true: Tensor, edge_index: OptTensor,
            batch_s: OptTensor, batch_t: OptTensor,
            num_nodes_s: Optional[int], num_nodes_t: Optional[int],
            num_graphs: Optional[int]) -> Tuple[Tensor, Tensor, Tensor]:
    y_star, pair, n_true, num_graphs = _ground_truth(
        y, y_true, edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
        num_graphs)
    yd = y.detach()
    tp = scatter(yd * y_star, pair, 0, dim_size=num_graphs, reduce='sum')
    n_pred = scatter(yd, pair, 0, dim_size=num_graphs, reduce='sum')
    return tp, n_pred, n_true


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    # 0 / 0 := 1 (no prediction has no false positive; no truth, no miss).
    return torch.where(den > 0, num / den.clamp(min=1), torch.ones_like(num))


def matching_accuracy(
    y: Tensor,
    y_true: Tensor,
    edge_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    reduction: str = 'mean',
) -> Tensor:
    r"""The matching accuracy of BB-GM: the fraction of true pairs that are
    matched (the recall), per graph pair, averaged over graph pairs. A graph
    pair without true pairs has accuracy 1. Takes the arguments of
    :func:`matching_hamming_loss`; the result is detached.
    """
    _check_reduction(reduction)
    tp, _, n_true = _counts(y, y_true, edge_index, batch_s, batch_t,
                            num_nodes_s, num_nodes_t, num_graphs)
    return _reduce(_ratio(tp, n_true), reduction)


def matching_f1(
    y: Tensor,
    y_true: Tensor,
    edge_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    reduction: str = 'mean',
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Returns the precision :math:`|M \cap M^*| / |M|`, the recall
    :math:`|M \cap M^*| / |M^*|` and the F1 score :math:`2PR / (P + R)` of a
    matching :math:`M` against the true pairs :math:`M^*`, per graph pair,
    each averaged over graph pairs. :math:`0/0` counts as 1 in precision and
    recall, and F1 is 0 where :math:`P + R = 0`. Takes the arguments of
    :func:`matching_hamming_loss`; the results are detached.
    """
    _check_reduction(reduction)
    tp, n_pred, n_true = _counts(y, y_true, edge_index, batch_s, batch_t,
                                 num_nodes_s, num_nodes_t, num_graphs)
    p, r = _ratio(tp, n_pred), _ratio(tp, n_true)
    f1 = torch.where(p + r > 0, 2 * p * r / (p + r).clamp(min=1e-30),
                     torch.zeros_like(p))
    return (_reduce(p, reduction), _reduce(r, reduction),
            _reduce(f1, reduction))


__all__ = [
    'matching',
    'pair_cost',
    'all_pairs',
    'knn_candidates',
    'matched_pairs',
    'to_dense_matching',
    'matching_hamming_loss',
    'matching_accuracy',
    'matching_f1',
]
