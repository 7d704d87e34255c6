"""Shaping from Python, as VCR.py users do: `match_on` predicates and the record/playback hooks.

* `match_on`: a list of callables `(received, recorded) -> bool`, each given the client's
  JSON-RPC request and a recorded one (dicts). When given, they replace the field-by-field
  comparison of params: a recorded request answers when its method is the same and every
  callable says yes. `same_params` is that built-in comparison, to keep it beside your own.
* `before_playback(interaction)`: called once for each recorded interaction before a mock
  serves it; edit it in place (its `request`, `response` and `notifications` payloads are
  plain dicts) and return it, return a changed one, or return None to leave it out.
* `before_record(interaction)`: the same, for what is written to a recording
  (`rewrite_recording`): a dropped interaction loses its request, its answer and what the
  server sent for it; its HTTP exchange goes too when nothing else was said on it.

Sans-IO but for `rewrite_recording`, which reads a finished recording and writes it back.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mcp_tap.analysis.request_key import MatchRules, comparable
from mcp_tap.protocol.codec import event_to_dict
from mcp_tap.protocol.events import MessageSeen, TapEvent
from mcp_tap.recording.reader import load_recording
from mcp_tap.recording.writer import PREAMBLE
from mcp_tap.recording.yaml_emit import emit_document
from mcp_tap.serve.interactions import Interaction, RecordedServer, recorded_server
from mcp_tap.serve.matching import differences

MatchOn = Callable[[dict[str, Any], dict[str, Any]], bool]
"""`(received, recorded) -> bool`: does the recorded request answer the received one?"""
InteractionHook = Callable[[Interaction], "Interaction | None"]
"""Edit an interaction and return it, or return None to drop it."""


def same_params(received: dict[str, Any], recorded: dict[str, Any]) -> bool:
    """The built-in comparison: the same params, `_meta` and the JSON-RPC id aside."""
    rules = MatchRules()
    return not differences(comparable(recorded, rules), comparable(received, rules))


def _replaced(interaction: Interaction, hook: InteractionHook, name: str) -> Interaction | None:
    result = hook(interaction)
    if result is not None and not isinstance(result, Interaction):
        raise TypeError(
            f"{name} must return the interaction it was given (edited or not) or None, "
            f"got {type(result).__name__}"
        )
    return result


def apply_before_playback(server: RecordedServer, hook: InteractionHook | None) -> None:
    """Run `hook` on every interaction of `server`, keeping what it returns."""
    if hook is None:
        return
    kept = []
    for interaction in server.interactions:
        result = _replaced(interaction, hook, "before_playback")
        if result is not None:
            kept.append(result)
    server.interactions = kept


def _payloads(interaction: Interaction) -> list[tuple[str, int, dict[str, Any] | None]]:
    """Every message of an interaction, by role: (role, notification index, payload)."""
    found: list[tuple[str, int, dict[str, Any] | None]] = [
        ("request", 0, interaction.request),
        ("response", 0, interaction.response),
    ]
    for index, emission in enumerate(interaction.notifications):
        found.append(("notification", index, emission.payload))
        found.append(("answer", index, emission.answer))
    return found


def _payload_of(interaction: Interaction, role: str, index: int) -> dict[str, Any] | None:
    if role == "request":
        return interaction.request
    if role == "response":
        return interaction.response
    if index >= len(interaction.notifications):
        return None
    emission = interaction.notifications[index]
    return emission.payload if role == "notification" else emission.answer


def shape_events(events: list[TapEvent], hook: InteractionHook) -> list[TapEvent]:
    """`events` with `hook` run on each interaction they hold: a dropped one's messages go,
    and its HTTP exchange when nothing else was said on it; edited payloads are written in."""
    server = recorded_server([("recording", events)])
    # A message's payload is the very dict its interaction holds: identity finds its event.
    where: dict[int, tuple[Interaction, str, int]] = {}
    for interaction in server.interactions:
        for role, index, payload in _payloads(interaction):
            if payload is not None:
                where[id(payload)] = (interaction, role, index)
    outcome: dict[int, Interaction | None] = {}
    for interaction in server.interactions:
        outcome[interaction.index] = _replaced(interaction, hook, "before_record")
    kept: list[TapEvent] = []
    had_messages: set[int] = set()
    has_messages: set[int] = set()
    for event in events:
        if isinstance(event, MessageSeen):
            had_messages.add(event.exchange_id)
            owner = where.get(id(event.message.payload))
            if owner is not None:
                interaction, role, index = owner
                result = outcome[interaction.index]
                payload = None if result is None else _payload_of(result, role, index)
                if payload is None:
                    continue
                if payload is not event.message.payload:
                    # the hook's payload may hold anything JSON-like: not orjson's reading
                    message = dataclasses.replace(event.message, payload=payload, json_exact=False)
                    event = dataclasses.replace(event, message=message)
            has_messages.add(event.exchange_id)
        kept.append(event)
    emptied = had_messages - has_messages  # exchanges whose every message was dropped
    return [e for e in kept if getattr(e, "exchange_id", None) not in emptied]


def rewrite_recording(path: str | Path, hook: InteractionHook) -> None:
    """Run `hook` on every interaction recorded in `path` and write the file back.

    The file is replaced whole (written beside it, then renamed), so a hook that raises
    leaves it as it was.
    """
    path = Path(path)
    recording = load_recording(path)
    events = shape_events(recording.events, hook)
    text = PREAMBLE + emit_document(recording.header)
    text += "".join(emit_document(event_to_dict(event)) for event in events)
    partial = path.with_name(path.name + ".shaping")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def check_match_on(match_on: Sequence[MatchOn]) -> tuple[MatchOn, ...]:
    """`match_on` as a tuple of callables; TypeError for anything else (a single callable
    is accepted too, as VCR.py users sometimes write it)."""
    if callable(match_on):
        return (match_on,)
    predicates = tuple(match_on)
    for predicate in predicates:
        if not callable(predicate):
            raise TypeError(
                f"match_on takes callables (received, recorded) -> bool, got {predicate!r}"
            )
    return predicates
