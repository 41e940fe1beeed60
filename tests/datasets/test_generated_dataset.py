r"""The shared base of the generated datasets keeps the processed files of
earlier versions valid: the file names (parameter hashes) and the generated
content below were computed on commit 3db3048, before the base class."""
import hashlib
import os.path as osp
import shutil
from types import SimpleNamespace
from typing import Any, Callable, Dict, List

import pytest
import torch

from pyg_identity.datasets import (
    GlobeTSP,
    PascalVOCKeypoints,
    RandomTSP,
    SyntheticKeypoints,
    TerrainShortestPath,
)
from pyg_identity.datasets._base import GeneratedDataset
from pyg_identity.datasets.pascal_voc import backbone_key

# (class, non-default arguments) -> the processed file of each split.
EXPECTED_FILES: List[Any] = [
    (RandomTSP, {}, dict(train='train_5f9005d16e.pt', val='val_e1d013c735.pt',
                         test='test_b5cf85ac73.pt')),
    (RandomTSP, dict(num_nodes=(10, 20)),
     dict(train='train_633404b6de.pt', val='val_47f3e9a3d1.pt',
          test='test_24f765aefd.pt')),
    (RandomTSP, dict(num_nodes=50),
     dict(train='train_b82508f293.pt', val='val_38aff959e5.pt',
          test='test_ca64a8fde2.pt')),
    (RandomTSP, dict(num_nodes=100),
     dict(train='train_269c27eaed.pt', val='val_cf3847f281.pt',
          test='test_f4d369d2b7.pt')),
    (RandomTSP, dict(num_nodes=10, solver='exact', with_tour=True),
     dict(train='train_bd6d1976c0.pt', val='val_bc80087d53.pt',
          test='test_7b37feb7bb.pt')),
    (GlobeTSP, {}, dict(train='train_eb8fddde9d.pt', val='val_b0338b405d.pt',
                        test='test_1e0c337efe.pt')),
    (GlobeTSP, dict(num_countries=5),
     dict(train='train_77c4787570.pt', val='val_4ddb1468f1.pt',
          test='test_78be7f9901.pt')),
    (GlobeTSP, dict(num_countries=20),
     dict(train='train_4e54088f95.pt', val='val_8effee40d9.pt',
          test='test_b19e328aec.pt')),
    (GlobeTSP, dict(distance='chord'),
     dict(train='train_a2df592369.pt', val='val_a61a804778.pt',
          test='test_b3ef98be12.pt')),
    (TerrainShortestPath, {},
     dict(train='train_128542827a.pt', val='val_56800e48c1.pt',
          test='test_5d3e42a39c.pt')),
    (TerrainShortestPath, dict(grid_size=18),
     dict(train='train_1aa2acb850.pt', val='val_f4d55a623e.pt',
          test='test_ac930610eb.pt')),
    (TerrainShortestPath, dict(grid_size=30),
     dict(train='train_f1151be83a.pt', val='val_54a5f05fe8.pt',
          test='test_e414299b08.pt')),
    (SyntheticKeypoints, {},
     dict(train='train_0aefecdfd6.pt', val='val_074a6cffe8.pt',
          test='test_a46a733fed.pt')),
    (SyntheticKeypoints, dict(edges='knn'),
     dict(train='train_de16df9374.pt', val='val_b3df914b64.pt',
          test='test_ad2eca67ea.pt')),
    (SyntheticKeypoints, dict(num_outliers_s=(0, 5), warp='affine'),
     dict(train='train_00fa1cd512.pt', val='val_a2703651ee.pt',
          test='test_98c0bed04e.pt')),
]

# Tiny datasets: their processed file and a digest of every stored tensor.
TINY: Dict[str, Any] = {
    'RandomTSP': (
        lambda root: RandomTSP(root, num_train=4, num_nodes=(5, 8),
                               with_tour=True, num_workers=0, log=False),
        'train_d7693b579f.pt', '169889184b792da1',
        "RandomTSP(4, split='train', num_nodes=(5, 8))"),
    'GlobeTSP': (
        lambda root: GlobeTSP(root, num_train=3, num_countries=6,
                              with_tour=True, num_workers=0, log=False),
        'train_df7ba92a30.pt', 'ed7f7f9e816ac220',
        "GlobeTSP(3, split='train', num_countries=6)"),
    'TerrainShortestPath': (
        lambda root: TerrainShortestPath(root, num_train=3, grid_size=5,
                                         num_workers=0, log=False),
        'train_fd3edc43d6.pt', '0aff6adf5350187d',
        "TerrainShortestPath(3, split='train', grid_size=5)"),
    'SyntheticKeypoints': (
        lambda root: SyntheticKeypoints(root, num_train=3,
                                        num_outliers_t=(0, 2), log=False),
        'train_0ae672dd99.pt', 'fbba70fe9dad5dff',
        "SyntheticKeypoints(3, split='train')"),
}


