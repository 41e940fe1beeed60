r"""The :obj:`num_workers` / :obj:`timeout` options of the layers that run a
CPU solver per graph (see :func:`~pyg_identity.solvers.map_graphs`), as
attributes validated on assignment."""
from typing import Optional

from pyg_identity.solvers._dispatch import check_num_workers, check_timeout


class PoolOptions:
    r"""Mixin: :obj:`num_workers` and :obj:`timeout` properties."""
    _num_workers: int = 0
    _timeout: Optional[float] = None

    @property
    def num_workers(self) -> int:
        r"""The worker processes (see
        :func:`~pyg_identity.solvers.map_graphs`)."""
        return self._num_workers

    @num_workers.setter
    def num_workers(self, value: int) -> None:
        self._num_workers = check_num_workers(value)

    @property
    def timeout(self) -> Optional[float]:
        r"""Seconds a solver call may take (see
        :func:`~pyg_identity.solvers.map_graphs`)."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: Optional[float]) -> None:
        self._timeout = check_timeout(value)
