"""`--web` on `stdio`, `serve` and `show --follow`: real processes, the page's API over plain
HTTP with the token (no browser), and a stdout that stays the protocol's alone."""

from __future__ import annotations

import http.client
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anyio
import pytest

from mcp_tap.protocol.events import ExchangeOpened
from tests.procs import ROOT, py_client, running
from tests.test_follow_folder import progress_event, stdio_writer
from tests.web_helpers import URL, api, listed, wait_for_url, write_calls

pytestmark = pytest.mark.timeout(120)

HANDSHAKE = ROOT / "recordings" / "download_file-handshake.yaml"
ARGS = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.02}


# --- stdio --------------------------------------------------------------------------------


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


def test_a_page_that_reads_nothing_is_told_what_it_missed_and_the_store_keeps_its_cap() -> None:
    payload = b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n' % n for n in range(1, 501))
    args = [sys.executable, "-m", "mcp_tap", "stdio", "--no-record", "--web"]
    args += ["--web-queue", "1", "--web-max-events", "200", "--"]
    args += [sys.executable, str(ROOT / "tests" / "stdio_child.py"), "cat"]
    process = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    try:
        assert process.stdin is not None and process.stderr is not None
        found = URL.search(process.stderr.readline().decode())
        assert found is not None
        url = found.group(1)
        address, token = url.removeprefix("http://").split("/?token=")
        host, port = address.split(":")
        page = http.client.HTTPConnection(host, int(port), timeout=20)
        page.request("GET", f"/api/events?token={token}")
        stream = page.getresponse()
        assert stream.readline() == b"retry: 2000\n"  # the page is connected
        process.stdin.write(payload)
        process.stdin.flush()
        # the page reads nothing while 1,000 messages cross (the pings and cat's echoes)
        deadline = time.monotonic() + 30
        while api(url, "api/summary")["summary"]["messages"] < 1000:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        lines = [stream.readline() for _ in range(3)]
        while b"event: skipped\n" not in lines[-3:]:  # each read bounded by the socket timeout
            lines.append(stream.readline())
            assert len(lines) < 10_000
        skipped = int(stream.readline().removeprefix(b"data: "))
        assert 0 < skipped < 1000  # what its queue of one could not hold
        summary = api(url, "api/summary")["summary"]
        assert summary["dropped"] > 0 and summary["calls"] < 200  # --web-max-events 200
        page.close()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    assert out == payload  # the host's session went on untouched


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