def digest(dataset: Any) -> str:
    sha = hashlib.sha1()
    stored = dataset._data.to_dict()
    for key in sorted(stored):
        value = stored[key]
        sha.update(key.encode())
        if isinstance(value, torch.Tensor):
            sha.update(str(value.dtype).encode())
            sha.update(str(tuple(value.shape)).encode())
            sha.update(value.contiguous().view(-1).view(
                torch.uint8).numpy().tobytes())
        else:
            sha.update(repr(value).encode())
    for key in sorted(dataset.slices):
        sha.update(key.encode())
        sha.update(dataset.slices[key].numpy().tobytes())
    return sha.hexdigest()[:16]


@pytest.fixture(scope='module')
def tiny_files(tmp_path_factory) -> Dict[type, str]:
    r"""A small valid processed file per class, to plant under other
    names."""
    out = {}
    for name, (make, *_) in TINY.items():
        root = str(tmp_path_factory.mktemp(name))
        dataset = make(root)
        out[type(dataset)] = dataset.processed_paths[0]
    return out


@pytest.mark.parametrize('cls,kwargs,files', EXPECTED_FILES)
def test_existing_processed_files_are_found(tmp_path, monkeypatch, tiny_files,
                                            cls, kwargs, files) -> None:
    def process(self: Any) -> None:
        raise AssertionError(f'{self!r} was rebuilt')

    monkeypatch.setattr(cls, 'process', process)
    for split, name in files.items():
        folder = tmp_path / split / 'processed'
        folder.mkdir(parents=True)
        shutil.copy(tiny_files[cls], folder / name)
        dataset = cls(str(tmp_path / split), split=split, log=False,
                      **kwargs)
        assert dataset.processed_file_names == [name]
        assert len(dataset) > 0  # the planted file, not a new one


@pytest.mark.parametrize('name', sorted(TINY))
def test_generated_content_is_unchanged(tmp_path, name: str) -> None:
    make, file_name, expected, text = TINY[name]
    dataset = make(str(tmp_path))
    assert isinstance(dataset, GeneratedDataset)
    assert osp.basename(dataset.processed_paths[0]) == file_name
    assert digest(dataset) == expected
    assert repr(dataset) == text
    assert dataset.num_examples == len(dataset)


def test_pascal_voc_processed_files_are_unchanged() -> None:
    assert backbone_key(None) == 'vgg16_bn'
    names: Callable[..., List[str]] = (
        PascalVOCKeypoints.processed_file_names.fget)  # type: ignore
    assert names(SimpleNamespace(category=['car', 'cat'], split='test',
                                 with_images=False)) == [
                                     'car_test.pt', 'cat_test.pt'
                                 ]
    assert names(SimpleNamespace(category=['bus'], split='train',
                                 with_images=True)) == ['bus_train_img.pt']
    folder = PascalVOCKeypoints.processed_dir.fget(  # type: ignore
        SimpleNamespace(root='/data', backbone_key='vgg16_bn'))
    assert folder == osp.join('/data', 'processed', 'vgg16_bn')


@pytest.mark.parametrize('name', sorted(TINY))
def test_pre_filter_dropping_everything_names_the_split(tmp_path,
                                                         name: str) -> None:
    cls = {c.__name__: c for c, *_ in EXPECTED_FILES}[name]
    noun = 'pair' if cls is SyntheticKeypoints else 'example'
    with pytest.raises(RuntimeError, match=f"No val {noun} left"):
        cls(str(tmp_path), split='val', num_val=2,
            pre_filter=lambda data: False, log=False,
            **({} if cls is SyntheticKeypoints else dict(num_workers=0)),
            **({'grid_size': 3} if cls is TerrainShortestPath else {}))
