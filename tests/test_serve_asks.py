"""`mcp-tap serve` re-enacts what the recorded server asked its client: sampling, elicitation.

A real server that asks (tests/asking_server.py) is recorded through `mcp-tap proxy` (HTTP)
and `mcp-tap stdio`, with the `mcp` client answering; then `serve` of that recording asks a
new client the same, on the same kind of stream (a call's own, the session's GET stream, the
2024-11-05 transport's stream), waits for its answer, compares it, and goes on with the
recorded result. Each recording is made once a module and served by the tests that need it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    TextContent,
)

from mcp_tap.protocol.events import FaultInjected, Finding, MessageSeen, StreamKind
from mcp_tap.recording.reader import load_recording
from tests.procs import ROOT, TS_DIR, running, tap_proxy

pytestmark = pytest.mark.timeout(120)
SERVER = [sys.executable, "-m", "tests.asking_server"]


def callbacks(model_text: str, name: str) -> dict[str, Any]:
    """A client's sampling and elicitation callbacks that answer with these."""

    async def sampling(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=model_text), model="m1"
        )

    async def elicitation(
        context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        return ElicitResult(action="accept", content={"name": name})

    return {"sampling_callback": sampling, "elicitation_callback": elicitation}


ACCEPT_BOTH = {"accept": "application/json, text/event-stream"}
BOTH = (("ask_model", {"prompt": "2+2?"}), ("ask_name", {}))
ASIDE = (("ask_model_aside", {"prompt": "2+2?"}),)


async def ask_both(
    server: Any, model_text: str, name: str, tools: tuple[tuple[str, Any], ...] = BOTH
) -> list[str]:
    """Call ask_model then ask_name (or `tools`) with a handshake client; the results' texts."""
    texts: list[str] = []
    with anyio.fail_after(60):
        async with Client(server, mode="legacy", **callbacks(model_text, name)) as client:
            for tool, arguments in tools:
                result = await client.call_tool(tool, arguments)
                content = result.content[0]
                assert isinstance(content, TextContent)
                texts.append(content.text)
    return texts


@pytest.fixture(scope="module")
def asking_url() -> Iterator[str]:
    """The asking server over Streamable HTTP, for the module's recordings."""
    with running([*SERVER], cwd=ROOT) as server:
        yield server.wait_for_line(r"(http://\S+/mcp)").group(1)


def record_through_proxy(url: str, recording: Path, run: Callable[[str], Any]) -> Any:
    """`run(proxy_url)` through `mcp-tap proxy --record recording` to `url`; what it returned."""
    with tap_proxy(url, ROOT, "--record", str(recording), "-q") as (proxy_url, proxy):
        outcome = run(proxy_url)
        proxy.stop()
    return outcome


@pytest.fixture(scope="module")
def http_recording(asking_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ask_model then ask_name, recorded over Streamable HTTP."""
    recording = tmp_path_factory.mktemp("asks") / "asks.yaml"
    texts = record_through_proxy(
        asking_url, recording, lambda url: anyio.run(ask_both, url, "four", "Ada")
    )
    assert texts == ["model said: four", "hello Ada"]
    return recording


def serve_http(recording: Path, run: Callable[[str], Any], *extra: str) -> tuple[Any, int, str]:
    args = [sys.executable, "-m", "mcp_tap", "serve", str(recording), "--port", "0", "-q"]
    with running([*args, "--fast", *extra], cwd=ROOT) as proc:
        url = proc.wait_for_line(r"point your client at (\S+)").group(1)
        outcome = run(url)
        proc.stop()
        code = proc.finish(10)
    return outcome, code, proc.stderr


def test_sampling_and_elicitation_are_asked_again_over_http(
    http_recording: Path, tmp_path: Path
) -> None:
    recording = http_recording
    mock_record = tmp_path / "mock.yaml"
    texts, code, stderr = serve_http(
        recording,
        lambda url: anyio.run(ask_both, url, "four", "Ada"),
        "--strict",
        "--record",
        str(mock_record),
    )
    assert texts == ["model said: four", "hello Ada"]
    assert code == 0, stderr
    findings = [e for e in load_recording(mock_record).events if isinstance(e, Finding)]
    assert not [f for f in findings if f.rule.startswith("serve-")]


def test_a_changed_client_answer_is_a_finding_field_by_field(
    http_recording: Path, tmp_path: Path
) -> None:
    recording = http_recording
    mock_record = tmp_path / "mock.yaml"
    texts, code, stderr = serve_http(
        recording,
        lambda url: anyio.run(ask_both, url, "five", "Ada"),
        "--record",
        str(mock_record),
    )
    assert texts == ["model said: four", "hello Ada"]  # the recorded results, still
    (finding,) = [
        e
        for e in load_recording(mock_record).events
        if isinstance(e, Finding) and e.rule == "serve-answer-differs"
    ]
    assert "sampling/createMessage" in finding.detail
    assert 'result.content.text: recorded "four", received "five"' in finding.detail


def test_strict_makes_a_changed_answer_a_miss(http_recording: Path) -> None:
    recording = http_recording

    def run(url: str) -> Any:
        async def go() -> str:
            async with Client(url, mode="legacy", **callbacks("four", "Bob")) as client:
                await client.call_tool("ask_model", {"prompt": "2+2?"})
                try:
                    await client.call_tool("ask_name", {})
                except MCPError as error:
                    return str(error)
            return "answered"

        return anyio.run(go)

    error, code, stderr = serve_http(recording, run, "--strict")
    expected = 'result.content.name: recorded "Ada", received "Bob"'
    assert expected in error  # the call got the miss in place of its recorded result
    assert code == 1 and expected in stderr


@pytest.fixture(scope="module")
def stdio_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ask_model then ask_name, recorded over stdio."""
    recording = tmp_path_factory.mktemp("asks") / "asks-stdio.yaml"
    tap = [sys.executable, "-m", "mcp_tap", "stdio", "--record", str(recording), "--", *SERVER]
    recorded = StdioServerParameters(command=tap[0], args=[*tap[1:], "--stdio"], cwd=str(ROOT))
    assert anyio.run(ask_both, recorded, "four", "Ada") == ["model said: four", "hello Ada"]
    return recording


def test_sampling_and_elicitation_over_stdio(stdio_recording: Path) -> None:
    serve = ["-m", "mcp_tap", "serve", "--stdio", "--fast", str(stdio_recording)]
    mock = StdioServerParameters(command=sys.executable, args=serve, cwd=str(ROOT))
    assert anyio.run(ask_both, mock, "four", "Ada") == ["model said: four", "hello Ada"]


def typescript_asks(*where: str) -> list[dict[str, str]]:
    """tests/clients/ts/asks.mjs answering "four" and "Ada", calling ask_model then ask_name
    over `where` (`--url URL` or `-- COMMAND...`): one {"tool", "text"} a call."""
    done = subprocess.run(
        ["node", str(TS_DIR / "asks.mjs"), "four", "Ada", "ask_model", "ask_name", *where],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


TS_TEXTS = [
    {"tool": "ask_model", "text": "model said: four"},
    {"tool": "ask_name", "text": "hello Ada"},
]


@pytest.mark.usefixtures("typescript_client")
def test_a_typescript_client_answers_the_asks_over_http_and_stdio(
    http_recording: Path, stdio_recording: Path, tmp_path: Path
) -> None:
    """The TypeScript SDK client is asked what the Python client was asked, over both
    carriers; its answers are the recorded ones, so `--strict` finds nothing."""
    mock_record = tmp_path / "mock.yaml"
    texts, code, stderr = serve_http(
        http_recording,
        lambda url: typescript_asks("--url", url),
        "--strict",
        "--record",
        str(mock_record),
    )
    assert texts == TS_TEXTS
    assert "0 missed" in stderr  # (unlike the Python client, it lists no tools: exit 1, unused)
    events = load_recording(mock_record).events
    assert [e.rule for e in events if isinstance(e, Finding) and e.rule.startswith("serve-")] == []
    asked = [m for m, _, _ in asks_in(mock_record)]
    assert asked == ["sampling/createMessage", "elicitation/create"]

    serve = [sys.executable, "-m", "mcp_tap", "serve", "--stdio", "--fast", "--strict"]
    assert typescript_asks("--", *serve, str(stdio_recording)) == TS_TEXTS


FAULTS = (
    "--fault",
    "delay 10ms direction=server tool=ask_model",  # every message of the asking call, the ask too
    "--fault",
    'error tool=ask_name code=-32001 message="names are down"',
)


async def ask_model_then_name(server: Any) -> tuple[str, str]:
    """ask_model's result text, and the error ask_name gets."""
    with anyio.fail_after(60):
        async with Client(server, mode="legacy", **callbacks("four", "Ada")) as client:
            result = await client.call_tool("ask_model", {"prompt": "2+2?"})
            content = result.content[0]
            assert isinstance(content, TextContent)
            with pytest.raises(MCPError) as raised:
                await client.call_tool("ask_name", {})
    return content.text, str(raised.value)


def test_fault_rules_and_asks_together_over_http(http_recording: Path, tmp_path: Path) -> None:
    recording = http_recording
    mock_record = tmp_path / "mock.yaml"
    (text, error), code, stderr = serve_http(
        recording,
        lambda url: anyio.run(ask_model_then_name, url),
        "--record",
        str(mock_record),
        *FAULTS,
    )
    assert (text, error) == ("model said: four", "names are down")
    events = load_recording(mock_record).events
    delayed = [e for e in events if isinstance(e, FaultInjected) and e.action == "delay"]
    assert any("sampling/createMessage" in e.detail for e in delayed)  # the ask went through
    assert not [e for e in events if isinstance(e, Finding) and e.rule.startswith("serve-")]


def test_fault_rules_and_asks_together_over_stdio(stdio_recording: Path) -> None:
    serve = ["-m", "mcp_tap", "serve", "--stdio", "--fast", str(stdio_recording), *FAULTS]
    mock = StdioServerParameters(command=sys.executable, args=serve, cwd=str(ROOT))
    assert anyio.run(ask_model_then_name, mock) == ("model said: four", "names are down")


def asks_in(recording: Path) -> list[tuple[str | None, Any, StreamKind | None]]:
    """The requests to the client in a recording: method, id, and the stream they came on."""
    return [
        (e.message.method, e.message.id, e.stream)
        for e in load_recording(recording).events
        if isinstance(e, MessageSeen)
        and e.message.method in ("sampling/createMessage", "elicitation/create")
    ]


@pytest.fixture(scope="module")
def aside_recording(asking_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ask_model_aside, whose server asks on the session's GET stream, recorded over HTTP."""
    recording = tmp_path_factory.mktemp("asks") / "aside.yaml"
    texts = record_through_proxy(
        asking_url, recording, lambda url: anyio.run(ask_both, url, "four", "Ada", ASIDE)
    )
    assert texts == ["model said: four"]
    (recorded,) = asks_in(recording)
    assert recorded[2] is StreamKind.GET_SSE  # the server sent it outside the call's stream
    return recording


def test_an_ask_on_the_get_stream_is_asked_again_on_the_get_stream(
    aside_recording: Path, tmp_path: Path
) -> None:
    mock_record = tmp_path / "mock.yaml"
    texts, code, stderr = serve_http(
        aside_recording,
        lambda url: anyio.run(ask_both, url, "four", "Ada", ASIDE),
        "--strict",
        "--record",
        str(mock_record),
    )
    assert texts == ["model said: four"]
    assert code == 0, stderr
    assert asks_in(mock_record) == [("sampling/createMessage", 1, StreamKind.GET_SSE)]
    findings = [e for e in load_recording(mock_record).events if isinstance(e, Finding)]
    assert not [f for f in findings if f.rule.startswith("serve-")]


def initialize(client: httpx2.Client, url: str) -> str:
    """A raw `initialize` and `notifications/initialized`; the session id."""
    hello = {"protocolVersion": "2025-11-25", "capabilities": {"sampling": {}}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}
    answer = client.post(url, json=body, headers=ACCEPT_BOTH)
    session = answer.headers["mcp-session-id"]
    done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    client.post(url, json=done, headers={**ACCEPT_BOTH, "mcp-session-id": session})
    return session


def test_the_get_stream_one_a_session_and_a_client_without_one(
    aside_recording: Path, tmp_path: Path
) -> None:
    def run(url: str) -> tuple[list[int], str]:
        statuses = []
        with httpx2.Client(timeout=30) as client:
            stream = {"accept": "text/event-stream"}
            unknown = client.get(url, headers={**stream, "mcp-session-id": "nope"})
            statuses.append(unknown.status_code)
            session = initialize(client, url)
            headers = {**stream, "mcp-session-id": session}
            with client.stream("GET", url, headers=headers) as first:
                statuses.append(first.status_code)
                statuses.append(client.get(url, headers=headers).status_code)
            # a session that opens no GET stream: the ask cannot reach it; the call goes on
            session = initialize(client, url)
            call = {"name": "ask_model_aside", "arguments": {"prompt": "2+2?"}}
            body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}
            answer = client.post(url, json=body, headers={**ACCEPT_BOTH, "mcp-session-id": session})
        return statuses, answer.text

    mock_record = tmp_path / "mock.yaml"
    (statuses, text), _, _ = serve_http(
        aside_recording, run, "--ask-timeout", "0.5", "--record", str(mock_record)
    )
    assert statuses == [404, 200, 409]
    assert "model said: four" in text and "sampling/createMessage" not in text
    (finding,) = [
        e
        for e in load_recording(mock_record).events
        if isinstance(e, Finding) and e.rule.startswith("serve-")
    ]
    assert finding.rule == "serve-no-answer"
    assert "it opened no GET stream within 0.5s (--ask-timeout)" in finding.detail


async def ask_both_over_sse(url: str) -> list[str]:
    """ask_model then ask_name with a client of the 2024-11-05 HTTP+SSE transport."""
    return await ask_both(sse_client(url), "four", "Ada")


def test_sampling_and_elicitation_over_the_2024_11_05_transport(tmp_path: Path) -> None:
    recording = tmp_path / "legacy.yaml"
    with running([*SERVER, "--sse"], cwd=ROOT) as server:
        url = server.wait_for_line(r"(http://\S+)/sse").group(1)
        texts = record_through_proxy(
            url, recording, lambda base: anyio.run(ask_both_over_sse, base.rstrip("/") + "/sse")
        )
    assert texts == ["model said: four", "hello Ada"]
    assert {stream for _, _, stream in asks_in(recording)} == {StreamKind.LEGACY_SSE}

    mock_record = tmp_path / "mock.yaml"
    texts, code, stderr = serve_http(
        recording,
        lambda url: anyio.run(ask_both_over_sse, url.removesuffix("/mcp") + "/sse"),
        "--strict",
        "--record",
        str(mock_record),
    )
    assert texts == ["model said: four", "hello Ada"]
    assert code == 0, stderr
    assert asks_in(mock_record) == [
        ("sampling/createMessage", 1, StreamKind.LEGACY_SSE),
        ("elicitation/create", 2, StreamKind.LEGACY_SSE),
    ]
