from typing import Any, Optional

from torch import Tensor
from torch_geometric.typing import OptTensor

from pyg_identity.nn._base import Option, SolverLayer
from pyg_identity.nn._pool_options import PoolOptions
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.functional.tsp import tsp
from pyg_identity.solvers.tsp import _check_options


# Each option is checked with the layer's other two (see _check_options).
def _check_solver(layer: 'IdentityTSP', value: str) -> str:
    _check_options(value, layer.runs, layer.lkh_executable)
    return value


def _check_runs(layer: 'IdentityTSP', value: int) -> int:
    _check_options(layer.solver, value, layer.lkh_executable)
    return int(value)


def _check_lkh_executable(layer: 'IdentityTSP', value: str) -> str:
    _check_options(layer.solver, layer.runs, value)
    return value


class IdentityTSP(PoolOptions, SolverLayer):
    r"""The travelling salesman layer: a shortest tour through all nodes of
    every graph of a batch, given edge costs, trainable with the Identity
    gradient of the `"Backpropagation through Combinatorial Algorithms:
    Identity with Projection Works" <https://arxiv.org/abs/2205.15213>`_
    paper (Globe TSP experiment).

    .. math::
        \mathbf{y} = \arg\min_{\mathbf{y} \in Y} \langle P(\omega + \xi),
        \mathbf{y} \rangle, \qquad
        \frac{\partial \ell}{\partial \omega} = -P'(\omega)^{\top}
        \frac{\partial \ell}{\partial \mathbf{y}}

    where :math:`Y \subseteq \{0, 1\}^{E}` holds the indicators of the
    Hamiltonian cycles (tours) of each graph, :math:`P` is the per-graph
    projection and :math:`\xi \sim \mathrm{Unif}\{-\alpha/2, +\alpha/2\}`
    the noise margin (training mode only). The solver is an :math:`\arg\min`.

    The graph is undirected. The cost of the pair :math:`\{i, j\}` is the
    sum of the costs of the entries of :obj:`edge_index` joining :math:`i`
    and :math:`j`, and the output marks *every* such entry of a tour edge;
    for PyG's complete graphs, which list both directions, this is the mean
    of :math:`\omega_{ij}` and :math:`\omega_{ji}` and a tour of :math:`n`
    nodes has :math:`2n` ones (with one direction per pair, :math:`n`).
    Pairs missing from a sparse graph cannot be used; a graph without a
    tour within its edges (fewer than 3 nodes, a node with fewer than two
    neighbours, disconnected, or none found) raises a :class:`ValueError`.

    The default solver is LKH-3 via the :obj:`elkai` package
    (:obj:`pip install pyg_identity[tsp]`), a heuristic that is optimal in
    practice for the graph sizes of the paper; costs are capped just above the
    length of a feasible tour (no edge of an optimal tour costs more) and
    scaled to integers in :math:`[0, 2^{22}]` for it (see
    :mod:`pyg_identity.solvers.tsp`). LKH-3 (by Keld Helsgaun) is free for
    academic and non-commercial use only. :obj:`solver="exact"` is the
    Held--Karp dynamic programme (:math:`n \leq 12`), :obj:`solver="lkh"`
    runs your own LKH-3 executable through the :obj:`lkh` package.

    The default projection is :obj:`"std"` (:math:`P_{\text{norm}} \circ
    P_{\text{mean}}`), as in all TSP experiments of the paper:
    :math:`P_{\text{mean}}` is valid because every tour of a graph has the
    same number of edges (:math:`n`, marked once or twice as above; this
    needs every pair listed equally often, as in complete graphs).
    Use :obj:`"norm"` for graphs that mix one- and two-direction pairs.

    Args:
        solver (str, optional): :obj:`"elkai"`, :obj:`"exact"` or
            :obj:`"lkh"`. (default: :obj:`"elkai"`)
        runs (int, optional): The number of LKH runs per graph (quality vs
            time). (default: :obj:`10`)
        num_workers (int, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`0`)
        timeout (float, optional): see
            :func:`~pyg_identity.solvers.map_graphs`. (default: :obj:`None`)
        lkh_executable (str, optional): The path of the LKH-3 executable for
            :obj:`solver="lkh"`. (default: :obj:`"LKH"`)
        settings (GradientSettings, optional): The gradient settings (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"`. (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`noise=0.1`).

    Shapes:
        - **input:** edge costs :math:`(|\mathcal{E}|)` or
          :math:`(|\mathcal{E}|, 1)`, edge indices
          :math:`(2, |\mathcal{E}|)`, batch vector :math:`(|\mathcal{V}|)`
          (optional)
        - **output:** the tour indicator, of the shape, dtype and device of
          the costs
    """
    default_projection = 'std'

    def __init__(
        self,
        solver: str = 'elkai',
        runs: int = 10,
        num_workers: int = 0,
        timeout: Optional[float] = None,
        lkh_executable: str = 'LKH',
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        _check_options(solver, runs, lkh_executable)
        self._solver = solver
        self._runs = int(runs)
        self._lkh_executable = lkh_executable
        self.num_workers = num_workers
        self.timeout = timeout

    solver = Option[str](_check_solver, r"""The TSP solver:
        :obj:`"elkai"`, :obj:`"exact"` or :obj:`"lkh"`.""")
    runs = Option[int](_check_runs,
                       r"""The number of LKH runs per graph.""")
    lkh_executable = Option[str](_check_lkh_executable, r"""The LKH-3
        executable for :obj:`solver="lkh"`.""")

    def forward(
        self,
        cost: Tensor,
        edge_index: Tensor,
        batch: OptTensor = None,
        num_nodes: Optional[int] = None,
        num_graphs: Optional[int] = None,
    ) -> Tensor:
        r"""Forward pass.

        Args:
            cost (torch.Tensor): The edge costs.
            edge_index (torch.Tensor): The edges.
            batch (torch.Tensor, optional): The batch vector.
                (default: :obj:`None`)
            num_nodes (int, optional): The number of nodes.
                (default: :obj:`None`)
            num_graphs (int, optional): The number of graphs.
                (default: :obj:`None`)
        """
        return tsp(cost, edge_index, batch, num_nodes, num_graphs,
                   solver=self.solver, runs=self.runs,
                   num_workers=self.num_workers,
                   lkh_executable=self.lkh_executable, timeout=self.timeout,
                   settings=self.settings, training=self.training)

    def extra_repr(self) -> str:
        out = f'solver={self.solver!r}, runs={self.runs}'
        out += self._pool_repr()
        return f'{out}, {super().extra_repr()}'

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.extra_repr()})'
