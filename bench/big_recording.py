"""Write a large recording of the demo server's `stream_progress` tool, quickly.

    uv run python bench/big_recording.py OUT.yaml --events 100000 [--progress 10]

The file is what `mcp-tap proxy` would write for a 2026-07-28 client calling
`stream_progress(count=K, interval=0)` again and again on the bundled demo server (one POST
per call, answered by an event stream of K progress notifications and the result), through
the recorder's own emitter, so `replay --target <demo server>` can send it back.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp_tap.protocol.codec import event_to_dict  # noqa: E402
from mcp_tap.protocol.events import (  # noqa: E402
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    MessageSeen,
    ResponseStarted,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import classify_value  # noqa: E402
from mcp_tap.protocol.redaction import RedactionRules  # noqa: E402
from mcp_tap.recording.writer import PREAMBLE, recording_header  # noqa: E402
from mcp_tap.recording.yaml_emit import emit_document  # noqa: E402

VERSION = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT


def call_events(number: int, progress: int, start: float) -> Iterator[TapEvent]:
    """One `tools/call stream_progress` exchange: request, K notifications, result."""
    clock = start
    request = {
        "jsonrpc": "2.0",
        "id": number,
        "method": "tools/call",
        "params": {
            "name": "stream_progress",
            "arguments": {"count": progress, "interval": 0},
            "_meta": {**META, "progressToken": number},
        },
    }
    headers = (
        ("host", "127.0.0.1:8000"),
        ("accept", "application/json, text/event-stream"),
        ("content-type", "application/json"),
        ("mcp-protocol-version", VERSION),
        ("mcp-method", "tools/call"),
        ("mcp-name", "stream_progress"),
    )
    yield ExchangeOpened(number, clock, "POST", "/mcp", headers, None)
    yield MessageSeen(number, clock, C2S, StreamKind.REQUEST_BODY, None, classify_value(request))
    clock += 0.0005
    sse = (("content-type", "text/event-stream"), ("cache-control", "no-cache, no-transform"))
    yield ResponseStarted(number, clock, 200, sse, StreamKind.POST_SSE, None)
    for step in range(1, progress + 1):
        clock += 0.0001
        params = {"progressToken": number, "progress": step, "total": progress}
        note = {"jsonrpc": "2.0", "method": "notifications/progress", "params": params}
        yield MessageSeen(number, clock, S2C, StreamKind.POST_SSE, None, classify_value(note))
    clock += 0.0001
    text = f"Sent {progress} progress notifications"  # what the demo server answers
    answer = {
        "content": [{"type": "text", "text": text}],
        "structuredContent": {"result": text},
        "isError": False,
        "resultType": "complete",
    }
    result = {"jsonrpc": "2.0", "id": number, "result": answer}
    yield MessageSeen(number, clock, S2C, StreamKind.POST_SSE, None, classify_value(result))
    yield ExchangeClosed(number, clock, "complete", 300 + 150 * progress)


def write_recording(path: Path, events: int, progress: int = 10) -> int:
    """Write about `events` events (whole calls) to `path`; returns how many were written."""
    started = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    per_call = progress + 5
    calls = max(1, events // per_call)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(PREAMBLE)
        header = recording_header("http://127.0.0.1:8000/mcp", started, RedactionRules())
        out.write(emit_document(header))
        for number in range(1, calls + 1):
            out.write(
                "".join(
                    emit_document(event_to_dict(event))
                    for event in call_events(number, progress, number * 0.002)
                )
            )
            written += per_call
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--progress", type=int, default=10, help="notifications per call")
    args = parser.parse_args()
    count = write_recording(args.path, args.events, args.progress)
    print(f"{args.path}: {count} events, {args.path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
