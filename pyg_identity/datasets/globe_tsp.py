import functools
import itertools
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from pyg_identity.datasets._base import GeneratedDataset
from pyg_identity.datasets._utils import (
    PathLike,
    _complete_edges,
    check_bool,
    check_choice,
    check_int,
    resolve_num_workers,
    solve_in_chunks,
)
from pyg_identity.datasets.random_tsp import (
    LABEL_SOLVERS,
    check_label_solver,
    optimal_tour,
    tour_indicator,
)

# The 100 countries of GlobeTSP: (country, capital, latitude, longitude) in
# degrees, north and east positive. Public facts, rounded to 0.01 degrees;
# where a country has several capitals, the seat of government.
CAPITALS: Tuple[Tuple[str, str, float, float], ...] = (
    ('Afghanistan', 'Kabul', 34.53, 69.17),
    ('Albania', 'Tirana', 41.33, 19.82),
    ('Algeria', 'Algiers', 36.75, 3.06),
    ('Angola', 'Luanda', -8.84, 13.23),
    ('Argentina', 'Buenos Aires', -34.60, -58.38),
    ('Armenia', 'Yerevan', 40.18, 44.51),
    ('Australia', 'Canberra', -35.28, 149.13),
    ('Austria', 'Vienna', 48.21, 16.37),
    ('Azerbaijan', 'Baku', 40.41, 49.87),
    ('Bangladesh', 'Dhaka', 23.81, 90.41),
    ('Belarus', 'Minsk', 53.90, 27.57),
    ('Belgium', 'Brussels', 50.85, 4.35),
    ('Bolivia', 'La Paz', -16.50, -68.15),
    ('Botswana', 'Gaborone', -24.63, 25.92),
    ('Brazil', 'Brasilia', -15.79, -47.88),
    ('Bulgaria', 'Sofia', 42.70, 23.32),
    ('Cambodia', 'Phnom Penh', 11.56, 104.92),
    ('Cameroon', 'Yaounde', 3.85, 11.50),
    ('Canada', 'Ottawa', 45.42, -75.70),
    ('Chad', "N'Djamena", 12.13, 15.06),
    ('Chile', 'Santiago', -33.45, -70.67),
    ('China', 'Beijing', 39.90, 116.41),
    ('Colombia', 'Bogota', 4.71, -74.07),
    ('Costa Rica', 'San Jose', 9.93, -84.08),
    ('Croatia', 'Zagreb', 45.81, 15.98),
    ('Cuba', 'Havana', 23.11, -82.37),
    ('Cyprus', 'Nicosia', 35.19, 33.38),
    ('Czechia', 'Prague', 50.08, 14.44),
    ('DR Congo', 'Kinshasa', -4.44, 15.27),
    ('Denmark', 'Copenhagen', 55.68, 12.57),
    ('Dominican Republic', 'Santo Domingo', 18.49, -69.93),
    ('Ecuador', 'Quito', -0.18, -78.47),
    ('Egypt', 'Cairo', 30.04, 31.24),
    ('Estonia', 'Tallinn', 59.44, 24.75),
    ('Ethiopia', 'Addis Ababa', 9.03, 38.74),
    ('Fiji', 'Suva', -18.14, 178.44),
    ('Finland', 'Helsinki', 60.17, 24.94),
    ('France', 'Paris', 48.86, 2.35),
    ('Georgia', 'Tbilisi', 41.72, 44.79),
    ('Germany', 'Berlin', 52.52, 13.40),
    ('Ghana', 'Accra', 5.60, -0.19),
    ('Greece', 'Athens', 37.98, 23.73),
    ('Guatemala', 'Guatemala City', 14.63, -90.51),
    ('Guyana', 'Georgetown', 6.80, -58.16),
    ('Hungary', 'Budapest', 47.50, 19.04),
    ('Iceland', 'Reykjavik', 64.15, -21.94),
    ('India', 'New Delhi', 28.61, 77.21),
    ('Indonesia', 'Jakarta', -6.21, 106.85),
    ('Iran', 'Tehran', 35.69, 51.39),
    ('Iraq', 'Baghdad', 33.31, 44.37),
    ('Ireland', 'Dublin', 53.35, -6.26),
    ('Italy', 'Rome', 41.90, 12.50),
    ('Jamaica', 'Kingston', 18.02, -76.80),
    ('Japan', 'Tokyo', 35.68, 139.69),
    ('Jordan', 'Amman', 31.95, 35.93),
    ('Kazakhstan', 'Astana', 51.17, 71.45),
    ('Kenya', 'Nairobi', -1.29, 36.82),
    ('Kyrgyzstan', 'Bishkek', 42.87, 74.59),
    ('Laos', 'Vientiane', 17.98, 102.63),
    ('Latvia', 'Riga', 56.95, 24.11),
    ('Lebanon', 'Beirut', 33.89, 35.50),
    ('Libya', 'Tripoli', 32.89, 13.19),
    ('Lithuania', 'Vilnius', 54.69, 25.28),
    ('Madagascar', 'Antananarivo', -18.88, 47.51),
    ('Malaysia', 'Kuala Lumpur', 3.14, 101.69),
    ('Mali', 'Bamako', 12.64, -8.00),
    ('Mexico', 'Mexico City', 19.43, -99.13),
    ('Mongolia', 'Ulaanbaatar', 47.89, 106.91),
    ('Morocco', 'Rabat', 34.02, -6.84),
    ('Mozambique', 'Maputo', -25.97, 32.57),
    ('Nepal', 'Kathmandu', 27.72, 85.32),
    ('Netherlands', 'Amsterdam', 52.37, 4.90),
    ('New Zealand', 'Wellington', -41.29, 174.78),
    ('Nigeria', 'Abuja', 9.08, 7.40),
    ('Norway', 'Oslo', 59.91, 10.75),
    ('Oman', 'Muscat', 23.59, 58.41),
    ('Pakistan', 'Islamabad', 33.68, 73.05),
    ('Panama', 'Panama City', 8.98, -79.52),
    ('Papua New Guinea', 'Port Moresby', -9.44, 147.18),
    ('Paraguay', 'Asuncion', -25.26, -57.58),
    ('Peru', 'Lima', -12.05, -77.04),
    ('Philippines', 'Manila', 14.60, 120.98),
    ('Poland', 'Warsaw', 52.23, 21.01),
    ('Portugal', 'Lisbon', 38.72, -9.14),
    ('Romania', 'Bucharest', 44.43, 26.10),
    ('Russia', 'Moscow', 55.76, 37.62),
    ('Saudi Arabia', 'Riyadh', 24.71, 46.68),
    ('Senegal', 'Dakar', 14.72, -17.47),
    ('Serbia', 'Belgrade', 44.79, 20.45),
    ('Singapore', 'Singapore', 1.35, 103.82),
    ('South Africa', 'Pretoria', -25.75, 28.19),
    ('South Korea', 'Seoul', 37.57, 126.98),
    ('Spain', 'Madrid', 40.42, -3.70),
    ('Sweden', 'Stockholm', 59.33, 18.07),
    ('Switzerland', 'Bern', 46.95, 7.45),
    ('Thailand', 'Bangkok', 13.76, 100.50),
    ('Turkey', 'Ankara', 39.93, 32.86),
    ('United Kingdom', 'London', 51.51, -0.13),
    ('United States', 'Washington, D.C.', 38.91, -77.04),
    ('Vietnam', 'Hanoi', 21.03, 105.85),
)
NUM_COUNTRIES = len(CAPITALS)
assert NUM_COUNTRIES == 100

