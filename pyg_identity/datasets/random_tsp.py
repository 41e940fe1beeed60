import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.io import fs

from pyg_identity.datasets._utils import (
    PathLike,
    _complete_edges,
    check_choice,
    check_int,
    check_range,
    check_root,
    params_hash,
    rng,
)
from pyg_identity.solvers._dispatch import map_graphs

IntOrRange = Union[int, Tuple[int, int]]

# The label solvers: 'auto' is exact Held-Karp up to this many nodes and
# LKH-3 (elkai) above.
LABEL_SOLVERS = ('auto', 'elkai', 'exact')
MAX_EXACT_NODES = 12


class RandomTSP(InMemoryDataset):
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

    splits = ('train', 'val', 'test')
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
        self.split = check_choice('split', split, self.splits)
        self.num_train = check_int('num_train', num_train,
                                   int(self.split == 'train'))
        self.num_val = check_int('num_val', num_val, int(self.split == 'val'))
        self.num_test = check_int('num_test', num_test,
                                  int(self.split == 'test'))
        self.num_nodes_range = check_range('num_nodes', num_nodes, 3)
        self.solver = check_choice('solver', solver, self.solvers)
        if (self.solver == 'exact'
                and self.num_nodes_range[1] > MAX_EXACT_NODES):
            raise ValueError(f"'num_nodes' must be at most {MAX_EXACT_NODES} "
                             f"for solver='exact' (Held-Karp) (got "
                             f"{num_nodes!r}); use solver='auto'")
        self.runs = check_int('runs', runs, 1)
        self.with_tour = check_bool('with_tour', with_tour)
        self.seed = check_int('seed', seed)
        self.num_workers = resolve_num_workers(num_workers)
        root = check_root(root, 'random_tsp')
        if self.solver == 'elkai' or (
                self.solver == 'auto'
                and self.num_nodes_range[1] > MAX_EXACT_NODES):
            check_elkai()
        super().__init__(root, transform, pre_transform, pre_filter,
                         log=log, force_reload=force_reload)
        self.load(self.processed_paths[0])

    @property
    def num_instances(self) -> int:
        r"""The number of instances of the selected split."""
        return {
            'train': self.num_train,
            'val': self.num_val,
            'test': self.num_test
        }[self.split]

    def _params(self) -> Dict[str, object]:
        return dict(
            split=self.split,
            num_instances=self.num_instances,
            num_nodes=self.num_nodes_range,
            solver=self.solver,
            runs=self.runs,
            with_tour=self.with_tour,
            seed=self.seed,
        )

    @property
    def raw_file_names(self) -> List[str]:
        return []

    @property
    def processed_file_names(self) -> List[str]:
        return [f'{self.split}_{params_hash(self._params())}.pt']

    def process(self) -> None:
        gen = rng(self.seed, self.splits.index(self.split))
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
        data_list = []
        for pos, tour in zip(points, tours):
            data = tsp_data(pos, tour, self.with_tour)
            if self.pre_filter is not None and not self.pre_filter(data):
                continue
            if self.pre_transform is not None:
                data = self.pre_transform(data)
            data_list.append(data)
        save_data_list(data_list, self.processed_paths[0], self.split)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({len(self)}, '
                f'split={self.split!r}, num_nodes={self._nodes_repr()})')

    def _nodes_repr(self) -> str:
        lo, hi = self.num_nodes_range
        return str(lo) if lo == hi else f'({lo}, {hi})'


# Helpers shared with the other solver-labelled datasets ####################


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"'{name}' must be a bool (got {value!r})")
    return value


def resolve_num_workers(num_workers: Optional[int]) -> int:
    r"""Validates :obj:`num_workers` and resolves :obj:`None` to the number
    of CPU cores available to this process."""
    if num_workers is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not on Linux
            return os.cpu_count() or 1
    return check_int('num_workers', num_workers)


def check_elkai() -> None:
    try:
        import elkai  # noqa: F401
    except ImportError as e:  # pragma: no cover - elkai is a test extra
        raise ImportError(
            "Labelling TSP instances with more than 12 nodes needs LKH-3 "
            "through the 'elkai' package: pip install pyg_identity[tsp] (or "
            "pip install elkai)") from e


def solve_in_chunks(fn: Callable[..., Any], tasks: Sequence[Sequence[Any]],
                    num_workers: int, desc: str, log: bool) -> List[Any]:
    r"""Returns :obj:`[fn(*task) for task in tasks]`, computed by
    :func:`~pyg_identity.solvers.map_graphs` in chunks, with a progress
    bar."""
    from tqdm import tqdm

    out: List[Any] = []
    chunk = 32 * max(1, num_workers)
    with tqdm(total=len(tasks), desc=desc, disable=not log,
              leave=False) as bar:
        for start in range(0, len(tasks), chunk):
            part = tasks[start:start + chunk]
            out.extend(map_graphs(fn, part, num_workers))
            bar.update(len(part))
    return out


def save_data_list(data_list: List[Data], path: str, split: str) -> None:
    if len(data_list) == 0:
        raise RuntimeError(f"No {split} example left after 'pre_filter'")
    # Saved without the class, so that loading needs no unpickling beyond
    # tensors (`torch.load(weights_only=True)`).
    data, slices = InMemoryDataset.collate(data_list)
    fs.torch_save((data.to_dict(), slices), path)


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
