r"""Reliability of every solver layer on random ragged batches: negative,
huge, tiny, tied and half-precision costs and graphs of 1-3 nodes, every
solution checked against an independent reference.

For each family, instances are drawn in batches (one regime per batch, the
regimes in turn, a fixed seed per batch), solved by ONE call of the public
layer on a ragged batch of several graphs of random sizes, and every
solution is classified:

* **checked**: a solution came back and was checked; of these
* **infeasible**: not a valid solution (a partial permutation, a path, a
  tour, a perfect matching, a k-hot vector, a ranking), or not in the
  documented layout;
* **suboptimal**: objective worse than the reference's by more than
  ``RTOL`` times the L1 size of the two solutions, i.e.
  ``obj - ref > RTOL * (sum |c| y + sum |c| y_ref)`` (unmatch penalties
  included), with the reference solved in float64 on the *same* costs the
  layer saw (half and float32 costs rounded first), so one tolerance
  serves every dtype. Top-k and ranking are checked exactly: no pair of one
  group with ``w_i > w_j`` may have ``j`` selected (ranked before ``i``)
  while ``i`` is not, which is equivalent to the objective equalling the
  sort reference's, whatever the tie-breaking;
* **refused**: a ``ValueError`` that is the documented correct response
  (a negative cycle on an s-t walk, an unreachable target, no feasible
  matching / tour / perfect matching, an odd graph), confirmed by the
  reference; a ``ValueError`` on a well-posed instance counts as an error;
* **errors**: any other exception, a wrong refusal, a solution to an
  instance the reference calls ill-posed;
* **hangs**: a ``TimeoutError`` from the layer's ``timeout=`` (matching,
  graph matching, TSP, perfect matching) or from a wall-clock guard
  (SIGALRM, plus the measured time) for the layers without one.

A batch that raises is re-solved one instance at a time, so every
exception is attributed to its instance. Graph matching is a heuristic:
there "suboptimal" means worse than its documented guarantee (no worse
than the exact linear assignment of the unary costs alone, whichever
optimal one it picks), and the gap to brute force is information only.
The TSP runs both backends: ``solver="exact"`` (Held-Karp) at ``RTOL``,
and the default LKH-3 (``elkai``), which reads costs rounded to integers,
also within its documented rounding bound (``n`` integer steps of
``span / 2**22``, see :mod:`pyg_identity.solvers.tsp`).

References: brute force (assignment up to 5 x 5, graph matching, TSP,
perfect matching), scipy (larger assignments, with an augmented matrix for
the unmatch cost), networkx (shortest paths: Dijkstra / Bellman-Ford,
negative cycles on the nodes of s-t walks), sorting (top-k, ranking).
Projections are off (``projection=None``): the solvers are checked on the
given costs.

    python benchmarks/bench_reliability.py [--quick] [--instances N]
        [--families ...] [--json PATH] [--replay FAMILY:BATCH]
"""
import argparse
import contextlib
import functools
import itertools
import json
import signal
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from pyg_identity.nn import (
    IdentityGraphMatching,
    IdentityMatching,
    IdentityPerfectMatching,
    IdentityRanking,
    IdentityShortestPath,
    IdentityTopK,
    IdentityTSP,
)
from pyg_identity.solvers.tsp import MAX_INT_COST

RTOL = 1e-9
REGIMES = ('negative', 'huge', 'tiny', 'tied', 'half', 'small')
DTYPES = {'float64': torch.float64, 'float32': torch.float32,
          'float16': torch.float16, 'bfloat16': torch.bfloat16}

Inst = Dict[str, Any]
Opts = Dict[str, Any]


class LayoutError(Exception):
    r"""The output has the wrong shape or dtype."""


# Cost regimes ###############################################################

def batch_options(rng: np.random.Generator, regime: str) -> Opts:
    r"""The regime parameters shared by all instances of a batch."""
    opts: Opts = dict(regime=regime, variant=None, mixed_sign=False)
    if regime == 'huge':
        opts['variant'] = str(rng.choice(['one', 'all']))
    elif regime == 'tied':
        opts['variant'] = str(rng.choice(['equal', 'few']))
        if opts['variant'] == 'equal':
            opts['levels'] = [float(rng.choice([0.0, 1.0, 0.1, 3.0]))]
        else:
            opts['levels'] = rng.choice([0.0, 0.5, 1.0, 2.0, 5.0],
                                        int(rng.integers(2, 4)),
                                        replace=False).tolist()
    elif regime == 'half':
        opts['variant'] = float(rng.choice([1.0, 100.0, 1e-2, 1e-6]))
    if regime != 'negative':
        opts['mixed_sign'] = bool(rng.random() < 0.3)
    if regime == 'half':
        opts['dtype'] = str(rng.choice(['float16', 'bfloat16']))
    elif regime == 'huge':
        opts['dtype'] = 'float64'
    else:
        opts['dtype'] = 'float32' if rng.random() < 0.25 else 'float64'
    return opts


def draw(rng: np.random.Generator, shape: Any, opts: Opts,
         signed: bool = True) -> np.ndarray:
    r"""Costs of the batch's regime, rounded to its dtype (as float64)."""
    r, v = opts['regime'], opts['variant']
    if r == 'negative':
        x = rng.normal(-0.25, 1.0, shape)
        if not signed:
            x = np.abs(x)
    else:
        if r == 'huge' and v == 'one':  # one 1e9 among O(1) costs
            x = rng.uniform(0.0, 1.0, shape)
            if x.size:
                x.flat[int(rng.integers(x.size))] = 1e9
        elif r == 'huge':  # all ~1e150
            x = 1e150 * rng.uniform(0.5, 2.0, shape)
        elif r == 'tiny':
            x = 1e-9 * rng.uniform(0.0, 1.0, shape)
        elif r == 'tied':
            x = rng.choice(np.asarray(opts['levels']), shape)
        elif r == 'half':
            x = v * rng.uniform(0.0, 2.0, shape)
        else:
            x = rng.uniform(0.0, 1.0, shape)
        if signed and opts['mixed_sign']:
            x = x * rng.choice([-1.0, 1.0], shape)
    return rounded(x, opts['dtype'])


def rounded(x: Any, dtype: str) -> np.ndarray:
    t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    return t.to(DTYPES[dtype]).double().numpy()


def tensor(x: np.ndarray, dtype: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).to(
        DTYPES[dtype])


def output(y: torch.Tensor, size: int, dtype: str) -> np.ndarray:
    if y.dtype != DTYPES[dtype] or tuple(y.shape) != (size, ):
        raise LayoutError(f'output {y.dtype} {list(y.shape)}, expected '
                          f'{DTYPES[dtype]} [{size}]')
    return y.detach().double().numpy()


def split(y: np.ndarray, sizes: List[int]) -> List[np.ndarray]:
    return np.split(y, np.cumsum(sizes)[:-1]) if sizes else []


def is_binary(y: np.ndarray) -> bool:
    return bool(np.all((y == 0) | (y == 1)))


def verdict(obj: float, ref: float, l1: float) -> Tuple[str, float]:
    r"""'ok', 'suboptimal' or 'ref_worse' (the solution beats the
    reference: a bug of the benchmark), and the gap relative to the L1
    size of the two solutions."""
    gap = obj - ref
    rel = gap / l1 if l1 > 0 else (0.0 if gap == 0 else np.inf * gap)
    if rel > RTOL:
        return 'suboptimal', rel
    if rel < -RTOL:
        return 'ref_worse', rel
    return 'ok', rel


