"""Compiled validators for the MCP schemas, and violations explained for people.

`jsonschema-rs` validates: bench/schema_validation.py measured it at about 1 µs a message
against 3-27 µs for fastjsonschema (which has no 2020-12) and 60-660 µs for jsonschema.
A validator is compiled once a process for each (revision, definition) pair the traffic
asks for, and `is_valid` decides alone for the valid messages that make up nearly all
traffic; only an invalid one pays for the errors and their explanation.

An `anyOf` failure (`ContentBlock`: text, image, audio...) is narrowed to the branch the
instance meant, the one whose `type`-like constant it matched, so the finding says
`$.result.content[0].text: expected a string, found 42`, not "not valid under any of".
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from mcp_tap.analysis.schema_catalog import RevisionSchema, load_revision

MAX_SHOWN = 60  # characters of a found value in a finding


@dataclass(frozen=True, slots=True)
class Violation:
    """Where an instance breaks its definition, and how."""

    path: str  # JSON path in the message: $.result.content[0].type
    definition: str  # the definition and the path inside it: CallToolResult.content[0].type
    expected: str
    found: str


def json_path(parts: list[str | int] | tuple[str | int, ...], root: str = "$") -> str:
    """`$.result.content[0]` from ("result", "content", 0)."""
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def shown(value: Any) -> str:
    """A found value, short: JSON, cut to MAX_SHOWN characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # NaN or a cycle cannot happen from JSON, but be safe
        text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


class DefinitionValidators:
    """One revision's compiled validators, by definition name (compiled on first use)."""

    def __init__(self, schema: RevisionSchema) -> None:
        self.schema = schema
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()  # a recorder thread and the loop may share the catalog

    def validator(self, definition: str) -> Any:
        """The compiled validator of one definition of this revision."""
        found = self._compiled.get(definition)
        if found is None:
            with self._lock:
                found = self._compiled.get(definition)
                if found is None:
                    schema = self.schema
                    document = {
                        "$schema": schema.dialect,
                        "$ref": schema.ref(definition),
                        schema.defs_key: schema.definitions,
                    }
                    found = jsonschema_rs.validator_for(document, offline=True)
                    self._compiled[definition] = found
        return found

    def violations(
        self, definition: str, instance: Any, prefix: tuple[str | int, ...] = ()
    ) -> list[Violation]:
        """Every way `instance` breaks `definition`; empty when it is valid.

        `prefix` is where the instance sits in its message (("result",) for a result).
        """
        validator = self.validator(definition)
        if validator.is_valid(instance):
            return []
        return [
            explain(error, definition, prefix, self.schema.defs_key)
            for error in validator.iter_errors(instance)
        ]


@functools.cache
def validators_for(revision: str) -> DefinitionValidators:
    """A known revision's validators, shared by every checker of the process."""
    return DefinitionValidators(load_revision(revision))


def explain(
    error: Any, definition: str, prefix: tuple[str | int, ...], defs_key: str = "$defs"
) -> Violation:
    """A jsonschema-rs error as a `Violation`, an anyOf narrowed to the branch meant."""
    chosen = _narrowed(error)
    where = list(chosen.instance_path)
    expected = _expected(chosen, defs_key)
    return Violation(
        json_path([*prefix, *where]),
        json_path(where, definition),
        expected,
        "absent" if expected.startswith("property ") else shown(chosen.instance),
    )


def _narrowed(error: Any) -> Any:
    """For an anyOf/oneOf, the error of the one branch whose discriminating constant held."""
    kind = error.kind
    if kind.name.lower() not in ("anyof", "oneofnotvalid") or not getattr(kind, "context", None):
        return error
    meant = [branch for branch in kind.context if branch and not _missed_constant(branch)]
    if len(meant) == 1:
        return _narrowed(meant[0][0])
    return error


def _missed_constant(branch: list[Any]) -> bool:
    """True when a branch failed on a `const` (the `type: "text"` that names a variant)."""
    return any(error.kind.name.lower() == "const" for error in branch)


def _expected(error: Any, defs_key: str) -> str:
    """What the schema wanted, in words."""
    kind = error.kind
    name = kind.name.lower()
    if name == "required":
        return f"property {kind.property!r}"
    if name == "type":
        return " or ".join(kind.types)
    if name == "const":
        return f"the constant {shown(kind.expected_value)}"
    if name == "enum":
        return "one of " + ", ".join(shown(option) for option in kind.options)
    if name == "additionalproperties":
        return "no property " + ", ".join(repr(p) for p in kind.unexpected)
    if name in ("anyof", "oneofnotvalid"):
        branches = _branch_names(kind, defs_key)
        if branches:
            return "one of " + ", ".join(branches)
    return str(error.message)


def _branch_names(kind: Any, defs_key: str) -> list[str]:
    """The definition each branch of an anyOf refers to (ContentBlock -> TextContent, ...)."""
    names: list[str] = []
    for branch in getattr(kind, "context", None) or ():
        for error in branch:
            path = list(error.schema_path)
            if len(path) >= 2 and path[0] == defs_key and str(path[1]) not in names:
                names.append(str(path[1]))
                break
    return names
