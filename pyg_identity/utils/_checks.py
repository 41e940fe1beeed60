r"""The integer argument checks shared by the solvers, layers, models and
graph helpers."""
import numbers
from typing import Any


def check_positive(value: Any, name: str, allow_none: bool = False) -> Any:
    r"""Returns :obj:`value` if it is a positive integer (or :obj:`None` and
    :obj:`allow_none`), else raises a :class:`ValueError` naming
    :obj:`name`."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"'{name}' must be a positive integer (got "
                         f"{value!r})")
    return value


def check_non_negative(value: Any, name: str,
                       allow_none: bool = False) -> Any:
    r"""Returns :obj:`value` as an :obj:`int` if it is a non-negative integer
    (a Python or NumPy one; or :obj:`None` and :obj:`allow_none`), else
    raises a :class:`ValueError` naming :obj:`name`."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < 0:
        raise ValueError(f"'{name}' must be a non-negative integer (got "
                         f"{value!r})")
    return int(value)
