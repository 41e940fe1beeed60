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

    Where the raw costs are on the scale of known true costs (*e.g.* the
    great-circle distances of the Globe TSP, not costs that are only defined
    up to scale), pass the true costs' norm as :obj:`reference`: the
    monitor then also warns when the raw costs stay below :obj:`fraction` of
    it, which catches costs that never grow from a small initialisation as
    well as costs that shrink.

    Args:
        fraction (float, optional): The threshold relative to the first
            recorded norm (and to :obj:`reference`). (default: :obj:`0.25`)
        reference (float, optional): The norm of the true costs, if known.
            (default: :obj:`None`)
    """
    def __init__(self, fraction: float = 0.25,
                 reference: Optional[float] = None) -> None:
        if not 0 < fraction < 1:
            raise ValueError(f"'fraction' must lie in (0, 1) (got "
                             f"{fraction})")
        if reference is not None and not reference > 0:
            raise ValueError(f"'reference' must be positive (got "
                             f"{reference})")
        self.fraction = fraction
        self.reference = reference
        self.start: Optional[float] = None
        self.warned = False

    def update(self, epoch: int, cost_norm: float) -> bool:
        r"""Records the norm of :obj:`epoch`; returns :obj:`True` (and warns,
        once) if it lies below :obj:`fraction` of the first one or of
        :obj:`reference`."""
        if not cost_norm == cost_norm:  # NaN
            return False
        first = self.start is None
        if first:
            self.start = cost_norm
        assert self.start is not None
        low_start = not first and cost_norm < self.fraction * self.start
        low_ref = (self.reference is not None
                   and cost_norm < self.fraction * self.reference)
        low = low_start or low_ref
        if low and not self.warned:
            self.warned = True
            if low_start:
                what = (f'{cost_norm / self.start:.1%} of its first value '
                        f'{self.start:.4g}')
            else:
                ref = float(self.reference or 1.0)
                what = (f'{cost_norm / ref:.1%} of the true costs\' norm '
                        f'{ref:.4g}')
            warnings.warn(
                f'The raw cost norm is {cost_norm:.4g} in epoch {epoch} '
                f'({what}): the costs are collapsing. A noise margin on the '
                f"raw costs (noise=ALPHA, noise_position='before') prevents "
                f'this.', RuntimeWarning, stacklevel=2)
        return low


__all__ = ['CollapseMonitor']
