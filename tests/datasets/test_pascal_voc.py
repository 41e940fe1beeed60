import os
import os.path as osp
import shutil
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
import torch
import torch_geometric.data
from torch import Tensor
from torch_geometric.loader import DataLoader

from pyg_identity.datasets.pascal_voc import (
    KEYPOINT_NAMES,
    PascalVOCKeypoints,
    backbone_key,
    read_split_file,
)
from pyg_identity.models.backbone import (
    VGG16_URLS,
    VGG16Backbone,
    keypoint_features,
    vgg16_weights_path,
)

Image = pytest.importorskip('PIL.Image')

CATEGORIES = PascalVOCKeypoints.categories
W, H = 96, 72  # size of the miniature images


class TinyBackbone(torch.nn.Module):
    r"""A fixed random two-map backbone with VGG's strides (8 and 16)."""
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.conv1 = torch.nn.Conv2d(3, 4, kernel_size=8, stride=8)
        self.conv2 = torch.nn.Conv2d(4, 6, kernel_size=2, stride=2)
        with torch.no_grad():
            for param in self.parameters():
                param.copy_(torch.randn(param.shape, generator=gen))
        self.calls = 0

    def forward(self, image: Tensor) -> List[Tensor]:
        self.calls += 1
        a = self.conv1(image).relu()
        return [a, self.conv2(a).relu()]


# A miniature Pascal VOC tree ###############################################
# Each object: (split, category, image, voc_id, visible bounds
# (xmin, ymin, w, h), keypoints {name: (x, y[, visible])}, flags).

def kps(category: str, idx: List[int]) -> Dict[str, Tuple[float, ...]]:
    names = KEYPOINT_NAMES[category]
    return {
        names[i]: (12.0 + 7 * i % 60, 10.0 + 5 * (i * 3 % 10)) for i in idx
    }


OBJECTS: List[Dict[str, Any]] = [
    dict(split='train', category='car', image='2008_000001', voc_id=1,
         keypoints=kps('car', [0, 2, 4, 11, 6])),
    dict(split='train', category='car', image='2008_000002', voc_id=1,
         keypoints={
             **kps('car', [0, 2, 4, 13, 12]),
             'R_B_RoofTop': (200.0, 20.0),  # outside the visible bounds
             'L_B_WheelCenter': (20.0, 20.0, '0'),  # not visible
         }),
    # The second object of an image whose first object is truncated.
    dict(split='train', category='car', image='2008_000003', voc_id=1,
         keypoints=kps('car', [0, 1, 2]), flags=dict(truncated=1)),
    dict(split='train', category='car', image='2008_000003', voc_id=2,
         keypoints=kps('car', [0, 2, 6, 9])),
    dict(split='train', category='car', image='2008_000004', voc_id=1,
         keypoints=kps('car', [0, 2, 4]), flags=dict(difficult=1)),
    dict(split='train', category='car', image='2008_000005', voc_id=1,
         keypoints=kps('car', [0, 2, 4]), flags=dict(occluded=1)),
    dict(split='train', category='car', image='2008_000006', voc_id=1,
         keypoints=kps('car', [3])),  # a single keypoint
    dict(split='train', category='bird', image='2009_000001', voc_id=1,
         keypoints=kps('bird', [0, 1, 2, 3, 5])),
    dict(split='train', category='bird', image='2009_000002', voc_id=1,
         keypoints=kps('bird', [1, 2, 3, 5, 7, 9])),
    dict(split='train', category='person', image='2008_000010', voc_id=1,
         keypoints=kps('person', [0, 1, 2, 3])),
    dict(split='train', category='person', image='2008_000011', voc_id=1,
         keypoints=kps('person', [1, 2, 3, 4])),
    dict(split='train', category='person', image='2010_000001', voc_id=1,
         keypoints=kps('person', [1, 2, 3, 4])),  # uncurated year
    dict(split='test', category='car', image='2008_000007', voc_id=1,
         keypoints=kps('car', [1, 3, 5, 7])),
    dict(split='test', category='car', image='2008_000008', voc_id=1,
         keypoints=kps('car', [1, 3, 5, 8])),
]
BOUNDS = (4.0, 3.0, 80.0, 64.0)  # xmin, ymin, width, height