DISTANCES = ('geodesic', 'chord')


def capital_positions() -> np.ndarray:
    r"""Returns the capitals of :obj:`CAPITALS` as unit vectors
    :math:`(\cos\phi\cos\lambda, \cos\phi\sin\lambda, \sin\phi)` of latitude
    :math:`\phi` and longitude :math:`\lambda`, shape :obj:`[100, 3]`
    (float64)."""
    lat = np.radians([c[2] for c in CAPITALS])
    lon = np.radians([c[3] for c in CAPITALS])
    return np.stack([np.cos(lat) * np.cos(lon),
                     np.cos(lat) * np.sin(lon),
                     np.sin(lat)], axis=1)


def sphere_distances(pos: np.ndarray,
                     distance: str = 'geodesic') -> np.ndarray:
    r"""Returns the pairwise distances of points on the unit sphere: the
    great-circle distance :math:`2 \arcsin(\|p_i - p_j\| / 2)` (radians) for
    :obj:`"geodesic"`, the straight-line :math:`\|p_i - p_j\|` for
    :obj:`"chord"`."""
    chord = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    if distance == 'chord':
        return chord
    return 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


# Flags #####################################################################

# (name, number of colours) of the flag layouts.
_PATTERNS: Tuple[Tuple[str, int], ...] = (
    ('hbands2', 2),
    ('hbands3', 3),
    ('vbands2', 2),
    ('vbands3', 3),
    ('nordic', 2),
    ('nordic_inner', 3),
    ('disc', 2),
    ('hoist_disc', 2),
    ('diagonal', 2),
    ('hoist_triangle', 3),
    ('canton', 3),
    ('saltire', 2),
    ('cross', 2),
    ('border', 2),
    ('bands_disc', 3),
    ('quartered', 2),
)
_PALETTE = np.array([
    [0.80, 0.10, 0.15],  # red
    [1.00, 1.00, 1.00],  # white
    [0.00, 0.20, 0.60],  # blue
    [0.00, 0.55, 0.25],  # green
    [1.00, 0.80, 0.00],  # yellow
    [0.00, 0.00, 0.00],  # black
    [1.00, 0.50, 0.00],  # orange
    [0.35, 0.65, 0.90],  # light blue
    [0.50, 0.00, 0.15],  # maroon
])
_FLAG_SEED = 2205_15213  # the paper's arXiv number; fixes the designs
_REFERENCE_SIZE = 32
_MIN_FLAG_DIFFERENCE = 0.1  # mean absolute pixel difference at 32 x 32


