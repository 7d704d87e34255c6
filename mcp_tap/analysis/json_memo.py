"""What a judge derives from a JSON value, kept by the value's exact JSON.

A client lists tools again and again and gets the same list: whatever a judge computes from
it alone (the `x-mcp-header` marks of every tool, say) is the same each time. `JsonMemo`
keeps such results by orjson's compact JSON of the value as parsed, about a microsecond for a
list of tools. Two values with the same orjson text are the same JSON (types kept: 1, 1.0 and
true differ), except NaN and the infinities, which orjson writes as null: so a hit must also
be equal (`==`) to the value cached, which NaN never is. A value orjson cannot write (an
integer past 64 bits, a lone surrogate) is computed every time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson

T = TypeVar("T")

REMEMBERED_VALUES = 64  # values a memo keeps: the lists a few servers answer, not a history


class JsonMemo(Generic[T]):
    """`compute(value)`, reused for a value whose exact JSON was seen (the latest `size`)."""

    def __init__(self, compute: Callable[[Any], T], size: int = REMEMBERED_VALUES) -> None:
        self._compute = compute
        self._size = size
        self._known: OrderedDict[bytes, tuple[Any, T]] = OrderedDict()

    def __call__(self, value: Any) -> T:
        """What `compute` gives for `value`, from the memo when its JSON was seen."""
        try:
            text = orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError: past 64 bits, a surrogate
            return self._compute(value)
        known = self._known.get(text)
        if known is not None and known[0] == value:
            self._known.move_to_end(text)
            return known[1]
        result = self._compute(value)
        self._known[text] = (value, result)
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return result
