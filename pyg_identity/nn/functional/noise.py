import math
import numbers
from typing import Optional

import torch
from torch import Tensor


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