def _layout(pattern: str, size: int) -> np.ndarray:
    # The colour slot of every pixel, [size, size] (row = v, column = u).
    v, u = np.meshgrid((np.arange(size) + 0.5) / size,
                       (np.arange(size) + 0.5) / size, indexing='ij')
    slot = np.zeros((size, size), dtype=np.int64)
    if pattern == 'hbands2':
        slot[v >= 0.5] = 1
    elif pattern == 'hbands3':
        slot = np.minimum((v * 3).astype(np.int64), 2)
    elif pattern == 'vbands2':
        slot[u >= 0.5] = 1
    elif pattern == 'vbands3':
        slot = np.minimum((u * 3).astype(np.int64), 2)
    elif pattern in ('nordic', 'nordic_inner'):
        slot[(np.abs(u - 0.375) < 0.11) | (np.abs(v - 0.5) < 0.11)] = 1
        if pattern == 'nordic_inner':
            slot[(np.abs(u - 0.375) < 0.05) | (np.abs(v - 0.5) < 0.05)] = 2
    elif pattern == 'disc':
        slot[(u - 0.5)**2 + (v - 0.5)**2 < 0.27**2] = 1
    elif pattern == 'hoist_disc':
        slot[(u - 0.33)**2 + (v - 0.5)**2 < 0.2**2] = 1
    elif pattern == 'diagonal':
        slot[u + v > 1.0] = 1
    elif pattern == 'hoist_triangle':
        slot[v >= 0.5] = 2
        slot[v < 0.5] = 1
        slot[u < 0.5 * (1.0 - np.abs(2.0 * v - 1.0))] = 0
    elif pattern == 'canton':
        slot[np.minimum((v * 4).astype(np.int64), 3) % 2 == 1] = 1
        slot[(u < 0.45) & (v < 0.5)] = 2
    elif pattern == 'saltire':
        slot[(np.abs(u - v) < 0.1) | (np.abs(u + v - 1.0) < 0.1)] = 1
    elif pattern == 'cross':
        slot[((np.abs(u - 0.5) < 0.1) & (np.abs(v - 0.5) < 0.32))
             | ((np.abs(v - 0.5) < 0.1) & (np.abs(u - 0.5) < 0.32))] = 1
    elif pattern == 'border':
        inner = (np.abs(u - 0.5) < 0.33) & (np.abs(v - 0.5) < 0.33)
        slot[inner] = 1
    elif pattern == 'bands_disc':
        slot[np.abs(v - 0.5) < 1.0 / 6.0] = 1
        slot[(u - 0.5)**2 + (v - 0.5)**2 < 0.13**2] = 2
    elif pattern == 'quartered':
        slot[(u < 0.5) != (v < 0.5)] = 1
    else:  # pragma: no cover - internal table
        raise AssertionError(pattern)
    return slot