# Brute-force enumerations ###################################################

@functools.lru_cache(maxsize=None)
def partial_maps(ns: int, nt: int) -> np.ndarray:
    r"""Every injective map of ``ns`` sources into ``nt`` targets or ``-1``
    (unmatched), shape ``[M, ns]``."""
    out: List[List[int]] = []

    def rec(i: int, used: int, cur: List[int]) -> None:
        if i == ns:
            out.append(list(cur))
            return
        for j in [-1] + [j for j in range(nt) if not used >> j & 1]:
            cur.append(j)
            rec(i + 1, used | (1 << j if j >= 0 else 0), cur)
            cur.pop()

    rec(0, 0, [])
    return np.asarray(out, dtype=np.int64).reshape(len(out), ns)


@functools.lru_cache(maxsize=None)
def perfect_matchings(n: int) -> np.ndarray:
    r"""Every perfect matching of the complete graph on ``n`` (even) nodes,
    shape ``[M, n // 2, 2]``."""
    def rec(free: Tuple[int, ...]) -> Iterator[List[Tuple[int, int]]]:
        if not free:
            yield []
            return
        a = free[0]
        for k in range(1, len(free)):
            rest = free[1:k] + free[k + 1:]
            for m in rec(rest):
                yield [(a, free[k])] + m

    out = list(rec(tuple(range(n))))
    return np.asarray(out, dtype=np.int64).reshape(len(out), n // 2, 2)


@functools.lru_cache(maxsize=None)
def tours(n: int) -> np.ndarray:
    r"""Every tour of ``n >= 3`` nodes once (from node 0, one direction),
    shape ``[(n - 1)! / 2, n]``."""
    perms = np.asarray(list(itertools.permutations(range(1, n))),
                       dtype=np.int64)
    perms = perms[perms[:, 0] < perms[:, -1]]
    return np.hstack([np.zeros((perms.shape[0], 1), dtype=np.int64), perms])


def pair_costs(n: int, ei: np.ndarray, c: np.ndarray) -> np.ndarray:
    r"""The cost of every unordered pair, the sum of the entries joining
    it (``inf`` if none); self-loops dropped."""
    w = np.zeros((n, n))
    has = np.zeros((n, n), dtype=bool)
    keep = ei[0] != ei[1]
    lo = np.minimum(ei[0], ei[1])[keep]
    hi = np.maximum(ei[0], ei[1])[keep]
    np.add.at(w, (lo, hi), c[keep])
    has[lo, hi] = True
    w = w + w.T
    has = has | has.T
    return np.where(has, w, np.inf)


def matched_pairs(n: int, ei: np.ndarray, y: np.ndarray) -> Optional[
        np.ndarray]:
    r"""The unordered pairs of the selected entries if every entry of a
    selected pair is selected and no self-loop is, else ``None``."""
    sel = y > 0.5
    if np.any(sel & (ei[0] == ei[1])):
        return None
    key = np.minimum(ei[0], ei[1]) * n + np.maximum(ei[0], ei[1])
    chosen = np.unique(key[sel])
    if not np.array_equal(np.isin(key, chosen) & (ei[0] != ei[1]), sel):
        return None
    return np.stack([chosen // n, chosen % n], axis=1)


# Families ###################################################################

class Family:
    r"""One layer: draws instances, solves a batch through the layer and
    checks a solution. ``reference`` returns ``None`` where the problem has
    no solution (the layer must refuse it) and else ``(obj, l1, extra)``."""
    name = ''
    has_timeout = True
    heuristic = False

    def options(self, rng: np.random.Generator, regime: str) -> Opts:
        return batch_options(rng, regime)

    def sample(self, rng: np.random.Generator, opts: Opts) -> Inst:
        raise NotImplementedError

    def solve(self, insts: List[Inst], opts: Opts,
              timeout: float) -> List[Any]:
        raise NotImplementedError

    def reference(self, inst: Inst, opts: Opts) -> Any:
        raise NotImplementedError

    def check(self, inst: Inst, opts: Opts, sol: Any,
              ref: Any) -> Tuple[str, float, Dict[str, int]]:
        raise NotImplementedError


def _sizes(rng: np.random.Generator, opts: Opts, lo: int, hi: int,
           small_lo: int = 1, large: Optional[int] = None) -> int:
    # 1-3 (or 0-3) nodes in the 'small' regime; else lo..hi, or up to
    # `large` for a fifth of the instances (references that scale).
    if opts['regime'] == 'small':
        return int(rng.integers(small_lo, 4))
    if large is not None and rng.random() < 0.2:
        return int(rng.integers(hi + 1, large + 1))
    return int(rng.integers(lo, hi + 1))


def _planted_mask(rng: np.random.Generator, ns: int, nt: int, p: float,
                  plant: bool) -> np.ndarray:
    mask = rng.random((ns, nt)) < p
    if plant and ns and nt:
        k = min(ns, nt)
        rows = rng.permutation(ns)[:k]
        cols = rng.permutation(nt)[:k]
        mask[rows, cols] = True
    return mask


def _lap_brute(C: np.ndarray, u: Optional[float]) -> Optional[
        Tuple[float, float]]:
    ns, nt = C.shape
    A = partial_maps(ns, nt)
    ext = np.hstack([C, np.zeros((ns, 1))])
    aext = np.hstack([np.abs(C), np.zeros((ns, 1))])
    rows = np.arange(ns)
    vals = ext[rows, A].sum(axis=1) if ns else np.zeros(A.shape[0])
    absv = aext[rows, A].sum(axis=1) if ns else np.zeros(A.shape[0])
    matched = (A >= 0).sum(axis=1)
    if u is None:
        vals = np.where(matched == min(ns, nt), vals, np.inf)
    else:
        pen = u * (ns + nt - 2 * matched)
        vals, absv = vals + pen, absv + pen
    with np.errstate(invalid='ignore'):
        finite = np.isfinite(vals)
    if not finite.any():
        return None
    m = int(np.argmin(np.where(finite, vals, np.inf)))
    return float(vals[m]), float(absv[m])


def _lap_scipy(C: np.ndarray, u: Optional[float]) -> Optional[
        Tuple[float, float]]:
    from scipy.optimize import linear_sum_assignment

    ns, nt = C.shape
    if u is None:
        try:
            r, c = linear_sum_assignment(C)
        except ValueError:  # infeasible
            return None
        return float(C[r, c].sum()), float(np.abs(C[r, c]).sum())
    # Sources + target dummies x targets + source dummies: an unmatched
    # node pairs with its own dummy at u, dummies pair up for free.
    A = np.full((ns + nt, nt + ns), np.inf)
    A[:ns, :nt] = C
    A[np.arange(ns), nt + np.arange(ns)] = u
    A[ns + np.arange(nt), np.arange(nt)] = u
    A[ns:, nt:] = 0.0
    r, c = linear_sum_assignment(A)
    real = (r < ns) & (c < nt)
    m = int(real.sum())
    pen = u * (ns + nt - 2 * m)
    return (float(C[r[real], c[real]].sum() + pen),
            float(np.abs(C[r[real], c[real]]).sum() + pen))


class Assignment(Family):
    name = 'assignment'

    def options(self, rng: np.random.Generator, regime: str) -> Opts:
        opts = batch_options(rng, regime)
        opts['candidates'] = str(rng.choice(['all', 'sparse']))
        opts['method'] = str(rng.choice(['auto', 'dense', 'sparse']))
        u = None
        if rng.random() < 0.5:
            scale = {'huge': 1e150 if opts['variant'] == 'all' else 0.5,
                     'tiny': 1e-9, 'half': opts['variant']}.get(regime, 0.5)
            u = scale * float(rng.uniform(0.2, 1.0))
            if regime == 'tied':  # ties at c = 2u
                u = 0.5 * abs(float(rng.choice(opts['levels'])))
        opts['unmatch_cost'] = u
        opts['shuffle'] = bool(rng.random() < 0.3)
        opts['perm_seed'] = int(rng.integers(2**31))
        return opts

    def sample(self, rng: np.random.Generator, opts: Opts) -> Inst:
        ns = _sizes(rng, opts, 1, 8, small_lo=0, large=30)
        nt = _sizes(rng, opts, 1, 8, small_lo=0, large=30)
        C = draw(rng, (ns, nt), opts)
        if opts['candidates'] == 'all':
            mask = np.ones((ns, nt), dtype=bool)
        else:
            mask = _planted_mask(rng, ns, nt, float(rng.uniform(0.2, 0.7)),
                                 rng.random() < 0.9)
        return dict(ns=ns, nt=nt, C=C, mask=mask)

    def solve(self, insts: List[Inst], opts: Opts,
              timeout: float) -> List[Any]:
        layer = IdentityMatching(unmatch_cost=opts['unmatch_cost'],
                                 method=opts['method'], timeout=timeout)
        ns = np.array([i['ns'] for i in insts])
        nt = np.array([i['nt'] for i in insts])
        ps, pt = np.cumsum(ns) - ns, np.cumsum(nt) - nt
        B = len(insts)
        bs = torch.from_numpy(np.repeat(np.arange(B), ns))
        bt = torch.from_numpy(np.repeat(np.arange(B), nt))
        if opts['candidates'] == 'all':
            cost = np.concatenate([i['C'].ravel() for i in insts])
            sizes = (ns * nt).tolist()
            y = layer(cost=tensor(cost, opts['dtype']), batch_s=bs,
                      batch_t=bt, num_graphs=B)
            y = output(y, cost.size, opts['dtype'])
            return [s.reshape(a, b) for s, a, b in zip(split(y, sizes), ns,
                                                       nt)]
        rows, cols, cost = [], [], []
        for b, i in enumerate(insts):
            r, c = np.nonzero(i['mask'])
            rows.append(ps[b] + r)
            cols.append(pt[b] + c)
            cost.append(i['C'][r, c])
        sizes = [r.size for r in rows]
        ei = np.stack([np.concatenate(rows), np.concatenate(cols)])
        w = np.concatenate(cost)
        perm = np.arange(w.size)
        if opts['shuffle']:
            perm = np.random.default_rng(opts['perm_seed']).permutation(
                w.size)
        y = layer(cost=tensor(w[perm], opts['dtype']),
                  edge_index=torch.from_numpy(ei[:, perm]), batch_s=bs,
                  batch_t=bt, num_graphs=B)
        y = output(y, w.size, opts['dtype'])
        back = np.empty_like(y)
        back[perm] = y
        out = []
        for i, s in zip(insts, split(back, sizes)):
            Y = np.zeros((i['ns'], i['nt']))
            r, c = np.nonzero(i['mask'])
            Y[r, c] = s
            out.append(Y)
        return out

    def reference(self, inst: Inst, opts: Opts) -> Any:
        C = np.where(inst['mask'], inst['C'], np.inf)
        u = opts['unmatch_cost']
        if max(inst['ns'], inst['nt']) <= 5:
            return _lap_brute(C, u)
        return _lap_scipy(C, u)

    def check(self, inst: Inst, opts: Opts, Y: np.ndarray,
              ref: Any) -> Tuple[str, float, Dict[str, int]]:
        ns, nt, u = inst['ns'], inst['nt'], opts['unmatch_cost']
        if not is_binary(Y) or np.any(Y[~inst['mask']] != 0) or np.any(
                Y.sum(axis=0) > 1) or np.any(Y.sum(axis=1) > 1):
            return 'infeasible', 0.0, {}
        m = int(Y.sum())
        if u is None and m != min(ns, nt):
            return 'infeasible', 0.0, {}
        C = inst['C']
        pen = 0.0 if u is None else u * (ns + nt - 2 * m)
        obj = float((C * Y).sum() + pen)
        l1 = float((np.abs(C) * Y).sum() + pen)
        status, rel = verdict(obj, ref[0], l1 + ref[1])
        return status, rel, {}


class GraphMatching(Family):
    name = 'graph_matching'
    heuristic = True

    def options(self, rng: np.random.Generator, regime: str) -> Opts:
        opts = batch_options(rng, regime)
        opts['solver'] = str(rng.choice(['rrwm', 'ipfp', 'sm']))
        opts['candidates'] = 'sparse' if rng.random() < 0.25 else 'all'
        opts['zero_pairwise'] = bool(rng.random() < 0.1)
        return opts

    def sample(self, rng: np.random.Generator, opts: Opts) -> Inst:
        ns = _sizes(rng, opts, 2, 5, small_lo=0)
        nt = _sizes(rng, opts, 2, 5, small_lo=0)
        edges = []
        for n in (ns, nt):
            a, b = np.nonzero((rng.random((n, n)) < 0.35) & ~np.eye(
                n, dtype=bool))
            edges.append(np.stack([a, b]))
        U = draw(rng, (ns, nt), opts)
        P = draw(rng, (edges[0].shape[1], edges[1].shape[1]), opts)
        if opts['zero_pairwise']:
            P = np.zeros_like(P)
        mask = (np.ones((ns, nt), dtype=bool) if opts['candidates'] == 'all'
                else _planted_mask(rng, ns, nt, 0.4, rng.random() < 0.85))
        return dict(ns=ns, nt=nt, U=U, P=P, es=edges[0], et=edges[1],
                    mask=mask)

    def solve(self, insts: List[Inst], opts: Opts,
              timeout: float) -> List[Any]:
        layer = IdentityGraphMatching(solver=opts['solver'], timeout=timeout)
        B = len(insts)
        ns = np.array([i['ns'] for i in insts])
        nt = np.array([i['nt'] for i in insts])
        ps, pt = np.cumsum(ns) - ns, np.cumsum(nt) - nt
        ei_s = np.concatenate([i['es'] + ps[b] for b, i in enumerate(insts)],
                              axis=1)
        ei_t = np.concatenate([i['et'] + pt[b] for b, i in enumerate(insts)],
                              axis=1)
        pw = np.concatenate([i['P'].ravel() for i in insts])
        dt = opts['dtype']
        cand = None
        if opts['candidates'] == 'all':
            un = np.concatenate([i['U'].ravel() for i in insts])
        else:
            rc = [np.nonzero(i['mask']) for i in insts]
            un = np.concatenate([i['U'][r, c] for i, (r, c) in zip(insts,
                                                                 rc)])
            cand = torch.from_numpy(np.stack([
                np.concatenate([ps[b] + r for b, (r, _) in enumerate(rc)]),
                np.concatenate([pt[b] + c for b, (_, c) in enumerate(rc)])]))
        y_u, y_p = layer(tensor(un, dt), tensor(pw, dt),
                         torch.from_numpy(ei_s), torch.from_numpy(ei_t),
                         edge_index=cand,
                         batch_s=torch.from_numpy(np.repeat(np.arange(B),
                                                            ns)),
                         batch_t=torch.from_numpy(np.repeat(np.arange(B),
                                                            nt)),
                         num_nodes_s=int(ns.sum()), num_nodes_t=int(nt.sum()),
                         num_graphs=B)
        y_u = output(y_u, un.size, dt)
        y_p = output(y_p, pw.size, dt)
        out = []
        su = [int(i['mask'].sum()) for i in insts]
        sp = [i['P'].size for i in insts]
        for i, a, b in zip(insts, split(y_u, su), split(y_p, sp)):
            Y = np.zeros((i['ns'], i['nt']))
            r, c = np.nonzero(i['mask'])
            Y[r, c] = a
            out.append((Y, b.reshape(i['P'].shape)))
        return out

    def reference(self, inst: Inst, opts: Opts) -> Any:
        ns, nt, mask = inst['ns'], inst['nt'], inst['mask']
        A = partial_maps(ns, nt)
        rows = np.arange(ns)
        ok = np.all((A < 0) | np.hstack([mask, np.ones((ns, 1), bool)])[
            rows, A], axis=1) if ns else np.ones(A.shape[0], dtype=bool)
        matched = (A >= 0).sum(axis=1)
        card = int(matched[ok].max())
        A = A[ok & (matched == card)]
        lap, lap_abs = self._unary(inst, A)
        quad, quad_abs = self._pairwise(inst, A)
        tot, tot_abs = lap + quad, lap_abs + quad_abs
        best = int(np.argmin(tot))
        lmin = int(np.argmin(lap))
        # The LAP-optimal matchings (up to RTOL) and the worst of them.
        near = lap - lap[lmin] <= RTOL * (lap_abs + lap_abs[lmin])
        worst = int(np.flatnonzero(near)[np.argmax(tot[near])])
        return dict(card=card, best=(tot[best], tot_abs[best]),
                    worst_lap=(tot[worst], tot_abs[worst]))

    @staticmethod
    def _unary(inst: Inst, A: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        ns = inst['ns']
        if ns == 0:
            return np.zeros(A.shape[0]), np.zeros(A.shape[0])
        ext = np.hstack([inst['U'], np.zeros((ns, 1))])
        rows = np.arange(ns)
        return ext[rows, A].sum(axis=1), np.abs(ext)[rows, A].sum(axis=1)

    @staticmethod
    def _pairwise(inst: Inst, A: np.ndarray) -> Tuple[np.ndarray,
                                                       np.ndarray]:
        es, et, P = inst['es'], inst['et'], inst['P']
        if P.size == 0:
            return np.zeros(A.shape[0]), np.zeros(A.shape[0])
        qs, qt = np.meshgrid(np.arange(es.shape[1]), np.arange(et.shape[1]),
                             indexing='ij')
        qs, qt = qs.ravel(), qt.ravel()
        act = ((A[:, es[0, qs]] == et[0, qt]) &
               (A[:, es[1, qs]] == et[1, qt])).astype(np.float64)
        return act @ P.ravel(), act @ np.abs(P.ravel())

    def check(self, inst: Inst, opts: Opts, sol: Any,
              ref: Any) -> Tuple[str, float, Dict[str, int]]:
        Y, YP = sol
        if not is_binary(Y) or not is_binary(YP) or np.any(
                Y[~inst['mask']] != 0) or np.any(Y.sum(axis=0) > 1) or \
                np.any(Y.sum(axis=1) > 1) or int(Y.sum()) != ref['card']:
            return 'infeasible', 0.0, {}
        es, et = inst['es'], inst['et']
        expect = Y[es[0]][:, et[0]] * Y[es[1]][:, et[1]]
        if not np.array_equal(YP, expect):
            return 'infeasible', 0.0, {}  # y^p != y^u_ia y^u_jb
        P, U = inst['P'], inst['U']
        obj = float((U * Y).sum() + (P * YP).sum())
        l1 = float((np.abs(U) * Y).sum() + (np.abs(P) * YP).sum())
        # The guarantee: no worse than every unary-optimal matching.
        worst, worst_l1 = ref['worst_lap']
        guarantee, _ = verdict(obj, worst, l1 + worst_l1)
        best, best_l1 = ref['best']
        gap, rel = verdict(obj, best, l1 + best_l1)
        info = {'worse_than_brute_force': int(gap == 'suboptimal')}
        if guarantee == 'suboptimal':
            return 'suboptimal', rel, info
        return ('ref_worse' if gap == 'ref_worse' else 'ok'), rel, info


class ShortestPath(Family):
    name = 'shortest_path'
    has_timeout = False

    def options(self, rng: np.random.Generator, regime: str) -> Opts:
        opts = batch_options(rng, regime)
        p = [0.5, 0.35, 0.15] if regime == 'negative' else [0.4, 0.4, 0.2]
        opts['kind'] = str(rng.choice(['dag', 'digraph', 'undirected'], p=p))
        opts['vertex'] = bool(rng.random() < 0.4)
        return opts

    def sample(self, rng: np.random.Generator, opts: Opts) -> Inst:
        n = _sizes(rng, opts, 2, 12, large=40)
        kind = opts['kind']
        order = rng.permutation(n)
        pos = np.empty(n, dtype=np.int64)
        pos[order] = np.arange(n)
        a, b = np.sort(rng.integers(0, n, 2)) if rng.random() > 0.05 else (
            (int(rng.integers(n)), ) * 2)
        if kind == 'dag':
            s, t = int(order[a]), int(order[b])
        else:
            s, t = (int(order[a]), int(order[b])) if rng.random() < 0.5 \
                else (int(order[b]), int(order[a]))
        src, dst = np.nonzero((rng.random((n, n)) < rng.uniform(0.1, 0.4)) &
                              ~np.eye(n, dtype=bool))
        if kind == 'dag':
            fwd = pos[src] < pos[dst]
            src, dst = src[fwd], dst[fwd]
        elif kind == 'undirected':
            one = src < dst
            src, dst = src[one], dst[one]
        arcs = [np.stack([src, dst])]
        if rng.random() < 0.9 and s != t:  # plant an s-t path
            inner = order[pos[s] + 1:pos[t]] if kind == 'dag' else \
                np.setdiff1d(np.arange(n), [s, t])
            inner = rng.permutation(inner)[:int(rng.integers(0, 4))]
            if kind == 'dag':
                inner = inner[np.argsort(pos[inner])]
            walk = np.concatenate([[s], inner, [t]])
            arcs.append(np.stack([walk[:-1], walk[1:]]))
        ei = np.concatenate(arcs, axis=1).astype(np.int64)
        if kind == 'undirected':  # each edge once, random orientation
            key = np.unique(np.minimum(ei[0], ei[1]) * n +
                            np.maximum(ei[0], ei[1]))
            ei = np.stack([key // n, key % n])
            flip = rng.random(ei.shape[1]) < 0.5
            ei[:, flip] = ei[::-1, flip]
        else:
            dup = rng.random(ei.shape[1]) < 0.1  # parallel arcs
            ei = np.concatenate([ei, ei[:, dup]], axis=1)
            if kind == 'digraph':
                loops = np.flatnonzero(rng.random(n) < 0.05)
                ei = np.concatenate([ei, np.stack([loops, loops])], axis=1)
        ei = ei[:, rng.permutation(ei.shape[1])]
        size = n if opts['vertex'] else ei.shape[1]
        signed = kind == 'dag' or opts['regime'] == 'negative'
        c = draw(rng, size, opts, signed=signed)
        if kind != 'dag' and opts['regime'] == 'negative':
            # A few negative costs: some negative cycles, not everywhere.
            c = np.abs(c) * np.where(rng.random(size) < (
                0.15 if kind == 'digraph' else 0.05), -1.0, 1.0)
        return dict(n=n, ei=ei, c=c, s=s, t=t)

    def solve(self, insts: List[Inst], opts: Opts,
              timeout: float) -> List[Any]:
        layer = IdentityShortestPath(directed=opts['kind'] != 'undirected',
                                     vertex_costs=opts['vertex'],
                                     projection=None)
        batch = Batch.from_data_list([
            Data(edge_index=torch.from_numpy(i['ei']), num_nodes=i['n'])
            for i in insts])
        c = np.concatenate([i['c'] for i in insts])
        src = torch.tensor([i['s'] for i in insts])
        dst = torch.tensor([i['t'] for i in insts])
        y = layer(tensor(c, opts['dtype']), batch.edge_index, batch.batch,
                  num_graphs=len(insts), source=src, target=dst)
        y = output(y, c.size, opts['dtype'])
        return split(y, [i['c'].size for i in insts])

    def reference(self, inst: Inst, opts: Opts) -> Any:
        import networkx as nx

        n, ei, c, s, t = inst['n'], inst['ei'], inst['c'], inst['s'], \
            inst['t']
        vertex = opts['vertex']
        if s == t:  # the empty path
            return (float(c[s]), abs(float(c[s]))) if vertex else (0.0, 0.0)
        G = nx.DiGraph()
        G.add_nodes_from(range(n))
        two_way = opts['kind'] == 'undirected'
        for e in range(ei.shape[1]):
            u, v = int(ei[0, e]), int(ei[1, e])
            if u == v:  # self-loops are never on a path
                continue
            for a, b in ((u, v), (v, u)) if two_way else ((u, v), ):
                w = float(c[b]) if vertex else float(c[e])
                if not G.has_edge(a, b) or w < G[a][b]['weight']:
                    G.add_edge(a, b, weight=w)
        if not nx.has_path(G, s, t):
            return None  # unreachable
        on = (nx.descendants(G, s) | {s}) & (nx.ancestors(G, t) | {t})
        H = G.subgraph(on).copy()
        negative = any(d['weight'] < 0 for _, _, d in H.edges(data=True))
        if negative:
            if nx.negative_edge_cycle(H, weight='weight'):
                return None  # ill-posed
            path = nx.bellman_ford_path(H, s, t, weight='weight')
        else:
            path = nx.dijkstra_path(H, s, t, weight='weight')
        w = [H[a][b]['weight'] for a, b in zip(path[:-1], path[1:])]
        start = float(c[s]) if vertex else 0.0
        return (start + float(np.sum(w)),
                abs(start) + float(np.sum(np.abs(w))))

    def check(self, inst: Inst, opts: Opts, y: np.ndarray,
              ref: Any) -> Tuple[str, float, Dict[str, int]]:
        if not is_binary(y):
            return 'infeasible', 0.0, {}
        feasible = (self._node_path(inst, opts, y) if opts['vertex'] else
                    self._edge_path(inst, opts, y))
        if not feasible:
            return 'infeasible', 0.0, {}
        c = inst['c']
        status, rel = verdict(float((c * y).sum()), ref[0],
                              float((np.abs(c) * y).sum()) + ref[1])
        return status, rel, {}

    @staticmethod
    def _edge_path(inst: Inst, opts: Opts, y: np.ndarray) -> bool:
        ei, s, t = inst['ei'], inst['s'], inst['t']
        left = set(np.flatnonzero(y).tolist())
        two_way = opts['kind'] == 'undirected'
        cur, seen = s, {s}
        while cur != t:
            nxt = [(e, int(ei[1, e])) for e in left if ei[0, e] == cur]
            if two_way:
                nxt += [(e, int(ei[0, e])) for e in left if ei[1, e] == cur
                        and ei[0, e] != cur]
            if len(nxt) != 1 or nxt[0][1] in seen:
                return False
            e, cur = nxt[0]
            left.discard(e)
            seen.add(cur)
        return not left

    @staticmethod
    def _node_path(inst: Inst, opts: Opts, y: np.ndarray) -> bool:
        ei, s, t = inst['ei'], inst['s'], inst['t']
        nodes = set(np.flatnonzero(y).tolist())
        if s not in nodes or t not in nodes:
            return False
        adj: Dict[int, set] = {v: set() for v in nodes}
        for u, v in ei.T.tolist():
            if u != v and u in nodes and v in nodes:
                adj[u].add(v)
                if opts['kind'] == 'undirected':
                    adj[v].add(u)

        @functools.lru_cache(maxsize=None)
        def dfs(v: int, seen: frozenset) -> bool:  # a path through all
            if v == t:
                return len(seen) == len(nodes)
            return any(dfs(w, seen | {w}) for w in adj[v] if w not in seen)

        return dfs(s, frozenset([s]))


def _greedy_tour(W: np.ndarray) -> Optional[np.ndarray]:
    # The nearest-neighbour tour from node 0 (as the TSP solver's), or None.
    n = W.shape[0]
    tour, free = [0], np.ones(n, dtype=bool)
    free[0] = False
    for _ in range(1, n):
        row = np.where(free, W[tour[-1]], np.inf)
        nxt = int(np.argmin(row))
        if not np.isfinite(row[nxt]):
            return None
        tour.append(nxt)
        free[nxt] = False
    return np.asarray(tour) if np.isfinite(W[tour[-1], 0]) else None


def lkh_rounding_bound(W: np.ndarray) -> float:
    r"""How much longer than optimal the documented integer rounding for
    LKH may make a tour (n integer steps of the capped span / 2**22), in the
    units of the pair costs ``W`` (``inf`` marks a missing pair)."""
    n = W.shape[0]
    m = np.isfinite(W) & ~np.eye(n, dtype=bool)
    v = W[m]
    if v.size == 0:
        return 0.0
    shifted = np.where(m, W - v.min(), np.inf)
    span = float(v.max() - v.min())
    tour = _greedy_tour(shifted)
    if tour is not None:
        upper = float(shifted[tour, np.roll(tour, -1)].sum())
        if upper == 0:
            return 0.0
        span = min(span, upper * (1.0 + 1.0 / n))
    complete = v.size == n * (n - 1)
    top = MAX_INT_COST if complete else MAX_INT_COST // (n + 1)
    return n * span / top


class TSP(Family):
    name = 'tsp'

    def options(self, rng: np.random.Generator, regime: str) -> Opts:
        opts = batch_options(rng, regime)
        opts['solver'] = str(rng.choice(['elkai', 'exact']))
        opts['layout'] = str(rng.choice(['both', 'once', 'sparse'],
                                        p=[0.4, 0.3, 0.3]))
        opts['both'] = (opts['layout'] == 'both'
                        or (opts['layout'] == 'sparse' and rng.random() < .5))
        return opts

    def sample(self, rng: np.random.Generator, opts: Opts) -> Inst:
        n = _sizes(rng, opts, 3, 8)
        pairs = np.triu(np.ones((n, n), dtype=bool), 1)
        if opts['layout'] == 'sparse':
            keep = rng.random((n, n)) < 0.5
            if rng.random() < 0.8:  # plant a Hamiltonian cycle
                cyc = rng.permutation(n)
                a, b = cyc, np.roll(cyc, -1)
                keep[np.minimum(a, b), np.maximum(a, b)] = True
            pairs &= keep
        a, b = np.nonzero(pairs)
        ei = np.stack([a, b])
        if opts['both']:
            ei = np.concatenate([ei, ei[::-1]], axis=1)
        else:
            flip = rng.random(ei.shape[1]) < 0.5
            ei[:, flip] = ei[::-1, flip]
        ei = ei[:, rng.permutation(ei.shape[1])]
        return dict(n=n, ei=ei, c=draw(rng, ei.shape[1], opts))

    def solve(self, insts: List[Inst], opts: Opts,
              timeout: float) -> List[Any]:
        layer = IdentityTSP(solver=opts['solver'], timeout=timeout,
                            projection=None)
        batch = Batch.from_data_list([
            Data(edge_index=torch.from_numpy(i['ei']), num_nodes=i['n'])
            for i in insts])
        c = np.concatenate([i['c'] for i in insts])
        y = layer(tensor(c, opts['dtype']), batch.edge_index, batch.batch,
                  num_graphs=len(insts))
        y = output(y, c.size, opts['dtype'])
        return split(y, [i['c'].size for i in insts])

    def reference(self, inst: Inst, opts: Opts) -> Any:
        n = inst['n']
        if n < 3:
            return None
        W = pair_costs(n, inst['ei'], inst['c'])
        T = tours(n)
        nxt = np.roll(T, -1, axis=1)
        length = W[T, nxt].sum(axis=1)
        if not np.isfinite(length).any():
            return None
        k = int(np.argmin(length))
        bound = lkh_rounding_bound(W) if opts['solver'] == 'elkai' else 0.0
        return (float(length[k]), float(np.abs(W[T[k], nxt[k]]).sum()),
                bound)

    def check(self, inst: Inst, opts: Opts, y: np.ndarray,
              ref: Any) -> Tuple[str, float, Dict[str, int]]:
        n, c = inst['n'], inst['c']
        P = matched_pairs(n, inst['ei'], y) if is_binary(y) else None
        if P is None or P.shape[0] != n:
            return 'infeasible', 0.0, {}
        deg = np.bincount(P.ravel(), minlength=n)
        if np.any(deg != 2):
            return 'infeasible', 0.0, {}
        nbr: Dict[int, List[int]] = {v: [] for v in range(n)}
        for a, b in P.tolist():
            nbr[a].append(b)
            nbr[b].append(a)
        prev, cur, steps = -1, 0, 0
        while True:  # one cycle through all nodes
            nxt = nbr[cur][0] if nbr[cur][0] != prev else nbr[cur][1]
            prev, cur, steps = cur, nxt, steps + 1
            if cur == 0:
                break
        if steps != n:
            return 'infeasible', 0.0, {}
        obj = float((c * y).sum())
        l1 = float((np.abs(c) * y).sum()) + ref[1]
        status, rel = verdict(obj, ref[0], l1)
        info = {}
        if status == 'suboptimal' and obj - ref[0] <= ref[2] + RTOL * l1:
            status = 'ok'  # within the documented LKH rounding
            info['within_lkh_rounding'] = 1
        return status, rel, info


class PerfectMatching(Family):
    name = 'perfect_matching'

    def options(self, rng: np.random.Generator, regime: str) -> Opts:
        opts = batch_options(rng, regime)
        opts['both'] = bool(rng.random() < 0.5)
        opts['sparse'] = bool(rng.random() < 0.4)
        return opts

    def sample(self, rng: np.random.Generator, opts: Opts) -> Inst:
        if opts['regime'] == 'small':
            n = int(rng.integers(1, 4))
        else:
            n = 2 * int(rng.integers(1, 6))
            if rng.random() < 0.03:
                n -= 1  # odd: refused
        pairs = np.triu(np.ones((n, n), dtype=bool), 1)
        if opts['sparse']:
            keep = rng.random((n, n)) < 0.4
            if rng.random() < 0.85:  # plant a perfect matching
                p = rng.permutation(n)[:n - n % 2].reshape(-1, 2)
                keep[p.min(axis=1), p.max(axis=1)] = True
            pairs &= keep
        a, b = np.nonzero(pairs)
        ei = np.stack([a, b])
        if opts['both']:
            ei = np.concatenate([ei, ei[::-1]], axis=1)
        else:
            flip = rng.random(ei.shape[1]) < 0.5
            ei[:, flip] = ei[::-1, flip]
        loops = np.flatnonzero(rng.random(n) < 0.05)  # never matched
        ei = np.concatenate([ei, np.stack([loops, loops])], axis=1)
        ei = ei[:, rng.permutation(ei.shape[1])]
        return dict(n=n, ei=ei, c=draw(rng, ei.shape[1], opts))

    def solve(self, insts: List[Inst], opts: Opts,
              timeout: float) -> List[Any]:
        layer = IdentityPerfectMatching(projection=None, timeout=timeout)
        batch = Batch.from_data_list([
            Data(edge_index=torch.from_numpy(i['ei']), num_nodes=i['n'])
            for i in insts])
        c = np.concatenate([i['c'] for i in insts])
        y = layer(tensor(c, opts['dtype']), batch.edge_index, batch.batch,
                  num_graphs=len(insts))
        y = output(y, c.size, opts['dtype'])
        return split(y, [i['c'].size for i in insts])

    def reference(self, inst: Inst, opts: Opts) -> Any:
        n = inst['n']
        if n % 2:
            return None
        if n == 0:
            return (0.0, 0.0)
        W = pair_costs(n, inst['ei'], inst['c'])
        M = perfect_matchings(n)
        vals = W[M[..., 0], M[..., 1]].sum(axis=1)
        if not np.isfinite(vals).any():
            return None
        k = int(np.argmin(vals))
        return float(vals[k]), float(np.abs(W[M[k, :, 0], M[k, :, 1]]).sum())

    def check(self, inst: Inst, opts: Opts, y: np.ndarray,
              ref: Any) -> Tuple[str, float, Dict[str, int]]:
        n, c = inst['n'], inst['c']
        P = matched_pairs(n, inst['ei'], y) if is_binary(y) else None
        if P is None or np.any(np.bincount(P.ravel(), minlength=n) != 1):
            return 'infeasible', 0.0, {}
        status, rel = verdict(float((c * y).sum()), ref[0],
                              float((np.abs(c) * y).sum()) + ref[1])
        return status, rel, {}


class _Sorting(Family):
    has_timeout = False

    def options(self, rng: np.random.Generator, regime: str) -> Opts:
        opts = batch_options(rng, regime)
        opts['layout'] = str(rng.choice(['sorted', 'shuffled', 'dense']))
        opts['n'] = _sizes(rng, opts, 1, 24, large=200)  # of 'dense'
        opts['perm_seed'] = int(rng.integers(2**31))
        opts['normalize'] = bool(rng.random() < 0.3)
        return opts

    def sample(self, rng: np.random.Generator, opts: Opts) -> Inst:
        if opts['layout'] == 'dense':
            n = opts['n']
        elif opts['regime'] == 'small':
            n = int(rng.integers(0 if rng.random() < 0.15 else 1, 4))
        else:
            n = _sizes(rng, opts, 1, 24, large=200)
        return dict(n=n, w=draw(rng, n, opts), k=int(rng.integers(0, n + 1)))

    def call(self, insts: List[Inst], opts: Opts,
             fn: Callable[..., torch.Tensor]) -> List[np.ndarray]:
        dt, B = opts['dtype'], len(insts)
        if opts['layout'] == 'dense':
            w = np.stack([i['w'] for i in insts])
            y = fn(tensor(w, dt).view(B, opts['n']), None, B)
            return list(output(y.reshape(-1), w.size, dt).reshape(w.shape))
        w = np.concatenate([i['w'] for i in insts])
        sizes = [i['n'] for i in insts]
        index = np.repeat(np.arange(B), sizes)
        perm = np.arange(w.size)
        if opts['layout'] == 'shuffled':
            perm = np.random.default_rng(opts['perm_seed']).permutation(
                w.size)
        y = fn(tensor(w[perm], dt), torch.from_numpy(index[perm]), B)
        y = output(y, w.size, dt)
        back = np.empty_like(y)
        back[perm] = y
        return split(back, sizes)

    def reference(self, inst: Inst, opts: Opts) -> Any:
        return ()  # the check is exact (see the module docstring)


class TopK(_Sorting):
    name = 'topk'

    def solve(self, insts: List[Inst], opts: Opts,
              timeout: float) -> List[Any]:
        layer = IdentityTopK(k=0, projection=None)
        k = torch.tensor([i['k'] for i in insts], dtype=torch.long)
        return self.call(insts, opts, lambda w, index, B: layer(
            w, index, num_graphs=B, k=k))

    def check(self, inst: Inst, opts: Opts, y: np.ndarray,
              ref: Any) -> Tuple[str, float, Dict[str, int]]:
        if not is_binary(y) or int(y.sum()) != inst['k']:
            return 'infeasible', 0.0, {}
        w, sel = inst['w'], y > 0.5
        if sel.any() and (~sel).any() and w[sel].min() < w[~sel].max():
            return 'suboptimal', 0.0, {}
        return 'ok', 0.0, {}


class Ranking(_Sorting):
    name = 'ranking'

    def solve(self, insts: List[Inst], opts: Opts,
              timeout: float) -> List[Any]:
        layer = IdentityRanking(normalize=opts['normalize'], projection=None)
        return self.call(insts, opts, lambda w, index, B: layer(
            w, index, num_graphs=B))

    def check(self, inst: Inst, opts: Opts, y: np.ndarray,
              ref: Any) -> Tuple[str, float, Dict[str, int]]:
        n, w = inst['n'], inst['w']
        r = np.rint(y * n) if opts['normalize'] else y
        eps = torch.finfo(DTYPES[opts['dtype']]).eps
        if opts['normalize'] and n and np.any(np.abs(y - r / n) > eps * r /
                                              n):
            return 'infeasible', 0.0, {}  # not rk / n in the dtype
        if not np.array_equal(np.sort(r), np.arange(1, n + 1)):
            return 'infeasible', 0.0, {}
        by_rank = w[np.argsort(r)]
        if np.any(np.diff(by_rank) > 0):  # a higher score ranked after
            return 'suboptimal', 0.0, {}
        return 'ok', 0.0, {}


FAMILIES: Dict[str, Family] = {f.name: f for f in (
    Assignment(), GraphMatching(), ShortestPath(), TSP(), PerfectMatching(),
    TopK(), Ranking())}


# Running ####################################################################

@contextlib.contextmanager
def wall_clock_guard(seconds: float) -> Iterator[None]:
    r"""Raises a :class:`TimeoutError` in the block after ``seconds`` (by
    SIGALRM on the main thread, else when the block returns late)."""
    start = time.monotonic()
    alarm = (hasattr(signal, 'setitimer')
             and threading.current_thread() is threading.main_thread())

    def handler(signum: int, frame: Any) -> None:
        raise TimeoutError(f'wall-clock guard: over {seconds:g} s')

    if alarm:
        old = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    if time.monotonic() - start > seconds:
        raise TimeoutError(f'wall-clock guard: over {seconds:g} s')


def outcomes(fam: Family, insts: List[Inst], opts: Opts,
             timeout: float) -> List[Tuple[str, Any]]:
    r"""``('sol', solution)`` or ``('exc', exception)`` per instance: one
    call for the batch, one per instance if it raises."""
    try:
        if fam.has_timeout:
            sols = fam.solve(insts, opts, timeout)
        else:
            with wall_clock_guard(timeout):
                sols = fam.solve(insts, opts, timeout)
        return [('sol', s) for s in sols]
    except Exception as e:  # attributed below
        if len(insts) == 1:
            return [('exc', e)]
    return [o for inst in insts for o in outcomes(fam, [inst], opts,
                                                  timeout)]


REFUSALS = (  # message fragment -> reason
    ('negative', 'negative cycle'), ('unreachable', 'unreachable target'),
    ('even number', 'odd graph'), ('at least 3 nodes', 'under 3 nodes'),
    ('Hamiltonian', 'no tour'), ('no perfect matching', 'no perfect '
                                'matching'), ('admit no matching',
                                              'no feasible assignment'))


def refusal_reason(message: str) -> str:
    return next((r for k, r in REFUSALS if k in message), 'other')


COUNTS = ('checked', 'refused', 'infeasible', 'suboptimal', 'errors',
          'hangs')


class Stats:
    def __init__(self) -> None:
        self.total = 0
        self.counts = dict.fromkeys(COUNTS, 0)
        self.regimes = {r: dict.fromkeys(('instances', ) + COUNTS, 0)
                        for r in REGIMES}
        self.info: Dict[str, int] = {'ref_worse': 0}
        self.refusals: Dict[str, int] = {}
        self.max_rel_gap = 0.0
        self.examples: List[Dict[str, Any]] = []
        self.batches = 0
        self.wall_s = 0.0

    def add(self, regime: str, what: str) -> None:
        self.counts[what] += 1
        self.regimes[regime][what] += 1

    def as_dict(self) -> Dict[str, Any]:
        return dict(instances=self.total, batches=self.batches,
                    wall_s=self.wall_s, max_rel_gap=self.max_rel_gap,
                    info=self.info, refusals=self.refusals,
                    regimes=self.regimes,
                    examples=self.examples, **self.counts)


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return x


def run_batch(fam: Family, seed: int, b: int, size: Optional[int],
              timeout: float) -> Tuple[str, Opts, List[Inst],
                                       List[Tuple[str, Any]]]:
    r"""Draws batch ``b`` of ``fam`` (deterministic in ``seed`` and ``b``)
    and returns its regime, options, instances and per-instance
    classification ``(category, detail)``."""
    fid = list(FAMILIES).index(fam.name)
    rng = np.random.default_rng([seed, fid, b])
    regime = REGIMES[b % len(REGIMES)]
    opts = fam.options(rng, regime)
    count = int(rng.integers(8, 33))
    count = count if size is None else min(count, size)
    insts = [fam.sample(rng, opts) for _ in range(count)]
    results = []
    for inst, (kind, val) in zip(insts, outcomes(fam, insts, opts,
                                                 timeout)):
        if kind == 'exc' and isinstance(val, TimeoutError):
            results.append(('hangs', repr(val)))
            continue
        try:
            ref = fam.reference(inst, opts)
        except Exception as e:  # a bug of the benchmark: report it loudly
            raise RuntimeError(f'reference failed on {fam.name} batch {b}'
                               ) from e
        if kind == 'exc':
            if isinstance(val, ValueError) and ref is None:
                results.append(('refused', str(val)))
            elif isinstance(val, ValueError):
                results.append(('errors', f'wrong refusal: {val}'))
            else:
                results.append(('errors', repr(val)))
            continue
        if ref is None:
            results.append(('errors', 'solved an instance the reference '
                            'calls infeasible or ill-posed'))
            continue
        status, rel, info = fam.check(inst, opts, val, ref)
        results.append(('checked', (status, rel, info)))
    return regime, opts, insts, results


def run(instances: int = 10_000, families: Optional[List[str]] = None,
        seed: int = 0, timeout: float = 60.0, max_examples: int = 3,
        log: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    r"""Runs ``instances`` random instances per family and returns the
    counts per family (see the module docstring)."""
    out: Dict[str, Any] = {}
    for name in families or list(FAMILIES):
        fam, st = FAMILIES[name], Stats()
        start = time.perf_counter()
        b = 0
        while st.total < instances:
            regime, opts, insts, res = run_batch(fam, seed, b,
                                                 instances - st.total,
                                                 timeout)
            for k, (cat, detail) in enumerate(res):
                st.total += 1
                st.regimes[regime]['instances'] += 1
                what = cat
                if cat == 'checked':
                    status, rel, info = detail
                    st.add(regime, 'checked')
                    for key, v in info.items():
                        st.info[key] = st.info.get(key, 0) + v
                    if np.isfinite(rel):
                        st.max_rel_gap = max(st.max_rel_gap, float(rel))
                    if status == 'ref_worse':
                        st.info['ref_worse'] += 1
                        what = 'ref_worse'
                    elif status != 'ok':
                        st.add(regime, status)
                        what = status
                    else:
                        continue
                else:
                    st.add(regime, cat)
                if what == 'refused':
                    why = refusal_reason(detail)
                    st.refusals[why] = st.refusals.get(why, 0) + 1
                    continue
                if sum(e['category'] == what for e in st.examples) < \
                        max_examples:
                    st.examples.append(dict(
                        category=what, batch=b, position=k, regime=regime,
                        detail=_jsonable(detail),
                        opts=_jsonable(opts), instance=_jsonable(insts[k])))
            b += 1
        st.batches, st.wall_s = b, time.perf_counter() - start
        out[name] = st.as_dict()
        if log:
            log(row(name, out[name]))
    return out


HEADER = (f"{'family':18s} {'instances':>9s} {'checked':>8s} "
          f"{'refused':>8s} {'infeasible':>10s} {'suboptimal':>10s} "
          f"{'errors':>6s} {'hangs':>6s} {'max gap':>8s} {'time':>7s}")


def row(name: str, r: Dict[str, Any]) -> str:
    return (f"{name:18s} {r['instances']:9d} {r['checked']:8d} "
            f"{r['refused']:8d} {r['infeasible']:10d} {r['suboptimal']:10d} "
            f"{r['errors']:6d} {r['hangs']:6d} {r['max_rel_gap']:8.1e} "
            f"{r['wall_s']:6.0f}s")


def notes(results: Dict[str, Any]) -> List[str]:
    out = []
    gm = results.get('graph_matching')
    if gm:
        out.append(f"graph_matching is a heuristic: 'suboptimal' = worse "
                   f"than its documented guarantee (the unary-only linear "
                   f"assignment); worse than brute force (info, not a "
                   f"failure): {gm['info'].get('worse_than_brute_force', 0)}"
                   f" of {gm['checked']}; 'max gap' is to brute force")
    tsp = results.get('tsp')
    if tsp:
        out.append(f"tsp: exact and elkai backends alternate by batch; "
                   f"elkai tours beyond RTOL but within the documented LKH "
                   f"integer rounding (not failures): "
                   f"{tsp['info'].get('within_lkh_rounding', 0)}")
    for name, r in results.items():
        if r['refusals']:
            why = ', '.join(f'{k} {v}'
                            for k, v in sorted(r['refusals'].items()))
            out.append(f'{name} refused (confirmed by the reference): {why}')
    worse = {k: r['info']['ref_worse'] for k, r in results.items()
             if r['info']['ref_worse']}
    if worse:
        out.append(f'BENCHMARK BUG: solutions better than the reference: '
                   f'{worse}')
    return out


def replay(spec: str, seed: int, timeout: float) -> None:
    r"""Prints the options and every non-ok instance of one batch."""
    name, b = spec.split(':')
    regime, opts, insts, res = run_batch(FAMILIES[name], seed, int(b), None,
                                         timeout)
    print(f'{name} batch {b}: regime {regime}, {len(insts)} instances, '
          f'options {_jsonable(opts)}')
    for k, (cat, detail) in enumerate(res):
        if cat == 'refused' or (cat == 'checked' and detail[0] == 'ok'):
            continue
        print(f'  instance {k}: {cat} {detail}\n    {_jsonable(insts[k])}')


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quick', action='store_true',
                        help='500 instances per family (a smoke run)')
    parser.add_argument('--instances', type=int, default=None,
                        help='instances per family (default: 10000, or 500 '
                        'with --quick)')
    parser.add_argument('--families', nargs='*', default=None,
                        choices=list(FAMILIES))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--timeout', type=float, default=60.0,
                        help='seconds per layer call before a hang')
    parser.add_argument('--json', type=str, default=None)
    parser.add_argument('--replay', type=str, default=None,
                        metavar='FAMILY:BATCH')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.replay:
        replay(args.replay, args.seed, args.timeout)
        return {}
    n = args.instances or (500 if args.quick else 10_000)
    print(f'Reliability: {n} random instances per family in ragged batches '
          f'of 8-32, regimes {", ".join(REGIMES)}; seed {args.seed}, '
          f'timeout {args.timeout:g} s per call; suboptimal = objective - '
          f'reference > {RTOL:g} x L1 of both solutions (references in '
          f'float64 on the same rounded costs)')
    print(HEADER, flush=True)
    start = time.perf_counter()
    results = run(n, args.families, args.seed, args.timeout,
                  log=lambda s: print(s, flush=True))
    wall = time.perf_counter() - start
    for line in notes(results):
        print(line)
    print(f'total {wall:.0f} s')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(instances=n, seed=args.seed, rtol=RTOL,
                           timeout_s=args.timeout, wall_s=wall,
                           families=results), f, indent=1)
    return results


if __name__ == '__main__':
    main()
