"""A recording made for the export tests, with the real tap, tracker and recorder.

The bytes of each body are fed to `ExchangeTap` exactly as a proxy would after forwarding
them, the progress tracker and the wire checker add their findings, and `RecordingWriter`
writes the file: so the tests know the bytes that crossed and can check the exports
against them. It holds what the committed samples lack: a JSON-RPC batch, spaced JSON with
`\\u` escapes, a body that is not JSON, progress that goes backwards (a finding), an
indeterminate stream, recorded text that is HTML, an exchange that got no response, and an
error response.
"""

from __future__ import annotations

import json
from pathlib import Path

from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.analysis.wire_checks import WireChecker
from mcp_tap.protocol.events import Fault
from mcp_tap.recording.writer import RecordingWriter
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.exchange import ExchangeTap

HOSTILE = '</script><script>document.title="pwned"</script><img src=x onerror=alert(1)>'
SESSION = "abc123"


def _post(body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...]:
    return (
        ("host", "127.0.0.1:8890"),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-session-id", SESSION),
        ("content-length", str(len(body))),
        *extra,
    )


def _sse(*events: tuple[str | None, object]) -> bytes:
    """An event stream as sse-starlette writes it: CRLF, `id` then `event` then `data`."""
    out = ""
    for event_id, data in events:
        if event_id is not None:
            out += f"id: {event_id}\r\n"
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        out += f"event: message\r\ndata: {text}\r\n\r\n"
    return out.encode()


def _progress(token: object, progress: float, total: float | None, message: str) -> object:
    params: dict[str, object] = {"progressToken": token, "progress": progress}
    if total is not None:
        params["total"] = total
    params["message"] = message
    return {"jsonrpc": "2.0", "method": "notifications/progress", "params": params}


# exchange id -> (request body bytes, response body bytes or None)
def write_odd_recording(path: Path) -> dict[int, tuple[bytes, bytes | None]]:
    """Write the recording to `path`; return the bytes that crossed, per exchange."""
    bus = TapBus()
    writer = RecordingWriter(path, "http://127.0.0.1:8000/mcp", None)
    tracker = ProgressTracker(bus.publish)
    for subscriber in (tracker, WireChecker(bus.publish), writer):
        bus.subscribe(subscriber)
    crossed: dict[int, tuple[bytes, bytes | None]] = {}
    sse_head = (("content-type", "text/event-stream"), ("mcp-session-id", SESSION))

    # 1: a batch of two tools/call, spaced JSON with \u escapes; progress with a total that
    # goes backwards once (a finding), and an indeterminate stream; hostile text in a result
    batch = [
        {
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "download_file", "arguments": {"filename": "rapport-été.pdf"},
                       "_meta": {"progressToken": "dl-1"}},
        },
        {
            "jsonrpc": "2.0", "id": 8, "method": "tools/call",
            "params": {"name": "process_data", "arguments": {"records": 3},
                       "_meta": {"progressToken": 99}},
        },
    ]  # fmt: skip
    body = json.dumps(batch).encode()  # the default spacing, ASCII only
    stream = _sse(
        ("1", _progress("dl-1", 1, 4, "1/4")),
        ("2", _progress(99, 10, None, "ten records")),
        ("3", _progress("dl-1", 3, 4, "3/4")),
        ("4", _progress("dl-1", 2, 4, "backwards")),
        ("5", _progress(99, 20, None, HOSTILE)),
        ("6", _progress("dl-1", 4, 4, "done")),
        ("7", {"jsonrpc": "2.0", "id": 8, "result": {"content": [{"type": "text", "text": "ok"}]}}),
        ("8", {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text",
                                                                  "text": HOSTILE}]}}),
    )  # fmt: skip
    _exchange(bus, 1, "POST", "/mcp?tenant=a%20b", _post(body), body, 200, sse_head, stream)
    crossed[1] = (body, stream)

    # 2: a body that is not JSON, answered by a JSON-RPC parse error
    body = b'{"jsonrpc": "2.0", "id": 9, "method": oops}\n'
    answer = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}'
    json_head = (("content-type", "application/json"), ("content-length", str(len(answer))))
    _exchange(bus, 2, "POST", "/mcp", _post(body), body, 400, json_head, answer)
    crossed[2] = (body, answer)

    # 3: a request the upstream never answered
    body = b'{"jsonrpc":"2.0","id":10,"method":"tools/list"}'
    tap = ExchangeTap(bus, 3, "POST", "/mcp", _post(body))
    tap.opened(body)
    bus.publish(Fault(bus.now(), 3, "upstream-unreachable", "connection refused"))
    tap.closed("upstream-error")
    crossed[3] = (body, None)

    # 4: an error response in JSON, with the server's spaced style
    body = b'{"jsonrpc":"2.0","id":11,"method":"prompts/get","params":{"name":"nope"}}'
    answer = b'{"jsonrpc": "2.0", "id": 11, "error": {"code": -32602, "message": "no prompt"}}'
    json_head = (("content-type", "application/json"), ("content-length", str(len(answer))))
    _exchange(bus, 4, "POST", "/mcp", _post(body), body, 200, json_head, answer)
    crossed[4] = (body, answer)
    bus.close()
    return crossed


def _exchange(
    bus: TapBus,
    exchange_id: int,
    method: str,
    target: str,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    status: int,
    response_headers: tuple[tuple[str, str], ...],
    response: bytes,
) -> None:
    tap = ExchangeTap(bus, exchange_id, method, target, headers)
    tap.opened(body)
    tap.response_started(status, response_headers)
    # in pieces, as a socket delivers them
    for start in range(0, len(response), 97):
        tap.response_chunk(response[start : start + 97])
    tap.closed("complete")
