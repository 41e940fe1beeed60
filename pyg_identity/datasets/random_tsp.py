from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

import numpy as np
import torch
from torch_geometric.data import Data

from pyg_identity.datasets._base import GeneratedDataset
from pyg_identity.datasets._utils import (
    PathLike,
    _complete_edges,
    check_bool,
    check_choice,
    check_int,
    check_range,
    resolve_num_workers,
    solve_in_chunks,
)
from pyg_identity.solvers.tsp import MAX_EXACT_NODES

IntOrRange = Union[int, Tuple[int, int]]

# The label solvers: 'auto' is exact Held-Karp up to MAX_EXACT_NODES nodes
# and LKH-3 (elkai) above.
LABEL_SOLVERS = ('auto', 'elkai', 'exact')


class RandomTSP(GeneratedDataset):
    r"""Euclidean travelling-salesman instances with :obj:`num_nodes` points
    drawn uniformly from the unit square, labelled with their optimal tours,
    the standard benchmark of learned TSP solvers (*e.g.*, `"Attention,
    Learn to Solve Routing Problems!" <https://arxiv.org/abs/1803.08475>`_),
    for the TSP layer :class:`~pyg_identity.nn.IdentityTSP` of the
    `"Backpropagation through Combinatorial Algorithms: Identity with
    Projection Works" <https://arxiv.org/abs/2205.15213>`_ paper.

    Each example is a :class:`~torch_geometric.data.Data` object holding a
    complete graph (every ordered pair :math:`(i, j)`, :math:`i \neq j`,
    both directions, sorted by source and then target node) with

    * :obj:`pos` (:obj:`[n, 2]`): the points,
    * :obj:`edge_attr` (:obj:`[n(n-1), 1]`): the Euclidean distances,
    * :obj:`y` (:obj:`[n(n-1)]`, float): the optimal-tour indicator, with
      both directions of each of the :math:`n` tour edges marked
      (:math:`2n` ones), the output convention of
      :class:`~pyg_identity.nn.IdentityTSP` on such graphs,
    * :obj:`tour_length` (:obj:`[1]`): the length of that tour,
    * :obj:`tour_index` (:obj:`[n]`, only if :obj:`with_tour=True`): the
      tour as a node sequence starting at node 0 (node indices, so they are
      shifted in a mini-batch like :obj:`edge_index`).

    Labels come from exact Held--Karp dynamic programming for
    :math:`n \leq 12` and from LKH-3 (through :obj:`elkai`) with
    :obj:`runs` runs above; with the default :obj:`runs=10`, LKH-3 is
    optimal in practice at these sizes (the mean tour lengths match the
    published optimal means 3.84, 5.70 and 7.76 for :math:`n = 20, 50, 100`
    within 0.3%, see :obj:`benchmarks/bench_random_tsp_quality.py`). Every
    split has its own random stream derived from :obj:`seed`, so a split does
    not change when the size of another split does; the labels are the same
    for any :obj:`num_workers`.

    Args:
        root (str, optional): Root directory where the dataset should be
            saved. If :obj:`None`, uses
            :func:`~pyg_identity.datasets.default_root` of
            :obj:`"random_tsp"`. (default: :obj:`None`)
        split (str, optional): :obj:`"train"`, :obj:`"val"` or
            :obj:`"test"`. (default: :obj:`"train"`)
        num_train (int, optional): The number of training instances (at
            least one for :obj:`split="train"`). (default: :obj:`10000`)
        num_val (int, optional): The number of validation instances.
            (default: :obj:`1000`)
        num_test (int, optional): The number of test instances.
            (default: :obj:`1000`)
        num_nodes (int or (int, int), optional): The number of points
            :math:`n \geq 3` per instance, or an inclusive range
            :obj:`(low, high)` to draw it from per instance (ragged
            batches). (default: :obj:`20`)
        solver (str, optional): The label solver: :obj:`"auto"` (exact for
            :math:`n \leq 12`, else LKH-3), :obj:`"elkai"` (LKH-3) or
            :obj:`"exact"` (Held--Karp, :math:`n \leq 12` only).
            (default: :obj:`"auto"`)
        runs (int, optional): The number of LKH-3 runs per instance (more
            runs, fewer sub-optimal labels, proportionally more time).
            (default: :obj:`10`)
        with_tour (bool, optional): Whether to store the tour as
            :obj:`tour_index`. (default: :obj:`False`)
        seed (int, optional): The random seed. (default: :obj:`0`)
        num_workers (int, optional): The number of processes solving the
            instances in parallel (:obj:`0` or :obj:`1`: in this process);
            :obj:`None` uses every CPU core available to this process.
            (default: :obj:`None`)
        transform (callable, optional): A function/transform that takes in a
            :class:`~torch_geometric.data.Data` object and returns a
            transformed version. The data object will be transformed before
            every access. (default: :obj:`None`)
        pre_transform (callable, optional): A function/transform that takes
            in a :class:`~torch_geometric.data.Data` object and returns a
            transformed version. The data object will be transformed before
            being saved to disk. (default: :obj:`None`)
        pre_filter (callable, optional): A function that takes in a
            :class:`~torch_geometric.data.Data` object and returns a boolean
            value, indicating whether the data object should be included in
            the final dataset. (default: :obj:`None`)
        force_reload (bool, optional): Whether to re-process the dataset.
            (default: :obj:`False`)
        log (bool, optional): Whether to show a progress bar while
            generating. (default: :obj:`True`)

    **STATS:** (default split sizes; a graph of :math:`n` nodes takes about
    :math:`24 n (n-1)` bytes in memory and on disk)

    .. list-table::
        :widths: 10 10 10 10 10 10 10
        :header-rows: 1

        * - :obj:`num_nodes`
          - #graphs (train/val/test)
          - #nodes
          - #edges
          - #edge features
          - mean tour length
          - generation (1,000 graphs, 2 processes)
        * - 20
          - 10,000 / 1,000 / 1,000
          - 20
          - 380
          - 1
          - ~3.84
          - ~5 s
        * - 50
          - 10,000 / 1,000 / 1,000
          - 50
          - 2,450
          - 1
          - ~5.70
          - ~30 s
        * - 100
          - 10,000 / 1,000 / 1,000
          - 100
          - 9,900
          - 1
          - ~7.76
          - ~5 min
    """

    _folder = 'random_tsp'
    # The split size is also `num_instances` (its name in the hash).
    _size_key = 'num_instances'
    num_instances = GeneratedDataset.num_examples
    solvers = LABEL_SOLVERS

    def __init__(
        self,
        root: Optional[PathLike] = None,
        split: str = 'train',
        num_train: int = 10000,
        num_val: int = 1000,
        num_test: int = 1000,
        num_nodes: IntOrRange = 20,
        solver: str = 'auto',
        runs: int = 10,
        with_tour: bool = False,
        seed: int = 0,
        num_workers: Optional[int] = None,
        transform: Optional[Callable] = None,
        pre_transform: Optional[Callable] = None,
        pre_filter: Optional[Callable] = None,
        force_reload: bool = False,
        log: bool = True,
    ) -> None:
        self.num_nodes_range = check_range('num_nodes', num_nodes, 3)
        self.solver, self.runs = check_label_solver(
            solver, runs, 'num_nodes', num_nodes, self.num_nodes_range[1])
        self.with_tour = check_bool('with_tour', with_tour)
        self.num_workers = resolve_num_workers(num_workers)
        super().__init__(root, split, num_train, num_val, num_test, seed,
                         transform, pre_transform, pre_filter,
                         force_reload=force_reload, log=log)

    def _own_params(self) -> Dict[str, object]:
        return dict(
            num_nodes=self.num_nodes_range,
            solver=self.solver,
            runs=self.runs,
            with_tour=self.with_tour,
        )

    def _generate(self) -> Iterable[Data]:
        gen = self._rng()
        lo, hi = self.num_nodes_range
        points = []
        for _ in range(self.num_instances):
            n = int(gen.integers(lo, hi + 1))
            # Rounded to float32 first, so the labels are optimal for the
            # stored positions.
            points.append(
                gen.uniform(size=(n, 2)).astype(np.float32).astype(
                    np.float64))
        tasks = [(p, self.solver, self.runs) for p in points]
        tours = solve_in_chunks(euclidean_tour, tasks, self.num_workers,
                                f'Solving {self.split}', self.log)
        for pos, tour in zip(points, tours):
            yield tsp_data(pos, tour, self.with_tour)

    def _extra_repr(self) -> str:
        return f'num_nodes={self._nodes_repr()}'

    def _nodes_repr(self) -> str:
        lo, hi = self.num_nodes_range
        return str(lo) if lo == hi else f'({lo}, {hi})'


