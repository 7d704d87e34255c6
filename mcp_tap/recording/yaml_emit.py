"""A small, fast YAML emitter for recording documents (JSON-like values only).

PyYAML's dumper builds a representer, a node graph and an emitter for every call: about
200 us per tap event, too slow for a flood of progress notifications. Recording documents
hold only JSON values (dicts, lists, str, int, float, bool, None), so this module writes
them directly in block style, quoting every string a YAML 1.1 safe loader could read as
something else. `yaml.safe_load` of the output gives back the input exactly; the tests
check that property on arbitrary JSON values.
"""

from __future__ import annotations

import json
import marshal
import math
import re
from typing import Any

import orjson

# A string written without quotes must look like a word YAML 1.1 cannot read as another type.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_RESERVED = frozenset(
    {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "ln"}
)
# Characters a YAML stream may not hold raw: controls, DEL/C1, BOM, non-characters, and
# line separators the reader would break lines on. They are written as escapes.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
# A lone surrogate (from a JSON "\\ud800" escape) has no UTF-8 form and YAML loaders refuse
# its escape, so it is stored as U+FFFD, the replacement character.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


_LONGEST_SIMPLE_KEY = 1000  # longer keys are written in the explicit `? key` form
_STRINGS: dict[str, str] = {}  # keys and short values repeat in every document
_STRINGS_MAX = 4096


