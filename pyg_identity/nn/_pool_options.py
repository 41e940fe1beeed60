r"""The :obj:`num_workers` (and :obj:`timeout`) options of the layers that
run a CPU solver per graph (see :func:`~pyg_identity.solvers.map_graphs`),
as attributes validated on assignment."""
from typing import Optional

from pyg_identity.solvers._dispatch import check_num_workers, check_timeout


class WorkerOptions:
    r"""Mixin: the :obj:`num_workers` property."""
    _num_workers: int = 0

    @property
    def num_workers(self) -> int:
        r"""The worker processes (see
        :func:`~pyg_identity.solvers.map_graphs`; assignable, validated)."""
        return self._num_workers

    @num_workers.setter
    def num_workers(self, value: int) -> None:
        self._num_workers = check_num_workers(value)


class PoolOptions(WorkerOptions):
    r"""Mixin: :obj:`num_workers` and :obj:`timeout` properties."""
    _timeout: Optional[float] = None

    @property
    def timeout(self) -> Optional[float]:
        r"""Seconds a solver call may take (see
        :func:`~pyg_identity.solvers.map_graphs`)."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: Optional[float]) -> None:
        self._timeout = check_timeout(value)

    def _pool_repr(self) -> str:
        # The options that differ from the defaults, for extra_repr.
        out = ''
        if self.num_workers > 1:
            out += f', num_workers={self.num_workers}'
        if self.timeout is not None:
            out += f', timeout={self.timeout:g}'
        return out
