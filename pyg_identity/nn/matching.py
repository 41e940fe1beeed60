from typing import Any, Optional, Tuple, Union

from torch import Tensor
from torch_geometric.data.data import BaseData
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import Option, SolverLayer
from pyg_identity.nn._pool_options import PoolOptions
from pyg_identity.nn.functional.matching import matching
from pyg_identity.nn.functional.pairs import (
    SIMILARITIES,
    _check_features,
    all_pairs,
    pair_cost,
)
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.solvers.linear_assignment import (
    _check_float,
    _check_index,
    _check_method,
    _check_projection_for_partial,
    _check_solver,
    _check_unmatch_cost,
    _looks_like,
)

# The positional order of IdentityMatching.forward, quoted by the errors on
# misplaced tensors.
FORWARD_ORDER = ('x_s, x_t, batch_s, batch_t, num_nodes_s, num_nodes_t, '
                 'num_graphs; cost=, edge_index=, batch=, n1= and n2= by '
                 'keyword')


def _check_similarity(layer: Any, value: str) -> str:
    if value not in SIMILARITIES:
        raise ValueError(f"'similarity' must be 'dot' or 'cosine' (got "
                         f"{value!r})")
    return value


def _check_layer_unmatch_cost(layer: 'IdentityMatching',
                              value: Optional[float]) -> Optional[float]:
    u = _check_unmatch_cost(value)
    _check_projection_for_partial(layer.projection, u)
    return u


def _check_layer_method(layer: 'IdentityMatching', value: str) -> str:
    _check_solver(layer.solver, _check_method(value))
    return value


