r"""The base class of the datasets generated offline (nothing downloaded)."""
from typing import Callable, Dict, Iterable, List, Optional, Type

import numpy as np
from torch_geometric.data import Data, InMemoryDataset

from pyg_identity.datasets._utils import (
    PathLike,
    check_choice,
    check_int,
    check_root,
    params_hash,
    rng,
    save_data_list,
)


class GeneratedDataset(InMemoryDataset):
    r"""The base of the procedurally generated datasets
    (:class:`~pyg_identity.datasets.RandomTSP`,
    :class:`~pyg_identity.datasets.GlobeTSP`,
    :class:`~pyg_identity.datasets.TerrainShortestPath`,
    :class:`~pyg_identity.datasets.SyntheticKeypoints`): a
    :obj:`"train"`/:obj:`"val"`/:obj:`"test"` split of
    :obj:`num_train`/:obj:`num_val`/:obj:`num_test` examples, generated from
    a random stream of its own derived from :obj:`seed` (so a split does not
    change when the size of another split does), and stored in one processed
    file :obj:`<split>_<hash>.pt` named after a hash of :meth:`_params`, so
    that other parameters never hit a stale file.

    A subclass validates its own arguments and stores them as attributes,
    then calls :obj:`super().__init__`; it implements :meth:`_own_params`
    (its parameters that determine the processed file, beside the split, its
    size and the seed) and :meth:`_generate` (the examples of the split,
    before :obj:`pre_filter` and :obj:`pre_transform`), and may extend
    :meth:`_extra_repr`.

    Args:
        root (str, optional): Root directory of the dataset; :obj:`None`
            uses :func:`~pyg_identity.datasets.default_root` of
            :attr:`_folder`.
        split (str): :obj:`"train"`, :obj:`"val"` or :obj:`"test"`.
        num_train (int): The number of training examples (at least one for
            :obj:`split="train"`).
        num_val (int): The number of validation examples.
        num_test (int): The number of test examples.
        seed (int): The random seed.
        transform, pre_transform, pre_filter, force_reload, log: As for
            :class:`~torch_geometric.data.InMemoryDataset`.
    """

    #: The folder name under :func:`~pyg_identity.datasets.default_root`.
    _folder: str = ''
    #: The class of the stored examples.
    _data_cls: Type[Data] = Data
    #: What an example is called in error messages.
    _noun: str = 'example'
    #: The name of the split size in :meth:`_params` (it is hashed).
    _size_key: str = 'num_examples'
    splits = ('train', 'val', 'test')

    def __init__(
        self,
        root: Optional[PathLike],
        split: str,
        num_train: int,
        num_val: int,
        num_test: int,
        seed: int,
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
        self.seed = check_int('seed', seed)
        root = check_root(root, self._folder)
        super().__init__(root, transform, pre_transform, pre_filter,
                         log=log, force_reload=force_reload)
        self.load(self.processed_paths[0], data_cls=self._data_cls)

    @property
    def num_examples(self) -> int:
        r"""The number of examples of the selected split."""
        return {
            'train': self.num_train,
            'val': self.num_val,
            'test': self.num_test
        }[self.split]

    def _rng(self, *keys: int) -> np.random.Generator:
        r"""The random stream of the selected split (and of :obj:`keys`
        within it)."""
        return rng(self.seed, self.splits.index(self.split), *keys)

    def _params(self) -> Dict[str, object]:
        r"""Every parameter that determines the processed file."""
        return {
            'split': self.split,
            self._size_key: self.num_examples,
            'seed': self.seed,
            **self._own_params(),
        }

    def _own_params(self) -> Dict[str, object]:
        raise NotImplementedError

    def _generate(self) -> Iterable[Data]:
        raise NotImplementedError

    @property
    def raw_file_names(self) -> List[str]:
        return []

    @property
    def processed_file_names(self) -> List[str]:
        return [f'{self.split}_{params_hash(self._params())}.pt']

    def process(self) -> None:
        data_list = []
        for data in self._generate():
            if self.pre_filter is not None and not self.pre_filter(data):
                continue
            if self.pre_transform is not None:
                data = self.pre_transform(data)
            data_list.append(data)
        save_data_list(data_list, self.processed_paths[0], self.split,
                       self._noun)

    def _extra_repr(self) -> str:
        return ''

    def __repr__(self) -> str:
        extra = self._extra_repr()
        return (f'{self.__class__.__name__}({len(self)}, '
                f'split={self.split!r}{", " + extra if extra else ""})')
