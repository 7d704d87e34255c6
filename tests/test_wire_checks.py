"""Invalid messages, unknown methods and unknown protocol versions are forwarded and flagged."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from mcp_tap.analysis.wire_checks import WireChecker
from mcp_tap.protocol.events import (
    Direction,
    ExchangeOpened,
    Finding,
    MessageSeen,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import classify_text
from tests.procs import demo_server, tap_proxy


def check(events: list[TapEvent]) -> list[Finding]:
    found: list[Finding] = []
    checker = WireChecker(found.append)  # type: ignore[arg-type]
    for event in events:
        checker.handle(event)
    return found


def sent(body: str, exchange_id: int = 1) -> MessageSeen:
    (message,) = classify_text(body)
    return MessageSeen(
        exchange_id, 0.0, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY, None, message
    )


def test_each_oddity_is_flagged_once_and_known_traffic_not_at_all() -> None:
    unknown = '{"jsonrpc":"2.0","id":1,"method":"frobnicate/now"}'
    known = '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
    future = (
        '{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":'
        '{"io.modelcontextprotocol/protocolVersion":"2098-01-01"}}}'
    )
    opened = ExchangeOpened(1, 0.0, "POST", "/mcp", (("mcp-protocol-version", "2099-01-01"),), None)
    findings = check([opened, sent(unknown), sent(unknown), sent(known), sent(future), sent("{x")])
    assert [f.rule for f in findings] == [
        "protocol-version-unknown",
        "method-unknown",
        "protocol-version-unknown",
        "message-invalid",
    ]
    assert "frobnicate/now" in findings[1].detail
    assert not check([sent(known), sent('{"jsonrpc":"2.0","method":"notifications/progress"}')])


@pytest.mark.timeout(60)
def test_odd_traffic_through_the_proxy_is_forwarded_and_flagged(tmp_path: Path) -> None:
    with demo_server() as base:
        with tap_proxy(base + "/mcp", tmp_path, "--no-record", "--jsonl") as (url, proc):
            headers = {
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": "2099-01-01",
            }
            body = {"jsonrpc": "2.0", "id": 7, "method": "frobnicate/now"}
            with httpx2.Client(timeout=10) as client:
                response = client.post(url, json=body, headers=headers)
            assert response.status_code == 400  # the server's own answer reached the client
            for rule in ("protocol-version-unknown", "method-unknown"):
                line = proc.wait_for_line(rf'"rule": "{rule}"')
                assert json.loads(line.string)["type"] == "finding"
