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
SHARED_TEXTS = 16  # values whose JSON every memo shares (then it starts over): a batch's lists
SHARED_LARGEST = 64 * 1024  # bytes of JSON a shared text holds at most

# Several judges key a memo by the same value (a tools/list's `tools`, which the 2026-07-28
# checker and the definition checker both read): the one that writes its JSON first shares
# it. Kept by the value's identity (a parsed message is never changed in place), the value
# held so that its id is not reused meanwhile.
_shared: dict[int, tuple[Any, bytes]] = {}


def shared_json_text(value: Any) -> bytes:
    """orjson's compact JSON of `value`, written once for every judge that asks (raises
    TypeError as orjson.dumps does)."""
    known = _shared.get(id(value))
    if known is not None:  # the very value: held, no other can have its id meanwhile
        return known[1]
    text = orjson.dumps(value)
    if len(text) <= SHARED_LARGEST:
        if len(_shared) >= SHARED_TEXTS:
            _shared.clear()  # one call: safe should two threads' judges share it
        _shared[id(value)] = (value, text)
    return text


class JsonMemo(Generic[T]):
    """`compute(value)`, reused for a value whose exact JSON was seen (the latest `size`)."""

    def __init__(self, compute: Callable[[Any], T], size: int = REMEMBERED_VALUES) -> None:
        self._compute = compute
        self._size = size
        self._known: OrderedDict[bytes, tuple[Any, T]] = OrderedDict()

    def __call__(self, value: Any) -> T:
        """What `compute` gives for `value`, from the memo when its JSON was seen."""
        try:
            text = shared_json_text(value)
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
