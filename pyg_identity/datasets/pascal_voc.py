import copy
import hashlib
import importlib
import os
import os.path as osp
import pickle
import warnings
import xml.etree.ElementTree as ET
import zipfile
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.data.separate import separate
from torch_geometric.io import fs

from pyg_identity.datasets._utils import (
    PathLike,
    build_edges,
    check_choice,
    check_int,
    check_root,
    rng,
)
from pyg_identity.datasets.pair_data import PairData
from pyg_identity.models.backbone import (
    VISION_EXTRA,
    Backbone,
    VGG16Backbone,
    keypoint_features,
    vgg16_weights_path,
)

# The keypoint names of the Berkeley annotations per category (the label of
# a keypoint is its position in this list).
KEYPOINT_NAMES: Dict[str, List[str]] = {
    'aeroplane': [
        'Bot_Rudder', 'Bot_Rudder_Front', 'L_Stabilizer', 'L_WingTip',
        'Left_Engine_Back', 'Left_Engine_Front', 'Left_Wing_Base', 'NoseTip',
        'Nose_Bottom', 'Nose_Top', 'R_Stabilizer', 'R_WingTip',
        'Right_Engine_Back', 'Right_Engine_Front', 'Right_Wing_Base',
        'Top_Rudder'
    ],
    'bicycle': [
        'B_WheelCenter', 'B_WheelEnd', 'B_WheelIntersection',
        'CranksetCenter', 'F_WheelCenter', 'F_WheelEnd',
        'F_WheelIntersection', 'HandleCenter', 'L_HandleTip', 'R_HandleTip',
        'SeatBase'
    ],
    'bird': [
        'Beak_Base', 'Beak_Tip', 'Left_Eye', 'Left_Wing_Base',
        'Left_Wing_Tip', 'Leg_Center', 'Lower_Neck_Base', 'Right_Eye',
        'Right_Wing_Base', 'Right_Wing_Tip', 'Tail_Tip', 'Upper_Neck_Base'
    ],
    'boat': [
        'Hull_Back_Bot', 'Hull_Back_Top', 'Hull_Front_Bot', 'Hull_Front_Top',
        'Hull_Mid_Left_Bot', 'Hull_Mid_Left_Top', 'Hull_Mid_Right_Bot',
        'Hull_Mid_Right_Top', 'Mast_Top', 'Sail_Left', 'Sail_Right'
    ],
    'bottle': [
        'L_Base', 'L_Neck', 'L_Shoulder', 'L_Top', 'R_Base', 'R_Neck',
        'R_Shoulder', 'R_Top'
    ],
    'bus': [
        'L_B_Base', 'L_B_RoofTop', 'L_F_Base', 'L_F_RoofTop', 'R_B_Base',
        'R_B_RoofTop', 'R_F_Base', 'R_F_RoofTop'
    ],
    'car': [
        'L_B_RoofTop', 'L_B_WheelCenter', 'L_F_RoofTop', 'L_F_WheelCenter',
        'L_HeadLight', 'L_SideviewMirror', 'L_TailLight', 'R_B_RoofTop',
        'R_B_WheelCenter', 'R_F_RoofTop', 'R_F_WheelCenter', 'R_HeadLight',
        'R_SideviewMirror', 'R_TailLight'
    ],
    'chair': [
        'BackRest_Top_Left', 'BackRest_Top_Right', 'Leg_Left_Back',
        'Leg_Left_Front', 'Leg_Right_Back', 'Leg_Right_Front',
        'Seat_Left_Back', 'Seat_Left_Front', 'Seat_Right_Back',
        'Seat_Right_Front'
    ],
    'diningtable': [
        'Bot_Left_Back', 'Bot_Left_Front', 'Bot_Right_Back',
        'Bot_Right_Front', 'Top_Left_Back', 'Top_Left_Front',
        'Top_Right_Back', 'Top_Right_Front'
    ],
    'motorbike': [
        'B_WheelCenter', 'B_WheelEnd', 'ExhaustPipeEnd', 'F_WheelCenter',
        'F_WheelEnd', 'HandleCenter', 'L_HandleTip', 'R_HandleTip',
        'SeatBase', 'TailLight'
    ],
    'person': [
        'B_Head', 'HeadBack', 'L_Ankle', 'L_Ear', 'L_Elbow', 'L_Eye',
        'L_Foot', 'L_Hip', 'L_Knee', 'L_Shoulder', 'L_Toes', 'L_Wrist',
        'Nose', 'R_Ankle', 'R_Ear', 'R_Elbow', 'R_Eye', 'R_Foot', 'R_Hip',
        'R_Knee', 'R_Shoulder', 'R_Toes', 'R_Wrist'
    ],
    'pottedplant': [
        'Bottom_Left', 'Bottom_Right', 'Top_Back_Middle', 'Top_Front_Middle',
        'Top_Left', 'Top_Right'
    ],
    'sofa': [
        'Back_Base_Left', 'Back_Base_Right', 'Back_Top_Left',
        'Back_Top_Right', 'Front_Base_Left', 'Front_Base_Right',
        'Handle_Front_Left', 'Handle_Front_Right', 'Handle_Left_Junction',
        'Handle_Right_Junction', 'Left_Junction', 'Right_Junction'
    ],
    'train': [
        'Base_Back_Left', 'Base_Back_Right', 'Base_Front_Left',
        'Base_Front_Right', 'Roof_Back_Left', 'Roof_Back_Right',
        'Roof_Front_Middle'
    ],
    'tvmonitor': [
        'B_Bottom_Left', 'B_Bottom_Right', 'B_Top_Left', 'B_Top_Right',
        'F_Bottom_Left', 'F_Bottom_Right', 'F_Top_Left', 'F_Top_Right'
    ],
}
# The four-legged animals share one set of keypoints.
for _animal in ('cat', 'cow', 'dog', 'horse', 'sheep'):
    KEYPOINT_NAMES[_animal] = [
        'L_B_Elbow', 'L_B_Paw', 'L_EarBase', 'L_Eye', 'L_F_Elbow', 'L_F_Paw',
        'Nose', 'R_B_Elbow', 'R_B_Paw', 'R_EarBase', 'R_Eye', 'R_F_Elbow',
        'R_F_Paw', 'TailBase', 'Throat', 'Withers'
    ]


