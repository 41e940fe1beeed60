from typing import Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import SolverLayer
from pyg_identity.nn.functional.matching import (
    SIMILARITIES,
    _check_features,
    _check_projection_for_partial,
    all_pairs,
    matching,
    pair_cost,
)
from pyg_identity.solvers._dispatch import check_num_workers, check_timeout
from pyg_identity.solvers.linear_assignment import (
    METHODS,
    _check_unmatch_cost,
)


class IdentityMatching(SolverLayer):
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
    :func:`~pyg_identity.nn.functional.matching.knn_candidates`), so no dense
    :math:`n_s \times n_t` block is needed. Dense blocks are solved with
    scipy's :obj:`linear_sum_assignment` (measured faster than
    :obj:`pygmtools.linear_solvers.hungarian`, which wraps it), large sparse
    candidate sets with scipy's :obj:`min_weight_full_bipartite_matching`.

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
        num_workers (int, optional): Solve pairs in a pool of this many
            processes if :obj:`> 1`. (default: :obj:`0`)
        timeout (float, optional): Seconds a solver call (the whole batch)
            may take before its worker processes are terminated and a
            :class:`TimeoutError` is raised. With a timeout, even
            :obj:`num_workers=0` solves in a worker process (the only way to
            stop a solver stuck in C code), so scripts need the
            :obj:`if __name__ == '__main__':` guard of :obj:`spawn`.
            (default: :obj:`None`)
        projection (str, optional): :obj:`None`, :obj:`"mean"`,
            :obj:`"norm"` or :obj:`"std"`, per pair. (default: :obj:`None`)
        noise (float, optional): The noise margin :math:`\alpha`, applied in
            training mode. (default: :obj:`0.0`)
        backward (str, optional): :obj:`"identity"` or :obj:`"blackbox"`.
            (default: :obj:`"identity"`)
        lambda_ (float, optional): The Blackbox :math:`\lambda`.
            (default: :obj:`20.0`)
        noise_position (str, optional): :obj:`"before"` adds the margin
            to the raw costs, before the projection (it keeps them from
            collapsing); :obj:`"after"` to the projected costs.
            (default: :obj:`"before"`)
        diagnostics (bool, optional): If set, :obj:`layer.diagnostics` records
            the cost norm and gradient cosine of the last call.
            (default: :obj:`False`)

    Shapes:
        - **input:** node embeddings :obj:`x_s` :math:`(N_s, F)`, :obj:`x_t`
          :math:`(N_t, F)` or costs :math:`(E)`; :obj:`batch_s`
          :math:`(N_s)`, :obj:`batch_t` :math:`(N_t)`, :obj:`edge_index`
          :math:`(2, E)` (optional)
        - **output:** 0/1 indicator :math:`(E)` on the candidate pairs
          (:math:`E = \sum_b n_s^{(b)} n_t^{(b)}` in the order of
          :func:`~pyg_identity.nn.functional.matching.all_pairs` without
          :obj:`edge_index`), in the costs' dtype and device
    """
    sense = 'min'

    def __init__(
        self,
        similarity: str = 'dot',
        unmatch_cost: Optional[float] = None,
        method: str = 'auto',
        num_workers: int = 0,
        timeout: Optional[float] = None,
        projection: Optional[str] = None,
        noise: float = 0.0,
        backward: str = 'identity',
        lambda_: float = 20.0,
        noise_position: str = 'before',
        diagnostics: bool = False,
    ) -> None:
        super().__init__(projection=projection, noise=noise, backward=backward,
                         lambda_=lambda_, noise_position=noise_position,
                         diagnostics=diagnostics)
        if similarity not in SIMILARITIES:
            raise ValueError(f"'similarity' must be 'dot' or 'cosine' (got "
                             f"{similarity!r})")
        if method not in METHODS:
            raise ValueError(f"'method' must be 'auto', 'dense' or 'sparse' "
                             f"(got {method!r})")
        self.similarity = similarity
        self.unmatch_cost = _check_unmatch_cost(unmatch_cost)
        _check_projection_for_partial(self.projection, self.unmatch_cost)
        self.method = method
        self.num_workers = check_num_workers(num_workers)
        self.timeout = check_timeout(timeout)

    def forward(
        self,
        x_s: OptTensor = None,
        batch_s: OptTensor = None,
        x_t: OptTensor = None,
        batch_t: OptTensor = None,
        edge_index: OptTensor = None,
        costs: OptTensor = None,
        num_nodes_s: Optional[int] = None,
        num_nodes_t: Optional[int] = None,
        num_graphs: Optional[int] = None,
    ) -> Tensor:
        r"""Forward pass.

        Args:
            x_s (torch.Tensor, optional): Source node embeddings.
                (default: :obj:`None`)
            batch_s (torch.Tensor, optional): The source batch vector
                (:obj:`batch.x_s_batch` with :obj:`follow_batch=['x_s']`);
                :obj:`None` for a single pair. (default: :obj:`None`)
            x_t (torch.Tensor, optional): Target node embeddings.
                (default: :obj:`None`)
            batch_t (torch.Tensor, optional): The target batch vector.
                (default: :obj:`None`)
            edge_index (torch.Tensor, optional): Candidate pairs (global
                source, global target node); :obj:`None` means all pairs.
                (default: :obj:`None`)
            costs (torch.Tensor, optional): Given costs on the candidate
                pairs, instead of :obj:`x_s` and :obj:`x_t`.
                (default: :obj:`None`)
            num_nodes_s (int, optional): The number of source nodes, for
                :obj:`costs` without :obj:`batch_s`. (default: :obj:`None`)
            num_nodes_t (int, optional): The number of target nodes, for
                :obj:`costs` without :obj:`batch_t`. (default: :obj:`None`)
            num_graphs (int, optional): The number of pairs.
                (default: :obj:`None`)
        """
        if costs is not None:
            if x_s is not None or x_t is not None:
                raise ValueError("Pass either 'costs' or 'x_s' and 'x_t' "
                                 "(got both)")
        else:
            if x_s is None or x_t is None:
                raise ValueError("'x_s' and 'x_t' are required without "
                                 "'costs'")
            _check_features(x_s, x_t)
            for name, n, given in (('num_nodes_s', x_s.size(0), num_nodes_s),
                                   ('num_nodes_t', x_t.size(0), num_nodes_t)):
                if given is not None and given != n:
                    raise ValueError(f"'{name}' ({given}) does not match "
                                     f"the embeddings ({n} nodes)")
            num_nodes_s, num_nodes_t = x_s.size(0), x_t.size(0)
            ei = edge_index
            if ei is None:
                ei = all_pairs(batch_s, batch_t, num_nodes_s, num_nodes_t,
                               num_graphs).to(x_s.device)
            costs = pair_cost(x_s, x_t, ei, mode=self.similarity)

        return matching(
            costs, edge_index, batch_s, batch_t, num_nodes_s=num_nodes_s,
            num_nodes_t=num_nodes_t, num_graphs=num_graphs,
            unmatch_cost=self.unmatch_cost, method=self.method,
            projection=self.projection, noise=self.noise,
            training=self.training, backward=self.backward_mode,
            lambda_=self.lambda_, noise_position=self.noise_position,
            diagnostics=self.diagnostics, num_workers=self.num_workers,
            timeout=self.timeout)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(similarity={self.similarity!r}, '
                f'unmatch_cost={self.unmatch_cost}, {self.extra_repr()})')
