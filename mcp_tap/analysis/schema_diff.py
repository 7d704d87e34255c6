"""How a JSON Schema changed, classed by what it does to the side that must satisfy it.

A tool's `inputSchema` is satisfied by the client: a change that accepts less (a new required
field, a removed property, a narrower type, enum or bound, `additionalProperties: false`)
breaks a client that worked. Its `outputSchema` is relied on by the client: a change that
promises less (a field no longer required, a wider type or enum) breaks it. A removed
property breaks both. Changes of annotations (`description`, `title`, `default`) are
compatible; a validation keyword this module does not reason about (`anyOf`, `$ref`...)
that changed is taken as breaking, since it cannot say otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mcp_tap.analysis.diff import MISSING, join_path
from mcp_tap.analysis.differences import Impact

ANNOTATIONS = frozenset(
    {
        "description",
        "title",
        "default",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
    }
)
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
HANDLED = frozenset(
    {
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "pattern",
        "format",
        *LOWER_BOUNDS,
        *UPPER_BOUNDS,
    }
)


@dataclass(frozen=True)
class SchemaChange:
    """One change of a schema, at the path of the keyword that changed."""

    path: str
    what: str
    impact: Impact
    before: Any = MISSING
    after: Any = MISSING


def schema_changes(old: Any, new: Any, path: str, inputs: bool) -> list[SchemaChange]:
    """Every change from `old` to `new`; `inputs`: the schema is one the client satisfies."""
    found: list[SchemaChange] = []
    _Walk(inputs, found).compare(old, new, path)
    return found


class _Walk:
    def __init__(self, inputs: bool, out: list[SchemaChange]) -> None:
        self.inputs = inputs
        self.out = out

    def narrowed(self, path: str, what: str, before: Any, after: Any) -> None:
        """The schema accepts less: breaks a client that sends, not one that reads."""
        impact = Impact.BREAKING if self.inputs else Impact.COMPATIBLE
        self.out.append(SchemaChange(path, what, impact, before, after))

    def widened(self, path: str, what: str, before: Any, after: Any) -> None:
        """The schema accepts more: breaks a client that reads, not one that sends."""
        impact = Impact.COMPATIBLE if self.inputs else Impact.BREAKING
        self.out.append(SchemaChange(path, what, impact, before, after))

    def compare(self, old: Any, new: Any, path: str) -> None:
        if _same(old, new):
            return
        if not isinstance(old, dict) or not isinstance(new, dict):
            self.out.append(SchemaChange(path, "schema replaced", Impact.BREAKING, old, new))
            return
        self._types(old, new, path)
        self._enum(old, new, path)
        self._properties(old, new, path)
        self._required(old, new, path)
        self._additional(old, new, path)
        self._bounds(old, new, path)
        for keyword in ("pattern", "format"):
            self._constraint(old, new, path, keyword)
        if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
            self.compare(old["items"], new["items"], join_path(path, "items"))
        elif not _same(old.get("items", MISSING), new.get("items", MISSING)):
            self._other(old, new, path, "items")
        for keyword in [*old, *(k for k in new if k not in old)]:
            if keyword not in HANDLED and not _same(
                old.get(keyword, MISSING), new.get(keyword, MISSING)
            ):
                self._other(old, new, path, keyword)

    def _types(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        before, after = _types(old), _types(new)
        if before == after:
            return
        at = join_path(path, "type")
        raw = (old.get("type", MISSING), new.get("type", MISSING))
        if after is not None and (before is None or _within(after, before)):
            self.narrowed(at, f"type narrowed to {_names(after)}", *raw)
        elif before is not None and (after is None or _within(before, after)):
            self.widened(at, f"type widened to {_names(after)}", *raw)
        else:
            self.out.append(SchemaChange(at, "type changed", Impact.BREAKING, *raw))

    def _enum(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        before, after = _allowed(old), _allowed(new)
        if before == after:
            return
        at = join_path(path, "enum" if "enum" in new or "enum" in old else "const")
        raw = (
            old.get("enum", old.get("const", MISSING)),
            new.get("enum", new.get("const", MISSING)),
        )
        if before is None or (after is not None and after < before):
            gone = sorted(before - after) if before is not None and after is not None else []
            what = f"enum lost {', '.join(gone)}" if gone else "values restricted to an enum"
            self.narrowed(at, what, *raw)
        elif after is None or after > before:
            self.widened(at, "enum widened" if after is not None else "enum removed", *raw)
        else:
            self.out.append(SchemaChange(at, "enum changed", Impact.BREAKING, *raw))

    def _properties(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        before, after = _dict(old.get("properties")), _dict(new.get("properties"))
        base = join_path(path, "properties")
        for name in before:
            at = join_path(base, name)
            if name not in after:
                change = SchemaChange(
                    at, f"removed property {name!r}", Impact.BREAKING, before[name]
                )
                self.out.append(change)
            else:
                self.compare(before[name], after[name], at)
        required = set(_strings(new.get("required")))
        for name in after:
            if name not in before and name not in required:
                at = join_path(base, name)
                what = (
                    f"new optional property {name!r}" if self.inputs else f"new property {name!r}"
                )
                self.out.append(SchemaChange(at, what, Impact.COMPATIBLE, MISSING, after[name]))

    def _required(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        before, after = set(_strings(old.get("required"))), set(_strings(new.get("required")))
        had = _dict(old.get("properties"))
        has = _dict(new.get("properties"))
        at = join_path(path, "required")
        for name in sorted(after - before):
            what = (
                f"new required property {name!r}" if name not in had else f"{name!r} now required"
            )
            self.narrowed(at, what, MISSING, name)
        for name in sorted(before - after):
            if name in had and name not in has:
                continue  # said as a removed property
            self.widened(at, f"{name!r} no longer required", name, MISSING)

    def _additional(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        before, after = (
            old.get("additionalProperties", MISSING),
            new.get("additionalProperties", MISSING),
        )
        if _same(before, after):
            return
        at = join_path(path, "additionalProperties")
        if isinstance(before, dict) and isinstance(after, dict):
            self.compare(before, after, at)
        elif after is False:
            self.narrowed(at, "additional properties no longer allowed", before, after)
        elif before is False:
            self.widened(at, "additional properties allowed", before, after)
        else:
            self.out.append(
                SchemaChange(at, "additionalProperties changed", Impact.BREAKING, before, after)
            )

    def _bounds(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        for keyword in (*LOWER_BOUNDS, *UPPER_BOUNDS):
            before, after = old.get(keyword), new.get(keyword)
            if _same(before, after) or not _number_or_none(before) or not _number_or_none(after):
                continue
            lower = keyword in LOWER_BOUNDS
            at = join_path(path, keyword)
            raw = (old.get(keyword, MISSING), new.get(keyword, MISSING))
            tighter = after is not None and (
                before is None or (after > before if lower else after < before)
            )
            if tighter:
                self.narrowed(at, f"{keyword} tightened to {after}", *raw)
            else:
                self.widened(
                    at, f"{keyword} relaxed" + (f" to {after}" if after is not None else ""), *raw
                )

    def _constraint(
        self, old: dict[str, Any], new: dict[str, Any], path: str, keyword: str
    ) -> None:
        before, after = old.get(keyword, MISSING), new.get(keyword, MISSING)
        if _same(before, after):
            return
        at = join_path(path, keyword)
        if after is MISSING:
            self.widened(at, f"{keyword} removed", before, after)
        else:
            self.narrowed(
                at, f"{keyword} {'added' if before is MISSING else 'changed'}", before, after
            )

    def _other(self, old: dict[str, Any], new: dict[str, Any], path: str, keyword: str) -> None:
        before, after = old.get(keyword, MISSING), new.get(keyword, MISSING)
        verb = "added" if before is MISSING else "removed" if after is MISSING else "changed"
        impact = Impact.COMPATIBLE if keyword in ANNOTATIONS else Impact.BREAKING
        self.out.append(
            SchemaChange(join_path(path, keyword), f"{keyword} {verb}", impact, before, after)
        )


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    """The types a schema allows; None for any."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if isinstance(kind, list) and all(isinstance(k, str) for k in kind):
        return frozenset(kind)
    return None


def _within(small: frozenset[str], large: frozenset[str]) -> bool:
    """Whether the types `small` allow less than `large` (an integer is a number)."""
    widened = large | ({"integer"} if "number" in large else set())
    return small != large and small <= widened


def _names(types: frozenset[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))


def _allowed(schema: dict[str, Any]) -> frozenset[str] | None:
    """The values an enum or const allows, as canonical JSON; None for no such limit."""
    if "const" in schema:
        return frozenset({_canonical(schema["const"])})
    values = schema.get("enum")
    if isinstance(values, list):
        return frozenset(_canonical(v) for v in values)
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _number_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))