def backbone_key(backbone: Optional[Backbone]) -> str:
    r"""A folder name identifying a backbone, so that the features of
    different backbones are cached apart: :obj:`"vgg16_bn"` for
    :obj:`None` (the default) and for
    :obj:`VGG16Backbone(weights="download")` (:obj:`"vgg16"` without batch
    normalisation), else the class name plus a hash of the
    parameters and buffers for a :class:`torch.nn.Module`, the qualified
    name for a function (functions or lambdas of the same name share a
    cache: pass :obj:`force_reload=True` after changing one)."""
    if backbone is None:
        return 'vgg16_bn'
    if isinstance(backbone, VGG16Backbone) and backbone.weights == 'download':
        return 'vgg16_bn' if backbone.batch_norm else 'vgg16'
    if isinstance(backbone, torch.nn.Module):
        sha = hashlib.sha1(repr(backbone).encode('utf-8'))
        for name, value in backbone.state_dict().items():
            sha.update(name.encode('utf-8'))
            array = value.detach().cpu().contiguous()
            sha.update(str(array.dtype).encode('utf-8'))
            sha.update(array.view(-1).view(torch.uint8).numpy().tobytes())
        return f'{type(backbone).__name__}_{sha.hexdigest()[:10]}'
    name = getattr(backbone, '__qualname__', type(backbone).__name__)
    module = getattr(backbone, '__module__', '') or ''
    sha = hashlib.sha1(f'{module}.{name}'.encode('utf-8'))
    safe = ''.join(c if c.isalnum() or c in '_-' else '_' for c in name)
    return f'{safe}_{sha.hexdigest()[:10]}'


def _text(root: ET.Element, tag: str) -> Optional[str]:
    node = root.find(tag)
    if node is None or node.text is None:
        return None
    return node.text.strip()


def _number(element: ET.Element, key: str, path: str) -> float:
    value = element.get(key)
    if value is None:
        raise ValueError(f"{path!r}: <{element.tag}> has no {key!r}")
    return float(value)


def _flag(obj: ET.Element, tag: str) -> bool:
    value = _text(obj, tag)
    return value is not None and bool(int(float(value)))


