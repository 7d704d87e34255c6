"""`--web` on `stdio`, `serve` and `show --follow`: real processes, the page's API over plain
HTTP with the token (no browser), and a stdout that stays the protocol's alone."""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_tap.protocol.events import ExchangeOpened
from tests.procs import ROOT, py_client, running
from tests.test_follow_folder import progress_event, stdio_writer
from tests.test_web import write_calls

pytestmark = pytest.mark.timeout(120)

URL = re.compile(r"web view at (http://127\.0\.0\.1:\d+/\?token=\S+)")
HANDSHAKE = ROOT / "recordings" / "download_file-handshake.yaml"
ARGS = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.02}


def api(url: str, path: str) -> Any:
    """GET `path` of the page at `url` (which carries the token), as JSON."""
    base, token = url.split("/?token=")
    with urllib.request.urlopen(f"{base}/{path}?token={token}", timeout=10) as response:
        return json.loads(response.read())


def listed(url: str) -> list[tuple[str, str]]:
    return [(r["method"], r["tool"]) for r in api(url, "api/calls")["rows"]]


def wait_for_url(errlog: Path, deadline: float) -> str:
    while time.monotonic() < deadline:
        found = URL.search(errlog.read_text() if errlog.exists() else "")
        if found:
            return found.group(1)
        time.sleep(0.05)
    raise TimeoutError(f"no web view URL in {errlog}")


# --- stdio --------------------------------------------------------------------------------


