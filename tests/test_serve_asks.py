"""`mcp-tap serve` re-enacts what the recorded server asked its client: sampling, elicitation.

A real server that asks (tests/asking_server.py) is recorded through `mcp-tap proxy` (HTTP)
and `mcp-tap stdio`, with the `mcp` client answering; then `serve` of that recording asks a
new client the same, waits for its answer, compares it, and goes on with the recorded result.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    TextContent,
)

from mcp_tap.protocol.events import FaultInjected, Finding
from mcp_tap.recording.reader import load_recording
from tests.procs import ROOT, running, tap_proxy

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


async def ask_both(server: Any, model_text: str, name: str) -> list[str]:
    """Call ask_model then ask_name with a handshake client; the two results' texts."""
    texts: list[str] = []
    with anyio.fail_after(60):
        async with Client(server, mode="legacy", **callbacks(model_text, name)) as client:
            for tool, arguments in (("ask_model", {"prompt": "2+2?"}), ("ask_name", {})):
                result = await client.call_tool(tool, arguments)
                content = result.content[0]
                assert isinstance(content, TextContent)
                texts.append(content.text)
    return texts


def record_http(tmp_path: Path) -> Path:
    recording = tmp_path / "asks.yaml"
    with running([*SERVER], cwd=ROOT) as server:
        url = server.wait_for_line(r"(http://\S+/mcp)").group(1)
        with tap_proxy(url, ROOT, "--record", str(recording), "-q") as (proxy_url, proxy):
            assert anyio.run(ask_both, proxy_url, "four", "Ada") == [
                "model said: four",
                "hello Ada",
            ]
            proxy.stop()
    return recording


def serve_http(recording: Path, run: Callable[[str], Any], *extra: str) -> tuple[Any, int, str]:
    args = [sys.executable, "-m", "mcp_tap", "serve", str(recording), "--port", "0", "-q"]
    with running([*args, "--fast", *extra], cwd=ROOT) as proc:
        url = proc.wait_for_line(r"point your client at (\S+)").group(1)
        outcome = run(url)
        proc.stop()
        code = proc.finish(10)
    return outcome, code, proc.stderr


def test_sampling_and_elicitation_are_asked_again_over_http(tmp_path: Path) -> None:
    recording = record_http(tmp_path)
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


def test_a_changed_client_answer_is_a_finding_field_by_field(tmp_path: Path) -> None:
    recording = record_http(tmp_path)
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


def test_strict_makes_a_changed_answer_a_miss(tmp_path: Path) -> None:
    recording = record_http(tmp_path)

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


def test_sampling_and_elicitation_over_stdio(tmp_path: Path) -> None:
    recording = tmp_path / "asks-stdio.yaml"
    tap = [sys.executable, "-m", "mcp_tap", "stdio", "--record", str(recording), "--", *SERVER]
    recorded = StdioServerParameters(command=tap[0], args=[*tap[1:], "--stdio"], cwd=str(ROOT))
    assert anyio.run(ask_both, recorded, "four", "Ada") == ["model said: four", "hello Ada"]
    serve = ["-m", "mcp_tap", "serve", "--stdio", "--fast", str(recording)]
    mock = StdioServerParameters(command=sys.executable, args=serve, cwd=str(ROOT))
    assert anyio.run(ask_both, mock, "four", "Ada") == ["model said: four", "hello Ada"]


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


def test_fault_rules_and_asks_together_over_http(tmp_path: Path) -> None:
    recording = record_http(tmp_path)
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


def test_fault_rules_and_asks_together_over_stdio(tmp_path: Path) -> None:
    recording = tmp_path / "asks-stdio.yaml"
    tap = [sys.executable, "-m", "mcp_tap", "stdio", "--record", str(recording), "--", *SERVER]
    recorded = StdioServerParameters(command=tap[0], args=[*tap[1:], "--stdio"], cwd=str(ROOT))
    assert anyio.run(ask_both, recorded, "four", "Ada") == ["model said: four", "hello Ada"]
    serve = ["-m", "mcp_tap", "serve", "--stdio", "--fast", str(recording), *FAULTS]
    mock = StdioServerParameters(command=sys.executable, args=serve, cwd=str(ROOT))
    assert anyio.run(ask_model_then_name, mock) == ("model said: four", "names are down")
