"""Real SDK clients, in their own processes, through a real `mcp-tap proxy` process.

What the proxy controls is asserted strictly: its recording holds every progress
notification of the call, in order, before the response, and the bytes the client received
are the bytes the upstream sent (two TCP relays capture both sides of the proxy).

What an SDK reports is not the proxy's to control. The TypeScript SDK dispatches
notifications on a microtask and drops progress that arrives in the same read as its
response, with or without a proxy in between. So a client's view is compared with the same
client's view on a direct connection, and its progress only has to be part of what was
forwarded, in order: never assumed to be all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mcp_tap.analysis.check_run import CheckOptions, check_events
from mcp_tap.analysis.conformance import CONFORMANCE_RULES
from mcp_tap.protocol.events import Direction, MessageKind, MessageSeen
from mcp_tap.recording.reader import load_recording
from tests.procs import demo_server, py_client, tap_proxy, ts_client
from tests.wiretap import Exchange, TcpTap

STEP = 0.2  # seconds between the demo server's progress steps
SIZE_MB = 5
ARGS = {"filename": "report.pdf", "size_mb": SIZE_MB, "step_delay": STEP}
PROGRESS = [
    {"progress": done, "total": SIZE_MB, "message": f"report.pdf: {done}/{SIZE_MB} MB"}
    for done in range(1, SIZE_MB + 1)
]
RESULT_TEXT = f"Downloaded report.pdf ({SIZE_MB} MB)"

RunClient = Callable[[str], list[dict[str, Any]]]  # URL -> the client's JSON lines

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The demo server's base URL."""
    with demo_server(step_delay=STEP) as base:
        yield base


@dataclass
class Proxied:
    """One client run through a recording proxy with a relay on each side of it."""

    events: list[dict[str, Any]]  # the client's JSON lines
    recorded: list[dict[str, Any]]  # the call's server->client messages, as recorded
    sent: Exchange  # the response that carried the progress, as the upstream sent it
    received: Exchange  # the same response, as the client received it


def run_proxied(server: str, tmp_path: Path, endpoint: str, client: RunClient) -> Proxied:
    recording = tmp_path / "run.yaml"
    with TcpTap(server + "/mcp") as upstream:
        with tap_proxy(upstream.url, tmp_path, "--record", str(recording)) as (url, _):
            with TcpTap(url.removesuffix("/mcp") + endpoint) as front:
                events = client(front.url)
    # The relays and the proxy have stopped: the captures and the recording are complete.
    tapped = load_recording(recording).events
    lifecycle = CheckOptions(rules=frozenset(rule.slug for rule in CONFORMANCE_RULES))
    assert [f.detail for _, f in check_events(tapped, lifecycle).findings] == []
    messages = [e for e in tapped if isinstance(e, MessageSeen)]
    (call,) = [m.message for m in messages if m.message.method == "tools/call"]
    assert call.has_progress_token
    recorded = [
        m.message.payload
        for m in messages
        if m.direction is Direction.SERVER_TO_CLIENT and m.message.kind is not MessageKind.ENDPOINT
    ]
    return Proxied(
        events,
        of_call(recorded, call.id, call.progress_token),
        carrying_progress(upstream.exchanges()),
        carrying_progress(front.exchanges()),
    )


def of_call(messages: list[Any], request_id: Any, token: Any) -> list[dict[str, Any]]:
    """The progress notifications for `token` and the response to `request_id`, in order."""
    return [
        m
        for m in messages
        if (m.get("method") == "notifications/progress" and m["params"]["progressToken"] == token)
        or ("method" not in m and m.get("id") == request_id)
    ]


def carrying_progress(exchanges: list[Exchange]) -> Exchange:
    (exchange,) = [
        e
        for e in exchanges
        if any(m.get("method") == "notifications/progress" for _, m in e.sse_messages())
    ]
    return exchange


