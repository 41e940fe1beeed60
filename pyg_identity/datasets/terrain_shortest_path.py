import functools
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from pyg_identity.datasets._base import GeneratedDataset
from pyg_identity.datasets._utils import (
    PathLike,
    check_float,
    check_int,
    resolve_num_workers,
    solve_in_chunks,
)

# The tile types and their traversal costs (the cost of entering a tile),
# in the range of the Warcraft maps of Vlastelica et al. (2020).
TILE_TYPES: Tuple[str, ...] = ('road', 'grass', 'sand', 'forest', 'mountain',
                               'water')
TILE_COSTS: Tuple[float, ...] = (0.8, 1.2, 1.5, 5.3, 7.7, 9.2)
ROAD, GRASS, SAND, FOREST, MOUNTAIN, WATER = range(len(TILE_TYPES))

_TEXTURE_SEED = 1912_02175  # the BB paper's arXiv number; fixes the textures
_NUM_VARIANTS = 4


# Terrain maps ##############################################################


def _smooth_field(gen: np.random.Generator, k: int) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    coarse = gaussian_filter(gen.standard_normal((k, k)),
                             sigma=max(1.0, k / 6.0), mode='reflect')
    fine = gaussian_filter(gen.standard_normal((k, k)),
                           sigma=max(0.5, k / 15.0), mode='reflect')
    field = coarse / max(coarse.std(), 1e-12) + 0.5 * fine / max(
        fine.std(), 1e-12)
    return field


def _road(gen: np.random.Generator, k: int) -> List[Tuple[int, int]]:
    # A 4-connected random walk between cells on two different sides of the
    # map, stepping towards the end along a random axis (with probability
    # proportional to the remaining distance along it).
    def border_cell(side: int) -> Tuple[int, int]:
        t = int(gen.integers(0, k))
        return [(0, t), (k - 1, t), (t, 0), (t, k - 1)][side]

    side_a, side_b = gen.choice(4, size=2, replace=False)
    (r, c), (r1, c1) = border_cell(int(side_a)), border_cell(int(side_b))
    cells = [(r, c)]
    while (r, c) != (r1, c1):
        dr, dc = r1 - r, c1 - c
        if gen.uniform() * (abs(dr) + abs(dc)) < abs(dr):
            r += int(np.sign(dr))
        else:
            c += int(np.sign(dc))
        cells.append((r, c))
    return cells


def generate_terrain(gen: np.random.Generator, k: int) -> np.ndarray:
    r"""Generates one :math:`k \times k` terrain map of tile types (indices
    into :obj:`TILE_TYPES`) from the numpy generator :obj:`gen`.

    A smooth random elevation field (two Gaussian-filtered noise fields,
    of widths :math:`k/6` and :math:`k/15` cells) is cut at random quantiles
    into water (the lowest 5--20% of the cells), sand (the next 4--10%),
    mountains (the highest 5--20%) and land; a second smooth field turns
    20--50% of the land into forest and the rest into grass. Finally one or
    two roads, 4-connected random walks between two sides of the map, are
    laid over any terrain (bridges over water).
    """
    n = k * k
    elevation = _smooth_field(gen, k).reshape(-1)
    vegetation = _smooth_field(gen, k).reshape(-1)
    num_water = int(round(gen.uniform(0.05, 0.20) * n))
    num_sand = int(round(gen.uniform(0.04, 0.10) * n))
    num_mountain = int(round(gen.uniform(0.05, 0.20) * n))
    forest_frac = gen.uniform(0.2, 0.5)

    terrain = np.full(n, GRASS, dtype=np.int64)
    order = np.argsort(elevation, kind='stable')
    terrain[order[:num_water]] = WATER
    terrain[order[num_water:num_water + num_sand]] = SAND
    terrain[order[n - num_mountain:]] = MOUNTAIN
    land = order[num_water + num_sand:n - num_mountain]
    if land.size:
        num_forest = int(round(forest_frac * land.size))
        by_vegetation = land[np.argsort(-vegetation[land], kind='stable')]
        terrain[by_vegetation[:num_forest]] = FOREST

    grid = terrain.reshape(k, k)
    for _ in range(int(gen.integers(1, 3))):
        for r, c in _road(gen, k):
            grid[r, c] = ROAD
    return grid


@functools.lru_cache(maxsize=8)
def _grid_edges(k: int) -> np.ndarray:
    from pyg_identity.utils.grid import grid_edge_index

    return grid_edge_index(k, k, diagonal=True).numpy()


