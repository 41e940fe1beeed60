import math
import numbers
from typing import Optional, Sequence

import torch
from torch import Tensor

from pyg_identity.utils._checks import check_positive


def symmetric_noise(src: Tensor, alpha: float,
                    generator: Optional[torch.Generator] = None) -> Tensor:
    r"""Returns noise :math:`\xi \sim \mathrm{Unif}\{-\alpha/2,
    +\alpha/2\}` of the shape, dtype and device of :obj:`src`, drawn
    independently per entry (the noise margin of Sahoo et al., Sec. 3.6).

    Args:
        src (torch.Tensor): A tensor giving the shape, dtype and device.
        alpha (float): The margin :math:`\alpha \geq 0`, finite.
        generator (torch.Generator, optional): The random generator; the
            default one (seeded by :func:`torch.manual_seed`) if not given.
            (default: :obj:`None`)
    """
    if (isinstance(alpha, bool) or not isinstance(alpha, numbers.Real)
            or not math.isfinite(float(alpha)) or float(alpha) < 0):
        raise ValueError(f"'alpha' must be non-negative and finite (got "
                         f"{alpha!r})")
    signs = torch.randint(0, 2, src.shape, generator=generator,
                          device=src.device).to(src.dtype)
    return (2.0 * signs - 1.0) * (0.5 * alpha)


def sum_of_gamma_noise(
    size: Sequence[int],
    k: int,
    tau: float = 10.0,
    s: int = 10,
    dtype: Optional[torch.dtype] = None,
    device: Optional[torch.device] = None,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    r"""Samples the Sum-of-Gamma noise of the `"Implicit MLE:
    Backpropagating Through Discrete Exponential Family Distributions"
    <https://arxiv.org/abs/2106.01798>`_ paper (Eq. 23 of the `"Identity
    with Projection" <https://arxiv.org/abs/2205.15213>`_ paper):

    .. math::
        \mathrm{SoG}(k, \tau, s) = \frac{\tau}{k} \left( \sum_{i=1}^{s}
        \mathrm{Gamma}\left(\frac{1}{k}, \frac{k}{i}\right) - \log s
        \right),

    with :math:`\mathrm{Gamma}(\alpha, \theta)` of shape :math:`\alpha` and
    scale :math:`\theta`, i.i.d. per entry. The sum of :math:`k` such
    variables tends to a Gumbel variable of scale :math:`\tau` as
    :math:`s \to \infty`, so perturbing logits with it and taking the top
    :math:`k` approximately samples a :math:`k`-subset. Its mean is
    :math:`\frac{\tau}{k}(H_s - \log s)` with the harmonic number
    :math:`H_s`. The noise of the DVAE's sampling and of the I-MLE
    estimator (:obj:`imle_noise="sum_of_gamma"`).

    Args:
        size (sequence of int): The shape of the sample.
        k (int): The subset size :math:`k \geq 1`.
        tau (float, optional): The temperature :math:`\tau > 0`.
            (default: :obj:`10.0`)
        s (int, optional): The number of Gamma terms :math:`s \geq 1`.
            (default: :obj:`10`)
        dtype (torch.dtype, optional): The floating point dtype.
            (default: :obj:`None`, the default dtype)
        device (torch.device, optional): The device. (default: :obj:`None`)
        generator (torch.Generator, optional): The random generator; the
            default one if not given. (default: :obj:`None`)
    """
    check_positive(k, 'k')
    check_positive(s, 's')
    if not tau > 0 or not math.isfinite(tau):
        raise ValueError(f"'tau' must be positive and finite (got {tau})")
    dtype = dtype or torch.get_default_dtype()
    if generator is not None:
        device = generator.device
    size = list(size)
    alpha = torch.full([s] + size, 1.0 / k, dtype=dtype, device=device)
    scale = k / torch.arange(1, s + 1, dtype=dtype, device=device)
    scale = scale.view([s] + [1] * len(size))
    # Gamma(1/k, scale k/i): a standard Gamma sample times its scale.
    gamma = torch._standard_gamma(alpha, generator=generator) * scale
    return (tau / k) * (gamma.sum(dim=0) - math.log(s))
