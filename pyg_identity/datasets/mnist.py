import gzip
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from pyg_identity.datasets._utils import (
    PathLike,
    check_choice,
    check_int,
    check_root,
    md5sum,
    rng,
)


class MNIST(Dataset):
    r"""The MNIST handwritten digits of `"Gradient-Based Learning Applied to
    Document Recognition" <http://yann.lecun.com/exdb/mnist/>`_, as used by
    the discrete VAE experiment (Sec. 4.1) of the `"Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper, with its
    50,000 / 10,000 / 10,000 train/validation/test split.

    Reads the standard IDX files (:obj:`train-images-idx3-ubyte.gz`,
    :obj:`train-labels-idx1-ubyte.gz`, :obj:`t10k-images-idx3-ubyte.gz`,
    :obj:`t10k-labels-idx1-ubyte.gz`, gzipped or not) from :obj:`root/raw`
    or :obj:`root`; only the files of the requested split are needed.
    Missing files are downloaded (and checked against their MD5 sums) only
    if :obj:`download=True`; otherwise a :class:`ValueError` names them.

    The validation images are :obj:`val_size` images of the official
    training set, chosen by a random permutation seeded by :obj:`seed`;
    :obj:`"train"` is the rest and :obj:`"trainval"` all 60,000 (the
    original notebook trains on all of them).

    Every example is a tuple :obj:`(image, label)`: a float image in
    :math:`[0, 1]` of shape :obj:`[1, 28, 28]` (:obj:`[784]` with
    :obj:`flatten=True`) and a long scalar label. The whole split is also
    available as the tensors :obj:`images` (:obj:`[N, 1, 28, 28]` or
    :obj:`[N, 784]`) and :obj:`labels` (:obj:`[N]`), for full-batch use.

    Args:
        root (str, optional): The folder of the IDX files. If :obj:`None`,
            uses :func:`~pyg_identity.datasets.default_root` of
            :obj:`"mnist"`. (default: :obj:`None`)
        split (str, optional): :obj:`"train"`, :obj:`"val"`,
            :obj:`"trainval"` or :obj:`"test"`. (default: :obj:`"train"`)
        flatten (bool, optional): Whether to return images as vectors of
            784 pixels. (default: :obj:`False`)
        val_size (int, optional): The number of validation images taken
            from the training set. (default: :obj:`10000`)
        seed (int, optional): The seed of the train/validation split.
            (default: :obj:`0`)
        download (bool, optional): Whether to download missing files.
            (default: :obj:`False`)
        transform (callable, optional): A function/transform applied to
            every image on access. (default: :obj:`None`)
        target_transform (callable, optional): A function/transform applied
            to every label on access. (default: :obj:`None`)

    **STATS:**

    .. list-table::
        :widths: 10 10 10 10
        :header-rows: 1

        * - Split
          - #images
          - #pixels
          - #classes
        * - train
          - 50,000
          - 28 x 28
          - 10
        * - val
          - 10,000
          - 28 x 28
          - 10
        * - test
          - 10,000
          - 28 x 28
          - 10
    """

    mirrors = [
        'https://ossci-datasets.s3.amazonaws.com/mnist/',
        'http://yann.lecun.com/exdb/mnist/',
    ]
    files: Dict[str, Tuple[str, str]] = {
        'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
        'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'),
    }
    md5: Dict[str, str] = {
        'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
        'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
        't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
        't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
    }
    splits = ('train', 'val', 'trainval', 'test')

    def __init__(
        self,
        root: Optional[PathLike] = None,
        split: str = 'train',
        flatten: bool = False,
        val_size: int = 10000,
        seed: int = 0,
        download: bool = False,
        transform: Optional[Callable] = None,
        target_transform: Optional[Callable] = None,
    ) -> None:
        self.root = check_root(root, 'mnist')
        self.split = check_choice('split', split, self.splits)
        self.flatten = bool(flatten)
        self.val_size = check_int('val_size', val_size)
        self.seed = check_int('seed', seed)
        self.download = bool(download)
        self.transform = transform
        self.target_transform = target_transform

        source = 'test' if self.split == 'test' else 'train'
        image_path, label_path = (self._find(name)
                                  for name in self.files[source])
        images = read_idx(image_path)
        labels = read_idx(label_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(
                labels):
            raise ValueError(f"'root': {image_path!r} and {label_path!r} "
                             f"are not matching MNIST image and label files")

        if self.split in ('train', 'val'):
            if self.val_size >= len(images):
                raise ValueError(f"'val_size' must be smaller than the "
                                 f"{len(images)} training images (got "
                                 f"{self.val_size})")
            if self.split == 'val' and self.val_size == 0:
                raise ValueError("'val_size' must be positive for "
                                 "split='val' (got 0)")
            perm = rng(self.seed).permutation(len(images))
            part = perm[:self.val_size] if self.split == 'val' else perm[
                self.val_size:]
            index = np.sort(part)
            images, labels = images[index], labels[index]

        out = torch.from_numpy(images.astype(np.float32) / 255.0)
        self.images: Tensor = (out.view(len(out), -1)
                               if self.flatten else out.unsqueeze(1))
        self.labels: Tensor = torch.from_numpy(labels.astype(np.int64))

    @property
    def raw_dir(self) -> str:
        return osp.join(self.root, 'raw')

    def _find(self, name: str) -> str:
        for folder in (self.raw_dir, self.root):
            for candidate in (name, name[:-3]):  # Gzipped or not.
                path = osp.join(folder, candidate)
                if osp.isfile(path):
                    return path
        if not self.download:
            raise ValueError(
                f"'root' ({self.root!r}) lacks the MNIST file {name!r} "
                f"(looked in {self.raw_dir!r} and {self.root!r}); copy it "
                f"there or pass download=True")
        return self._download(name)

    def _download(self, name: str) -> str:
        from torch_geometric.data import download_url

        os.makedirs(self.raw_dir, exist_ok=True)
        errors: List[str] = []
        for mirror in self.mirrors:
            try:
                path = download_url(mirror + name, self.raw_dir)
            except Exception as e:  # Try the next mirror.
                errors.append(f'{mirror}: {e}')
                continue
            if md5sum(path) == self.md5[name]:
                return path
            os.unlink(path)
            errors.append(f'{mirror}: MD5 mismatch')
        raise RuntimeError(f"Could not download {name!r}: "
                           f"{'; '.join(errors)}")

    def __len__(self) -> int:
        return self.labels.numel()

    def __getitem__(self, idx: int) -> Tuple[Tensor, Tensor]:
        image, label = self.images[idx], self.labels[idx]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({len(self)}, split={self.split!r})'


def read_idx(path: str) -> np.ndarray:
    r"""Reads an IDX file (gzipped if its name ends in :obj:`.gz`) of
    unsigned bytes into a numpy array."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        content = f.read()
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or (
            content[2] != 0x08):
        raise ValueError(f"{path!r} is not an IDX file of unsigned bytes")
    ndim = content[3]
    header = 4 + 4 * ndim
    shape = tuple(
        int.from_bytes(content[4 + 4 * i:8 + 4 * i], 'big')
        for i in range(ndim))
    if len(content) != header + int(np.prod(shape)):
        raise ValueError(f"{path!r} is truncated or corrupted (expected "
                         f"shape {shape})")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(
        shape)
