"""A structural diff of two JSON values: each change as a path with the two values.

The path is what a person would write to point at the field (`result.content[0].text`,
`result.tools[name=download_file].inputSchema.properties.size_mb`) and what `--ignore`
accepts to silence it. Lists of objects with a natural key (tools and prompts by name,
resources by uri) are matched by that key, so one new tool is one added entry, not a
rewrite of every index after it. Types count: 1, 1.0 and true are three different values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class _Missing:
    """The side of a change where the field does not exist."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
NATURAL_KEYS = ("name", "uri", "uriTemplate")  # tools/prompts, resources, resource templates


@dataclass(frozen=True)
class Change:
    """One field that differs: `recorded` or `received` is MISSING when it is absent there."""

    path: str
    recorded: Any
    received: Any

    @property
    def kind(self) -> str:
        if self.recorded is MISSING:
            return "added"
        if self.received is MISSING:
            return "removed"
        return "changed"


def json_diff(
    recorded: Any, received: Any, ignore: Sequence[str] = (), path: str = ""
) -> list[Change]:
    """Every change from `recorded` to `received`, in document order, skipping `ignore` paths."""
    patterns = [parse_path(p) for p in ignore]
    changes: list[Change] = []
    _diff(recorded, received, path, _split(path), patterns, changes)
    return changes


def _diff(
    a: Any, b: Any, path: str, parts: list[str], ignore: list[list[str]], out: list[Change]
) -> None:
    if any(_matches(pattern, parts) for pattern in ignore):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            child = join_path(path, key)
            _diff(a.get(key, MISSING), b.get(key, MISSING), child, [*parts, key], ignore, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        key = _natural_key(a, b)
        if key is not None:
            left = {item[key]: item for item in a}
            right = {item[key]: item for item in b}
            for value in [*left, *(v for v in right if v not in left)]:
                selector = f"[{key}={value}]"
                child = f"{path}{selector}"
                pair = (left.get(value, MISSING), right.get(value, MISSING))
                _diff(*pair, child, [*parts, selector], ignore, out)
            return
        for index in range(max(len(a), len(b))):
            pair = (
                a[index] if index < len(a) else MISSING,
                b[index] if index < len(b) else MISSING,
            )
            _diff(*pair, f"{path}[{index}]", [*parts, str(index)], ignore, out)
        return
    if not _same(a, b):
        out.append(Change(path or "$", a, b))


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return type(a) is type(b) and a == b  # 1 == 1.0 == True in Python, not in JSON


def _natural_key(a: list[Any], b: list[Any]) -> str | None:
    """The field that names every object of both lists uniquely, if there is one."""
    items = [*a, *b]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in NATURAL_KEYS:
        if all(isinstance(item.get(key), str) for item in items):
            if len({i[key] for i in a}) == len(a) and len({i[key] for i in b}) == len(b):
                return key
    return None


def join_path(path: str, key: str) -> str:
    """`path` and then `key`: `.key`, or `["key"]` when the key is not a plain name."""
    if re.fullmatch(r"[A-Za-z_$][\w$-]*", key):
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


_PART = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[([^\]]*)\]|([^.\[\]]+)')


def parse_path(path: str) -> list[str]:
    """`result.content[0].text` -> ['result', 'content', '0', 'text'].

    Also the older dotted form (`result.content.0.text`), `*` for any key or index, and
    `tools[name=download_file]` (kept as the part `[name=download_file]`).
    """
    return _split(path.removeprefix("$"))


def _split(path: str) -> list[str]:
    parts = []
    for quoted, bracket, plain in _PART.findall(path):
        if quoted:
            parts.append(quoted)
        elif bracket:
            parts.append(bracket if bracket.isdigit() or bracket == "*" else f"[{bracket}]")
        elif plain:
            parts.append(plain)
    return parts


def _matches(pattern: list[str], parts: list[str]) -> bool:
    """Whether `parts` is at or under the field `pattern` names (`*` matches one part)."""
    if len(parts) < len(pattern):
        return False
    return all(p == "*" or p == q for p, q in zip(pattern, parts, strict=False))


def field_paths(value: Any, path: str = "") -> list[str]:
    """Every field of `value`, nested ones included, by the paths `json_diff` would name.

    A list of objects with a natural key gives both its indices and its key selectors, since
    which one a diff uses depends on the other side.
    """
    paths: list[str] = []
    _walk(value, path, paths)
    return paths


def _walk(value: Any, path: str, out: list[str]) -> None:
    if path:
        out.append(path)
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(item, join_path(path, key), out)
    elif isinstance(value, list):
        key = _natural_key(value, value)
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", out)
            if key is not None:
                _walk(item, f"{path}[{key}={item[key]}]", out)


def names_a_field(pattern: str, path: str) -> bool:
    """Whether `pattern` (an `--ignore` path) names the field at `path`, or one it is under."""
    return _matches(parse_path(pattern), _split(path))
