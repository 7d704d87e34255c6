"""Definitions judged as they are listed: against their pins, against themselves, for hidden text.

`DefinitionChecker` is a tap subscriber. Each tool, prompt and resource template a list
result carries is held to its pin (`--pins`, `pins.py`), and to the definition of the same
name listed earlier in the same session: either differing is `definition-changed`, with what
changed (`interface_diff`), whether or not `notifications/*/list_changed` announced it. A
definition without a pin is one too: the pins are what was approved. Every definition, every
resource and the server's instructions are read for text a person would not see or that
addresses the model (`suspicious.py`); a definition is judged once per session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY, Bounded
from mcp_tap.analysis.interface import LISTS, RESOURCES, SERVER_METHODS, ListKind, listed_items
from mcp_tap.analysis.interface_diff import definition_changes, summary
from mcp_tap.analysis.json_memo import JsonMemo
from mcp_tap.analysis.pins import PINNED_FIELDS, Pins, fingerprint
from mcp_tap.analysis.revisions import RevisionIndex
from mcp_tap.analysis.rules import DEFINITION_CHANGED
from mcp_tap.analysis.scopes import finding_at
from mcp_tap.analysis.suspicious import strings_of, suspicions
from mcp_tap.protocol.events import Direction, MessageKind, MessageSeen, TapEvent

MAX_PER_DEFINITION = 5  # suspicious spans reported per definition: the first few say it
MAX_DETAIL = 400  # characters of a change summary in a finding's one line
_LIST_CHANGED = {
    "notifications/tools/list_changed": "tools",
    "notifications/prompts/list_changed": "prompts",
    "notifications/resources/list_changed": "resourceTemplates",
}


class DefinitionChecker:
    """Subscriber publishing `definition-changed`, `definition-hidden-text` and
    `definition-directive` findings."""

    def __init__(
        self,
        publish: Callable[[TapEvent], None],
        pins: Pins | None = None,
        memory: int = DEFAULT_JUDGE_MEMORY,
    ) -> None:
        self.publish = publish
        self.pins = pins
        self._index = RevisionIndex(memory)
        self._seen = Bounded(memory)  # (session, field, name) -> (fingerprint, definition)
        self._judged = Bounded(memory)  # (session, field, name, fingerprint): already read
        self._announced = Bounded(memory)  # (session, field): list_changed since the last list
        self._prints = JsonMemo(fingerprint, max(1, memory // 8))  # a definition seen again
        # a list given again: one lookup for its definitions by name and their fingerprints
        self._lists = {kind.field: JsonMemo(self._definitions(kind)) for kind in LISTS.values()}

    def handle(self, event: TapEvent) -> None:
        if not isinstance(event, MessageSeen):
            return
        message = event.message
        if message.kind is MessageKind.REQUEST:
            self._index.sent(event, None)
        elif message.kind is MessageKind.NOTIFICATION and message.method in _LIST_CHANGED:
            if event.direction is Direction.SERVER_TO_CLIENT:
                self._announced.put((event.session_id, _LIST_CHANGED[message.method]), True)
        elif message.kind is MessageKind.RESPONSE:
            request = self._index.answered(event)
            result = message.payload.get("result")
            if request is None or not isinstance(result, dict):
                return
            if request.method in SERVER_METHODS:
                self._read(event, "server", "instructions", result.get("instructions"))
            elif request.method in LISTS:
                kind = LISTS[request.method]
                page = self._lists[kind.field](result.get(kind.field))
                if page is not None:
                    self._listed(event, kind, *page)

    def close(self) -> None:
        pass

    def _definitions(
        self, kind: ListKind
    ) -> Callable[[Any], tuple[dict[str, Any], dict[str, str]] | None]:
        """What a list's `kind.field` value gives: its definitions by name and their
        fingerprints (None when it is not a list)."""

        def of(items: Any) -> tuple[dict[str, Any], dict[str, str]] | None:
            page = listed_items(kind, items)
            if page is None:
                return None
            return page, {name: self._prints(definition) for name, definition in page.items()}

        return of

    def _listed(
        self, event: MessageSeen, kind: ListKind, items: dict[str, Any], prints: dict[str, str]
    ) -> None:
        session = event.session_id
        announced = self._announced.pop((session, kind.field), None) is not None
        for name, definition in items.items():
            print_ = prints[name]
            key = (session, kind.field, name)
            if kind is not RESOURCES:  # resources come and go; their texts are still read
                earlier = self._seen.get(key)
                if earlier is not None and earlier[0] != print_:
                    how = "after" if announced else "without"
                    reason = f"changed within the session ({how} {_notification(kind)})"
                    self._changed(event, kind, name, earlier[1], definition, reason, earlier[0])
                self._seen.put(key, (print_, definition))
            if (*key, print_) in self._judged:
                continue  # listed again as it was: judged once a session
            self._judged.put((*key, print_), True)
            if kind is not RESOURCES:
                self._against_pin(event, kind, name, definition, print_)
            self._read(event, kind.noun, name, definition)

    def _against_pin(
        self, event: MessageSeen, kind: ListKind, name: str, definition: Any, print_: str
    ) -> None:
        if self.pins is None or kind.field not in PINNED_FIELDS:
            return
        pin = self.pins.get(kind, name)
        if pin is None:
            detail = f"{kind.noun} {name!r} has no pin: it is new since the pins were made"
            extra: dict[str, Any] = {"kind": kind.noun, "name": name, "seen": print_}
            self.publish(finding_at(event, DEFINITION_CHANGED, detail, **extra))
        elif pin.fingerprint != print_:
            self._changed(
                event,
                kind,
                name,
                pin.definition,
                definition,
                "differs from its pin",
                pin.fingerprint,
            )

    def _changed(
        self,
        event: MessageSeen,
        kind: ListKind,
        name: str,
        before: dict[str, Any],
        after: dict[str, Any],
        reason: str,
        was: str,
    ) -> None:
        changes = definition_changes(kind, name, before, after)
        said = summary(changes)
        if len(said) > MAX_DETAIL:
            said = said[: MAX_DETAIL - 3] + "..."
        detail = f"{kind.noun} {name!r} {reason}: {said or 'reordered or retyped values'}"
        extra: dict[str, Any] = {
            "kind": kind.noun,
            "name": name,
            "before": was,
            "after": fingerprint(after),
            "changes": [change.to_json() for change in changes],
        }
        self.publish(finding_at(event, DEFINITION_CHANGED, detail, **extra))

    def _read(self, event: MessageSeen, noun: str, name: str, value: Any) -> None:
        """Publish what in `value` hides from a person or addresses the model."""
        found = [(where, s) for where, text in strings_of(value) for s in suspicions(text)]
        for index, (where, suspicion) in enumerate(found[:MAX_PER_DEFINITION]):
            field = "" if where == "$" else f" {where}"
            detail = f"{noun} {name!r}{field}: {suspicion.what}: {suspicion.shown}"
            if index == MAX_PER_DEFINITION - 1 and len(found) > MAX_PER_DEFINITION:
                detail += f" (and {len(found) - MAX_PER_DEFINITION} more)"
            extra = {"kind": noun, "name": name, "field": where, "span": suspicion.shown}
            self.publish(finding_at(event, suspicion.rule, detail, suspicion.severity, **extra))


def _notification(kind: ListKind) -> str:
    field = "resources" if kind.field == "resourceTemplates" else kind.field
    return f"notifications/{field}/list_changed"
