"""Pinned definitions: each tool, prompt and resource template's fingerprint, to hold a server to.

`mcp-tap pin REC...` writes one JSON file; `--pins FILE` on `proxy`, `stdio` and `check`
reads it, and a definition that differs from its pin is a `definition-changed` finding. The
fingerprint is a SHA-256 of the definition as canonical JSON (keys sorted, no blanks), so
reordering keys changes nothing and changing any value, a description's one invisible
character included, changes it. The definition is kept beside it, so a finding can say what
changed, not only that something did.

The file:

    {"mcpTapPins": 1,
     "tools": {"add": {"fingerprint": "sha256:...", "definition": {...}}},
     "prompts": {...}, "resourceTemplates": {...}}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcp_tap.analysis.interface import PROMPTS, TEMPLATES, TOOLS, Interface, ListKind

PINS_FORMAT = 1
PINNED: tuple[ListKind, ...] = (TOOLS, PROMPTS, TEMPLATES)
PINNED_FIELDS = {kind.field: kind for kind in PINNED}


def fingerprint(definition: Any) -> str:
    """`sha256:<hex>` of the definition as canonical JSON."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Pin:
    """One pinned definition."""

    kind: ListKind
    name: str
    fingerprint: str
    definition: dict[str, Any]


class Pins:
    """The pinned definitions of one server, by kind and name."""

    def __init__(self, pins: Sequence[Pin] = ()) -> None:
        self._pins = {(pin.kind.field, pin.name): pin for pin in pins}

    def __len__(self) -> int:
        return len(self._pins)

    def get(self, kind: ListKind, name: str) -> Pin | None:
        """The pin of `name` among `kind`'s, if there is one."""
        return self._pins.get((kind.field, name))

    def to_json(self) -> str:
        """The pins file's text."""
        doc: dict[str, Any] = {"mcpTapPins": PINS_FORMAT}
        for kind in PINNED:
            doc[kind.field] = {
                pin.name: {"fingerprint": pin.fingerprint, "definition": pin.definition}
                for (field, _), pin in sorted(self._pins.items())
                if field == kind.field
            }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "the pins file") -> Pins:
        """Pins from a file's text; ValueError with one line saying what is wrong."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source} is not JSON: {error}") from None
        if not isinstance(doc, dict) or doc.get("mcpTapPins") != PINS_FORMAT:
            raise ValueError(f"{source} is not an mcp-tap pins file (mcp-tap pin writes one)")
        pins = []
        for field, kind in PINNED_FIELDS.items():
            entries = doc.get(field, {})
            if not isinstance(entries, dict):
                raise ValueError(f"{source}: {field} must be an object of pins by name")
            for name, entry in entries.items():
                definition = entry.get("definition") if isinstance(entry, dict) else None
                if not isinstance(definition, dict):
                    raise ValueError(f"{source}: {field}.{name} has no definition")
                pin = Pin(kind, name, fingerprint(definition), definition)
                if entry.get("fingerprint") != pin.fingerprint:
                    raise ValueError(
                        f"{source}: {field}.{name}'s fingerprint is not its definition's "
                        "(edited by hand? pin again)"
                    )
                pins.append(pin)
        return cls(pins)

    @classmethod
    def of(cls, interfaces: Sequence[tuple[str, Interface]]) -> Pins:
        """Pins of every definition the recordings list; ValueError when two recordings list
        one name with different definitions (which would be the pinned one is not clear)."""
        pins: dict[tuple[str, str], tuple[str, Pin]] = {}
        for source, interface in interfaces:
            for kind in PINNED:
                for name, definition in interface.items.get(kind.field, {}).items():
                    pin = Pin(kind, name, fingerprint(definition), definition)
                    earlier = pins.get((kind.field, name))
                    if earlier is not None and earlier[1].fingerprint != pin.fingerprint:
                        raise ValueError(
                            f"{kind.noun} {name!r} differs between {earlier[0]} and {source}: "
                            "pin one of them (mcp-tap diff shows how)"
                        )
                    pins[(kind.field, name)] = (source, pin)
        return cls([pin for _, pin in pins.values()])