def assert_forwarded(run: Proxied) -> None:
    """Every progress notification recorded and forwarded once, in order, before the result."""
    kinds = [m.get("method", "response" if "result" in m else "error") for m in run.recorded]
    assert kinds == ["notifications/progress"] * SIZE_MB + ["response"]
    *progress, response = run.recorded
    assert [{k: p["params"][k] for k in ("progress", "total", "message")} for p in progress] == (
        PROGRESS
    )
    assert response["result"]["content"][0]["text"] == RESULT_TEXT
    # The client got exactly the bytes the upstream sent, and the same messages were recorded.
    assert run.received.status == run.sent.status == 200
    assert run.received.body == run.sent.body
    token, request_id = progress[0]["params"]["progressToken"], response["id"]
    on_the_wire = [m for _, m in run.sent.sse_messages()]
    assert of_call(on_the_wire, request_id, token) == run.recorded
    # Streamed, not buffered: the first update reached the client before the upstream had
    # even sent the result (four steps later).
    first = next(
        o for o, m in run.received.sse_messages() if m.get("params") == progress[0]["params"]
    )
    last = next(
        o for o, m in run.sent.sse_messages() if m.get("id") == request_id and "method" not in m
    )
    assert run.received.time_at(first) < run.sent.time_at(last)


def assert_sdk_view(run: Proxied, direct: list[dict[str, Any]], protocol_version: str) -> None:
    """The SDK saw through the proxy what it sees directly; its progress is part of what came."""

    def steady(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        wanted = ("connected", "result")
        return [{k: v for k, v in e.items() if k != "t"} for e in events if e["event"] in wanted]

    assert steady(run.events) == steady(direct)
    (result,) = [e for e in run.events if e["event"] == "result"]
    assert (result["text"], result["is_error"]) == (RESULT_TEXT, False)
    assert result["protocol_version"] == protocol_version
    forwarded = [
        (p["params"]["progress"], p["params"].get("total"), p["params"].get("message"))
        for p in run.recorded[:-1]
    ]
    for events in (run.events, direct):
        # Each update the client reported was forwarded, in the order forwarded, at most once.
        seen = [
            (e["progress"], e["total"], e["message"]) for e in events if e["event"] == "progress"
        ]
        remaining = iter(forwarded)
        assert all(update in remaining for update in seen), (seen, forwarded)


def check(
    server: str, tmp_path: Path, endpoint: str, client: RunClient, protocol_version: str
) -> None:
    # the direct run beside the proxied one: two sessions of their own, so the same views
    with ThreadPoolExecutor(1) as beside:
        direct_run = beside.submit(client, server + endpoint)
        run = run_proxied(server, tmp_path, endpoint, client)
        direct = direct_run.result()
    assert_forwarded(run)
    assert_sdk_view(run, direct, protocol_version)


@pytest.mark.parametrize(
    ("transport", "protocol_version"),
    [("auto", "2026-07-28"), ("legacy", "2025-11-25")],
)
def test_python_client_streamable_http(
    server: str, tmp_path: Path, transport: str, protocol_version: str
) -> None:
    check(
        server,
        tmp_path,
        "/mcp",
        lambda url: py_client(url, transport, "download_file", ARGS),
        protocol_version,
    )


def test_python_client_legacy_sse_transport(server: str, tmp_path: Path) -> None:
    check(
        server,
        tmp_path,
        "/sse",
        lambda url: py_client(url, "sse", "download_file", ARGS),
        "2025-11-25",
    )


@pytest.mark.usefixtures("typescript_client")
def test_typescript_client_streamable_http(server: str, tmp_path: Path) -> None:
    check(server, tmp_path, "/mcp", lambda url: ts_client(url, "download_file", ARGS), "2025-11-25")


@pytest.mark.usefixtures("typescript_client")
def test_typescript_client_legacy_sse_transport(server: str, tmp_path: Path) -> None:
    check(
        server,
        tmp_path,
        "/sse",
        lambda url: ts_client(url, "download_file", ARGS, sse=True),
        "2025-11-25",
    )
