"""Record a test's MCP traffic through the proxy, and add new episodes to a recording.

A recording is written to `<name>.part` beside its final place; what becomes of it once the
test is over is `settle.py`'s. An interrupted run never leaves half a recording where `none`
mode would serve it. Redaction is on, exactly as `mcp-tap proxy` does it by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp_tap.http.proxy import client_url, running_proxy
from mcp_tap.protocol.codec import event_to_dict
from mcp_tap.protocol.events import ExchangeOpened, TapEvent
from mcp_tap.protocol.redaction import RedactionRules
from mcp_tap.recording.reader import load_recording
from mcp_tap.recording.writer import RecordingWriter
from mcp_tap.recording.yaml_emit import emit_document
from mcp_tap.serve.interactions import recorded_server
from mcp_tap.serve.matching import Matcher, MatchRules, Miss
from mcp_tap.tap.bus import TapBus

EPISODE_GAP = 1.0  # seconds between a recording's last event and the episodes added to it


class TargetUnreachable(Exception):
    """The real server to record from does not accept connections."""


def check_reachable(target: str, timeout: float = 5.0) -> None:
    """Raise TargetUnreachable unless `target`'s host and port accept a TCP connection."""
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetUnreachable(f"the MCP target must be an http(s) URL, got {target!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as error:
        raise TargetUnreachable(f"cannot reach the MCP target {target}: {error}") from None


def part_path(path: Path) -> Path:
    """Where a recording is written before it is complete."""
    return path.with_name(path.name + ".part")


def open_recording(path: Path, target: str, rules: RedactionRules) -> RecordingWriter | str:
    """Create the directories and the file a session is recorded to, or say why they cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return RecordingWriter(path, target, rules, overwrite=True)
    except OSError as error:
        return why_unwritable(error, path)


def why_unwritable(error: OSError, path: Path) -> str:
    """What a user should fix when `path` (or its directory) could not be written."""
    if isinstance(error, (NotADirectoryError, FileExistsError)):
        for parent in reversed(path.parents):  # from the root down: the first file in the way
            if parent.exists() and not parent.is_dir():
                return f"{parent} is a file, not a directory"
    return f"cannot write {error.filename or path}: {error.strerror or error}"


@dataclass
class ExchangeCounter:
    """A bus subscriber counting the HTTP exchanges of a session."""

    exchanges: int = 0

    def handle(self, event: TapEvent) -> None:
        if isinstance(event, ExchangeOpened):
            self.exchanges += 1

    def close(self) -> None:
        pass


@dataclass
class ProxySession:
    """A recording proxy being served: the URL a client uses, and where it writes."""

    url: str
    path: Path
    counter: ExchangeCounter
    writer: RecordingWriter


@contextlib.asynccontextmanager
async def recording_proxy(target: str, writer: RecordingWriter) -> AsyncIterator[ProxySession]:
    """Serve a proxy to `target` on a free loopback port, recording to `writer` (closed after)."""
    bus = TapBus()
    counter = ExchangeCounter()
    bus.subscribe(writer)
    bus.subscribe(counter)
    try:
        async with running_proxy(target, bus) as base_url:
            yield ProxySession(client_url(base_url, target), writer.path, counter, writer)
        await asyncio.sleep(0)  # the bus delivers what the last exchanges published
    finally:
        bus.close()  # writes what is queued and closes the file


@dataclass
class Episodes:
    """What adding a session to a recording did."""

    added: list[str] = field(default_factory=list)  # labels of the interactions added


def add_episodes(recording: Path, session: Path, rules: MatchRules | None = None) -> Episodes:
    """Append to `recording` the interactions of `session` that it cannot answer.

    Each new request's exchange is appended whole (its request, progress and response),
    with exchange ids after the recording's own, times after its end, and session ids
    renamed where they clash (redaction names every recording's sessions `session-1`...).
    Lifecycle requests (initialize, discover, ping) are never added: the recording has its own.
    """
    old = load_recording(recording).events
    new = load_recording(session).events
    matcher = Matcher(recorded_server([(recording.name, old)]).interactions, rules)
    episodes = Episodes()
    fresh: set[int] = set()
    for interaction in recorded_server([(session.name, new)]).interactions:
        if interaction.is_lifecycle or interaction.response is None:
            continue
        if isinstance(matcher.match(interaction.request), Miss):
            fresh.add(interaction.exchange_id)
            episodes.added.append(interaction.label.split(" (#")[0])
    if not fresh:
        return episodes
    chosen = [e for e in new if getattr(e, "exchange_id", None) in fresh]
    first_exchange = 1 + max((getattr(e, "exchange_id", 0) or 0 for e in old), default=0)
    renumber = {old_id: first_exchange + n for n, old_id in enumerate(sorted(fresh))}
    shift = max((e.time for e in old), default=0.0) + EPISODE_GAP - min(e.time for e in chosen)
    taken = {s for e in old if (s := getattr(e, "session_id", None)) is not None}
    renamed: dict[str, str] = {}
    for event in chosen:
        sid = getattr(event, "session_id", None)
        if isinstance(sid, str) and sid in taken and sid not in renamed:
            number = 2
            while f"{sid}.{number}" in taken:
                number += 1
            renamed[sid] = f"{sid}.{number}"
            taken.add(renamed[sid])
    documents = []
    for event in chosen:
        data = _rename(event_to_dict(event), renamed)
        data["exchange_id"] = renumber[data["exchange_id"]]
        data["time"] = round(data["time"] + shift, 6)
        documents.append(emit_document(data))
    with recording.open("a", encoding="utf-8") as out:
        out.write("".join(documents))
    return episodes


def _rename(value: Any, names: dict[str, str]) -> Any:
    """`value` with every string that is a renamed session id replaced by its new name."""
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {key: _rename(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_rename(item, names) for item in value]
    return value


def redaction(headers: Sequence[str] = (), fields: Sequence[str] = ()) -> RedactionRules:
    """The rules `mcp-tap proxy` records with by default, plus any the test adds."""
    return RedactionRules.from_options(headers=list(headers), fields=list(fields))