# The TSP labels, shared with GlobeTSP ######################################


def check_label_solver(solver: Any, runs: Any, name: str, value: Any,
                       max_nodes: int) -> Tuple[str, int]:
    r"""Validates the label :obj:`solver` and its number of :obj:`runs` for
    tours of up to :obj:`max_nodes` nodes (given as the argument
    :obj:`name` of value :obj:`value`), and checks that :obj:`elkai` is
    installed if LKH-3 is needed."""
    solver = check_choice('solver', solver, LABEL_SOLVERS)
    if solver == 'exact' and max_nodes > MAX_EXACT_NODES:
        raise ValueError(f"'{name}' must be at most {MAX_EXACT_NODES} for "
                         f"solver='exact' (Held-Karp) (got {value!r}); use "
                         f"solver='auto'")
    runs = check_int('runs', runs, 1)
    if solver == 'elkai' or (solver == 'auto'
                             and max_nodes > MAX_EXACT_NODES):
        check_elkai()
    return solver, runs


def check_elkai() -> None:
    try:
        import elkai  # noqa: F401
    except ImportError as e:  # pragma: no cover - elkai is a test extra
        raise ImportError(
            f"Labelling TSP instances with more than {MAX_EXACT_NODES} nodes "
            f"needs LKH-3 through the 'elkai' package: pip install "
            f"pyg_identity[tsp] (or pip install elkai)") from e