class _SplitUnpickler(pickle.Unpickler):
    r"""Unpickles the object arrays of a split file, allowing nothing but
    numpy arrays, lists and strings (no arbitrary code)."""
    allowed = {
        ('numpy.core.multiarray', '_reconstruct'),
        ('numpy._core.multiarray', '_reconstruct'),
        ('numpy', 'ndarray'),
        ('numpy', 'dtype'),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(
                f"split files may only hold lists of names (found "
                f"'{module}.{name}')")
        if module.startswith('numpy') and name == '_reconstruct':
            try:  # numpy >= 2 moved `numpy.core` to `numpy._core`.
                return importlib.import_module(
                    'numpy._core.multiarray')._reconstruct
            except ImportError:
                module = 'numpy.core.multiarray'
        return super().find_class(module, name)


def read_split_file(path: str) -> Dict[str, List[List[str]]]:
    r"""Reads a :obj:`voc2011_pairs.npz` split file: for every key
    (:obj:`"train"`, :obj:`"test"`), one list of annotation names per
    category. Unlike :obj:`np.load(..., allow_pickle=True)`, it unpickles
    only numpy arrays of lists of strings."""
    out: Dict[str, List[List[str]]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not member.endswith('.npy'):
                    continue
                with archive.open(member) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        header = np.lib.format.read_array_header_1_0(f)
                    else:
                        header = np.lib.format.read_array_header_2_0(f)
                    if header[2].hasobject:
                        array = _SplitUnpickler(f).load()
                    else:
                        shape, fortran, dtype = header
                        count = int(np.prod(shape))
                        array = np.frombuffer(
                            f.read(count * dtype.itemsize), dtype=dtype,
                            count=count).reshape(
                                shape, order='F' if fortran else 'C')
                out[member[:-4]] = [[str(name) for name in names]
                                    for names in array]
    except (OSError, ValueError, TypeError, zipfile.BadZipFile,
            pickle.UnpicklingError) as e:
        raise ValueError(f"{path!r} is not a valid split file: {e}") from e
    return out


class PascalVOCKeypoints(InMemoryDataset):
    r"""Pairs of Pascal VOC 2011 images of the same category with the
    Berkeley keypoint annotations of the `"Poselets: Body Part Detectors
    Trained Using 3D Human Pose Annotations"
    <https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/human/
    poselets_iccv09.pdf>`_ paper (20 categories, up to 23 keypoints), in the
    protocol of BB-GM (`"Deep Graph Matching via Blackbox Differentiation
    of Combinatorial Solvers" <https://arxiv.org/abs/2003.11657>`_) used by
    the graph matching experiment of the `"Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper:

    * the standard train/test split :obj:`voc2011_pairs.npz` (Wang et al.,
      2019), without truncated, occluded and difficult objects and without
      the uncurated :obj:`person` annotations of 2009--2011;
    * every object is cropped to its annotated visible bounds and resized to
      :math:`256 \times 256`; keypoints are rescaled accordingly and kept if
      inside the crop and not marked invisible;
    * node features are a :obj:`backbone`'s feature maps sampled bilinearly
      at the keypoints
      (:func:`~pyg_identity.models.keypoint_features`), by default VGG16's
      :obj:`relu4_2` and :obj:`relu5_1` (1,024 features);
    * with :obj:`filter="intersection"`, a pair keeps only the keypoints
      present in both images, so the ground truth is a perfect matching;
      with :obj:`filter="none"`, all keypoints are kept and :obj:`y` covers
      the common ones only (for F1 evaluation);
    * each graph is the Delaunay triangulation of its keypoints, with edge
      features :math:`[\mathbf{p}_i - \mathbf{p}_j,
      \|\mathbf{p}_i - \mathbf{p}_j\|] / 256`.

    The processed files hold one graph per image (features, positions
    :obj:`pos` in crop pixels, keypoint labels :obj:`kp`); an example of the
    dataset is a pair of two images of one category, assembled on access,
    as a :class:`~pyg_identity.datasets.PairData` with :obj:`x_s, pos_s,
    edge_index_s, edge_attr_s, kp_s, name_s` (and :obj:`_t`), the ground
    truth :obj:`y` (:obj:`[2, K]`) and the :obj:`category` index. The pairs
    are two images of one category sharing at least two keypoints; their
    nodes are shuffled (:obj:`shuffle`) with a generator that depends only
    on :obj:`seed` and the pair's index.

    The data are read from :obj:`root/raw`, a local copy in this layout
    (the one the official archives extract to)::

        raw/
          annotations/<category>/<image>_<k>.xml   Berkeley keypoints
          JPEGImages/<image>.jpg                   VOC 2011 images
          Annotations/<image>.xml                  VOC 2011 objects
          voc2011_pairs.npz                        the train/test split

    :obj:`JPEGImages` and :obj:`Annotations` may also sit in
    :obj:`raw/VOC2011/` or :obj:`raw/TrainVal/VOCdevkit/VOC2011/`. Missing
    files are downloaded from the official sources (about 2 GB) only if
    :obj:`download=True`; otherwise a :class:`ValueError` lists them.

    Args:
        root (str, optional): Root directory of the dataset. If
            :obj:`None`, uses :func:`~pyg_identity.datasets.default_root`
            of :obj:`"pascal_voc_keypoints"`. (default: :obj:`None`)
        category (str or [str], optional): One category, a list of
            categories, or :obj:`None` for all 20. (default: :obj:`None`)
        split (str, optional): :obj:`"train"` or :obj:`"test"`.
            (default: :obj:`"train"`)
        filter (str, optional): :obj:`"intersection"` or :obj:`"none"`.
            (default: :obj:`"intersection"`)
        num_pairs (int, optional): The number of pairs drawn at random
            (without replacement) per category; :obj:`None` takes every
            unordered pair once. (default: :obj:`None`)
        shuffle (bool, optional): Whether to shuffle the nodes of each
            graph (otherwise they are sorted by keypoint label).
            (default: :obj:`True`)
        seed (int, optional): The seed of the pair sampling and node
            shuffling. (default: :obj:`0`)
        backbone (callable, optional): The image backbone (see
            :func:`~pyg_identity.models.keypoint_features`); it receives
            crops :obj:`[1, 3, 256, 256]` in :math:`[0, 1]`. If :obj:`None`,
            uses :class:`~pyg_identity.models.VGG16Backbone` with
            torchvision's ImageNet :obj:`vgg16_bn` weights (plain torch, no
            torchvision needed), on the GPU if available: the weights are
            read from :func:`~pyg_identity.models.backbone.vgg16_weights_path`
            and downloaded there (about 530 MB) only if
            :obj:`download=True`; for a file elsewhere pass
            :obj:`backbone=VGG16Backbone(weights=PATH)`. Features are cached
            per backbone (see :func:`backbone_key`). (default: :obj:`None`)
        with_images (bool, optional): If set, also keeps the crops as
            :obj:`uint8` tensors :obj:`img_s`/:obj:`img_t` of shape
            :obj:`[1, 3, 256, 256]` (*e.g.*, to fine-tune the backbone).
            (default: :obj:`False`)
        download (bool, optional): Whether to download missing raw files
            (and, with :obj:`backbone=None`, missing VGG16 weights).
            (default: :obj:`False`)
        transform (callable, optional): A function/transform that takes in a
            :class:`~pyg_identity.datasets.PairData` object and returns a
            transformed version. The data object will be transformed before
            every access. (default: :obj:`None`)
        pre_transform (callable, optional): A function/transform that takes
            in the :class:`~torch_geometric.data.Data` object of one image
            and returns a transformed version, before saving to disk.
            (default: :obj:`None`)
        pre_filter (callable, optional): A function that takes in the
            :class:`~torch_geometric.data.Data` object of one image and
            returns whether to keep it. (default: :obj:`None`)
        force_reload (bool, optional): Whether to re-process the dataset.
            (default: :obj:`False`)
        log (bool, optional): Whether to show a progress bar while
            processing. (default: :obj:`True`)

    **STATS:** (images after filtering, all categories, as reported by
    Wang et al. (2019) for this protocol; this loader also drops the few
    images with fewer than two keypoints, which can never form a pair; the
    number of pairs depends on :obj:`num_pairs`)

    .. list-table::
        :widths: 10 10 10 10 10 10
        :header-rows: 1

        * - Split
          - #images
          - #keypoints per image
          - #node features
          - #edge features
          - #categories
        * - train
          - 7,020
          - 2--23
          - 1,024
          - 3
          - 20
        * - test
          - 1,682
          - 2--23
          - 1,024
          - 3
          - 20
    """

    image_url = ('http://host.robots.ox.ac.uk/pascal/VOC/voc2011/'
                 'VOCtrainval_25-May-2011.tar')
    annotation_url = ('https://www2.eecs.berkeley.edu/Research/Projects/CS/'
                      'vision/shape/poselets/voc2011_keypoints_Feb2012.tgz')
    split_url = ('https://github.com/Thinklab-SJTU/PCA-GM/raw/master/data/'
                 'PascalVOC/voc2011_pairs.npz')

    categories = [
        'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
        'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
        'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'
    ]
    keypoint_names = KEYPOINT_NAMES
    splits = ('train', 'test')
    filters = ('intersection', 'none')
    image_size = 256
    min_common_keypoints = 2

    def __init__(
        self,
        root: Optional[PathLike] = None,
        category: Optional[Union[str, Sequence[str]]] = None,
        split: str = 'train',
        filter: str = 'intersection',
        num_pairs: Optional[int] = None,
        shuffle: bool = True,
        seed: int = 0,
        backbone: Optional[Backbone] = None,
        with_images: bool = False,
        download: bool = False,
        transform: Optional[Callable] = None,
        pre_transform: Optional[Callable] = None,
        pre_filter: Optional[Callable] = None,
        force_reload: bool = False,
        log: bool = True,
    ) -> None:
        self.category = self._check_category(category)
        self.split = check_choice('split', split, self.splits)
        self.filter = check_choice('filter', filter, self.filters)
        if num_pairs is not None:
            num_pairs = check_int('num_pairs', num_pairs, 1)
        self.num_pairs = num_pairs
        self.shuffle = bool(shuffle)
        self.seed = check_int('seed', seed)
        if backbone is not None and not callable(backbone):
            raise ValueError(f"'backbone' must be callable or None (got "
                             f"{backbone!r})")
        self._backbone = backbone
        self.backbone_key = backbone_key(backbone)
        self.with_images = bool(with_images)
        self._allow_download = bool(download)
        root = check_root(root, 'pascal_voc_keypoints')
        super().__init__(root, transform, pre_transform, pre_filter,
                         log=log, force_reload=force_reload)
        # Only needed while processing; dropping it keeps the dataset light
        # (and picklable) for data loader workers.
        self._backbone = None
        self._load_images()
        self._image_cache: Dict[int, Data] = {}
        self._pairs = self._make_pairs()

    @classmethod
    def _check_category(
            cls, category: Optional[Union[str, Sequence[str]]]) -> List[str]:
        if category is None:
            return list(cls.categories)
        names = [category] if isinstance(category, str) else category
        try:
            out = [name.lower() for name in names]  # type: ignore
        except (TypeError, AttributeError):
            raise ValueError(f"'category' must be a category name, a list "
                             f"of them, or None (got {category!r})") from None
        bad = [name for name in out if name not in cls.categories]
        if bad or len(out) == 0:
            raise ValueError(f"'category' must be among {cls.categories} "
                             f"(got {category!r})")
        return sorted(set(out), key=cls.categories.index)

    # Raw files ###############################################################

    @property
    def raw_file_names(self) -> List[str]:
        return [
            'annotations', 'JPEGImages', 'Annotations', 'voc2011_pairs.npz'
        ]

    @property
    def voc_dir(self) -> str:
        r"""The folder holding :obj:`JPEGImages` and :obj:`Annotations`."""
        candidates = [
            self.raw_dir,
            osp.join(self.raw_dir, 'VOC2011'),
            osp.join(self.raw_dir, 'VOCdevkit', 'VOC2011'),
            osp.join(self.raw_dir, 'TrainVal', 'VOCdevkit', 'VOC2011'),
        ]
        for path in candidates:
            if osp.isdir(osp.join(path, 'JPEGImages')):
                return path
        return self.raw_dir

    @property
    def split_path(self) -> str:
        return osp.join(self.raw_dir, 'voc2011_pairs.npz')

    def _missing_raw(self) -> List[str]:
        missing = []
        if not osp.isdir(osp.join(self.raw_dir, 'annotations')):
            missing.append('annotations')
        for name in ('JPEGImages', 'Annotations'):
            if not osp.isdir(osp.join(self.voc_dir, name)):
                missing.append(name)
        if not osp.isfile(self.split_path):
            missing.append('voc2011_pairs.npz')
        return missing

    def download(self) -> None:
        missing = self._missing_raw()
        if not missing:
            return
        if not self.force_reload and all(
                osp.exists(path) for path in self.processed_paths):
            return  # The processed features do not need the raw files.
        if not self._allow_download:
            raise ValueError(
                f"'root' ({self.root!r}) lacks the Pascal VOC raw files "
                f"{missing} under {self.raw_dir!r}. Put a local copy there "
                f"(see the class documentation for the layout) or pass "
                f"download=True to fetch them from the official sources "
                f"(about 2 GB)")
        from torch_geometric.data import download_url, extract_tar

        if 'annotations' in missing:
            path = download_url(self.annotation_url, self.raw_dir,
                                log=self.log)
            extract_tar(path, self.raw_dir, mode='r:gz', log=self.log)
            os.unlink(path)
        if 'JPEGImages' in missing or 'Annotations' in missing:
            path = download_url(self.image_url, self.raw_dir, log=self.log)
            extract_tar(path, self.raw_dir, mode='r', log=self.log)
            os.unlink(path)
        if 'voc2011_pairs.npz' in missing:
            path = download_url(self.split_url, self.raw_dir, log=self.log)
            if osp.abspath(path) != self.split_path:
                os.replace(path, self.split_path)

    # Processing ##############################################################

    @property
    def processed_dir(self) -> str:
        return osp.join(self.root, 'processed', self.backbone_key)

    @property
    def processed_file_names(self) -> List[str]:
        suffix = '_img' if self.with_images else ''
        return [f'{cat}_{self.split}{suffix}.pt' for cat in self.category]

    def _get_backbone(self) -> Backbone:
        if self._backbone is None:
            path = vgg16_weights_path()
            if not osp.isfile(path) and not self._allow_download:
                raise ValueError(
                    f"The default backbone needs torchvision's ImageNet "
                    f"vgg16_bn weights at {path!r}; pass download=True to "
                    f"fetch them (about 530 MB), or "
                    f"backbone=VGG16Backbone(weights=PATH) for a local copy")
            backbone = VGG16Backbone(weights='download', progress=self.log)
            if torch.cuda.is_available():
                backbone = backbone.to('cuda')
            self._backbone = backbone
        return self._backbone

    def _parse_annotation(self, name: str, category: str) -> Optional[Dict]:
        r"""Reads one Berkeley annotation and applies the object filters;
        returns :obj:`None` for an excluded object."""
        path = osp.join(self.raw_dir, 'annotations', name)
        root = ET.parse(path).getroot()
        stem = osp.splitext(osp.basename(name))[0]
        image, _, voc_id = stem.rpartition('_')
        image = _text(root, 'image') or image
        voc_id = _text(root, 'voc_id') or voc_id

        # Pascal VOC object flags (the objects are numbered from 1).
        voc_path = osp.join(self.voc_dir, 'Annotations', f'{image}.xml')
        objects = ET.parse(voc_path).getroot().findall('object')
        index = int(voc_id) - 1
        if not 0 <= index < len(objects):
            raise ValueError(f"{path!r} refers to object {voc_id} of "
                             f"{voc_path!r}, which has {len(objects)}")
        obj = objects[index]
        if any(_flag(obj, tag)
               for tag in ('truncated', 'occluded', 'difficult')):
            return None
        # The person annotations of 2009-2011 are not curated (README).
        if category == 'person' and image[:4].isdigit() and int(
                image[:4]) > 2008:
            return None

        bounds = root.find('visible_bounds')
        if bounds is None:
            raise ValueError(f"{path!r} has no <visible_bounds>")
        xmin, ymin, width, height = (
            _number(bounds, key, path)
            for key in ('xmin', 'ymin', 'width', 'height'))
        if width <= 0 or height <= 0:
            return None

        size = self.image_size
        labels = self.keypoint_names[category]
        seen: Set[str] = set()
        kps: List[Tuple[int, float, float]] = []
        for kp in root.findall('./keypoints/keypoint'):
            label = kp.get('name', '')
            if kp.get('visible', '1').strip() == '0' or label in seen:
                continue
            if label not in labels:
                warnings.warn(f"Skipping the unknown keypoint {label!r} of "
                              f"{path!r}", stacklevel=2)
                continue
            x = (_number(kp, 'x', path) - xmin) * size / width
            y = (_number(kp, 'y', path) - ymin) * size / height
            if -1e-5 < x < size + 1e-5 and -1e-5 < y < size + 1e-5:
                seen.add(label)
                kps.append((labels.index(label), x, y))
        kps.sort()
        return dict(image=image, box=(xmin, ymin, xmin + width,
                                      ymin + height), keypoints=kps)

    def _crop(self, image: str, box: Tuple[float, float, float,
                                           float]) -> Tensor:
        try:
            from PIL import Image
        except ImportError as e:
            raise ImportError(f"Reading the Pascal VOC images requires "
                              f"Pillow; install it with `{VISION_EXTRA}`") \
                from e
        path = osp.join(self.voc_dir, 'JPEGImages', f'{image}.jpg')
        size = self.image_size
        with Image.open(path) as img:
            crop = img.convert('RGB').resize(
                (size, size), resample=Image.Resampling.BICUBIC, box=box)
            array = np.asarray(crop, dtype=np.uint8).copy()
        return torch.from_numpy(array).permute(2, 0, 1).contiguous()

    def process(self) -> None:
        from tqdm import tqdm

        splits = read_split_file(self.split_path)
        names_per_category = splits.get(self.split, [])
        if len(names_per_category) != len(self.categories):
            raise ValueError(f"{self.split_path!r} must hold, for "
                             f"{self.split!r}, one list of annotation names "
                             f"per category ({len(self.categories)})")
        for category, path in zip(self.category, self.processed_paths):
            if osp.exists(path) and not self.force_reload:
                continue
            names = list(names_per_category[self.categories.index(category)])
            data_list = []
            for name in tqdm(names, desc=f'Processing {category}',
                             disable=not self.log, leave=False):
                data = self._process_one(str(name), category)
                if data is None:
                    continue
                if self.pre_filter is not None and not self.pre_filter(data):
                    continue
                if self.pre_transform is not None:
                    data = self.pre_transform(data)
                data_list.append(data)
            fs.torch_save(_to_storage(data_list), path)

    @torch.no_grad()
    def _process_one(self, name: str, category: str) -> Optional[Data]:
        info = self._parse_annotation(name, category)
        if info is None or len(info['keypoints']) < self.min_common_keypoints:
            return None
        kps = torch.tensor(info['keypoints'], dtype=torch.float64)
        pos = kps[:, 1:].float()
        img = self._crop(info['image'], info['box'])
        backbone = self._get_backbone()
        device = _module_device(backbone)
        image = img.to(device, torch.float32).div(255).unsqueeze(0)
        x = keypoint_features(image, pos.to(device), backbone).float().cpu()
        data = Data(x=x, pos=pos, kp=kps[:, 0].long(), name=name,
                    category=torch.tensor([self.categories.index(category)]))
        if self.with_images:
            data.img = img.unsqueeze(0)
        return data

    # Loading and pairs #######################################################

    def _load_images(self) -> None:
        data_list: List[Data] = []
        for path in self.processed_paths:
            storage = torch.load(path, weights_only=True)
            data_list.extend(_from_storage(storage))
        self._num_images = len(data_list)
        self._data, self.slices = _collate_all(data_list)

    @property
    def num_images(self) -> int:
        r"""The number of images of the selected categories and split."""
        return self._num_images

    def image(self, idx: int) -> Data:
        r"""The graph of image :obj:`idx` (features :obj:`x`, positions
        :obj:`pos` in crop pixels, keypoint labels :obj:`kp`)."""
        if not 0 <= idx < self._num_images:
            raise IndexError(f"image index {idx} out of range")
        data = self._image_cache.get(idx)
        if data is None:
            if self.slices is None:
                data = copy.copy(self._data)
            else:
                data = separate(cls=Data, batch=self._data, idx=idx,
                                slice_dict=self.slices, decrement=False)
            self._image_cache[idx] = data
        return data

    def _make_pairs(self) -> Tensor:
        if self._num_images == 0:
            return torch.empty(0, 2, dtype=torch.long)
        category = self._data.category.view(-1).numpy()
        if self.slices is None:
            ptr = np.array([0, self._data.kp.numel()])
        else:
            ptr = self.slices['kp'].numpy()
        kp = self._data.kp.numpy()
        out = []
        for c in sorted(set(category.tolist())):
            images = np.nonzero(category == c)[0]
            mask = np.zeros((len(images), len(self.keypoint_names[
                self.categories[c]])), dtype=np.int64)
            for row, i in enumerate(images):
                mask[row, kp[ptr[i]:ptr[i + 1]]] = 1
            common = mask @ mask.T
            rows, cols = np.nonzero(np.triu(
                common >= self.min_common_keypoints, k=1))
            pairs = np.stack([images[rows], images[cols]], axis=1)
            if self.num_pairs is not None and len(pairs) > 0:
                gen = rng(self.seed, c)
                take = min(self.num_pairs, len(pairs))
                pairs = pairs[gen.choice(len(pairs), take, replace=False)]
                flip = gen.uniform(size=take) < 0.5
                pairs[flip] = pairs[flip][:, ::-1]
            out.append(pairs)
        return torch.from_numpy(np.concatenate(out)).long()

    def len(self) -> int:
        return self._pairs.size(0)

    def get(self, idx: int) -> PairData:
        i, j = self._pairs[idx].tolist()
        src, dst = self.image(i), self.image(j)
        keep_s = torch.ones(src.kp.numel(), dtype=torch.bool)
        keep_t = torch.ones(dst.kp.numel(), dtype=torch.bool)
        if self.filter == 'intersection':
            keep_s = torch.isin(src.kp, dst.kp)
            keep_t = torch.isin(dst.kp, src.kp)
        idx_s = keep_s.nonzero().view(-1)
        idx_t = keep_t.nonzero().view(-1)
        if self.shuffle:
            gen = torch.Generator().manual_seed(
                int(rng(self.seed, 1 << 20, idx).integers(2**62)))
            idx_s = idx_s[torch.randperm(idx_s.numel(), generator=gen)]
            idx_t = idx_t[torch.randperm(idx_t.numel(), generator=gen)]

        kp_s, kp_t = src.kp[idx_s], dst.kp[idx_t]
        match = kp_s.view(-1, 1) == kp_t.view(1, -1)
        y = match.nonzero().t().contiguous()

        out: Dict[str, Any] = {}
        for side, data, index in (('s', src, idx_s), ('t', dst, idx_t)):
            pos = data.pos[index]
            edge_index, edge_attr = build_edges(pos / self.image_size,
                                                'delaunay')
            out[f'x_{side}'] = data.x[index]
            out[f'pos_{side}'] = pos
            out[f'edge_index_{side}'] = edge_index
            out[f'edge_attr_{side}'] = edge_attr
            out[f'kp_{side}'] = data.kp[index]
            out[f'name_{side}'] = data.name
            if 'img' in data:
                out[f'img_{side}'] = data.img
        return PairData(y=y, category=src.category.view(1).clone(), **out)

    def copy(self, idx: Any = None) -> 'PascalVOCKeypoints':
        r"""Returns a copy of the dataset restricted to the pairs
        :obj:`idx` (the image storage is shared, it is never modified)."""
        out = copy.copy(self)
        out._image_cache = {}
        if idx is not None:
            out._indices = list(self.index_select(idx).indices())
        return out

    def __repr__(self) -> str:
        category = (self.category[0]
                    if len(self.category) == 1 else len(self.category))
        return (f'{self.__class__.__name__}({len(self)}, '
                f'category={category!r}, split={self.split!r})')


def _module_device(backbone: Backbone) -> torch.device:
    if isinstance(backbone, torch.nn.Module):
        for param in backbone.parameters():
            return param.device
        for buffer in backbone.buffers():
            return buffer.device
    return torch.device('cpu')


def _to_storage(data_list: List[Data]) -> Dict[str, Any]:
    data, slices = InMemoryDataset.collate(data_list) if data_list else (
        None, None)
    return dict(
        data=None if data is None else data.to_dict(),
        slices=slices,
        num=len(data_list),
    )


def _from_storage(storage: Dict[str, Any]) -> List[Data]:
    if storage['num'] == 0:
        return []
    data = Data.from_dict(storage['data'])
    if storage['num'] == 1:
        return [data]
    return [
        separate(cls=Data, batch=data, idx=i, slice_dict=storage['slices'],
                 decrement=False) for i in range(storage['num'])
    ]


def _collate_all(data_list: List[Data]) -> Tuple[Data, Any]:
    if len(data_list) == 0:
        return Data(), None
    if len(data_list) == 1:
        return data_list[0], None
    return InMemoryDataset.collate(data_list)


__all__ = ['PascalVOCKeypoints', 'KEYPOINT_NAMES', 'backbone_key',
           'read_split_file']
