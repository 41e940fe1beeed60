r"""Discrete VAE on MNIST (paper Sec. 4.1, Figs. 3, 5, 6 and 7; claims 2, 4
and 11).

An encoder MLP (784-512-256-400) maps an image to 20 blocks of 20 logits;
every block is sampled as a 10-hot vector by
:class:`pyg_identity.nn.IdentityTopK` on Sum-of-Gamma perturbed logits
(:math:`\mathrm{SoG}(k{=}10, \tau{=}10, s{=}10)`), and a decoder MLP
(400-256-512-784) reconstructs the image
(:class:`pyg_identity.models.dvae.DVAE`). The loss is the negative ELBO:
binary cross-entropy summed over pixels plus the KL divergence of the
per-block softmax from the uniform distribution. The script logs the test
N-ELBO per epoch and the cosine between :math:`\partial\ell/\partial z` and
the update that reaches the logits after the projection.

Paper claims (curves only, no N-ELBO numbers in the paper):

* the projection ablation orders none < :math:`P_{\text{mean}}` <
  :math:`P_{\text{norm}}` < :math:`P_{\text{std}}` (Fig. 5);
* Identity with :math:`P_{\text{std}}` reaches a lower N-ELBO than I-MLE
  (Fig. 3; ``--backward blackbox --projection none`` is the I-MLE update up
  to the scale :math:`1/\lambda`);
* with :math:`P_{\text{std}}` the cosine between :math:`-\mathrm{d}\ell/
  \mathrm{d}y` and the projected update stays below 0.05 (Fig. 7).

Data: the paper trains on 50,000 MNIST images and tests on the 10,000 test
images. With only the 10,000 test images at hand (``--data test-only``, or
``auto`` when the training files are missing), a fixed split of them is
used: 8,000 for training, 2,000 for testing.

Reproduce (paper setting: 100 epochs, batch 100, Adam 1e-3)::

    python examples/dvae.py --root path/to/mnist
    python examples/dvae.py --root path/to/mnist --ablation
    python examples/dvae.py --root path/to/mnist --backward blackbox \
        --projection none
    python examples/dvae.py --root path/to/mnist --optimizer sgd --lr 0.1

An affordable CPU setting (about 2 minutes per projection)::

    python examples/dvae.py --root ../shared/data/mnist --ablation \
        --epochs 10

Smoke test (seconds)::

    python examples/dvae.py --root ../shared/data/mnist --tiny
"""
from pyg_identity.experiments.dvae import main

if __name__ == '__main__':
    main()
