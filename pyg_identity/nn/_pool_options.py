r"""The :obj:`num_workers` (and :obj:`timeout`) options of the layers that
run a CPU solver per graph (see :func:`~pyg_identity.solvers.map_graphs`),
as attributes validated on assignment."""
from typing import Optional

from pyg_identity.nn._base import Option
from pyg_identity.solvers._dispatch import check_num_workers, check_timeout


class WorkerOptions:
    r"""Mixin: the :obj:`num_workers` option."""
    _num_workers: int = 0
    num_workers = Option[int](
        lambda _, value: check_num_workers(value), r"""The worker processes
        (see :func:`~pyg_identity.solvers.map_graphs`; assignable,
        validated).""")


class PoolOptions(WorkerOptions):
    r"""Mixin: the :obj:`num_workers` and :obj:`timeout` options."""
    _timeout: Optional[float] = None
    timeout = Option[Optional[float]](
        lambda _, value: check_timeout(value), r"""Seconds a solver call may
        take (see :func:`~pyg_identity.solvers.map_graphs`).""")

    def _pool_repr(self) -> str:
        # The options that differ from the defaults, for extra_repr.
        out = ''
        if self.num_workers > 1:
            out += f', num_workers={self.num_workers}'
        if self.timeout is not None:
            out += f', timeout={self.timeout:g}'
        return out
