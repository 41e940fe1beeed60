r"""The discrete variational auto-encoder of the paper's Sec. 4.1 (MNIST), with
a latent of :math:`k`-hot blocks sampled by a differentiable top-:math:`k`
on Sum-of-Gamma perturbed logits."""
import math
from typing import Any, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MLP

from pyg_identity._autograd import SOG_TERMS
from pyg_identity.nn.functional.noise import sum_of_gamma_noise
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.topk import IdentityTopK
from pyg_identity.utils._checks import check_positive


class DVAE(torch.nn.Module):
    r"""The discrete variational auto-encoder (DVAE) on MNIST of the
    `"Backpropagation through Combinatorial Algorithms: Identity with
    Projection Works" <https://arxiv.org/abs/2205.15213>`_ paper (Sec. 4.1,
    after the `"Implicit MLE" <https://arxiv.org/abs/2106.01798>`_ paper).

    An encoder MLP maps an image :math:`x` to logits :math:`\theta`, one row
    of :obj:`block_size` logits for each of :obj:`num_blocks` latent blocks.
    Every block is sampled as a :math:`k`-hot vector by
    :class:`~pyg_identity.nn.topk.IdentityTopK` on Sum-of-Gamma perturbed
    logits (:func:`sum_of_gamma_noise`), and a decoder MLP maps the latent
    code to pixel logits:

    .. math::
        z_b = \arg\max_{y \in \{0, 1\}^{M},\ \mathbf{1}^\top y = k}
        \langle P(\theta_b + \epsilon_b), y \rangle, \qquad
        \epsilon_b \sim \mathrm{SoG}(k, \tau, s),

    trained by the negative evidence lower bound (:meth:`n_elbo`)

    .. math::
        \mathcal{L} = -\sum_{p} \big(x_p \log \hat{x}_p + (1 - x_p)
        \log(1 - \hat{x}_p)\big) + \sum_b \mathrm{KL}\big(
        \mathrm{softmax}(\theta_b) \,\|\, \mathcal{U}_M \big).

    The projection :math:`P` acts on each block separately (the default
    :obj:`"std"` subtracts the block mean, then divides by the block norm,
    as in the paper's code); the top-:math:`k` is an :math:`\arg\max`, so
    the Identity gradient passes :math:`+\partial\ell/\partial z` through.
    The Sum-of-Gamma noise belongs to the sampling distribution, so it is
    drawn in training and evaluation alike (pass :obj:`sample=False` to
    :meth:`forward` for the mode of the distribution); the layer's noise
    margin :obj:`noise` is a separate, training-only perturbation.
    With :obj:`backward="imle"` (the paper's I-MLE baseline with
    :obj:`projection=None`), the estimator draws this Sum-of-Gamma noise in
    training instead (:obj:`imle_noise="sum_of_gamma"`, :obj:`sigma` =
    :math:`\tau`, :obj:`imle_k` = :math:`k`, on the solver input, so after
    a projection) and reuses it in the target's MAP call; :obj:`s` must then
    be 10. :obj:`backward="blackbox"` with :obj:`projection=None` gives the
    same update on the model's own noise.

    Args:
        in_channels (int, optional): The number of pixels.
            (default: :obj:`784`)
        num_blocks (int, optional): The number of latent blocks :math:`N`.
            (default: :obj:`20`)
        block_size (int, optional): The length :math:`M` of a latent block.
            (default: :obj:`20`)
        k (int, optional): The number of ones per block, :math:`1 \leq k <
            M`. (default: :obj:`10`)
        encoder_channels (sequence of int, optional): The hidden sizes of
            the encoder MLP. (default: :obj:`(512, 256)`)
        decoder_channels (sequence of int, optional): The hidden sizes of
            the decoder MLP. (default: :obj:`(256, 512)`)
        tau (float, optional): The Sum-of-Gamma temperature :math:`\tau`.
            (default: :obj:`10.0`)
        s (int, optional): The number of Sum-of-Gamma terms :math:`s`.
            (default: :obj:`10`)
        settings (GradientSettings, optional): The gradient settings of the
            top-:math:`k` layer :obj:`model.topk` (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"` and :obj:`lambda_=10.0`. Its noise
            margin is a training-only perturbation besides the Sum-of-Gamma
            noise. (default: :obj:`None`)
        **kwargs: Fields of
            :class:`~pyg_identity.nn.functional.GradientSettings`
            overriding :obj:`settings` (*e.g.* :obj:`backward="blackbox"`;
            :obj:`diagnostics=True` makes :obj:`model.topk.diagnostics`
            record the cost norm and, after :meth:`backward`, the cosine
            between :math:`\partial\ell/\partial z` and the gradient that
            reached the perturbed logits, paper Fig. 7).

    Shapes:
        - **input:** images :math:`(B, \text{in\_channels})` or
          :math:`(B, 1, 28, 28)`
        - **output:** pixel logits :math:`(B, \text{in\_channels})`,
          encoder logits :math:`(B, N, M)` and the :math:`k`-hot latent
          code :math:`(B, N, M)`
    """
    def __init__(
        self,
        in_channels: int = 784,
        num_blocks: int = 20,
        block_size: int = 20,
        k: int = 10,
        encoder_channels: Sequence[int] = (512, 256),
        decoder_channels: Sequence[int] = (256, 512),
        tau: float = 10.0,
        s: int = 10,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        for name, value in (('in_channels', in_channels),
                            ('num_blocks', num_blocks),
                            ('block_size', block_size), ('s', s)):
            check_positive(value, name)
        if not isinstance(k, int) or isinstance(k, bool) or not (
                1 <= k < block_size):
            raise ValueError(f"'k' must be an integer in [1, block_size) = "
                             f"[1, {block_size}) (got {k!r})")
        if not tau > 0:
            raise ValueError(f"'tau' must be positive (got {tau})")
        self.in_channels = in_channels
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.k = k
        self.encoder_channels: List[int] = list(encoder_channels)
        self.decoder_channels: List[int] = list(decoder_channels)
        self.tau = float(tau)
        self.s = s

        latent = num_blocks * block_size
        self.encoder = MLP([in_channels] + self.encoder_channels + [latent],
                           act='relu', norm=None)
        settings = GradientSettings.resolve(settings, kwargs,
                                            projection='std', lambda_=10.0)
        if settings.backward == 'imle':
            # The sampling noise is I-MLE's perturbation: the estimator
            # draws it, and reuses it in the target's MAP call.
            if s != SOG_TERMS:
                raise ValueError(f"'s' must be {SOG_TERMS} with "
                                 f"backward='imle' (got {s})")
            settings = settings.replace(imle_noise='sum_of_gamma',
                                        sigma=self.tau, imle_k=k)
        self.topk = IdentityTopK(k, settings=settings)
        self.decoder = MLP([latent] + self.decoder_channels + [in_channels],
                           act='relu', norm=None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        self.encoder.reset_parameters()
        self.decoder.reset_parameters()

    def encode(self, x: Tensor) -> Tensor:
        r"""Returns the logits :math:`\theta` of shape :obj:`[B, N, M]`."""
        x = x.reshape(x.size(0), -1)
        if x.size(1) != self.in_channels:
            raise ValueError(f"'x' must have {self.in_channels} pixels per "
                             f"image (got {x.size(1)})")
        return self.encoder(x).view(-1, self.num_blocks, self.block_size)

    def sample(self, logits: Tensor, sample: bool = True) -> Tensor:
        r"""Returns the :math:`k`-hot code of every block of :obj:`logits`,
        of perturbed logits if :obj:`sample` is set."""
        scores = logits
        # With backward='imle' the layer draws the same noise in training.
        if sample and not (self.training and self.topk.training
                           and self.topk.backward_mode == 'imle'):
            scores = logits + sum_of_gamma_noise(
                logits.shape, self.k, self.tau, self.s, dtype=logits.dtype,
                device=logits.device)
        z = self.topk(scores.reshape(-1, self.block_size))
        return z.view_as(logits)

    def decode(self, z: Tensor) -> Tensor:
        r"""Returns the pixel logits of the latent code :obj:`z`."""
        return self.decoder(z.reshape(z.size(0), -1))

    def forward(self, x: Tensor,
                sample: bool = True) -> Tuple[Tensor, Tensor, Tensor]:
        r"""Returns the pixel logits, the encoder logits and the latent code.

        Args:
            x (torch.Tensor): The images, pixels in :math:`[0, 1]`.
            sample (bool, optional): Whether to perturb the logits with
                Sum-of-Gamma noise. (default: :obj:`True`)
        """
        logits = self.encode(x)
        z = self.sample(logits, sample)
        return self.decode(z), logits, z

    def n_elbo(self, x: Tensor, x_logits: Tensor, logits: Tensor,
               reduce: bool = True) -> Tensor:
        r"""The negative ELBO: the binary cross-entropy summed over pixels
        plus the KL divergence of :math:`\mathrm{softmax}(\theta_b)` from the
        uniform distribution, summed over blocks (on the raw logits, as the
        paper's code), averaged over the batch unless :obj:`reduce=False`.

        Args:
            x (torch.Tensor): The images, pixels in :math:`[0, 1]`.
            x_logits (torch.Tensor): The pixel logits of :meth:`forward`.
            logits (torch.Tensor): The encoder logits of :meth:`forward`.
            reduce (bool, optional): Whether to average over the batch.
                (default: :obj:`True`)
        """
        x = x.reshape(x.size(0), -1)
        rec = F.binary_cross_entropy_with_logits(
            x_logits, x, reduction='none').sum(dim=-1)
        log_q = torch.log_softmax(logits, dim=-1)
        kl = (log_q.exp() * (log_q + math.log(self.block_size))).sum(
            dim=(-2, -1))
        out = rec + kl
        return out.mean() if reduce else out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'num_blocks={self.num_blocks}, '
                f'block_size={self.block_size}, k={self.k}, '
                f'{self.topk.extra_repr()})')


__all__ = ['DVAE', 'sum_of_gamma_noise']
