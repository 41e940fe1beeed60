r"""The argument checks shared by the solvers, functionals, layers, models
and graph helpers: integers (:func:`check_positive`,
:func:`check_non_negative`) and tensor arguments (:func:`check_tensor`,
:func:`check_device`)."""
import numbers
from typing import Any, Callable, Optional

import torch
from torch import Tensor


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


def is_integer_tensor(value: Any) -> bool:
    r"""Whether :obj:`value` is a tensor of an integer dtype (not boolean,
    floating point or complex): an index, batch vector or
    :obj:`edge_index`."""
    return isinstance(value, Tensor) and not (
        value.is_floating_point() or value.is_complex()
        or value.dtype == torch.bool)


_KINDS = {
    'integer': ('an integer tensor', is_integer_tensor),
    'float': ('a floating point tensor',
              lambda v: isinstance(v, Tensor) and v.is_floating_point()),
}


def check_tensor(value: Any, name: str, kind: str,
                 hint: Optional[Callable[[Any], Optional[str]]] = None,
                 *, none: bool = False) -> None:
    r"""Raises a :class:`ValueError` naming :obj:`name` unless :obj:`value`
    is a tensor of :obj:`kind` (:obj:`"integer"` or :obj:`"float"`; or
    :obj:`None` if :obj:`none`). The message says what was received and,
    where :obj:`hint` (called with :obj:`value`, e.g. a family's
    :func:`looks_like`) has something to say, what the value looks like:
    :obj:`"'batch' must be an integer tensor (got torch.float32; this looks
    like a cost — the order is ...)"`."""
    noun, ok = _KINDS[kind]
    if ok(value) or (none and value is None):
        return
    got = (value.dtype if isinstance(value, Tensor) else
           type(value).__name__)
    said = hint(value) if hint is not None else None
    raise ValueError(f"'{name}' must be {noun}{' or None' if none else ''} "
                     f"(got {got}{f'; {said}' if said else ''})")


def check_device(value: Tensor, name: str, ref: Tensor, of: str) -> None:
    r"""Raises a :class:`ValueError` naming :obj:`name` unless the tensor
    :obj:`value` is on the device of :obj:`ref` (described as :obj:`of` in
    the message, e.g. :obj:`"its costs"`)."""
    if value.device != ref.device:
        raise ValueError(f"'{name}' must be on the device of {of} "
                         f"({ref.device}, got {value.device})")