def xml_name(obj: Dict[str, Any]) -> str:
    return f"{obj['category']}/{obj['image']}_{obj['voc_id']}.xml"


def write_tree(raw: str, voc_subdir: str = '') -> None:
    voc = osp.join(raw, voc_subdir)
    for sub in ('JPEGImages', 'Annotations'):
        os.makedirs(osp.join(voc, sub), exist_ok=True)
    gen = np.random.default_rng(0)
    by_image: Dict[str, List[Dict[str, Any]]] = {}
    for obj in OBJECTS:
        by_image.setdefault(obj['image'], []).append(obj)

    for image, objs in by_image.items():
        pixels = gen.integers(0, 256, size=(H // 8, W // 8, 3), dtype=np.uint8)
        img = Image.fromarray(pixels).resize((W, H), Image.Resampling.NEAREST)
        img.save(osp.join(voc, 'JPEGImages', f'{image}.jpg'), quality=95)
        parts = []
        for obj in sorted(objs, key=lambda o: o['voc_id']):
            flags = obj.get('flags', {})
            occluded = ('' if 'occluded' not in flags else
                        f"<occluded>{flags['occluded']}</occluded>")
            parts.append(
                f"<object><name>{obj['category']}</name>"
                f"<truncated>{flags.get('truncated', 0)}</truncated>"
                f"{occluded}"
                f"<difficult>{flags.get('difficult', 0)}</difficult>"
                f"</object>")
        with open(osp.join(voc, 'Annotations', f'{image}.xml'), 'w') as f:
            f.write(f"<annotation><filename>{image}.jpg</filename>"
                    f"{''.join(parts)}</annotation>")

    for obj in OBJECTS:
        path = osp.join(raw, 'annotations', xml_name(obj))
        os.makedirs(osp.dirname(path), exist_ok=True)
        xmin, ymin, w, h = BOUNDS
        lines = []
        for name, value in obj['keypoints'].items():
            visible = value[2] if len(value) > 2 else '1'
            lines.append(f'<keypoint name="{name}" visible="{visible}" '
                         f'x="{value[0]:.2f}" y="{value[1]:.2f}" z="0.00"/>')
        with open(path, 'w') as f:
            f.write(
                f'<?xml version="1.0" encoding="utf-8"?>\n<annotation>'
                f"<image>{obj['image']}</image>"
                f"<voc_id>{obj['voc_id']}</voc_id>"
                f"<category>{obj['category']}</category>"
                f'<visible_bounds height="{h:.2f}" width="{w:.2f}" '
                f'xmin="{xmin:.2f}" ymin="{ymin:.2f}"/>'
                f"<keypoints>{''.join(lines)}</keypoints></annotation>")

    splits = {}
    for split in ('train', 'test'):
        lists = np.empty(len(CATEGORIES), dtype=object)
        for i, category in enumerate(CATEGORIES):
            lists[i] = [
                xml_name(o) for o in OBJECTS
                if o['split'] == split and o['category'] == category
            ]
        splits[split] = lists
    np.savez(osp.join(raw, 'voc2011_pairs.npz'), **splits)


@pytest.fixture
def root(tmp_path) -> str:
    write_tree(str(tmp_path / 'raw'))
    return str(tmp_path)


@pytest.fixture
def no_download(monkeypatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError('a test must not download')

    monkeypatch.setattr(torch_geometric.data, 'download_url', fail)


def make(root: str, backbone: Optional[Any] = None,
         **kwargs: Any) -> PascalVOCKeypoints:
    kwargs.setdefault('category', 'car')
    return PascalVOCKeypoints(root, backbone=backbone or TinyBackbone(),
                              log=False, **kwargs)


def names(dataset: PascalVOCKeypoints) -> List[str]:
    return [dataset.image(i).name for i in range(dataset.num_images)]


def label_set(obj_idx: int) -> set:
    obj = OBJECTS[obj_idx]
    labels = KEYPOINT_NAMES[obj['category']]
    return {labels.index(n) for n in obj['keypoints']}


# Images ####################################################################


def test_object_filters(root) -> None:
    dataset = make(root)
    assert names(dataset) == [
        'car/2008_000001_1.xml', 'car/2008_000002_1.xml',
        'car/2008_000003_2.xml'
    ]
    person = make(root, category='person')
    assert names(person) == [
        'person/2008_000010_1.xml', 'person/2008_000011_1.xml'
    ]


def test_keypoints_are_rescaled_to_the_crop(root) -> None:
    dataset = make(root)
    image = dataset.image(1)  # car/2008_000002_1
    labels = KEYPOINT_NAMES['car']
    xmin, ymin, w, h = BOUNDS
    expected = {
        labels.index(name): ((x - xmin) * 256 / w, (y - ymin) * 256 / h)
        for name, (x, y, *_) in OBJECTS[1]['keypoints'].items()
        if name not in ('R_B_RoofTop', 'L_B_WheelCenter')
    }
    assert image.kp.tolist() == sorted(expected)  # sorted, filtered
    for label, pos in zip(image.kp.tolist(), image.pos.tolist()):
        assert pos == pytest.approx(expected[label], abs=1e-3)
    assert bool((image.pos >= 0).all() and (image.pos <= 256).all())


def test_features_are_the_backbone_at_the_keypoints(root) -> None:
    backbone = TinyBackbone()
    dataset = make(root, backbone=backbone)
    image = dataset.image(0)
    xmin, ymin, w, h = BOUNDS
    with Image.open(osp.join(root, 'raw', 'JPEGImages',
                             '2008_000001.jpg')) as img:
        crop = img.convert('RGB').resize(
            (256, 256), Image.Resampling.BICUBIC,
            box=(xmin, ymin, xmin + w, ymin + h))
    tensor = torch.from_numpy(np.asarray(crop).copy()).permute(2, 0, 1)
    with torch.no_grad():
        x = keypoint_features(tensor.float() / 255, image.pos, backbone)
    assert image.x.shape == (5, 10)
    assert torch.allclose(image.x, x, atol=1e-5)
    assert float(image.x.std()) > 0


# Pairs #####################################################################


def test_intersection_pairs(root) -> None:
    dataset = make(root)
    # Images 0-1 share 3 keypoints, 0-2 share 3, 1-2 share 2.
    assert len(dataset) == 3
    for data in dataset:
        k = data.y.size(1)
        assert data.num_nodes_s == data.num_nodes_t == k >= 2
        assert torch.equal(data.kp_s[data.y[0]], data.kp_t[data.y[1]])
        assert set(data.kp_s.tolist()) == set(data.kp_t.tolist())
        assert data.x_s.shape == (k, 10)
        assert data.edge_attr_s.size(1) == 3
        assert int(data.edge_index_s.max()) < k
        assert data.category.tolist() == [CATEGORIES.index('car')]


def test_pairs_without_filter(root) -> None:
    dataset = make(root, filter='none')
    assert len(dataset) == 3
    for data in dataset:
        src, dst = data.name_s, data.name_t
        n_s = len(set(dataset.image(names(dataset).index(src)).kp.tolist()))
        n_t = len(set(dataset.image(names(dataset).index(dst)).kp.tolist()))
        assert (data.num_nodes_s, data.num_nodes_t) == (n_s, n_t)
        common = set(data.kp_s.tolist()) & set(data.kp_t.tolist())
        assert data.y.size(1) == len(common)
        assert torch.equal(data.kp_s[data.y[0]], data.kp_t[data.y[1]])


def test_delaunay_edges(root) -> None:
    data = make(root, filter='none')[0]
    pos = data.pos_s / 256
    row, col = data.edge_index_s
    assert torch.allclose(data.edge_attr_s[:, :2], pos[row] - pos[col],
                          atol=1e-6)
    pairs = set(zip(row.tolist(), col.tolist()))
    assert pairs == {(j, i) for i, j in pairs}


def test_multiple_categories(root) -> None:
    dataset = make(root, category=['bird', 'Car'])
    assert dataset.num_images == 5
    assert len(dataset) == 4
    categories = {int(data.category) for data in dataset}
    assert categories == {CATEGORIES.index('car'), CATEGORIES.index('bird')}


def test_all_categories_and_test_split(root) -> None:
    assert len(make(root, category=None)) == 3 + 1 + 1
    test = make(root, category=None, split='test')
    assert test.num_images == 2 and len(test) == 1


def test_shuffling_is_seeded(root) -> None:
    a, b = make(root), make(root)
    c = make(root, seed=1)
    for data_a, data_b in zip(a, b):
        assert torch.equal(data_a.kp_s, data_b.kp_s)
        assert torch.equal(data_a.y, data_b.y)
    assert any(not torch.equal(x.kp_s, y.kp_s) for x, y in zip(a, c))
    ordered = make(root, shuffle=False)
    for data in ordered:
        assert bool((data.kp_s.diff() > 0).all())
        assert torch.equal(data.y[0], data.y[1])


def test_num_pairs(root) -> None:
    dataset = make(root, category=['car', 'bird'], num_pairs=2)
    assert len(dataset) == 2 + 1  # min(2, 3 car pairs) + the bird pair
    again = make(root, category=['car', 'bird'], num_pairs=2)
    assert [d.name_s for d in dataset] == [d.name_s for d in again]


def test_dataloader(root) -> None:
    dataset = make(root, category=['car', 'bird'], filter='none')
    loader = DataLoader(dataset, batch_size=4, follow_batch=['x_s', 'x_t'])
    batch = next(iter(loader))
    assert batch.num_graphs == 4
    src, dst = batch.y
    assert torch.equal(batch.kp_s[src], batch.kp_t[dst])
    assert torch.equal(batch.x_s_batch[src], batch.x_t_batch[dst])
    assert len(batch.name_s) == 4
    assert batch.category.shape == (4, )


def test_subsets(root) -> None:
    dataset = make(root)
    subset = dataset[1:]
    assert len(subset) == 2
    assert torch.equal(subset[0].y, dataset[1].y)
    copied = dataset.copy([2])
    assert len(copied) == 1 and copied[0].name_s == dataset[2].name_s


def test_dataset_pickles_without_its_backbone(root) -> None:
    import pickle

    backbone = TinyBackbone()
    dataset = make(root, backbone=lambda image: backbone(image))
    restored = pickle.loads(pickle.dumps(dataset))  # e.g. to loader workers
    assert torch.equal(restored[0].x_s, dataset[0].x_s)


def test_with_images(root) -> None:
    dataset = make(root, with_images=True)
    data = dataset[0]
    assert data.img_s.shape == (1, 3, 256, 256)
    assert data.img_s.dtype == torch.uint8
    batch = next(iter(DataLoader(dataset, batch_size=2)))
    assert batch.img_t.shape == (2, 3, 256, 256)


def test_transform_and_pre_filter(root) -> None:
    def pre_filter(data) -> bool:
        return data.name != 'car/2008_000003_2.xml'

    dataset = make(root, pre_filter=pre_filter,
                   transform=lambda d: setattr(d, 'seen', True) or d)
    assert dataset.num_images == 2 and len(dataset) == 1
    assert dataset[0].seen


# Caching and raw files #####################################################


def test_processed_features_are_cached_per_backbone(root) -> None:
    first = TinyBackbone()
    make(root, backbone=first)
    assert first.calls == 3
    second = TinyBackbone()
    make(root, backbone=second)
    assert second.calls == 0  # same weights: read from the cache
    other = TinyBackbone(seed=1)
    make(root, backbone=other)
    assert other.calls == 3
    assert backbone_key(first) == backbone_key(second)
    assert backbone_key(first) != backbone_key(other)
    assert len(os.listdir(osp.join(root, 'processed'))) == 2


def test_force_reload(root) -> None:
    make(root)
    backbone = TinyBackbone()
    make(root, backbone=backbone, force_reload=True)
    assert backbone.calls == 3


def test_processed_data_needs_no_raw_files(root, no_download) -> None:
    expected = make(root)[0]
    shutil.rmtree(osp.join(root, 'raw'))
    data = make(root)[0]
    assert torch.equal(data.x_s, expected.x_s)


def test_nested_voc_layout(tmp_path) -> None:
    write_tree(str(tmp_path / 'raw'), voc_subdir='TrainVal/VOCdevkit/VOC2011')
    assert len(make(str(tmp_path))) == 3


def test_missing_raw_files_raise_without_download(tmp_path,
                                                  no_download) -> None:
    with pytest.raises(ValueError, match="'root'.*download=True"):
        make(str(tmp_path))


def test_download_fetches_only_missing_files(root, monkeypatch) -> None:
    raw = osp.join(root, 'raw')
    backup = osp.join(root, 'backup')
    os.makedirs(backup)
    shutil.move(osp.join(raw, 'voc2011_pairs.npz'), backup)
    shutil.move(osp.join(raw, 'annotations'), backup)
    urls = []

    def fake_download(url: str, folder: str, *args: Any, **kwargs: Any):
        urls.append(url)
        path = osp.join(folder, url.rsplit('/', 1)[-1])
        if path.endswith('.npz'):
            shutil.copy(osp.join(backup, 'voc2011_pairs.npz'), path)
        else:
            open(path, 'wb').close()
        return path

    def fake_extract(path: str, folder: str, *args: Any, **kwargs: Any):
        shutil.copytree(osp.join(backup, 'annotations'),
                        osp.join(folder, 'annotations'))

    monkeypatch.setattr(torch_geometric.data, 'download_url', fake_download)
    monkeypatch.setattr(torch_geometric.data, 'extract_tar', fake_extract)
    assert len(make(root, download=True)) == 3
    assert urls == [
        PascalVOCKeypoints.annotation_url, PascalVOCKeypoints.split_url
    ]


def test_unknown_keypoint_names_are_skipped(root) -> None:
    path = osp.join(root, 'raw', 'annotations', xml_name(OBJECTS[0]))
    with open(path) as f:
        text = f.read()
    text = text.replace('</keypoints>', '<keypoint name="Antenna" '
                        'visible="1" x="20.00" y="20.00" z="0.00"/>'
                        '</keypoints>')
    with open(path, 'w') as f:
        f.write(text)
    with pytest.warns(UserWarning, match='Antenna'):
        dataset = make(root)
    assert dataset.image(0).kp.numel() == 5


def test_read_split_file_matches_numpy(shared_data) -> None:
    path = osp.join(shared_data, 'voc2011_pairs.npz')
    splits = read_split_file(path)
    reference = np.load(path, allow_pickle=True)
    assert set(splits) == {'train', 'test'}
    for key in ('train', 'test'):
        assert len(splits[key]) == 20
        assert splits[key] == [list(names) for names in reference[key]]
    assert splits['train'][0][0].startswith('aeroplane/')


def test_read_split_file_refuses_arbitrary_objects(tmp_path) -> None:
    from fractions import Fraction

    array = np.empty(1, dtype=object)
    array[0] = [Fraction(1, 2)]
    np.savez(tmp_path / 'evil.npz', train=array)
    with pytest.raises(ValueError, match='fractions.Fraction'):
        read_split_file(str(tmp_path / 'evil.npz'))
    (tmp_path / 'junk.npz').write_bytes(b'not a zip file')
    with pytest.raises(ValueError, match='not a valid split file'):
        read_split_file(str(tmp_path / 'junk.npz'))


def test_split_file_without_the_split(root) -> None:
    path = osp.join(root, 'raw', 'voc2011_pairs.npz')
    lists = np.empty(20, dtype=object)
    for i in range(20):
        lists[i] = []
    np.savez(path, train=lists)  # no 'test' split
    with pytest.raises(ValueError, match='one list of annotation names'):
        make(root, split='test')


# Arguments and backbones ###################################################


@pytest.mark.parametrize('kwargs,match', [
    (dict(category='cats'), "'category'"),
    (dict(category=[]), "'category'"),
    (dict(category=3), "'category'"),
    (dict(split='val'), "'split'"),
    (dict(filter='union'), "'filter'"),
    (dict(num_pairs=0), "'num_pairs'"),
    (dict(seed=-1), "'seed'"),
    (dict(backbone=3), "'backbone'"),
])
def test_bad_arguments(root, kwargs: Dict[str, Any], match: str) -> None:
    backbone = kwargs.pop('backbone', TinyBackbone())
    with pytest.raises(ValueError, match=match):
        PascalVOCKeypoints(root, backbone=backbone, log=False,
                           **{'category': 'car', **kwargs})


def test_bad_root(tmp_path) -> None:
    path = tmp_path / 'file'
    path.write_text('')
    with pytest.raises(ValueError, match="'root'"):
        PascalVOCKeypoints(str(path), backbone=TinyBackbone())


def test_bad_backbone_output(root) -> None:
    with pytest.raises(ValueError, match="'backbone'"):
        make(root, backbone=lambda image: image.mean())


def _hub_cache(monkeypatch, tmp_path) -> str:
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    return vgg16_weights_path()


def test_default_backbone_needs_its_weights(root, monkeypatch,
                                            tmp_path) -> None:
    _hub_cache(monkeypatch, tmp_path)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError('a test must not download')

    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', fail)
    with pytest.raises(ValueError, match=r"vgg16_bn-6c64b313\.pth.*"
                       r"download=True.*VGG16Backbone\(weights=PATH\)"):
        PascalVOCKeypoints(root, category='car', log=False)


def test_default_backbone_is_vgg16_from_the_hub_cache(root, monkeypatch,
                                                      tmp_path) -> None:
    # torchvision's file layout (features.* and classifier.* keys), as
    # VGG16Backbone(weights='download') would have left it.
    path = _hub_cache(monkeypatch, tmp_path)
    os.makedirs(osp.dirname(path))
    state = dict(VGG16Backbone().state_dict())
    state['classifier.0.bias'] = torch.zeros(4)
    torch.save(state, path)
    dataset = PascalVOCKeypoints(root, category='car', log=False)
    assert dataset.processed_dir.endswith(osp.join('processed', 'vgg16_bn'))
    assert dataset[0].x_s.size(-1) == 1024
    image = dataset.image(0)
    assert image.x.shape == (image.pos.size(0), 1024)


def test_default_backbone_downloads_when_asked(root, monkeypatch,
                                               tmp_path) -> None:
    _hub_cache(monkeypatch, tmp_path)
    urls: List[str] = []
    state = VGG16Backbone().state_dict()

    def fake_load(url: str, **kwargs: Any) -> Dict[str, Tensor]:
        urls.append(url)
        return state

    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', fake_load)
    dataset = PascalVOCKeypoints(root, category='car', download=True,
                                 log=False)
    assert urls == [VGG16_URLS[True]]
    assert dataset.image(0).x.size(-1) == 1024
