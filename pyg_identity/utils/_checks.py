r"""The argument check shared by the layers, models and graph helpers."""
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