def _render_flag(pattern: str, colours: Sequence[int],
                 size: int) -> np.ndarray:
    slot = _layout(pattern, size)
    rgb = _PALETTE[np.asarray(colours)][slot]  # [size, size, 3]
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


@functools.lru_cache(maxsize=None)
def flag_designs() -> Tuple[Tuple[str, Tuple[int, ...]], ...]:
    r"""The (layout, colours) of the 100 flags, fixed once and for all: the
    layouts are taken in turn, each with a random choice of distinct palette
    colours, skipping any design whose :math:`32 \times 32` image is within
    a mean absolute difference of 0.1 of an earlier one."""
    gen = np.random.default_rng(_FLAG_SEED)
    candidates: List[List[Tuple[int, ...]]] = []
    for _, m in _PATTERNS:
        combos = list(itertools.permutations(range(len(_PALETTE)), m))
        order = gen.permutation(len(combos))
        candidates.append([combos[i] for i in order])
    designs: List[Tuple[str, Tuple[int, ...]]] = []
    images: List[np.ndarray] = []
    cursor = [0] * len(_PATTERNS)
    p = 0
    while len(designs) < NUM_COUNTRIES:
        name, _ = _PATTERNS[p]
        while True:
            colours = candidates[p][cursor[p]]
            cursor[p] += 1
            img = _render_flag(name, colours, _REFERENCE_SIZE)
            if all(np.abs(img - other).mean() >= _MIN_FLAG_DIFFERENCE
                   for other in images):
                break
        designs.append((name, tuple(int(c) for c in colours)))
        images.append(img)
        p = (p + 1) % len(_PATTERNS)
    return tuple(designs)


def flag_images(image_size: int = 32) -> Tensor:
    r"""Returns the procedurally generated flag-like image of each of the
    100 countries of :class:`GlobeTSP` (stripes, crosses, discs, ... in up to
    three colours; they do not depict the real flags), as a float tensor in
    :math:`[0, 1]` of shape :obj:`[100, 3, image_size, image_size]`. The
    images carry the identity of a country only, no coordinates."""
    image_size = check_int('image_size', image_size, 8)
    out = np.stack([
        _render_flag(name, colours, image_size)
        for name, colours in flag_designs()
    ])
    return torch.from_numpy(out).float()


# The dataset ###############################################################


