r"""Deep graph matching of keypoints (paper Sec. 4.2, Suppl. B.2, Table 4;
claims 5 and 6, and the graph matching column of Table 8).

A keypoint matcher in the spirit of BB-GM
(:class:`pyg_identity.models.keypoint_matcher.KeypointMatcher`) embeds the
keypoints of both graphs of a pair with a shared geometry-aware GNN
(GINEConv on the relative keypoint positions), scores every candidate pair
with a learnable bilinear affinity, and matches them with
:class:`pyg_identity.nn.IdentityMatching` (or, with ``--quadratic``, with
learned pairwise costs and :class:`pyg_identity.nn.IdentityGraphMatching`).
The Hamming loss to the true matching trains it through the Identity or
the Blackbox (BB) backward. The metric is the matching accuracy (the
fraction of true pairs found) on the test split.

Paper claims: Identity *without* projection matches BB without tuning
:math:`\lambda` (Pascal VOC, no margin: 77.2 vs 74.9); :math:`P_{\text{norm}}`
hurts Identity (72.6) and the label-free noise margin replaces BB-GM's
informed margin (noise :math:`\alpha=1`: Identity 79.6, BB 80.1; informed
:math:`\alpha=0.1`: Identity 79.7). Identity trains faster (97.0 vs 104.4
minutes on Pascal VOC), since it needs no second solver call.

The default data are synthetic keypoint pairs
(:class:`pyg_identity.datasets.SyntheticKeypoints`: noisy descriptors, a
random similarity warp and up to 5 target outliers; descriptors alone
match about 58% of the keypoints), generated offline in seconds. The
paper's Pascal VOC numbers are printed beside ours for orientation only.

Table 4 rows on synthetic data (about half a minute each on one CPU
thread)::

    python examples/graph_matching.py --threads 1 --backward identity
    python examples/graph_matching.py --threads 1 --backward blackbox
    python examples/graph_matching.py --threads 1 --backward identity \
        --noise 1.0
    python examples/graph_matching.py --threads 1 --backward blackbox \
        --noise 1.0
    python examples/graph_matching.py --threads 1 --backward identity \
        --informed-margin 0.1
    python examples/graph_matching.py --threads 1 --backward identity \
        --projection norm

The quadratic variant (learned pairwise costs, IPFP heuristic)::

    python examples/graph_matching.py --threads 1 --quadratic

Pascal VOC (a local copy of VOC 2011 + the Berkeley keypoints + the split
file under ``--root``, see ``PascalVOCKeypoints``; nothing is
downloaded; the VGG16 features need torchvision)::

    python examples/graph_matching.py --dataset pascal \
        --root /path/to/pascal_voc_keypoints --num-train 800 --num-test 50

The ``keypoint_matcher`` checkpoint::

    python examples/graph_matching.py --threads 1 --seed 0 \
        --save models/keypoint_matcher.pt

Smoke test (seconds)::

    python examples/graph_matching.py --tiny
"""
from pyg_identity.experiments.graph_matching import main

if __name__ == '__main__':
    main()