def terrain_path(cost: np.ndarray, k: int) -> np.ndarray:
    r"""Returns the node indicator of a shortest path from the top-left to
    the bottom-right cell of the :math:`k \times k` 8-neighbourhood grid
    with the node costs :obj:`cost` (:obj:`[k * k]`, row-major), both ends
    included (a module-level function, so that worker processes can run
    it)."""
    from pyg_identity.solvers.shortest_path import _vertex_shortest_path

    return _vertex_shortest_path(cost, _grid_edges(k), k * k, source=0,
                                 target=k * k - 1)


# Rendering #################################################################


def _disc(size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    y, x = np.mgrid[:size, :size] + 0.5
    return (y - cy)**2 + (x - cx)**2 < radius**2


@functools.lru_cache(maxsize=8)
def tile_textures(tile_size: int = 8) -> np.ndarray:
    r"""Returns the fixed procedural textures of the tile types,
    :obj:`[len(TILE_TYPES), 4, 3, tile_size, tile_size]` (4 variants each,
    float32 in :math:`[0, 1]`): flecked road, speckled grass, dotted sand,
    tree crowns on dark green (forest), a snow-capped grey peak (mountain)
    and wave lines on blue (water)."""
    t = tile_size
    gen = np.random.default_rng(_TEXTURE_SEED + t)
    out = np.zeros((len(TILE_TYPES), _NUM_VARIANTS, 3, t, t))
    rows, cols = np.mgrid[:t, :t] + 0.5

    def base(rgb: Tuple[float, float, float]) -> np.ndarray:
        return np.broadcast_to(np.asarray(rgb)[:, None, None],
                               (3, t, t)).copy()

    for v in range(_NUM_VARIANTS):
        road = base((0.62, 0.55, 0.42))
        road[:, gen.uniform(size=(t, t)) < 0.2] -= 0.12
        out[ROAD, v] = road

        grass = base((0.35, 0.62, 0.22))
        grass[1] += gen.uniform(-0.08, 0.08, size=(t, t))
        grass[:, gen.uniform(size=(t, t)) < 0.1] += np.array(
            [0.1, 0.15, 0.05])[:, None]
        out[GRASS, v] = grass

        sand = base((0.87, 0.80, 0.55))
        sand[:, gen.uniform(size=(t, t)) < 0.12] = np.array(
            [0.74, 0.64, 0.40])[:, None]
        out[SAND, v] = sand

        forest = base((0.16, 0.40, 0.15))
        for _ in range(2):
            cy, cx = gen.uniform(0.25 * t, 0.75 * t, size=2)
            crown = _disc(t, cy, cx, 0.28 * t)
            forest[:, crown] = np.array([0.05, 0.24, 0.07])[:, None]
            trunk = (np.abs(cols - cx) < 0.6) & (rows > cy) & (
                rows < cy + 0.35 * t)
            forest[:, trunk & ~crown] = np.array([0.35, 0.22, 0.10])[:, None]
        out[FOREST, v] = forest

        mountain = base((0.52, 0.50, 0.47))
        apex = gen.uniform(0.35 * t, 0.65 * t)
        peak = rows > 0.15 * t + 1.4 * np.abs(cols - apex)
        mountain[:, peak] = np.array([0.36, 0.33, 0.30])[:, None]
        mountain[:, peak & (rows < 0.45 * t)] = 0.95
        out[MOUNTAIN, v] = mountain

        water = base((0.15, 0.35, 0.72))
        phase = int(gen.integers(0, 3))
        wave = ((rows.astype(np.int64) + phase) % 3 == 0) & (
            ((cols.astype(np.int64) + phase) % 4) < 3)
        water[:, wave] = np.array([0.35, 0.55, 0.85])[:, None]
        out[WATER, v] = water
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def render_terrain(terrain: np.ndarray, gen: np.random.Generator,
                   tile_size: int = 8, pixel_noise: float = 0.03) -> Tensor:
    r"""Renders a :math:`k \times k` map of tile types to an RGB image of
    shape :obj:`[3, k * tile_size, k * tile_size]` (float32 in
    :math:`[0, 1]`): every tile is a random variant of its type's texture
    (:func:`tile_textures`); the whole image gets a random brightness factor
    in :math:`[0.92, 1.08]` and Gaussian pixel noise of standard deviation
    :obj:`pixel_noise`, all drawn from :obj:`gen`."""
    terrain = np.asarray(terrain, dtype=np.int64)
    k = terrain.shape[0]
    t = tile_size
    textures = tile_textures(t)
    variant = gen.integers(0, _NUM_VARIANTS, size=terrain.shape)
    tiles = textures[terrain, variant]  # [k, k, 3, t, t]
    img = tiles.transpose(2, 0, 3, 1, 4).reshape(3, k * t, k * t)
    img *= np.float32(gen.uniform(0.92, 1.08))
    if pixel_noise > 0:
        noise = gen.standard_normal(img.shape, dtype=np.float32)
        noise *= np.float32(pixel_noise)
        img += noise
    np.clip(img, 0.0, 1.0, out=img)
    return torch.from_numpy(img)


# The dataset ###############################################################


class TerrainShortestPath(GeneratedDataset):
    r"""Procedurally generated Warcraft-style terrain maps for learning
    shortest paths from images, a stand-in (generated offline, *not* the
    Warcraft II tile set) for the Warcraft shortest-path dataset of the
    `"Differentiation of Blackbox Combinatorial Solvers"
    <https://arxiv.org/abs/1912.02175>`_ paper, used in Suppl. B.5 of the
    `"Backpropagation through Combinatorial Algorithms: Identity with
    Projection Works" <https://arxiv.org/abs/2205.15213>`_ paper.

    A map is a :math:`k \times k` grid of tiles of six types with fixed
    costs (:obj:`TILE_TYPES`, :obj:`TILE_COSTS`):

    ========  =====
    type      cost
    ========  =====
    road      0.8
    grass     1.2
    sand      1.5
    forest    5.3
    mountain  7.7
    water     9.2
    ========  =====

    laid out as spatially coherent regions (see :func:`generate_terrain`)
    and rendered with per-type textures, per-tile texture variants,
    per-image brightness and pixel noise (:func:`render_terrain`). The
    label is a shortest path from the top-left to the bottom-right cell on
    the 8-neighbourhood grid whose cost is the sum of the costs of the cells
    it visits, both ends included (Dijkstra,
    :func:`~pyg_identity.solvers.solve_vertex_shortest_path`).
    Shortest paths are often not unique; compare paths by the cost ratio
    :math:`\langle c, \hat{y} \rangle / \langle c, y \rangle` (the paper's
    metric, :math:`\times 100`), not by the nodes.

    Each example is a :class:`~torch_geometric.data.Data` object of
    :math:`k^2` nodes (the cells in row-major order) with

    * :obj:`img` (:obj:`[1, 3, k t, k t]`): the RGB image, :math:`t =`
      :obj:`tile_size` (a mini-batch stacks them to :obj:`[B, 3, k t, k t]`),
    * :obj:`edge_index` (:obj:`[2, E]`): the 8-neighbourhood grid graph of
      :func:`~pyg_identity.utils.grid.grid_edge_index`,
    * :obj:`cost` (:obj:`[k^2]`): the true cell costs,
    * :obj:`y` (:obj:`[k^2]`, float): the shortest-path node indicator,
    * :obj:`path_cost` (:obj:`[1]`): :math:`\langle c, y \rangle`,
    * :obj:`terrain` (:obj:`[k^2]`): the tile types,
    * :obj:`sample_id` (:obj:`[1]`): the index of the example in its split
      (it seeds the rendering).

    To keep the processed file small, :obj:`img` and :obj:`edge_index` are
    built when an example is accessed, after :obj:`pre_transform` and
    :obj:`pre_filter` (which see neither) and before :obj:`transform`; the
    image of an example is the same on every access. Every split has its own
    random stream derived from :obj:`seed`.

    Args:
        root (str, optional): Root directory where the dataset should be
            saved. If :obj:`None`, uses
            :func:`~pyg_identity.datasets.default_root` of
            :obj:`"terrain_shortest_path"`. (default: :obj:`None`)
        split (str, optional): :obj:`"train"`, :obj:`"val"` or
            :obj:`"test"`. (default: :obj:`"train"`)
        num_train (int, optional): The number of training maps (at least one
            for :obj:`split="train"`). (default: :obj:`10000`)
        num_val (int, optional): The number of validation maps.
            (default: :obj:`1000`)
        num_test (int, optional): The number of test maps.
            (default: :obj:`1000`)
        grid_size (int, optional): The map size :math:`k \geq 2`; the
            Warcraft data has 12, 18, 24 and 30. (default: :obj:`12`)
        tile_size (int, optional): The width in pixels of a tile.
            (default: :obj:`8`)
        pixel_noise (float, optional): The standard deviation of the
            Gaussian pixel noise. (default: :obj:`0.03`)
        seed (int, optional): The random seed. (default: :obj:`0`)
        num_workers (int, optional): The number of processes solving the
            maps in parallel (:obj:`0` or :obj:`1`: in this process);
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

    **STATS:** (default split sizes and tile size)

    .. list-table::
        :widths: 10 10 10 10 10 10
        :header-rows: 1

        * - :obj:`grid_size`
          - #maps (train/val/test)
          - #nodes
          - #edges
          - image
          - #tile types
        * - 12
          - 10,000 / 1,000 / 1,000
          - 144
          - 1,012
          - 3 x 96 x 96
          - 6
        * - 18
          - 10,000 / 1,000 / 1,000
          - 324
          - 2,380
          - 3 x 144 x 144
          - 6
        * - 24
          - 10,000 / 1,000 / 1,000
          - 576
          - 4,324
          - 3 x 192 x 192
          - 6
        * - 30
          - 10,000 / 1,000 / 1,000
          - 900
          - 6,844
          - 3 x 240 x 240
          - 6
    """

    _folder = 'terrain_shortest_path'
    # The split size is also `num_maps` (its name in the hash).
    _size_key = 'num_maps'
    num_maps = GeneratedDataset.num_examples
    tile_types = TILE_TYPES
    tile_costs = TILE_COSTS

    def __init__(
        self,
        root: Optional[PathLike] = None,
        split: str = 'train',
        num_train: int = 10000,
        num_val: int = 1000,
        num_test: int = 1000,
        grid_size: int = 12,
        tile_size: int = 8,
        pixel_noise: float = 0.03,
        seed: int = 0,
        num_workers: Optional[int] = None,
        transform: Optional[Callable] = None,
        pre_transform: Optional[Callable] = None,
        pre_filter: Optional[Callable] = None,
        force_reload: bool = False,
        log: bool = True,
    ) -> None:
        self.grid_size = check_int('grid_size', grid_size, 2)
        self.tile_size = check_int('tile_size', tile_size, 4)
        self.pixel_noise = check_float('pixel_noise', pixel_noise)
        self.num_workers = resolve_num_workers(num_workers)
        super().__init__(root, split, num_train, num_val, num_test, seed,
                         transform, pre_transform, pre_filter,
                         force_reload=force_reload, log=log)
        self._edge_index = torch.from_numpy(_grid_edges(self.grid_size))

    def _own_params(self) -> Dict[str, object]:
        # The rendering parameters act on access only; they are not part of
        # the processed file.
        return dict(
            grid_size=self.grid_size,
            tile_costs=self.tile_costs,
        )

    def _generate(self) -> Iterable[Data]:
        k = self.grid_size
        gen = self._rng()
        terrains = [generate_terrain(gen, k) for _ in range(self.num_maps)]
        costs = np.asarray(self.tile_costs, dtype=np.float32)
        tasks = [(costs[t].reshape(-1).astype(np.float64), k)
                 for t in terrains]
        paths = solve_in_chunks(terrain_path, tasks, self.num_workers,
                                f'Solving {self.split}', self.log)
        for i, (terrain, (cost, _), y) in enumerate(zip(terrains, tasks,
                                                         paths)):
            yield Data(
                terrain=torch.from_numpy(terrain.reshape(-1)),
                cost=torch.from_numpy(cost).float(),
                y=torch.from_numpy(y).float(),
                path_cost=torch.tensor([float(cost @ y)]),
                sample_id=torch.tensor([i]),
                num_nodes=k * k,
            )

    def render(self, terrain: Tensor, sample_id: int) -> Tensor:
        r"""Renders the image of the example :obj:`sample_id` with tile types
        :obj:`terrain` (:obj:`[k * k]`), shape :obj:`[1, 3, k t, k t]`."""
        gen = self._rng(1 + sample_id)
        k = self.grid_size
        img = render_terrain(terrain.view(k, k).numpy(), gen, self.tile_size,
                             self.pixel_noise)
        return img.unsqueeze(0)

    def get(self, idx: int) -> Data:
        data = super().get(idx)
        assert isinstance(data, Data)
        data.img = self.render(data.terrain, int(data.sample_id))
        data.edge_index = self._edge_index.clone()
        return data

    def _extra_repr(self) -> str:
        return f'grid_size={self.grid_size}'


__all__ = ['TerrainShortestPath', 'TILE_TYPES', 'TILE_COSTS',
           'generate_terrain', 'terrain_path', 'tile_textures',
           'render_terrain']
