"""The command line as a person meets it: start-up errors, help, selections, exit codes, Ctrl-C.

Each test runs `mcp-tap` as a real process in a scratch directory and reads what a person
would read: its exit code, its stderr and stdout lines, and the files it left behind.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Finding,
    MessageKind,
    MessageSeen,
    RpcMessage,
    Severity,
    StreamKind,
)
from mcp_tap.recording.writer import RecordingWriter
from tests.procs import ROOT, demo_server, tap_proxy

pytestmark = pytest.mark.timeout(90)
SAMPLE = ROOT / "recordings" / "download_file-handshake.yaml"


def mcp_tap(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcp-tap: "), result.stderr
    for word in words:
        assert word in lines[0]
    assert "summary" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_out_of_range_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    result = mcp_tap("proxy", "--port", "99999", cwd=tmp_path)
    assert_one_line_error(result, "--port 99999", "--port 0")
    assert list(tmp_path.iterdir()) == []


def test_a_port_in_use_is_one_line_with_a_hint_and_leaves_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = mcp_tap(
            "proxy", "--target", "http://127.0.0.1:9/mcp", "--port", str(port), cwd=tmp_path
        )
    assert_one_line_error(result, "already in use", "--port 0")
    assert list(tmp_path.iterdir()) == []


def test_a_target_without_a_scheme_gets_a_did_you_mean(tmp_path: Path) -> None:
    result = mcp_tap("proxy", "--target", "127.0.0.1:18000/mcp", cwd=tmp_path)
    assert_one_line_error(result, "did you mean http://127.0.0.1:18000/mcp?")
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_replay_target_is_one_line_with_no_summary(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: refused
        target = f"http://127.0.0.1:{port}/mcp"
        result = mcp_tap(
            "replay", str(SAMPLE), "--target", target, "--record", "r.yaml", cwd=tmp_path
        )
    assert_one_line_error(result, "cannot reach the target")
    assert list(tmp_path.iterdir()) == []


def test_a_recording_with_no_request_has_nothing_to_replay(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    RecordingWriter(empty, "http://127.0.0.1:1/mcp").close()
    assert_one_line_error(mcp_tap("replay", str(empty), cwd=tmp_path), "nothing to replay")


def test_record_refuses_to_replace_a_file_without_force(tmp_path: Path) -> None:
    (tmp_path / "taken.yaml").write_text("mine")
    result = mcp_tap("replay", str(SAMPLE), "--record", "taken.yaml", "--fast", cwd=tmp_path)
    assert_one_line_error(result, "taken.yaml already exists", "--force")
    assert (tmp_path / "taken.yaml").read_text() == "mine"
    forced = mcp_tap(
        "replay", str(SAMPLE), "--record", "taken.yaml", "--fast", "--force", cwd=tmp_path
    )
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "taken.yaml").read_text().startswith("# mcp-tap recording")


def test_version_and_help_say_what_people_look_for(tmp_path: Path) -> None:
    version = mcp_tap("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("mcp-tap ")
    help_text = mcp_tap("proxy", "--help", cwd=tmp_path).stdout
    for expected in ("(default 8890)", "limits:", "recording:", "view:", "examples:"):
        assert expected in help_text
    demo_help = " ".join(mcp_tap("demo", "--help", cwd=tmp_path).stdout.split())
    assert "(default: recordings/<UTC time>-demo.yaml)" in demo_help


def test_show_has_a_header_and_says_when_nothing_matches(tmp_path: Path) -> None:
    result = mcp_tap("show", str(SAMPLE), "--tool", "install_package", cwd=tmp_path)
    assert result.returncode == 1
    header = " ".join(result.stdout.split())
    assert "target http://" in header and "3 calls · 1 session ·" in header
    assert "0 of 3 calls match" in result.stdout
    assert "no MCP requests seen" not in result.stdout


def test_show_selects_by_tool_id_and_text(tmp_path: Path) -> None:
    by_tool = mcp_tap("show", str(SAMPLE), "--tool", "download_*", cwd=tmp_path)
    assert by_tool.returncode == 0 and "1 of 3 calls match" in by_tool.stdout
    assert by_tool.stdout.count("notifications/progress") == 5
    by_text = mcp_tap("show", str(SAMPLE), "--grep", "REPORT.PDF: 3/5", cwd=tmp_path)
    assert "1 of 3 calls match" in by_text.stdout
    assert by_text.stdout.count("notifications/progress") == 1


def test_show_exchange_prints_one_exchange_whole(tmp_path: Path) -> None:
    result = mcp_tap("show", str(SAMPLE), "--exchange", "1", cwd=tmp_path)
    assert result.returncode == 0
    assert "POST /mcp" in result.stdout and "HTTP 200" in result.stdout
    assert '"method": "initialize"' in result.stdout and "closed: complete" in result.stdout
    missing = mcp_tap("show", str(SAMPLE), "--exchange", "999", cwd=tmp_path)
    assert_one_line_error(missing, "no exchange 999")


def recording_with_a_warning(path: Path) -> None:
    writer = RecordingWriter(path, "http://127.0.0.1:1/mcp")
    message = RpcMessage(
        MessageKind.REQUEST,
        payload={"jsonrpc": "2.0", "id": 1, "method": "x/y"},
        method="x/y",
        id=1,
    )
    writer.handle(ExchangeOpened(1, 0.0, "POST", "/mcp", (), None))
    writer.handle(
        MessageSeen(1, 0.0, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY, None, message)
    )
    writer.handle(Finding(0.1, Severity.WARNING, "method-unknown", "method 'x/y'", exchange_id=1))
    writer.handle(ExchangeClosed(1, 0.2, "complete"))
    writer.close()


def test_fail_on_turns_findings_into_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "warned.yaml"
    recording_with_a_warning(path)
    assert mcp_tap("show", str(path), cwd=tmp_path).returncode == 0
    assert mcp_tap("show", str(path), "--fail-on", "error", cwd=tmp_path).returncode == 0
    failed = mcp_tap("show", str(path), "--fail-on", "warning", cwd=tmp_path)
    assert failed.returncode == 1 and "--fail-on warning" in failed.stderr


def test_ctrl_c_with_a_stream_open_says_so_and_ends_with_the_summary(tmp_path: Path) -> None:
    with demo_server() as base, tap_proxy(base + "/mcp", tmp_path, "--no-record") as (url, proxy):
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
            "progressToken": 1,
        }
        arguments = {"records": 1000, "step_delay": 0.5}
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "process_data", "arguments": arguments, "_meta": meta},
        }

        async def open_stream_then_interrupt() -> None:
            headers = {
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": "2026-07-28",
                "mcp-method": "tools/call",
                "mcp-name": "process_data",
            }
            async with httpx2.AsyncClient(timeout=10) as client:
                async with client.stream("POST", url, json=call, headers=headers) as response:
                    assert response.status_code == 200, (await response.aread())[:300]
                    proxy.popen.send_signal(signal.SIGINT)
                    with pytest.raises(httpx2.HTTPError):
                        async for _ in response.aiter_bytes():
                            pass

        asyncio.run(open_stream_then_interrupt())
        assert proxy.finish(timeout=10) == 0
    assert "mcp-tap: closing 1 open streams" in proxy.stderr
    assert any("mcp-tap summary" in line for line in proxy.lines)


def test_show_jsonl_keeps_stdout_to_json_and_the_summary_on_stderr(tmp_path: Path) -> None:
    result = mcp_tap("show", str(SAMPLE), "--jsonl", cwd=tmp_path)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("{") for line in lines)
    assert "mcp-tap summary" in result.stderr and "Requests" in result.stderr
