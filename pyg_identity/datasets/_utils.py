r"""Helpers shared by the datasets: the default data root, argument checks,
seeding, graph construction over 2-D points, parallel labelling, saving
processed files, and file downloads."""
import hashlib
import json
import os
import os.path as osp
from numbers import Integral, Real
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.io import fs

from pyg_identity.solvers._dispatch import map_graphs

ENV_VAR = 'PYG_IDENTITY_DATASETS'

PathLike = Union[str, 'os.PathLike[str]']


def default_root(name: str) -> str:
    r"""Returns the default folder of the dataset :obj:`name`.

    In order of precedence:

    1. :obj:`$PYG_IDENTITY_DATASETS/<name>` if the environment variable
       :obj:`PYG_IDENTITY_DATASETS` is set;
    2. :obj:`<checkout>/datasets/<name>` if :obj:`pyg_identity` is imported
       from a source checkout (a :obj:`pyproject.toml` next to the package
       folder), *i.e.* the git-ignored top-level :obj:`datasets/` folder;
    3. :obj:`~/.cache/pyg_identity/datasets/<name>` otherwise.

    Args:
        name (str): The folder name of the dataset, *e.g.*
            :obj:`"synthetic_keypoints"`.
    """
    if not isinstance(name, str) or not name or osp.sep in name:
        raise ValueError(f"'name' must be a non-empty folder name (got "
                         f"{name!r})")
    env = os.environ.get(ENV_VAR)
    if env:
        return osp.join(osp.abspath(osp.expanduser(env)), name)
    checkout = _source_checkout()
    if checkout is not None:
        return osp.join(checkout, 'datasets', name)
    return osp.join(osp.expanduser('~'), '.cache', 'pyg_identity',
                    'datasets', name)


def _source_checkout() -> Optional[str]:
    package_dir = osp.dirname(osp.dirname(osp.abspath(__file__)))
    checkout = osp.dirname(package_dir)
    pyproject = osp.join(checkout, 'pyproject.toml')
    if not osp.isfile(pyproject):
        return None
    try:
        with open(pyproject, encoding='utf-8') as f:
            if 'pyg_identity' not in f.read():
                return None
    except OSError:
        return None
    return checkout


def check_root(root: Optional[PathLike], name: str) -> str:
    r"""Validates :obj:`root` and returns it as an absolute path, or the
    :func:`default_root` of :obj:`name` if :obj:`root` is :obj:`None`."""
    if root is None:
        return default_root(name)
    if not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"'root' must be a path (str or os.PathLike) or "
                         f"None (got {root!r})")
    path = os.fspath(root)
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"'root' must be a non-empty path (got {root!r})")
    path = osp.abspath(osp.expanduser(path))
    if osp.exists(path) and not osp.isdir(path):
        raise ValueError(f"'root' must be a directory, but {path!r} is a "
                         f"file")
    return path


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"'{name}' must be a bool (got {value!r})")
    return value


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        expected = ', '.join(repr(c) for c in choices)
        raise ValueError(f"'{name}' must be one of {expected} (got "
                         f"{value!r})")
    return value


def check_int(name: str, value: Any, low: int = 0,
              high: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"'{name}' must be an integer (got {value!r})")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"'{name}' must be {bound} (got {value!r})")
    return value


def check_range(name: str, value: Any, low: int = 0) -> Tuple[int, int]:
    r"""Accepts an integer :obj:`n` or an inclusive range :obj:`(lo, hi)`
    and returns :obj:`(lo, hi)`."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"'{name}' must be an integer or a pair "
                             f"(low, high) (got {value!r})")
        lo = check_int(name, value[0], low)
        hi = check_int(name, value[1], low)
        if lo > hi:
            raise ValueError(f"'{name}' must satisfy low <= high (got "
                             f"{value!r})")
        return lo, hi
    n = check_int(name, value, low)
    return n, n


def check_float(name: str, value: Any, low: float = 0.0) -> float:
    if (isinstance(value, bool) or not isinstance(value, Real)
            or not np.isfinite(float(value)) or float(value) < low):
        raise ValueError(f"'{name}' must be a finite number >= {low} (got "
                         f"{value!r})")
    return float(value)


def resolve_num_workers(num_workers: Optional[int]) -> int:
    r"""Validates :obj:`num_workers` and resolves :obj:`None` to the number
    of CPU cores available to this process."""
    if num_workers is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not on Linux
            return os.cpu_count() or 1
    return check_int('num_workers', num_workers)


def params_hash(params: Dict[str, Any]) -> str:
    r"""A short stable hash of JSON-serialisable parameters, used to name
    processed files so that other parameters never hit a stale cache."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:10]


