r"""Rank-based image retrieval (paper Sec. 4.3, Table 5; claims 2, 3 and 9),
with MNIST digits as an offline stand-in for CUB-200-2011.

An MLP (:class:`pyg_identity.models.retrieval.RetrievalNet`) embeds images
into unit vectors; every image of a batch queries the other images of the
batch and of a memory of the 3 previous batches by cosine similarity, and
the "loglog" recall loss (:class:`pyg_identity.nn.RecallLoss`) ranks them
through two differentiable rankings (:class:`pyg_identity.nn.IdentityRanking`
semantics: rank 1 to the highest similarity). The metric is recall at 1
(:func:`pyg_identity.nn.functional.recall_at_k`) on classes unseen in
training, as in the CUB protocol: training on digits 0-4, testing on a
fixed subset of 2,000 test images of digits 5-9.

Paper claims (CUB-200-2011 R@1 %, ResNet-50, no noise):

* the projection is indispensable for Identity: none 13.9, mean 44.6,
  norm 59.0, std 60.2;
* Blackbox stays ahead (62.6 without projection, 62.4 with
  :math:`P_{\text{std}}`; best 63.2), because the recall loss gives
  gradient to relevant items only.

MNIST is far easier than CUB, so only the ordering is comparable; the
script prints the paper's CUB numbers beside ours, labelled as such.
Without a projection, the Identity gradients of the two rankings of the
recall loss cancel exactly and the embedding does not train (only the
weight decay acts, which shrinks it to chance-level recall).

Reproduce the ablation (Identity, then Blackbox with the paper's
:math:`\lambda = 0.2`; 5 epochs, under a minute per projection on a
CPU)::

    python examples/retrieval.py --root ../shared/data/mnist --ablation
    python examples/retrieval.py --root ../shared/data/mnist --ablation \
        --backward blackbox

One run, with the noise margin of the paper's sweep::

    python examples/retrieval.py --root ../shared/data/mnist \
        --projection std --noise 0.1

Smoke test (seconds)::

    python examples/retrieval.py --root ../shared/data/mnist --tiny
"""
from pyg_identity.experiments.retrieval import main

if __name__ == '__main__':
    main()