def canonical_tour(tour: np.ndarray) -> np.ndarray:
    r"""Rotates a tour to start at node 0 and orients it so that its second
    node is smaller than its last."""
    tour = np.asarray(tour, dtype=np.int64)
    tour = np.roll(tour, -int(np.argmax(tour == 0)))
    if tour.size > 2 and tour[1] > tour[-1]:
        tour = np.concatenate([tour[:1], tour[1:][::-1]])
    return tour


def optimal_tour(cost: np.ndarray, solver: str = 'auto',
                 runs: int = 10) -> np.ndarray:
    r"""Returns a shortest tour (in :func:`canonical_tour` form) of the
    symmetric cost matrix :obj:`cost`: exact Held--Karp for
    :obj:`solver="exact"` or for :obj:`solver="auto"` and at most 12 nodes,
    else LKH-3 (:obj:`elkai`) with :obj:`runs` runs."""
    from pyg_identity.solvers.tsp import tsp_tour

    n = cost.shape[0]
    exact = solver == 'exact' or (solver == 'auto' and n <= MAX_EXACT_NODES)
    tour = tsp_tour(cost, solver='exact' if exact else 'elkai', runs=runs)
    return canonical_tour(tour)


def euclidean_tour(pos: np.ndarray, solver: str = 'auto',
                   runs: int = 10) -> np.ndarray:
    r"""Returns a shortest tour through the 2-D points :obj:`pos` (a
    module-level function, so that worker processes can run it)."""
    from scipy.spatial.distance import cdist

    return optimal_tour(cdist(pos, pos), solver, runs)


def tour_indicator(tour: np.ndarray, edge_index: np.ndarray) -> np.ndarray:
    r"""Marks the edges of :obj:`edge_index` that join consecutive nodes of
    the closed :obj:`tour` (both directions)."""
    n = tour.size
    rank = np.empty(n, dtype=np.int64)
    rank[tour] = np.arange(n)
    d = np.abs(rank[edge_index[0]] - rank[edge_index[1]])
    return ((d == 1) | (d == n - 1)).astype(np.float32)


def tsp_data(pos: np.ndarray, tour: np.ndarray,
             with_tour: bool = False) -> Data:
    r"""Builds one :class:`RandomTSP` example from float64 points and their
    tour."""
    n = pos.shape[0]
    edge_index = _complete_edges(n)
    dist = np.linalg.norm(pos[edge_index[0]] - pos[edge_index[1]], axis=1)
    diff = pos[tour] - pos[np.roll(tour, -1)]
    length = float(np.linalg.norm(diff, axis=1).sum())
    data = Data(
        pos=torch.from_numpy(pos).float(),
        edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)).long(),
        edge_attr=torch.from_numpy(dist).float().view(-1, 1),
        y=torch.from_numpy(tour_indicator(tour, edge_index)),
        tour_length=torch.tensor([length]),
    )
    if with_tour:
        data.tour_index = torch.from_numpy(tour).long()
    return data


__all__ = ['RandomTSP', 'optimal_tour', 'euclidean_tour', 'tour_indicator',
           'canonical_tour']
