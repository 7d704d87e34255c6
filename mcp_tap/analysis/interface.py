"""A server's interface as a recording saw it: who it is, what it can do, and what it lists.

Sans-IO: events in, an `Interface` out. From the results of `initialize` and
`server/discover` (server info, capabilities, protocol version, instructions) and of
`tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` (every page,
every session: a later definition of the same name replaces an earlier one). A kind the
recording never listed is absent, not empty, so a diff does not take it for all removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.analysis.calls import collect_calls
from mcp_tap.protocol.events import MessageKind, TapEvent


@dataclass(frozen=True, slots=True)
class ListKind:
    """One kind of listed definition: where a result holds it and what names it."""

    field: str  # the result's array, and the interface's: "tools"
    noun: str  # for people: "tool"
    key: str  # the field naming each one: "name", "uri", "uriTemplate"


TOOLS = ListKind("tools", "tool", "name")
PROMPTS = ListKind("prompts", "prompt", "name")
RESOURCES = ListKind("resources", "resource", "uri")
TEMPLATES = ListKind("resourceTemplates", "resource template", "uriTemplate")
LISTS = {
    "tools/list": TOOLS,
    "prompts/list": PROMPTS,
    "resources/list": RESOURCES,
    "resources/templates/list": TEMPLATES,
}
KINDS = (TOOLS, PROMPTS, RESOURCES, TEMPLATES)
SERVER_METHODS = ("initialize", "server/discover")


def listed(method: str, result: Any) -> tuple[ListKind, dict[str, dict[str, Any]]] | None:
    """The definitions of one list result by their names, None for another method's."""
    kind = LISTS.get(method)
    if kind is None or not isinstance(result, dict):
        return None
    found = listed_items(kind, result.get(kind.field))
    return None if found is None else (kind, found)


def listed_items(kind: ListKind, items: Any) -> dict[str, dict[str, Any]] | None:
    """A list result's `kind.field` value as its definitions by name; None if not a list."""
    if not isinstance(items, list):
        return None
    found = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(kind.key), str):
            found[item[kind.key]] = item
    return found


@dataclass
class Interface:
    """What one recording's server said about itself."""

    server: dict[str, Any] = field(default_factory=dict)  # serverInfo, capabilities, ...
    # the kind's field ("tools") -> name -> definition; a kind never listed is absent
    items: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def interface_of(events: Iterable[TapEvent]) -> Interface:
    """The interface the responses in `events` describe."""
    found = Interface()
    for call in collect_calls(list(events)):
        response = call.response
        if response is None or response.kind is not MessageKind.RESPONSE:
            continue
        result = response.payload.get("result")
        if call.method in SERVER_METHODS and isinstance(result, dict):
            found.server.update({k: v for k, v in result.items() if k != "_meta"})
            continue
        page = listed(call.method, result)
        if page is not None:
            kind, definitions = page
            found.items.setdefault(kind.field, {}).update(definitions)
    return found