class GlobeTSP(GeneratedDataset):
    r"""The Globe travelling-salesman task of the `"Differentiation of
    Blackbox Combinatorial Solvers" <https://arxiv.org/abs/1912.02175>`_
    paper, used in Sec. 4.4 of the `"Backpropagation through Combinatorial
    Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper: given the flags of
    :obj:`num_countries` countries, predict the shortest tour through their
    capitals.

    There are 100 fixed countries (:obj:`CAPITALS`, real capital
    coordinates), each with a fixed procedurally generated flag-like image
    (:func:`flag_images`; nothing is downloaded, the images are not the real
    flags). An example is a random :obj:`num_countries`-subset of them in
    random order, as a :class:`~torch_geometric.data.Data` object holding a
    complete graph (every ordered pair, both directions, sorted by source and
    then target node) with

    * :obj:`x` (:obj:`[k, 3, H, W]`): the flags, the only model input (a
      model must learn the hidden positions from the identities alone, as
      in the paper, where a CNN maps the flags to 3-D points),
    * :obj:`y` (:obj:`[k(k-1)]`, float): the optimal-tour indicator, both
      directions of each tour edge marked (:math:`2k` ones),
    * :obj:`pos` (:obj:`[k, 3]`): the hidden capital positions on the unit
      sphere, for evaluation,
    * :obj:`country` (:obj:`[k]`): the country indices into
      :obj:`CAPITALS`, for analysis,
    * :obj:`tour_length` (:obj:`[1]`): the tour length under
      :obj:`distance`,
    * :obj:`tour_index` (:obj:`[k]`, only if :obj:`with_tour=True`): the
      tour as a node sequence starting at node 0.

    The tour minimises the great-circle distance (:obj:`"geodesic"`) or the
    straight-line distance through the sphere (:obj:`"chord"`); it is exact
    (Held--Karp) for :math:`k \leq 12` and from LKH-3 with :obj:`runs` runs
    above. To keep the processed file small, the flags are looked up from
    :obj:`country` when an example is accessed, after :obj:`pre_transform`
    and :obj:`pre_filter` (which see no :obj:`x`) and before
    :obj:`transform`. Every split has its own random stream derived from
    :obj:`seed`.

    Args:
        root (str, optional): Root directory where the dataset should be
            saved. If :obj:`None`, uses
            :func:`~pyg_identity.datasets.default_root` of
            :obj:`"globe_tsp"`. (default: :obj:`None`)
        split (str, optional): :obj:`"train"`, :obj:`"val"` or
            :obj:`"test"`. (default: :obj:`"train"`)
        num_train (int, optional): The number of training examples (at least
            one for :obj:`split="train"`). (default: :obj:`10000`)
        num_val (int, optional): The number of validation examples (the
            paper uses none). (default: :obj:`1000`)
        num_test (int, optional): The number of test examples.
            (default: :obj:`1000`)
        num_countries (int, optional): The number :math:`k` of countries per
            example, between 3 and 100; the paper uses 5, 10 and 20.
            (default: :obj:`10`)
        image_size (int, optional): The height and width of the flags.
            (default: :obj:`32`)
        distance (str, optional): :obj:`"geodesic"` or :obj:`"chord"`.
            (default: :obj:`"geodesic"`)
        solver (str, optional): The label solver: :obj:`"auto"` (exact for
            :math:`k \leq 12`, else LKH-3), :obj:`"elkai"` (LKH-3) or
            :obj:`"exact"` (Held--Karp, :math:`k \leq 12` only).
            (default: :obj:`"auto"`)
        runs (int, optional): The number of LKH-3 runs per example.
            (default: :obj:`10`)
        with_tour (bool, optional): Whether to store the tour as
            :obj:`tour_index`. (default: :obj:`False`)
        seed (int, optional): The random seed. (default: :obj:`0`)
        num_workers (int, optional): The number of processes solving the
            examples in parallel (:obj:`0` or :obj:`1`: in this process);
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

    **STATS:** (default split sizes and image size)

    .. list-table::
        :widths: 10 10 10 10 10 10
        :header-rows: 1

        * - :obj:`num_countries`
          - #graphs (train/val/test)
          - #nodes
          - #edges
          - node features
          - label solver
        * - 5
          - 10,000 / 1,000 / 1,000
          - 5
          - 20
          - 3 x 32 x 32 image
          - Held--Karp
        * - 10
          - 10,000 / 1,000 / 1,000
          - 10
          - 90
          - 3 x 32 x 32 image
          - Held--Karp
        * - 20
          - 10,000 / 1,000 / 1,000
          - 20
          - 380
          - 3 x 32 x 32 image
          - LKH-3
    """

    _folder = 'globe_tsp'
    distances = DISTANCES
    solvers = LABEL_SOLVERS

    def __init__(
        self,
        root: Optional[PathLike] = None,
        split: str = 'train',
        num_train: int = 10000,
        num_val: int = 1000,
        num_test: int = 1000,
        num_countries: int = 10,
        image_size: int = 32,
        distance: str = 'geodesic',
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
        self.num_countries = check_int('num_countries', num_countries, 3,
                                       NUM_COUNTRIES)
        self.image_size = check_int('image_size', image_size, 8)
        self.distance = check_choice('distance', distance, self.distances)
        self.solver, self.runs = check_label_solver(
            solver, runs, 'num_countries', num_countries, self.num_countries)
        self.with_tour = check_bool('with_tour', with_tour)
        self.num_workers = resolve_num_workers(num_workers)
        self.flags = flag_images(self.image_size)
        super().__init__(root, split, num_train, num_val, num_test, seed,
                         transform, pre_transform, pre_filter,
                         force_reload=force_reload, log=log)

    @property
    def countries(self) -> List[str]:
        r"""The names of the 100 countries, in index order."""
        return [c[0] for c in CAPITALS]

    def _own_params(self) -> Dict[str, object]:
        return dict(
            num_countries=self.num_countries,
            distance=self.distance,
            solver=self.solver,
            runs=self.runs,
            with_tour=self.with_tour,
        )

    def _generate(self) -> Iterable[Data]:
        gen = self._rng()
        # Rounded to float32 first, so the labels are optimal for the stored
        # positions.
        pos = capital_positions().astype(np.float32).astype(np.float64)
        subsets = [
            gen.choice(NUM_COUNTRIES, self.num_countries, replace=False)
            for _ in range(self.num_examples)
        ]
        tasks = [(pos[s], self.distance, self.solver, self.runs)
                 for s in subsets]
        tours = solve_in_chunks(sphere_tour, tasks, self.num_workers,
                                f'Solving {self.split}', self.log)
        edge_index = _complete_edges(self.num_countries)
        edge_index_t = torch.from_numpy(np.ascontiguousarray(edge_index))
        for subset, tour in zip(subsets, tours):
            p = pos[subset]
            cost = sphere_distances(p, self.distance)
            length = float(cost[tour, np.roll(tour, -1)].sum())
            data = Data(
                country=torch.from_numpy(subset).long(),
                pos=torch.from_numpy(p).float(),
                edge_index=edge_index_t.clone().long(),
                y=torch.from_numpy(tour_indicator(tour, edge_index)),
                tour_length=torch.tensor([length]),
            )
            if self.with_tour:
                data.tour_index = torch.from_numpy(tour).long()
            yield data

    def get(self, idx: int) -> Data:
        data = super().get(idx)
        assert isinstance(data, Data)
        data.x = self.flags[data.country]
        return data

    def _extra_repr(self) -> str:
        return f'num_countries={self.num_countries}'


def sphere_tour(pos: np.ndarray, distance: str = 'geodesic',
                solver: str = 'auto', runs: int = 10) -> np.ndarray:
    r"""Returns a shortest tour through the unit vectors :obj:`pos` under
    :obj:`distance` (a module-level function, so that worker processes can
    run it)."""
    return optimal_tour(sphere_distances(pos, distance), solver, runs)


__all__ = ['GlobeTSP', 'CAPITALS', 'capital_positions', 'sphere_distances',
           'flag_images', 'flag_designs', 'sphere_tour']