async def _call_and_look(tap: str, errlog: Path) -> tuple[Any, list[tuple[str, str]], Any]:
    """A real SDK host through `mcp-tap stdio --web`; the page's calls while it is connected."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command="sh", args=["-c", tap], cwd=str(ROOT))
    with anyio.fail_after(60):
        async with Client(params) as client:
            result = await client.call_tool("download_file", ARGS)
            url = await anyio.to_thread.run_sync(wait_for_url, errlog, time.monotonic() + 20)
            # the answer reached the host; the page may trail it by a poll of the store
            deadline = time.monotonic() + 20
            calls = await anyio.to_thread.run_sync(listed, url)
            while ("tools/call", "download_file") not in calls and time.monotonic() < deadline:
                await anyio.sleep(0.05)
                calls = await anyio.to_thread.run_sync(listed, url)
            detail = await anyio.to_thread.run_sync(api, url, "api/summary")
    return result.model_dump(mode="json"), calls, detail


def test_stdio_web_lists_an_sdk_host_s_call(tmp_path: Path) -> None:
    errlog = tmp_path / "stderr.txt"
    words = [sys.executable, "-m", "mcp_tap", "stdio", "--no-record", "--web", "--"]
    words += [sys.executable, "-m", "demo_server", "--stdio"]
    tap = f"exec {shlex.join(words)} 2>{shlex.quote(str(errlog))}"
    result, calls, summary = anyio.run(_call_and_look, tap, errlog)
    assert result["content"][0]["text"] == "Downloaded report.pdf (5 MB)"
    assert ("tools/call", "download_file") in calls
    assert summary["resend"] is False  # resend goes to an HTTP target only
    assert "Traceback" not in errlog.read_text()


def test_stdio_web_leaves_the_host_s_stdout_to_the_server(tmp_path: Path) -> None:
    payload = (
        b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
        b"not json at all\n"
        b'{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n'
    )
    args = [sys.executable, "-m", "mcp_tap", "stdio", "--no-record", "--web", "0", "--"]
    args += [sys.executable, str(ROOT / "tests" / "stdio_child.py"), "cat"]
    done = subprocess.run(args, input=payload, capture_output=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == payload  # byte for byte the server's, and nothing of mcp-tap's
    assert URL.search(done.stderr.decode())  # the URL, token and all, went to stderr


def test_stdio_web_page_requests_leave_stdout_alone(tmp_path: Path) -> None:
    first = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}\n'
    last = b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n'
    args = [sys.executable, "-m", "mcp_tap", "stdio", "--no-record", "--web", "--"]
    args += [sys.executable, str(ROOT / "tests" / "stdio_child.py"), "cat"]
    process = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    try:
        assert process.stdin is not None and process.stderr is not None
        url = URL.search(process.stderr.readline().decode())
        assert url is not None
        process.stdin.write(first)
        process.stdin.flush()
        deadline = time.monotonic() + 20
        while ("tools/call", "echo") not in listed(url.group(1)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for path in ("", "api/summary", "api/findings", "api/calls/1", "static/app.js"):
            base, token = url.group(1).split("/?token=")
            with urllib.request.urlopen(f"{base}/{path}?token={token}", timeout=10) as answer:
                assert answer.status == 200
        out, err = process.communicate(last, timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    assert out == first + last  # the page was read, and the host saw only the server's bytes


def test_stdio_web_bad_port_is_one_line_and_2() -> None:
    args = [sys.executable, "-m", "mcp_tap", "stdio", "--no-record", "--web", "70000", "--"]
    done = subprocess.run([*args, "true"], capture_output=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"--web takes a port from 0 to 65535" in done.stderr
    assert b"Traceback" not in done.stderr


def test_stdio_web_on_a_taken_port_still_starts_the_server() -> None:
    # A host must always get its server: a page that cannot listen is one line, no more.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [sys.executable, "-m", "mcp_tap", "stdio", "--no-record", "--web", str(port)]
        ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
        # the server answers the host's ping, then sees EOF; a slow start is not ended early
        done = subprocess.run(
            [*args, "--grace", "60", "--", sys.executable, str(ROOT / "tests" / "stdio_child.py"),
             "cat"],
            input=ping, capture_output=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ping
    assert b"no web view" in done.stderr and b"Traceback" not in done.stderr


# --- serve ----------------------------------------------------------------------------------


def test_serve_web_lists_a_client_s_call() -> None:
    args = [sys.executable, "-m", "mcp_tap", "serve", str(HANDSHAKE), "--port", "0", "-q"]
    with running([*args, "--web"], cwd=ROOT) as proc:
        url = proc.wait_for_line(URL.pattern).group(1)
        target = proc.wait_for_line(r"point your client at (\S+)").group(1)
        events = py_client(target, "legacy", "download_file", {**ARGS, "step_delay": 0.05})
        assert any(e["event"] == "result" for e in events)
        deadline = time.monotonic() + 20
        while ("tools/call", "download_file") not in listed(url):
            assert time.monotonic() < deadline, listed(url)
            time.sleep(0.05)


async def _stdio_mock_call(tap: str, errlog: Path) -> list[tuple[str, str]]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command="sh", args=["-c", tap], cwd=str(ROOT))
    with anyio.fail_after(60):
        async with Client(params) as client:
            await client.call_tool("download_file", {**ARGS, "step_delay": 0.05})
            url = await anyio.to_thread.run_sync(wait_for_url, errlog, time.monotonic() + 20)
            deadline = time.monotonic() + 20
            calls = await anyio.to_thread.run_sync(listed, url)
            while ("tools/call", "download_file") not in calls and time.monotonic() < deadline:
                await anyio.sleep(0.05)
                calls = await anyio.to_thread.run_sync(listed, url)
    return calls


def test_serve_stdio_web_lists_an_sdk_host_s_call(tmp_path: Path) -> None:
    errlog = tmp_path / "stderr.txt"
    words = [sys.executable, "-m", "mcp_tap", "serve", str(HANDSHAKE), "--stdio", "--web"]
    tap = f"exec {shlex.join(words)} 2>{shlex.quote(str(errlog))}"
    calls = anyio.run(_stdio_mock_call, tap, errlog)
    assert ("tools/call", "download_file") in calls


# --- show --follow --------------------------------------------------------------------------


def test_show_follow_web_keeps_a_finished_recording_s_page_until_ctrl_c(tmp_path: Path) -> None:
    recording = tmp_path / "calls.yaml"
    write_calls(recording, 30)
    args = [sys.executable, "-m", "mcp_tap", "show", "--follow", str(recording), "--web", "-q"]
    with running(args, cwd=ROOT) as proc:
        url = proc.wait_for_line(URL.pattern).group(1)
        proc.wait_for_line(r"the recording is finished; the web view stays until Ctrl-C")
        page = api(url, "api/calls")
        assert page["total"] == 30
        assert {(r["method"], r["tool"]) for r in page["rows"]} == {("tools/call", "echo")}
        proc.popen.send_signal(signal.SIGINT)
        assert proc.finish(timeout=10) == 0


def test_show_follow_dir_web_lists_what_is_being_written(tmp_path: Path) -> None:
    writer = stdio_writer(tmp_path / "live.yaml", "github")
    writer.handle(ExchangeOpened(1, 0.0, "STDIO", "my-server", (), None))
    args = [sys.executable, "-m", "mcp_tap", "show", "--follow", f"{tmp_path}/", "--web", "-q"]
    with running(args, cwd=ROOT) as proc:  # the folder is listed before the page starts
        url = proc.wait_for_line(URL.pattern).group(1)
        writer.handle(progress_event(1))
        deadline = time.monotonic() + 20
        while api(url, "api/summary")["summary"]["messages"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        writer.close()
        proc.popen.send_signal(signal.SIGINT)
        assert proc.finish(timeout=10) == 0


def test_web_without_follow_is_one_line_and_2(tmp_path: Path) -> None:
    recording = tmp_path / "calls.yaml"
    write_calls(recording, 1)
    args = [sys.executable, "-m", "mcp_tap", "show", str(recording), "--web"]
    done = subprocess.run(args, capture_output=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert b"--web goes with --follow" in done.stderr
