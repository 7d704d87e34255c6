"""The formats `mcp-tap export` writes, by name: each turns a recording into text.

JSON lines are written as the events are read, a batch at a time, so exporting a recording
of any size holds one batch; HAR and OTLP are single JSON documents built from every
exchange and call, so those formats hold the whole recording.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import islice

from mcp_tap.export.har import to_har
from mcp_tap.export.jsonl import to_jsonl
from mcp_tap.export.otlp import to_otlp
from mcp_tap.export.session import analyze
from mcp_tap.recording.reader import EventSource

LINES_PER_WRITE = 512  # JSON lines joined into one write


def _har(recording: EventSource) -> Iterator[str]:
    yield json.dumps(to_har(analyze(recording)), indent=2, ensure_ascii=False) + "\n"


def _jsonl(recording: EventSource) -> Iterator[str]:
    events = iter(recording)
    while batch := list(islice(events, LINES_PER_WRITE)):
        yield to_jsonl(batch)


def _otlp(recording: EventSource) -> Iterator[str]:
    yield json.dumps(to_otlp(analyze(recording)), ensure_ascii=False) + "\n"


FORMATS: dict[str, Callable[[EventSource], Iterator[str]]] = {
    "har": _har,
    "jsonl": _jsonl,
    "otlp": _otlp,
}


def export_chunks(recording: EventSource, format_name: str) -> Iterator[str]:
    """The recording in `format_name`, in pieces to write one after the other; ValueError
    names the known formats otherwise."""
    convert = FORMATS.get(format_name)
    if convert is None:
        raise ValueError(f"unknown export format {format_name!r} (known: {', '.join(FORMATS)})")
    return convert(recording)


def export_text(recording: EventSource, format_name: str) -> str:
    """The recording in `format_name`, whole."""
    return "".join(export_chunks(recording, format_name))
