"""No false positive on real traffic: server-everything and the official conformance suite.

server-everything (npm `@modelcontextprotocol/server-everything`) is toured by the official
TypeScript SDK client (`clients/ts/everything.mjs`: tools with progress, sampling,
elicitation and roots, prompts, completion, resources and subscriptions, logging, ping)
through `mcp-tap stdio` and through `mcp-tap proxy` over Streamable HTTP. The official
conformance suite (npm `@modelcontextprotocol/conformance`) runs its server scenarios through
`mcp-tap proxy` against server-everything (its own reference server is not published to npm).
Each recording is then judged by `mcp-tap check`, as a user would: no finding of the schema,
tool, lifecycle, capability, id or 2026-07-28 rules and no error at all, except the ones
below that are true of the traffic.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mcp_tap.analysis.conformance import CONFORMANCE_RULES
from mcp_tap.analysis.rules import (
    SCHEMA_REVISION_UNKNOWN,
    SCHEMA_VIOLATION,
    TOOL_ARGUMENTS_INVALID,
    TOOL_SCHEMA_INVALID,
    TOOL_STRUCTURED_CONTENT_INVALID,
    TOOL_STRUCTURED_CONTENT_MISSING,
)
from mcp_tap.protocol.events import MessageSeen
from mcp_tap.recording.reader import load_recording
from tests.procs import ROOT, TS_DIR, Proc, run_client, running, tap_proxy

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("typescript_client")]

TOUR = TS_DIR / "everything.mjs"
EVERYTHING = TS_DIR / "node_modules" / "@modelcontextprotocol" / "server-everything"
CONFORMANCE = TS_DIR / "node_modules" / "@modelcontextprotocol" / "conformance"
JUDGES = {
    rule.slug
    for rule in (
        SCHEMA_VIOLATION,
        SCHEMA_REVISION_UNKNOWN,
        TOOL_SCHEMA_INVALID,
        TOOL_ARGUMENTS_INVALID,
        TOOL_STRUCTURED_CONTENT_MISSING,
        TOOL_STRUCTURED_CONTENT_INVALID,
        *CONFORMANCE_RULES,
    )
}
STEPS = [
    "ping",
    "logging/setLevel",
    "tools/list",
    "echo",
    "get-sum",
    "get-structured-content",
    "get-tiny-image",
    "get-annotated-message",
    "get-resource-links",
    "get-resource-reference",
    "trigger-long-running-operation",
    "trigger-sampling-request",
    "trigger-elicitation-request",
    "get-roots-list",
    "prompts/list",
    "prompts/get",
    "completion/complete prompt",
    "resources/list",
    "resources/templates/list",
    "completion/complete resource",
    "resources/subscribe",
    "notifications/message",
]
# Requests of every method the tour makes, both ways, and the notifications it waits for.
METHODS = {
    "initialize",
    "notifications/initialized",
    "ping",
    "logging/setLevel",
    "tools/list",
    "tools/call",
    "notifications/progress",
    "sampling/createMessage",
    "elicitation/create",
    "roots/list",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "notifications/resources/updated",
    "notifications/message",
}


def check(record: Path) -> dict[str, Any]:
    """`mcp-tap check REC --format json`: its exit code must be 0; its one file's verdict."""
    proc = Proc(
        [sys.executable, "-m", "mcp_tap", "check", str(record), "--format", "json"], cwd=ROOT
    )
    code = proc.finish(30)
    assert code == 0, "\n".join(proc.lines) + proc.stderr
    (verdict,) = json.loads("\n".join(proc.lines))["files"]
    assert verdict["messages"] > 0
    assert verdict["schema_checked"] == verdict["messages"]  # every message had its revision
    return dict(verdict)


def methods_in(record: Path) -> set[str]:
    """Every method of a message in the recording."""
    events = load_recording(record).events
    return {e.message.method for e in events if isinstance(e, MessageSeen) and e.message.method}


def assert_toured(events: list[dict[str, Any]], transport: str) -> None:
    """The client walked every step and saw what server-everything does."""
    assert events[0]["event"] == "connected"
    assert events[0]["transport"] == transport
    steps = {e["step"]: e for e in events if e["event"] == "step"}
    assert list(steps) == STEPS
    assert events[-1]["event"] == "done"
    assert steps["get-structured-content"]["structured"]["temperature"] == 33
    assert steps["trigger-long-running-operation"]["text"].startswith(
        "Long running operation completed"
    )
    assert steps["resources/subscribe"]["updated"] == "demo://resource/dynamic/text/1"
    assert steps["notifications/message"]["logged"] is True


def test_everything_over_stdio(tmp_path: Path) -> None:
    record = tmp_path / "stdio.yaml"
    server = ["node", str(EVERYTHING / "dist" / "index.js"), "stdio"]
    tap = [sys.executable, "-m", "mcp_tap", "stdio", "--record", str(record), "--", *server]
    assert_toured(run_client(["node", str(TOUR), "--", *tap]), "stdio")

    assert methods_in(record) >= METHODS
    assert check(record)["findings"] == []


@contextmanager
def everything_http() -> Iterator[str]:
    """server-everything's Streamable HTTP server on a free port; yields its /mcp URL."""
    with running(["node", str(TS_DIR / "everything_server.mjs"), "streamableHttp"]) as proc:
        yield proc.wait_for_line(r"everything listening on (http://\S+)").group(1) + "/mcp"


def test_everything_over_streamable_http(tmp_path: Path) -> None:
    record = tmp_path / "http.yaml"
    with (
        everything_http() as server,
        tap_proxy(server, tmp_path, "--record", str(record)) as (
            url,
            _,
        ),
    ):
        assert_toured(run_client(["node", str(TOUR), url]), "streamable-http")

    assert methods_in(record) >= METHODS
    assert check(record)["findings"] == []


def test_conformance_suite_through_proxy(tmp_path: Path) -> None:
    record = tmp_path / "conformance.yaml"
    suite = ["node", str(CONFORMANCE / "dist" / "index.js"), "server", "--suite", "all"]
    with (
        everything_http() as server,
        tap_proxy(server, tmp_path, "--record", str(record)) as (
            url,
            _,
        ),
    ):
        # The suite exits 1: most scenarios call tools of its own reference server.
        run = Proc([*suite, "--url", url], cwd=tmp_path)  # results/ is written in cwd
        run.finish(60)
    summary = [line for line in run.lines if line.startswith(("✓", "✗"))]
    assert len(summary) >= 30, "\n".join(run.lines) + run.stderr  # every scenario ran
    assert "✓ tools-list: 1 passed, 0 failed" in summary
    assert "✓ server-sse-multiple-streams: 2 passed, 0 failed" in summary

    verdict = check(record)
    found = [(f["rule"], f["severity"], f["detail"]) for f in verdict["findings"]]
    # True of the traffic: the suite's SSE scenarios send raw POSTs with a hard-coded
    # MCP-Protocol-Version 2025-03-26 after their SDK client negotiated 2025-11-25, and its
    # progress scenario asks for progress from a tool server-everything does not have.
    stale = "MCP-Protocol-Version '2025-03-26' on {}, but the session negotiated '2025-11-25'"
    assert sorted(found) == [
        (
            "progress-never-sent",
            "info",
            "tools/call id 1 asked for progress (token 1) and got none",
        ),
        ("protocol-version-mismatch", "warning", stale.format("tools/call")),
        ("protocol-version-mismatch", "warning", stale.format("tools/list")),
    ]
    assert not any(severity == "error" for _, severity, _ in found)
    assert {rule for rule, _, _ in found} & JUDGES == {"protocol-version-mismatch"}
