"""`mcp-tap proxy` as a user runs it: the start line, Ctrl-C, faults kept in the recording."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
import yaml

from mcp_tap.analysis.check_run import CheckOptions, check_events
from mcp_tap.http.guard import HostGuard, is_loopback
from mcp_tap.http.serving import bind_socket
from mcp_tap.protocol.events import Finding
from mcp_tap.recording.reader import load_recording
from tests.procs import Proc, demo_server

pytestmark = pytest.mark.timeout(60)


def start_proxy(tmp_path: Path, *args: str) -> tuple[Proc, str]:
    proc = Proc([sys.executable, "-m", "mcp_tap", "proxy", "--port", "0", *args], cwd=tmp_path)
    match = proc.wait_for_line(r"listening on (\S+) - point your client at (\S+) - forwarding")
    return proc, match.group(2)


def test_embedded_demo_server_then_ctrl_c_stops_cleanly_with_a_summary(tmp_path: Path) -> None:
    proc, url = start_proxy(tmp_path, "--no-record")
    try:
        assert url.endswith("/mcp")
        request = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers = {"accept": "application/json, text/event-stream"}
        response = httpx2.post(url, json=request, headers=headers, timeout=10)
        assert response.status_code in (200, 400)  # the demo server's own answer
    finally:
        proc.popen.send_signal(signal.SIGINT)
        code = proc.finish(timeout=20)
    assert code == 0
    assert "Traceback" not in proc.stderr
    assert any("mcp-tap summary" in line for line in proc.lines)


def test_an_unreachable_target_is_one_line_and_a_recorded_fault(tmp_path: Path) -> None:
    sock = bind_socket("127.0.0.1", 0)
    target = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    sock.close()
    recording = tmp_path / "session.yaml"
    proc, url = start_proxy(tmp_path, "--target", target, "--record", str(recording))
    try:
        response = httpx2.post(url, json={"jsonrpc": "2.0", "id": 3, "method": "ping"}, timeout=10)
        assert response.status_code == 502
        line = proc.wait_for_line(r"upstream-unreachable")
        assert target in line.string
    finally:
        proc.stop(signal.SIGINT)
    documents = list(yaml.safe_load_all(recording.read_text()))
    faults = [d for d in documents if d and d.get("type") == "fault"]
    assert [f["kind"] for f in faults] == ["upstream-unreachable"]
    assert target in faults[0]["detail"]


def test_a_taken_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        port = str(sock.getsockname()[1])
        proc = Proc([sys.executable, "-m", "mcp_tap", "proxy", "--port", port, "--no-record"])
        code = proc.finish(timeout=20)
    finally:
        sock.close()
    assert code == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "already in use" in line


def test_only_loopback_counts_as_loopback() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "example.com", "::"))
    guard = HostGuard("127.0.0.1", ["tap.internal"])
    assert guard.refusal((("host", "tap.internal:8890"),)) is None
    assert guard.refusal((("host", "localhost:1"), ("origin", "http://[::1]:3000"))) is None
    assert guard.refusal((("host", "attacker.example"),)) is not None
    assert guard.refusal((("host", "127.0.0.1:8890"), ("origin", "null"))) is not None


def test_a_reader_that_stops_reading_the_view_does_not_stop_the_forwarding(
    tmp_path: Path,
) -> None:
    """`mcp-tap proxy | less` with the pager waiting: the pipe fills, the proxy forwards on."""
    args = [sys.executable, "-m", "mcp_tap", "proxy", "--port", "0", "--no-record"]
    popen = subprocess.Popen(
        args, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert popen.stdout is not None
        banner = popen.stdout.readline().decode()  # then nothing is read until the end
        url = re.search(r"point your client at (\S+)", banner)
        assert url, banner
        calls = 1000  # ~200 KB of view lines: three times what a pipe holds
        meta = {  # a stateless 2026-07-28 request, as `mcp.Client` sends it
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        request = {"jsonrpc": "2.0", "method": "tools/list", "params": {"_meta": meta}}
        headers = {
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": "tools/list",
        }
        target = url.group(1)
        with httpx2.Client(timeout=10) as client:
            for number in range(calls):
                response = client.post(target, json={**request, "id": number}, headers=headers)
                assert response.status_code == 200
        popen.send_signal(signal.SIGINT)
        out, _ = popen.communicate(timeout=30)  # the reader is back: the rest arrives
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.communicate()
    text = out.decode()
    assert popen.returncode == 0
    assert text.count("result  tools/list") == calls  # nothing was lost, only delayed
    assert "mcp-tap summary" in text


BAD_CALL = {  # a 2026-07-28 tools/call whose arguments are not an object
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {
        "name": "download_file",
        "arguments": "report.pdf",
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        },
    },
}
BAD_CALL_HEADERS = {
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "download_file",
}


@pytest.mark.parametrize("judged", [True, False], ids=["default", "no-check"])
def test_no_check_leaves_the_schema_to_check(tmp_path: Path, judged: bool) -> None:
    recording = tmp_path / "session.yaml"
    flags = () if judged else ("--no-check",)
    with demo_server() as base:
        proc, url = start_proxy(
            tmp_path, "--target", base + "/mcp", "--record", str(recording), *flags
        )
        try:
            response = httpx2.post(url, json=BAD_CALL, headers=BAD_CALL_HEADERS, timeout=10)
            assert response.status_code < 500
        finally:
            proc.stop(signal.SIGINT)
    events = load_recording(recording).events
    live = [e.rule for e in events if isinstance(e, Finding) and e.rule == "schema-violation"]
    assert live == (["schema-violation"] if judged else [])
    later = check_events(events, CheckOptions(rules=frozenset({"schema-violation"})))
    assert [f.rule for _, f in later.findings] == ["schema-violation"]  # `check` still sees it
