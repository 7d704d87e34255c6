"""`mcp-tap serve` answers batches and bad ids as JSON-RPC 2.0 says, over HTTP and stdio.

Raw bytes to a real `mcp-tap serve` process: POSTs over a loopback socket (Streamable HTTP
and the 2024-11-05 SSE transport) and lines over its stdin and stdout pipes. Batches are not
served (MCP 2025-03-26 only), but a batch, even of one request, gets an array back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.procs import ROOT
from tests.test_serve import HANDSHAKE, LEGACY_SSE, STATELESS, serving

pytestmark = pytest.mark.timeout(90)

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
NOTE = {"jsonrpc": "2.0", "method": "notifications/initialized"}
INVALID_REQUEST, PARSE_ERROR = -32600, -32700

# (what the client sends, the error ids it gets back: a list for an array, None for nothing)
CASES: list[tuple[str, bytes, Any]] = [
    ("one-element batch", json.dumps([PING]).encode(), [1]),
    (
        "batch of requests, a notification and a non-message",
        json.dumps([PING, NOTE, {**PING, "id": "b"}, 5, {**PING, "id": {"a": 1}}]).encode(),
        [1, "b", None, None],
    ),
    ("batch of a notification", json.dumps([NOTE]).encode(), None),
    ("object id", b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', "null"),
    ("huge float id", b'{"jsonrpc":"2.0","id":1.5e400,"method":"ping"}', "null"),
    ("boolean id", b'{"jsonrpc":"2.0","id":true,"method":"ping"}', "null"),
    ("null id", b'{"jsonrpc":"2.0","id":null,"method":"ping"}', "null"),
    ("empty batch", b"[]", "null"),
]


def check(case: str, answer: Any, expected: Any) -> None:
    """An array of Invalid Requests with the expected ids, or one with id null."""
    if isinstance(expected, list):
        assert isinstance(answer, list), f"{case}: {answer}"
        assert [a["id"] for a in answer] == expected, case
        assert all(a["error"]["code"] == INVALID_REQUEST for a in answer), case
        assert all("batch" in a["error"]["message"] for a in answer), case
    else:
        assert isinstance(answer, dict), f"{case}: {answer}"
        assert answer["id"] is None and answer["error"]["code"] == INVALID_REQUEST, case
        assert "result" not in answer, case


def post(client: httpx2.Client, url: str, body: bytes) -> httpx2.Response:
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    return client.post(url, content=body, headers=headers)


@pytest.mark.parametrize("recording", [STATELESS, HANDSHAKE], ids=["2026-07-28", "handshake"])
def test_over_http_batches_get_arrays_and_bad_ids_invalid_request(recording: Any) -> None:
    with serving(recording) as (url, proc), httpx2.Client(trust_env=False, timeout=20) as http:
        for case, body, expected in CASES:
            response = post(http, url, body)
            if expected is None:
                assert response.status_code == 202 and response.content == b"", case
                continue
            assert response.status_code == 400, case
            check(case, response.json(), expected)
        not_json = post(http, url, b"{nope")
        assert not_json.status_code == 400
        assert not_json.json()["error"]["code"] == PARSE_ERROR
        assert not_json.json()["id"] is None
        fine = post(http, url, json.dumps({**PING, "id": 9}).encode())
        assert fine.status_code == 200
        assert "Traceback" not in proc.stderr


def test_over_the_2024_11_05_sse_transport_the_answers_come_on_the_stream() -> None:
    with (
        serving(LEGACY_SSE) as (url, _),
        httpx2.Client(trust_env=False, timeout=20) as http,
        http.stream("GET", url, headers={"accept": "text/event-stream"}) as stream,
    ):
        lines = stream.iter_lines()
        endpoint = next(_data(lines))
        posted = url.removesuffix("/sse") + endpoint
        for case, body, expected in CASES:
            if expected is None:
                continue  # nothing comes on the stream; the next case shows it
            assert post(http, posted, body).status_code == 202, case
            check(case, json.loads(next(_data(lines))), expected)


def _data(lines: Iterator[str]) -> Iterator[str]:
    """The `data:` fields of an event stream's lines, as they come."""
    for line in lines:
        if line.startswith("data: "):
            yield line.removeprefix("data: ")


def test_over_stdio_each_line_gets_the_same_answer() -> None:
    sent = [body for _, body, _ in CASES] + [b"{nope", json.dumps({**PING, "id": "last"}).encode()]
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "serve", "--stdio", "--fast", str(HANDSHAKE)],
        input=b"\n".join(sent) + b"\n",
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    expected = [e for _, _, e in CASES if e is not None]  # a batch of notifications: no line
    for (case, _, _), answer, wanted in zip(
        [c for c in CASES if c[2] is not None], answers, expected, strict=False
    ):
        check(case, answer, wanted)
    assert len(answers) == len(expected) + 2
    assert answers[-2]["error"]["code"] == PARSE_ERROR and answers[-2]["id"] is None
    assert answers[-1] == {"jsonrpc": "2.0", "id": "last", "result": {}}
    assert b"Traceback" not in done.stderr