class IdentityMatching(PoolOptions, SolverLayer):
    r"""Linear assignment between the source and target graph of every pair
    of a batch as a layer one can train through, with the Identity gradient
    of the `"Backpropagation through Combinatorial Algorithms: Identity with
    Projection Works" <https://arxiv.org/abs/2205.15213>`_ paper.

    For every pair :math:`b` with :math:`n_s` source nodes, :math:`n_t`
    target nodes and candidate pairs :math:`E_b`, the layer returns the
    indicator :math:`y \in \{0, 1\}^{E_b}` of

    .. math::
        \arg\min_{y} \sum_{(i, j) \in E_b} c_{ij} y_{ij}
        \quad \text{s.t.} \quad \sum_j y_{ij} \leq 1, \
        \sum_i y_{ij} \leq 1, \
        \sum_{ij} y_{ij} = \min(n_s, n_t)

    (an :math:`\arg\min`, so the Identity gradient is
    :math:`\partial\ell/\partial c = -\partial\ell/\partial y`).
    With an :obj:`unmatch_cost` :math:`u \geq 0` the size constraint is
    dropped and every unmatched node costs :math:`u`:

    .. math::
        \arg\min_{y} \sum_{(i, j) \in E_b} c_{ij} y_{ij} +
        u \Big(n_s + n_t - 2 \sum_{ij} y_{ij}\Big),

    *i.e.* a pair is only matched if its cost beats :math:`2u` (ties stay
    unmatched). :math:`n_s \neq n_t` is allowed either way.

    The costs are the negative similarities of the node embeddings
    :math:`c_{ij} = -\mathbf{x}_i^{\top}\mathbf{x}_j` (:obj:`"dot"`) or
    :math:`-\cos(\mathbf{x}_i, \mathbf{x}_j)` (:obj:`"cosine"`), or are
    given. Candidate pairs are all pairs by default, or a sparse
    :obj:`edge_index` (*e.g.* from
    :func:`~pyg_identity.nn.functional.knn_candidates`), so no dense
    :math:`n_s \times n_t` block is needed. Dense blocks are solved with
    scipy's :obj:`linear_sum_assignment` (measured faster than
    :obj:`pygmtools.linear_solvers.hungarian`, which wraps it), large sparse
    candidate sets with scipy's :obj:`min_weight_full_bipartite_matching`;
    :obj:`solver="pygmtools"` solves every pair with
    :obj:`pygmtools.linear_solvers.hungarian` (numpy backend) instead, with
    the same matchings wherever they are unique.

    **Two layouts.** PyG's sparse one: costs :math:`(E)` on the candidate
    pairs of a batch given by :obj:`batch_s`, :obj:`batch_t` (and
    :obj:`edge_index`), solution :math:`(E)`. Or :obj:`pygmtools`' dense
    one: :obj:`layer(cost=c, n1=n1, n2=n2)` with :obj:`c` of shape
    :math:`(b, n_1^{\max}, n_2^{\max})` and the per-pair sizes :obj:`n1`,
    :obj:`n2` :math:`(b)` (optional: :obj:`None` means full), solution
    :math:`(b, n_1^{\max}, n_2^{\max})` with zeros in the padding (which
    gets no gradient). **Sign convention:** this layer *minimises* costs,
    whereas :obj:`pygmtools.linear_solvers.hungarian(s, n1, n2)`
    *maximises* scores :obj:`s`; the two agree for :obj:`cost = -s`, and
    an :obj:`unmatch_cost` :math:`u` is pygmtools' :obj:`unmatch1 =
    unmatch2 = -u`.

    The default projection is :obj:`None`: the paper finds Identity
    *without* projection best for graph matching (the Hamming-loss gradient
    already points at the target matching). :obj:`"norm"` is always valid
    (positive scaling keeps the argmin, the :obj:`unmatch_cost` is then
    compared with the normalised costs); :obj:`"mean"`/:obj:`"std"` are only
    valid without :obj:`unmatch_cost`, where every matching of a pair has
    the same size :math:`\min(n_s, n_t)` — they change the solution of
    partial matchings.

    Args:
        similarity (str, optional): :obj:`"dot"` or :obj:`"cosine"`, used
            when node embeddings are given. (default: :obj:`"dot"`)
        unmatch_cost (float, optional): The cost :math:`u \geq 0` of leaving
            one node unmatched; :obj:`None` matches :math:`\min(n_s, n_t)`
            nodes. (default: :obj:`None`)
        method (str, optional): :obj:`"auto"`, :obj:`"dense"` or
            :obj:`"sparse"` per-pair solver (:obj:`"auto"`: dense for
            complete or small candidate sets, sparse otherwise).
            (default: :obj:`"auto"`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)
        solver (str, optional): The per-pair backend, :obj:`"scipy"` or
            :obj:`"pygmtools"` (dense pairs only, so not with
            :obj:`method="sparse"`). (default: :obj:`"scipy"`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`None`. (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`noise=1.0`).

    Every own option is also an attribute validated on assignment.

    Shapes:
        - **input:** node embeddings :obj:`x_s` :math:`(N_s, F)`, :obj:`x_t`
          :math:`(N_t, F)` and batch vectors :obj:`batch_s` :math:`(N_s)`,
          :obj:`batch_t` :math:`(N_t)`; or a batch of
          :class:`~pyg_identity.datasets.PairData`; or costs
          :obj:`cost=` :math:`(E)`; candidate pairs :obj:`edge_index=`
          :math:`(2, E)` (optional); or dense costs :obj:`cost=`
          :math:`(b, n_1^{\max}, n_2^{\max})` with :obj:`n1=`, :obj:`n2=`
          :math:`(b)` (optional)
        - **output:** 0/1 indicator :math:`(E)` on the candidate pairs
          (:math:`E = \sum_b n_s^{(b)} n_t^{(b)}` in the order of
          :func:`~pyg_identity.nn.functional.all_pairs` without
          :obj:`edge_index`), or :math:`(b, n_1^{\max}, n_2^{\max})` for
          dense costs, in the costs' dtype and device
    """
    default_projection: Optional[str] = None

    def __init__(
        self,
        similarity: str = 'dot',
        unmatch_cost: Optional[float] = None,
        method: str = 'auto',
        num_workers: int = 0,
        timeout: Optional[float] = None,
        *,
        solver: str = 'scipy',
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self.similarity = similarity
        self.unmatch_cost = unmatch_cost
        self._solver = 'scipy'
        self.method = method
        self.solver = solver
        self.num_workers = num_workers
        self.timeout = timeout

    similarity = Option[str](_check_similarity,
                             r""":obj:`"dot"` or :obj:`"cosine"`.""")
    unmatch_cost = Option[Optional[float]](_check_layer_unmatch_cost, r"""The
        cost of leaving a node unmatched, or :obj:`None`.""")
    method = Option[str](
        _check_layer_method,
        r""":obj:`"auto"`, :obj:`"dense"` or :obj:`"sparse"`.""")
    solver = Option[str](
        lambda layer, value: _check_solver(value, layer.method),
        r""":obj:`"scipy"` or :obj:`"pygmtools"`.""")

    def forward(
        self,
        x_s: Union[Tensor, BaseData, None] = None,
        x_t: OptTensor = None,
        batch_s: OptTensor = None,
        batch_t: OptTensor = None,
        num_nodes_s: Optional[int] = None,
        num_nodes_t: Optional[int] = None,
        num_graphs: Optional[int] = None,
        *,
        cost: OptTensor = None,
        edge_index: OptTensor = None,
        batch: Optional[BaseData] = None,
        n1: Any = None,
        n2: Any = None,
    ) -> Tensor:
        r"""Forward pass: :obj:`layer(x_s, x_t, batch_s, batch_t)`,
        :obj:`layer(pair_batch)`, :obj:`layer(x_s, x_t, batch=pair_batch)`,
        :obj:`layer(cost=cost, batch_s=batch_s, batch_t=batch_t)` or, in
        pygmtools' dense layout, :obj:`layer(cost=cost, n1=n1, n2=n2)`.

        Args:
            x_s (torch.Tensor or PairData, optional): Source node
                embeddings, or a (batch of)
                :class:`~pyg_identity.datasets.PairData` whose :obj:`x_s`
                and :obj:`x_t` are the embeddings. (default: :obj:`None`)
            x_t (torch.Tensor, optional): Target node embeddings.
                (default: :obj:`None`)
            batch_s (torch.Tensor, optional): The source batch vector
                (:obj:`batch.x_s_batch` with :obj:`follow_batch=['x_s',
                'x_t']`); :obj:`None` for a single pair.
                (default: :obj:`None`)
            batch_t (torch.Tensor, optional): The target batch vector.
                (default: :obj:`None`)
            num_nodes_s (int, optional): The number of source nodes, for
                :obj:`cost` without :obj:`batch_s`. (default: :obj:`None`)
            num_nodes_t (int, optional): The number of target nodes, for
                :obj:`cost` without :obj:`batch_t`. (default: :obj:`None`)
            num_graphs (int, optional): The number of pairs.
                (default: :obj:`None`)
            cost (torch.Tensor, optional): Given costs on the candidate
                pairs, instead of :obj:`x_s` and :obj:`x_t`.
                (default: :obj:`None`)
            edge_index (torch.Tensor, optional): Candidate pairs (global
                source, global target node); :obj:`None` means all pairs.
                (default: :obj:`None`)
            batch (PairData, optional): A batch of
                :class:`~pyg_identity.datasets.PairData` (loaded with
                :obj:`follow_batch=['x_s', 'x_t']`) that supplies the batch
                vectors, the sizes and, unless given, the embeddings.
                (default: :obj:`None`)
            n1 (torch.Tensor, optional): With dense costs :obj:`[b, n1max,
                n2max]`, the number of source nodes of every pair;
                :obj:`None` means :obj:`n1max` each. (default: :obj:`None`)
            n2 (torch.Tensor, optional): With dense costs, the number of
                target nodes of every pair; :obj:`None` means :obj:`n2max`
                each. (default: :obj:`None`)
        """
        if isinstance(x_s, BaseData):
            if batch is not None:
                raise ValueError("Pass the pair batch once (got it as 'x_s' "
                                 "and as 'batch')")
            batch, x_s = x_s, None
        if batch is not None:
            x_s, x_t, batch_s, batch_t, num_nodes_s, num_nodes_t, num_graphs \
                = _unpack(batch, x_s, x_t, batch_s, batch_t, num_nodes_s,
                          num_nodes_t, num_graphs, cost is not None)
        for name, value in (('num_nodes_s', num_nodes_s),
                            ('num_nodes_t', num_nodes_t),
                            ('num_graphs', num_graphs)):
            if isinstance(value, Tensor):
                raise ValueError(f"'{name}' must be an integer (got a tensor; "
                                 f"this looks like {_looks_like(value)} — "
                                 f"the order is {FORWARD_ORDER})")
        for name, x in (('x_s', x_s), ('x_t', x_t)):
            if x is not None:  # Data first: the embeddings, then the rest.
                _check_float(x, name, FORWARD_ORDER)
        _check_index(batch_s, 'batch_s', order=FORWARD_ORDER)
        _check_index(batch_t, 'batch_t', order=FORWARD_ORDER)
        if cost is not None:
            if x_s is not None or x_t is not None:
                raise ValueError("Pass either 'cost' or 'x_s' and 'x_t' "
                                 "(got both)")
        else:
            if x_s is None or x_t is None:
                raise ValueError("'x_s' and 'x_t' are required without "
                                 "'cost'")
            _check_features(x_s, x_t, FORWARD_ORDER)
            for side, n, given, vec in (('s', x_s.size(0), num_nodes_s,
                                         batch_s),
                                        ('t', x_t.size(0), num_nodes_t,
                                         batch_t)):
                if given is not None and given != n:
                    raise ValueError(f"'num_nodes_{side}' ({given}) does not "
                                     f"match the embeddings ({n} nodes)")
                if vec is not None and vec.numel() != n:
                    raise ValueError(f"'batch_{side}' must have one entry "
                                     f"per row of 'x_{side}' ({n}), got "
                                     f"{vec.numel()} entries")
            num_nodes_s, num_nodes_t = x_s.size(0), x_t.size(0)
            ei = edge_index
            if ei is None:
                ei = all_pairs(batch_s, batch_t, num_nodes_s, num_nodes_t,
                               num_graphs).to(x_s.device)
            cost = pair_cost(x_s, x_t, ei, mode=self.similarity)

        return matching(
            cost, edge_index, batch_s, batch_t, num_nodes_s, num_nodes_t,
            num_graphs, n1=n1, n2=n2, unmatch_cost=self.unmatch_cost,
            method=self.method, solver=self.solver,
            num_workers=self.num_workers, timeout=self.timeout,
            settings=self.settings, training=self.training)

    def __repr__(self) -> str:
        solver = '' if self.solver == 'scipy' else f'solver={self.solver!r}, '
        return (f'{self.__class__.__name__}(similarity={self.similarity!r}, '
                f'unmatch_cost={self.unmatch_cost}, {solver}'
                f'{self.extra_repr()})')


def _unpack(
    batch: Any,
    x_s: OptTensor,
    x_t: OptTensor,
    batch_s: OptTensor,
    batch_t: OptTensor,
    num_nodes_s: Optional[int],
    num_nodes_t: Optional[int],
    num_graphs: Optional[int],
    has_cost: bool,
) -> Tuple[OptTensor, OptTensor, OptTensor, OptTensor, Optional[int],
           Optional[int], Optional[int]]:
    # The inputs of IdentityMatching from a (batch of) PairData.
    if not isinstance(batch, BaseData):
        raise ValueError(f"'batch' must be a PairData or a batch of them "
                         f"(got {type(batch).__name__})")
    if batch_s is not None or batch_t is not None:
        raise ValueError("Pass either 'batch' or 'batch_s' and 'batch_t' "
                         "(got both)")
    if not has_cost and x_s is None and x_t is None:
        x_s, x_t = getattr(batch, 'x_s', None), getattr(batch, 'x_t', None)
        if x_s is None or x_t is None:
            raise ValueError("The pair batch has no 'x_s' and 'x_t'; pass "
                             "the embeddings as layer(x_s, x_t, batch=...)")
    batch_s = getattr(batch, 'x_s_batch', None)
    batch_t = getattr(batch, 'x_t_batch', None)
    count = getattr(batch, 'num_graphs', None)
    if (batch_s is None or batch_t is None) and count not in (None, 1):
        raise ValueError(f"The pair batch of {count} pairs has no "
                         f"'x_s_batch' and 'x_t_batch'; load it with "
                         f"follow_batch=['x_s', 'x_t']")
    if num_graphs is None and count is not None:
        num_graphs = int(count)
    if x_s is None and num_nodes_s is None:
        num_nodes_s = getattr(batch, 'num_nodes_s', None)
    if x_t is None and num_nodes_t is None:
        num_nodes_t = getattr(batch, 'num_nodes_t', None)
    return x_s, x_t, batch_s, batch_t, num_nodes_s, num_nodes_t, num_graphs


__all__ = ['IdentityMatching']
