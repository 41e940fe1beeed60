import warnings
from typing import Optional


class CollapseMonitor:
    r"""Warns once when the raw cost norm falls below :obj:`fraction` of its
    first recorded value: the cost collapse of the `"Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper (Sec. 3.6, Fig. 4c), where a
    projected solver input hides raw costs shrinking toward zero.

    Feed it one number per epoch (or per step), *e.g.* the mean of
    :obj:`layer.diagnostics.cost_norm` of a layer built with
    :obj:`diagnostics=True`:

    .. code-block:: python

        monitor = CollapseMonitor(fraction=0.25)
        for epoch in range(1, epochs + 1):
            norm = train(epoch)  # mean raw cost norm of the epoch
            monitor.update(epoch, norm)

    Args:
        fraction (float, optional): The threshold relative to the first
            epoch's norm. (default: :obj:`0.25`)
    """
    def __init__(self, fraction: float = 0.25) -> None:
        if not 0 < fraction < 1:
            raise ValueError(f"'fraction' must lie in (0, 1) (got "
                             f"{fraction})")
        self.fraction = fraction
        self.start: Optional[float] = None
        self.warned = False

    def update(self, epoch: int, cost_norm: float) -> bool:
        r"""Records the norm of :obj:`epoch`; returns :obj:`True` (and warns,
        once) if it lies below :obj:`fraction` of the first one."""
        if not cost_norm == cost_norm:  # NaN
            return False
        if self.start is None:
            self.start = cost_norm
            return False
        low = cost_norm < self.fraction * self.start
        if low and not self.warned:
            self.warned = True
            warnings.warn(
                f'The raw cost norm fell to {cost_norm:.4g} in epoch {epoch} '
                f'({cost_norm / self.start:.1%} of its first value '
                f'{self.start:.4g}): the costs are collapsing. A noise '
                f"margin on the raw costs (noise=ALPHA, noise_position="
                f"'before') prevents this.", RuntimeWarning, stacklevel=2)
        return low


__all__ = ['CollapseMonitor']
