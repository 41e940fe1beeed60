r"""Differentiable quadratic (Lawler) graph matching of batched graph pairs."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
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
    map_graphs,
    to_numpy,
)
from pyg_identity.solvers.quadratic_assignment import (
    QAP_SOLVERS,
    quadratic_assignment_batch,
)

_INT_DTYPES = (torch.int64, torch.int32)


def _check_index(src: Optional[Tensor], name: str, rows: int = 2) -> None:
    if src is None:
        return
    if not isinstance(src, Tensor) or src.dtype not in _INT_DTYPES:
        raise ValueError(f"'{name}' must be an integer tensor (got "
                         f"{getattr(src, 'dtype', type(src))})")
    if src.dim() != rows or (rows == 2 and src.size(0) != 2):
        shape = '[2, N]' if rows == 2 else '[N]'
        raise ValueError(f"'{name}' must have shape {shape} (got "
                         f"{list(src.size())})")


def _check_batch(batch: OptTensor, name: str) -> None:
    _check_index(batch, name, rows=1)
    if batch is not None and batch.numel() > 1 and bool(
            (batch[1:] < batch[:-1]).any()):
        raise ValueError(f"'{name}' must be sorted (PyG's batch vector)")
    if batch is not None and batch.numel() > 0 and int(batch.min()) < 0:
        raise ValueError(f"'{name}' must be non-negative")


def _num_graphs(batch_s: OptTensor, batch_t: OptTensor,
                num_graphs: Optional[int]) -> int:
    if (batch_s is None) != (batch_t is None):
        raise ValueError("'batch_s' and 'batch_t' must be given together")
    if num_graphs is not None:
        if not isinstance(num_graphs, int) or num_graphs < 0:
            raise ValueError(f"'num_graphs' must be a non-negative integer "
                             f"(got {num_graphs!r})")
        return num_graphs
    if batch_s is None or batch_t is None:
        return 1
    return max([int(b.max()) + 1 for b in (batch_s, batch_t)
                if b.numel() > 0] or [0])


def _num_nodes(batch: OptTensor, num_nodes: Optional[int], name: str,
               batch_name: str, *index: Tensor) -> int:
    if num_nodes is not None and (not isinstance(num_nodes, int)
                                  or num_nodes < 0):
        raise ValueError(f"'{name}' must be a non-negative integer (got "
                         f"{num_nodes!r})")
    if batch is not None:
        if num_nodes is not None and num_nodes != batch.numel():
            raise ValueError(f"'{name}' (got {num_nodes}) must equal the "
                             f"{batch.numel()} entries of '{batch_name}'")
        return batch.numel()
    if num_nodes is not None:
        return num_nodes
    return max([int(i.max()) + 1 for i in index if i.numel() > 0] or [0])


def _block_product(count_a: Tensor, count_b: Tensor) -> Tuple[Tensor, Tensor,
                                                              Tensor]:
    # For every group g, all (k_a, k_b) with k_a < count_a[g] and
    # k_b < count_b[g], ordered by group, then k_a, then k_b.
    sizes = count_a * count_b
    total = int(sizes.sum())
    group = torch.repeat_interleave(
        torch.arange(sizes.numel(), device=sizes.device), sizes,
        output_size=total)
    start = sizes.cumsum(0) - sizes
    off = torch.arange(total, device=sizes.device) - start[group]
    width = count_b[group]
    return group, torch.div(off, width, rounding_mode='floor'), off % width


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
    _check_batch(batch_s, 'batch_s')
    _check_batch(batch_t, 'batch_t')
    B = _num_graphs(batch_s, batch_t, num_graphs)
    counts = []
    for batch, n, name in ((batch_s, num_nodes_s, 'num_nodes_s'),
                           (batch_t, num_nodes_t, 'num_nodes_t')):
        if batch is None:
            if n is None or not isinstance(n, int) or n < 0:
                raise ValueError(f"'{name}' must be a non-negative integer "
                                 f"when no batch vector is given (got {n!r})")
            c = torch.zeros(max(B, 1), dtype=torch.long)
            c[0] = n
            counts.append(c)
        else:
            _num_nodes(batch, n, name, name.replace('num_nodes', 'batch'))
            counts.append(torch.bincount(batch.long(), minlength=B))
    device = batch_s.device if batch_s is not None else torch.device('cpu')
    cs, ct = counts[0].to(device), counts[1].to(device)
    if cs.numel() != B or ct.numel() != B:
        raise ValueError(f"The batch vectors refer to more than num_graphs "
                         f"= {B} graph pairs")
    group, i, a = _block_product(cs, ct)
    ptr_s = cs.cumsum(0) - cs
    ptr_t = ct.cumsum(0) - ct
    return torch.stack([i + ptr_s[group], a + ptr_t[group]], dim=0)


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
    _check_index(edge_index_s, 'edge_index_s')
    _check_index(edge_index_t, 'edge_index_t')
    _check_index(batch_s, 'batch_s', rows=1)
    _check_index(batch_t, 'batch_t', rows=1)
    B = _num_graphs(batch_s, batch_t, num_graphs)
    groups, perms, counts = [], [], []
    for ei, batch in ((edge_index_s, batch_s), (edge_index_t, batch_t)):
        ei = ei.long()
        if batch is None:
            g = torch.zeros(ei.size(1), dtype=torch.long, device=ei.device)
        else:
            if ei.numel() > 0 and int(ei.max()) >= batch.numel():
                raise ValueError(f"'edge_index' refers to nodes outside [0, "
                                 f"{batch.numel()})")
            g = batch.long().to(ei.device)[ei[0]]
        if g.numel() > 0 and int(g.max()) >= B:
            raise ValueError(f"The batch vectors refer to more than "
                             f"num_graphs = {B} graph pairs")
        groups.append(g)
        perms.append(torch.sort(g, stable=True)[1])
        counts.append(torch.bincount(g, minlength=B))
    device = edge_index_s.device
    cs, ct = counts[0].to(device), counts[1].to(device)
    group, ks, kt = _block_product(cs, ct)
    ptr_s, ptr_t = cs.cumsum(0) - cs, ct.cumsum(0) - ct
    return torch.stack([
        perms[0].to(device)[ptr_s[group] + ks],
        perms[1].to(device)[ptr_t[group] + kt],
    ], dim=0)


def _check_cost(src: Tensor, name: str, size: int, what: str) -> None:
    if (not isinstance(src, Tensor) or not src.is_floating_point()
            or src.dim() != 1):
        raise ValueError(f"'{name}' must be a one-dimensional floating point "
                         f"tensor (got "
                         f"{getattr(src, 'dtype', type(src))} of shape "
                         f"{list(getattr(src, 'shape', []))})")
    if src.numel() != size:
        raise ValueError(f"'{name}' must have one entry per {what} ({size}) "
                         f"(got {src.numel()})")
    if not bool(torch.isfinite(src.detach()).all()):
        raise ValueError(f"'{name}' must be finite (got NaN or inf)")


def graph_matching(
    unary: Tensor,
    pairwise: Tensor,
    edge_index_s: Tensor,
    edge_index_t: Tensor,
    edge_index: OptTensor = None,
    edge_pair_index: OptTensor = None,
    batch_s: OptTensor = None,
    batch_t: OptTensor = None,
    num_nodes_s: Optional[int] = None,
    num_nodes_t: Optional[int] = None,
    num_graphs: Optional[int] = None,
    solver: str = 'rrwm',
    max_iter: int = 50,
    num_workers: int = 0,
    timeout: Optional[float] = None,
    projection: Optional[str] = None,
    noise: float = 0.0,
    training: bool = False,
    backward: str = 'identity',
    lambda_: float = 20.0,
    noise_position: str = 'before',
    generator: Optional[torch.Generator] = None,
    diagnostics: Optional[SolverDiagnostics] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Quadratic (Lawler) graph matching of every graph pair with the
    Identity (or Blackbox) backward to both cost tensors; see
    :class:`pyg_identity.nn.IdentityGraphMatching`.

    Args:
        unary (torch.Tensor): The cost of every candidate pair, shape
            :obj:`[P]`.
        pairwise (torch.Tensor): The cost of every edge pair, shape
            :obj:`[Q]`.
        edge_index_s (torch.Tensor): The source graph edges.
        edge_index_t (torch.Tensor): The target graph edges.
        edge_index (torch.Tensor, optional): The candidate pairs
            :math:`(i, a)` of shape :obj:`[2, P]`; pairs outside it are never
            matched. :obj:`None` means all pairs of each graph pair, in the
            order of :func:`all_node_pairs`. (default: :obj:`None`)
        edge_pair_index (torch.Tensor, optional): The edge pairs
            :math:`(e_s, e_t)` (columns of :obj:`edge_index_s` and
            :obj:`edge_index_t`) of shape :obj:`[2, Q]`. :obj:`None` means
            all edge pairs of each graph pair, in the order of
            :func:`all_edge_pairs`. (default: :obj:`None`)
        batch_s (torch.Tensor, optional): The sorted batch vector of the
            source nodes. (default: :obj:`None`)
        batch_t (torch.Tensor, optional): The sorted batch vector of the
            target nodes. (default: :obj:`None`)
        num_nodes_s (int, optional): The number of source nodes; without it
            and :obj:`batch_s`, inferred from the edge indices.
            (default: :obj:`None`)
        num_nodes_t (int, optional): The number of target nodes; without it
            and :obj:`batch_t`, inferred from the edge indices.
            (default: :obj:`None`)
        num_graphs (int, optional): The number of graph pairs.
            (default: :obj:`None`)
        solver (str, optional): :obj:`"rrwm"`, :obj:`"ipfp"` or :obj:`"sm"`.
            (default: :obj:`"rrwm"`)
        max_iter (int, optional): The iterations of the QAP heuristic.
            (default: :obj:`50`)
        num_workers (int, optional): Worker processes for the graph pairs
            (:obj:`0` or :obj:`1`: in this process). (default: :obj:`0`)
        timeout (float, optional): Seconds each solver call (the whole
            batch) may take; past it the solver processes are terminated and
            a :class:`TimeoutError` is raised. With a timeout, the graph
            pairs are solved in worker processes even for
            :obj:`num_workers=0` (see
            :func:`pyg_identity.solvers.map_graphs`). (default: :obj:`None`)
        projection (str, optional): The per-graph-pair projection, applied
            to each cost tensor separately. (default: :obj:`None`)
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

    Returns:
        The unary indicator :math:`y^u` of shape :obj:`[P]` and the pairwise
        indicator :math:`y^p` of shape :obj:`[Q]`, in the costs' dtype and
        device.
    """
    if solver not in QAP_SOLVERS:
        raise ValueError(f"'solver' must be one of {QAP_SOLVERS} (got "
                         f"{solver!r})")
    if (not isinstance(max_iter, int) or isinstance(max_iter, bool)
            or max_iter < 1):
        raise ValueError(f"'max_iter' must be a positive integer (got "
                         f"{max_iter!r})")
    check_num_workers(num_workers)
    check_timeout(timeout)
    _check_index(edge_index_s, 'edge_index_s')
    _check_index(edge_index_t, 'edge_index_t')
    _check_index(edge_index, 'edge_index')
    _check_index(edge_pair_index, 'edge_pair_index')
    _check_batch(batch_s, 'batch_s')
    _check_batch(batch_t, 'batch_t')
    B = _num_graphs(batch_s, batch_t, num_graphs)
    cand = [] if edge_index is None else [edge_index[0]]
    n_s = _num_nodes(batch_s, num_nodes_s, 'num_nodes_s', 'batch_s',
                     edge_index_s, *cand)
    cand = [] if edge_index is None else [edge_index[1]]
    n_t = _num_nodes(batch_t, num_nodes_t, 'num_nodes_t', 'batch_t',
                     edge_index_t, *cand)

    if edge_index is None:
        edge_index = all_node_pairs(batch_s, batch_t, n_s, n_t, B)
    if edge_pair_index is None:
        edge_pair_index = all_edge_pairs(edge_index_s, edge_index_t, batch_s,
                                         batch_t, B)
    P, Q = edge_index.size(1), edge_pair_index.size(1)
    _check_cost(unary, 'unary', P, 'candidate pair (column of edge_index)')
    _check_cost(pairwise, 'pairwise', Q,
                'edge pair (column of edge_pair_index)')

    # Host-side structure, computed once per call (the Blackbox backward
    # reuses it).
    blocks_s = graph_blocks(batch_s, n_s, edge_index_s, B)
    blocks_t = graph_blocks(batch_t, n_t, edge_index_t, B)
    ptr_s, ptr_t = blocks_s.node_ptr, blocks_t.node_ptr
    bs = np.repeat(np.arange(B), np.diff(ptr_s))
    bt = np.repeat(np.arange(B), np.diff(ptr_t))

    ei = edge_index.detach().cpu().numpy().astype(np.int64)
    if P and (ei[0].min() < 0 or ei[0].max() >= n_s or ei[1].min() < 0
              or ei[1].max() >= n_t):
        raise ValueError(f"'edge_index' refers to nodes outside [0, {n_s}) "
                         f"x [0, {n_t})")
    g_u = bs[ei[0]]
    if np.any(g_u != bt[ei[1]]):
        raise ValueError("'edge_index' pairs nodes of different graph pairs")
    if np.unique(ei[0] * max(n_t, 1) + ei[1]).size != P:
        raise ValueError("'edge_index' contains duplicate candidate pairs")

    eis = edge_index_s.detach().cpu().numpy().astype(np.int64)
    eit = edge_index_t.detach().cpu().numpy().astype(np.int64)
    epi = edge_pair_index.detach().cpu().numpy().astype(np.int64)
    if Q and (epi[0].min() < 0 or epi[0].max() >= eis.shape[1]
              or epi[1].min() < 0 or epi[1].max() >= eit.shape[1]):
        raise ValueError(f"'edge_pair_index' refers to edges outside [0, "
                         f"{eis.shape[1]}) x [0, {eit.shape[1]})")
    es, et = eis[:, epi[0]], eit[:, epi[1]]
    g_p = bs[es[0]]
    if np.any(g_p != bt[et[0]]):
        raise ValueError("'edge_pair_index' pairs edges of different graph "
                         "pairs")

    pairs = np.stack([ei[0] - ptr_s[g_u], ei[1] - ptr_t[g_u]], axis=1)
    quad = np.stack([es[0] - ptr_s[g_p], es[1] - ptr_s[g_p],
                     et[0] - ptr_t[g_p], et[1] - ptr_t[g_p]], axis=1)
    perm_u = np.argsort(g_u, kind='stable')
    perm_p = np.argsort(g_p, kind='stable')
    cut_u = np.concatenate([[0], np.cumsum(np.bincount(g_u, minlength=B))])
    cut_p = np.concatenate([[0], np.cumsum(np.bincount(g_p, minlength=B))])
    sel_u = [perm_u[cut_u[g]:cut_u[g + 1]] for g in range(B)]
    sel_p = [perm_p[cut_p[g]:cut_p[g + 1]] for g in range(B)]
    todo = [g for g in range(B) if sel_u[g].size > 0]
    n_chunks = min(max(num_workers, 1), len(todo)) or 1
    chunks: List[Sequence[int]] = [todo[k::n_chunks] for k in range(n_chunks)]
    pairs_g = [pairs[s] for s in sel_u]
    quad_g = [quad[s] for s in sel_p]

    def solve(cu: Tensor, cp: Tensor) -> Tuple[Tensor, Tensor]:
        u, p = to_numpy(cu), to_numpy(cp)
        tasks = [([(pairs_g[g], u[sel_u[g]], quad_g[g], p[sel_p[g]],
                    int(ptr_s[g + 1] - ptr_s[g]), int(ptr_t[g + 1] - ptr_t[g]))
                   for g in chunk], solver, max_iter) for chunk in chunks]
        results = map_graphs(quadratic_assignment_batch, tasks, num_workers,
                             timeout)
        y_u, y_p = np.zeros(P), np.zeros(Q)
        for chunk, res in zip(chunks, results):
            for g, (yu, yp) in zip(chunk, res):
                y_u[sel_u[g]] = yu
                y_p[sel_p[g]] = yp
        return torch.from_numpy(y_u), torch.from_numpy(y_p)

    index_u = torch.from_numpy(g_u).to(unary.device)
    index_p = torch.from_numpy(g_p).to(pairwise.device)
    y_u, y_p = identity_solver(
        (unary, pairwise), solve, sense='min', projection=projection,
        index=(index_u, index_p), num_graphs=B, noise=noise,
        training=training, backward=backward, lambda_=lambda_,
        noise_position=noise_position, generator=generator,
        diagnostics=diagnostics)
    return y_u, y_p


__all__ = ['graph_matching', 'all_node_pairs', 'all_edge_pairs']
