"""Severity that matches what happened, seen through real processes.

The `mcp` 2.x `Client(url)` probes `server/discover` first; a handshake-era server refuses it
with HTTP 400 and a JSON-RPC error, and the client falls back to `initialize`. That is a
healthy session: `proxy --fail-on error` exits 0 and the pair is one info finding. A tool
that fails answers with `isError: true`: a result, counted as a tool error in the summary,
the report, and the OTLP export, not as an error response and not as "completed".
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.procs import ROOT, Proc, py_client, running, tap_proxy

pytestmark = pytest.mark.timeout(120)

WIDE = {"COLUMNS": "120"}  # the summary's columns all fit: none is dropped


def mcp_tap(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, **WIDE},
    )


def handshake_server(*flags: str) -> Any:
    return running([sys.executable, "-m", "tests.handshake_server", *flags], cwd=ROOT)


def session_through_proxy(tmp_path: Path, *flags: str) -> tuple[Proc, int, Path]:
    """The default `mcp` client calls the failing tool through `proxy --fail-on error`."""
    record = tmp_path / "era.yaml"
    with handshake_server(*flags) as server:
        target = server.wait_for_line(r"(http://\S+/mcp)").group(1)
        extra = ("--fail-on", "error", "--record", str(record))
        with tap_proxy(target, tmp_path, *extra, env=WIDE) as (url, proxy):
            events = py_client(url, "auto", "fail", {"reason": "disk full"})
            proxy.wait_for_line(r"tools/call .*tool error")
            proxy.popen.send_signal(signal.SIGINT)
            code = proxy.finish(timeout=30)
    results = [e for e in events if e["event"] == "result"]
    assert results and results[0]["is_error"] is True  # the client saw the tool fail
    return proxy, code, record


def row(lines: list[str], method: str) -> list[str]:
    """The cells of the summary's Requests row for `method`."""
    found = [line.split() for line in lines if re.match(rf"\s*{re.escape(method)}\s+\d", line)]
    assert found, f"no {method} row in {lines}"
    return found[-1]


def report_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


@pytest.mark.parametrize("flags", [(), ("--null-id",)], ids=["probe-id", "null-id"])
def test_a_refused_probe_then_the_fallback_is_info_and_fail_on_error_passes(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    proxy, code, _ = session_through_proxy(tmp_path, *flags)
    out = "\n".join(proxy.lines)
    assert code == 0, out + proxy.stderr
    assert "--fail-on" not in proxy.stderr
    assert "http-error" not in out and "ERROR" not in out
    fallback = [line for line in proxy.lines if "era-fallback" in line]
    assert fallback and "INFO era-fallback server/discover id 1 was refused" in fallback[0]
    assert "HTTP 400, -32601" in fallback[0] and "fell back to initialize id 2" in fallback[0]
    # the error line names the refused request, whatever id the server wrote
    assert any(re.search(r"error\s+server/discover .*-32601", line) for line in proxy.lines)
    # the probe's refusal was the era's answer: not an error of the session
    assert row(proxy.lines, "server/discover")[1:3] == ["1", "0"]


def test_a_tool_error_is_counted_apart_in_the_summary_the_report_and_otlp(tmp_path: Path) -> None:
    proxy, code, record = session_through_proxy(tmp_path)
    assert code == 0
    # method, requests, errors, tool errors, open
    assert "tool errors" in "\n".join(proxy.lines)
    assert row(proxy.lines, "tools/call")[1:5] == ["1", "0", "1", "0"]
    assert row(proxy.lines, "initialize")[1:5] == ["1", "0", "0", "0"]
    assert any(re.search(r"fail\s+0\s+-\s+\S+ s.*tool error\s*$", line) for line in proxy.lines)

    shown = mcp_tap("show", str(record), "--fail-on", "error", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert row(shown.stdout.splitlines(), "tools/call")[1:5] == ["1", "0", "1", "0"]

    page = tmp_path / "era.html"
    made = mcp_tap("report", str(record), "-o", str(page), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    data = report_data(page.read_text(encoding="utf-8"))
    outcomes = {call["method"]: call["outcome"] for call in data["calls"]}
    assert outcomes["tools/call"] == "tool error"
    assert outcomes["initialize"] == "completed"
    assert "1 tool error" in dict(data["facts"])["requests"]

    out = tmp_path / "traces.json"
    made = mcp_tap("export", str(record), "--format", "otlp", "-o", str(out), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    spans = [
        span
        for resource in json.loads(out.read_text())["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    call = next(s for s in spans if s["name"] == "tools/call fail")
    attributes = {
        a["key"]: a["value"]["stringValue"]
        for a in call["attributes"]
        if "stringValue" in a["value"]
    }
    assert attributes["error.type"] == "tool_error"
    assert attributes["mcp_tap.outcome"] == "tool error"
    assert call["status"]["code"] == 2  # STATUS_CODE_ERROR