def rng(seed: int, *keys: int) -> np.random.Generator:
    r"""A numpy generator that depends only on :obj:`seed` and :obj:`keys`
    (independent streams per split or per example)."""
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _complete_edges(n: int) -> np.ndarray:
    row, col = np.nonzero(~np.eye(n, dtype=bool))
    return np.stack([row, col])


def _delaunay_edges(pos: np.ndarray) -> np.ndarray:
    from scipy.spatial import Delaunay, QhullError

    n = pos.shape[0]
    if n < 3:
        return _complete_edges(n)
    try:
        simplices = Delaunay(pos).simplices
    except QhullError:  # Collinear or coincident points.
        return _complete_edges(n)
    adj = np.zeros((n, n), dtype=bool)
    for a in range(3):
        for b in range(3):
            if a != b:
                adj[simplices[:, a], simplices[:, b]] = True
    return np.stack(np.nonzero(adj))


def _knn_edges(pos: np.ndarray, k: int) -> np.ndarray:
    from scipy.spatial import cKDTree

    n = pos.shape[0]
    if n <= k + 1:
        return _complete_edges(n)
    _, nbr = cKDTree(pos).query(pos, k=k + 1)
    adj = np.zeros((n, n), dtype=bool)
    adj[np.repeat(np.arange(n), k + 1), nbr.reshape(-1)] = True
    adj |= adj.T  # Symmetric: i ~ j if either is among the other's k-NN.
    np.fill_diagonal(adj, False)
    return np.stack(np.nonzero(adj))


def build_edges(pos: Union[Tensor, np.ndarray], method: str = 'delaunay',
                k: int = 8) -> Tuple[Tensor, Tensor]:
    r"""Builds an undirected graph over 2-D points, with both directions of
    every edge, sorted by source then target, and no self-loops.

    :obj:`"delaunay"` connects the edges of the Delaunay triangulation
    (a complete graph for fewer than three or collinear points);
    :obj:`"knn"` connects every point to its :obj:`k` nearest neighbours
    (symmetrised). The edge features are
    :math:`[\mathbf{p}_i - \mathbf{p}_j, \|\mathbf{p}_i - \mathbf{p}_j\|]`
    for the edge :math:`(i, j)` (PyG's
    :class:`~torch_geometric.transforms.Cartesian` orientation, unnormalised,
    and :class:`~torch_geometric.transforms.Distance`).

    Returns:
        :obj:`(edge_index, edge_attr)` of shapes :obj:`[2, E]` (long) and
        :obj:`[E, 3]` (the dtype of :obj:`pos`, float32 for numpy input).
    """
    check_choice('edges', method, ('delaunay', 'knn'))
    check_int('k', k, 1)
    if isinstance(pos, Tensor):
        dtype = pos.dtype
        array = pos.detach().cpu().double().numpy()
    else:
        dtype = torch.float32
        array = np.asarray(pos, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"'pos' must have shape [num_nodes, 2] (got "
                         f"{tuple(array.shape)})")
    if array.shape[0] == 0:
        return (torch.empty(2, 0, dtype=torch.long),
                torch.empty(0, 3, dtype=dtype))
    if method == 'delaunay':
        edges = _delaunay_edges(array)
    else:
        edges = _knn_edges(array, k)
    diff = array[edges[0]] - array[edges[1]]
    attr = np.concatenate(
        [diff, np.linalg.norm(diff, axis=1, keepdims=True)], axis=1)
    return (torch.from_numpy(np.ascontiguousarray(edges)).long(),
            torch.from_numpy(attr).to(dtype))


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


def save_data_list(data_list: List[Data], path: str, split: str,
                   noun: str = 'example') -> None:
    r"""Saves :obj:`data_list` to :obj:`path` as collated tensors, without
    the data class, so that loading needs no unpickling beyond tensors
    (:obj:`torch.load(weights_only=True)`); raises if it is empty (every
    :obj:`noun` of :obj:`split` was dropped by :obj:`pre_filter`)."""
    if len(data_list) == 0:
        raise RuntimeError(f"No {split} {noun} left after 'pre_filter'")
    data, slices = InMemoryDataset.collate(data_list)
    fs.torch_save((data.to_dict(), slices), path)


def file_digest(path: str, algorithm: str = 'md5') -> str:
    r"""Returns the :obj:`algorithm` (a :mod:`hashlib` name) hex digest of
    the file at :obj:`path`, read in chunks of 1 MiB."""
    h = hashlib.new(algorithm)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def md5sum(path: str) -> str:
    return file_digest(path, 'md5')