def scalar(value: Any) -> str:
    """One scalar in YAML."""
    kind = type(value)
    if kind is str:
        text = _STRINGS.get(value)
        if text is None:
            text = _string(value)
            if len(value) <= 64 and len(_STRINGS) < _STRINGS_MAX:
                _STRINGS[value] = text
        return text
    if kind is int:
        return str(value)
    if kind is float:
        return _float(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    raise TypeError(f"cannot write {kind.__name__} in a recording")


def _string(value: str) -> str:
    if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    quoted = json.dumps(_SURROGATE.sub("\ufffd", value), ensure_ascii=False)
    return _UNPRINTABLE.sub(_escape, quoted)  # JSON's own escapes are YAML escapes too


def _float(value: float) -> str:
    text = repr(value)
    if "." in text and "e" not in text:  # most: 0.25, 1712.5
        return text
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:  # YAML 1.1 reads `1e+20` as a string, `1.0e+20` as a float
        mantissa += ".0"
    return mantissa + e + exponent


def _block(value: dict[str, Any] | list[Any], indent: str, out: list[str]) -> None:
    """Append the lines of a non-empty mapping or sequence at `indent`."""
    inner = indent + "  "
    if type(value) is dict:
        known = _STRINGS.get  # most keys and many values were written before: no call
        for key, item in value.items():
            text = known(key) if type(key) is str else None
            if text is None:
                text = scalar(key)
                if len(text) > _LONGEST_SIMPLE_KEY:
                    out.append(f"{indent}? {text}")  # YAML reads at most 1024 characters as a key
                    _entry(f"{indent}:", item, inner, out)
                    continue
            kind = type(item)
            if kind is str:
                shown = known(item)
                out.append(f"{indent}{text}: {shown if shown is not None else scalar(item)}")
            elif kind is int:
                out.append(f"{indent}{text}: {item}")
            elif kind in _SCALARS:  # the rest of the scalars, written here too
                out.append(f"{indent}{text}: {scalar(item)}")
            else:
                _entry(f"{indent}{text}:", item, inner, out)
        return
    for item in value:
        if type(item) is dict and item:
            start = len(out)
            _block(item, inner, out)
            out[start] = f"{indent}- {out[start][len(inner) :]}"  # first key on the dash line
        elif type(item) in _SCALARS:
            out.append(f"{indent}- {scalar(item)}")
        else:
            _entry(f"{indent}-", item, inner, out)


def _entry(head: str, value: Any, indent: str, out: list[str]) -> None:
    kind = type(value)
    if kind is Reusable:
        value.memo.entry(head, value.value, indent, out)
    elif kind is dict or kind is list:
        if not value:
            out.append(f"{head} {{}}" if kind is dict else f"{head} []")
        elif kind is list and len(value) <= 4 and all(type(v) not in _NESTED for v in value):
            out.append(f"{head} [{', '.join(scalar(v) for v in value)}]")  # e.g. a header pair
        else:
            out.append(head)
            _block(value, indent, out)
    else:
        out.append(f"{head} {scalar(value)}")


_NESTED = (dict, list)
_SCALARS = frozenset({str, int, float, bool, type(None)})


class Memo:
    """The YAML of large values written recently, reused when one comes again unchanged.

    MCP traffic repeats itself: every tools/list answer carries the same result, every request
    of a client the same headers, and writing a 2.5 KB result costs ~120 us. The key is the
    value's compact JSON (orjson's, a fifth of the cost of marshal's form): it tells 1, 1.0
    and true apart and one key order from another, but writes NaN and the infinities as
    null, so a hit must also be equal (`==`) to the value kept, which NaN never is. A value
    orjson cannot write (an integer past 64 bits, a lone surrogate) is keyed by its marshal
    form (version 2, no back-references), exact too. Small values are cheaper to write than
    to look up (unless their JSON comes with them); huge ones are not kept.
    """

    def __init__(self, entries: int = 32, smallest: int = 256, largest: int = 32768) -> None:
        # (head, key text, how it was made: "json", "marshal" or "exact") -> (value, YAML);
        # the value, to check a hit by, only for keys made here
        self._texts: dict[tuple[str, bytes, str], tuple[Any, str]] = {}
        self._entries = entries
        self._smallest = smallest
        self._largest = largest

    def entry(self, head: str, value: Any, indent: str, out: list[str]) -> None:
        """What `_entry` writes for `value`, from memory when it has been written before.

        `value` may come as its JSON text already (`bytes`): orjson's, of a value that text
        names exactly (one orjson read, `records.py`; an exchange's headers), so a hit needs
        no other check. Such texts are kept apart from the keys made here, where a null may
        have been a NaN."""
        if type(value) is bytes:
            key = (head, value, "exact")
            known = self._texts.pop(key, None)  # put back: the most recent stays longest
            if known is not None:
                self._texts[key] = known
                out.append(known[1])
                return
            value = orjson.loads(value)
        elif type(value) not in _NESTED:
            _entry(head, value, indent, out)
            return
        else:
            try:
                key = (head, orjson.dumps(value), "json")
            except TypeError:  # orjson.JSONEncodeError
                key = (head, marshal.dumps(value, 2), "marshal")
            known = self._texts.pop(key, None)
            if known is not None and known[0] == value:
                self._texts[key] = known
                out.append(known[1])
                return
        lines: list[str] = []
        _entry(head, value, indent, lines)
        text = "\n".join(lines)
        exact = key[2] == "exact"  # a text given costs nothing to look up: kept however small
        if (exact or self._smallest <= len(key[1])) and len(key[1]) <= self._largest:
            if len(self._texts) >= self._entries:
                del self._texts[next(iter(self._texts))]  # the least recently used
            self._texts[key] = (None if exact else value, text)  # a text needs no value
        out.append(text)


class Reusable:
    """Marks a value in a document as likely to repeat: `emit_document` asks `memo` for it."""

    __slots__ = ("value", "memo")

    def __init__(self, value: Any, memo: Memo) -> None:
        self.value = value
        self.memo = memo


def append_mapping(data: dict[str, Any], indent: str, out: list[str]) -> None:
    """Append the lines of the non-empty mapping `data` at `indent`, as a document holds it."""
    _block(data, indent, out)


def emit_document(data: dict[str, Any]) -> str:
    """One YAML document, from `---` to `...`, holding the mapping `data`."""
    lines = ["---"]
    if data:
        _block(data, "", lines)
    else:
        lines.append("{}")
    lines.append("...")
    return "\n".join(lines) + "\n"
