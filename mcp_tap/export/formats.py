"""The formats `mcp-tap export` writes, by name: each turns a loaded recording into text."""

from __future__ import annotations

import json
from collections.abc import Callable

from mcp_tap.export.har import to_har
from mcp_tap.export.jsonl import to_jsonl
from mcp_tap.export.otlp import to_otlp
from mcp_tap.export.session import analyze
from mcp_tap.recording.reader import Recording


def _har(recording: Recording) -> str:
    return json.dumps(to_har(analyze(recording)), indent=2, ensure_ascii=False) + "\n"


def _jsonl(recording: Recording) -> str:
    return to_jsonl(recording.events)


def _otlp(recording: Recording) -> str:
    return json.dumps(to_otlp(analyze(recording)), ensure_ascii=False) + "\n"


FORMATS: dict[str, Callable[[Recording], str]] = {
    "har": _har,
    "jsonl": _jsonl,
    "otlp": _otlp,
}


def export_text(recording: Recording, format_name: str) -> str:
    """The recording in `format_name`; ValueError names the known formats otherwise."""
    convert = FORMATS.get(format_name)
    if convert is None:
        raise ValueError(f"unknown export format {format_name!r} (known: {', '.join(FORMATS)})")
    return convert(recording)
