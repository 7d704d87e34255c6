"""`mcp-tap stdio` on whatever descriptors a host or a shell gives it, and its end under signals.

Real processes throughout: mcp-tap started with `/dev/null`, `/dev/zero`, a file, a socket or
a pty as its stdin and stdout, and a server (`tests/stdio_child.py`) that ignores SIGTERM,
signalled with `os.kill` the way hosts do.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mcp_tap.protocol.events import Direction
from mcp_tap.recording.reader import load_recording
from tests.test_stdio import (
    INITIALIZE,
    ROOT,
    LineReader,
    _session_members,
    child,
    closed_reason,
    faults,
    line,
    messages,
    spawned,
    tap,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

DEADLINE = 30.0  # seconds any one wait may take on a loaded machine before the test fails


@contextmanager
def running(args: list[str], stdin: Any, stdout: Any) -> Iterator[subprocess.Popen[bytes]]:
    """mcp-tap on the given descriptors; whatever is left of its session is killed after."""
    process = subprocess.Popen(
        args, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, start_new_session=True, cwd=ROOT
    )
    try:
        yield process
    finally:
        for pid in _session_members(process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if process.poll() is None:
            process.wait(timeout=5)
        assert process.stderr is not None
        process.stderr.close()


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command's name, or None when it is gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"  # a zombie has ended


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still running"
        time.sleep(0.02)


def server_of(tap_pid: int) -> int:
    """The server mcp-tap started: its only child."""
    deadline = time.monotonic() + DEADLINE
    while True:
        children = [
            p for p in _session_members(tap_pid) if (_stat(p) or ["", "0"])[1] == str(tap_pid)
        ]
        if children:
            return children[0]
        assert time.monotonic() < deadline, "mcp-tap started no server"
        time.sleep(0.02)


# --- descriptors --------------------------------------------------------------------------


def test_stdin_from_dev_null_is_an_empty_session(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    with running(tap(record, *child("cat")), subprocess.DEVNULL, subprocess.PIPE) as process:
        out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, err
    assert out == b"" and b"Fatal" not in err and b"Traceback" not in err
    recording = load_recording(record)
    assert closed_reason(recording) == "host-closed" and faults(recording) == {}


def test_stdout_to_dev_null_and_stdin_from_a_file(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    requests = tmp_path / "requests.jsonl"
    requests.write_bytes(line(INITIALIZE))
    with requests.open("rb") as stdin, open(os.devnull, "wb") as stdout:
        with running(tap(record, *child("cat")), stdin, stdout) as process:
            assert process.stderr is not None
            err = process.stderr.read()
            assert process.wait(timeout=DEADLINE) == 0, err
    recording = load_recording(record)
    assert [m.direction for m in messages(recording)] == list(Direction)


def test_stdin_from_dev_zero_is_relayed_with_bounded_memory(tmp_path: Path) -> None:
    """An endless line of NUL bytes: forwarded, not inspected; mcp-tap reads no faster
    than the server, which stops reading after 4 MiB."""
    record = tmp_path / "rec.yaml"
    size = 4 * 1024 * 1024
    args = tap(record, *child("stall", str(size)), extra=("--max-line", "1000"))
    with open("/dev/zero", "rb") as zero:
        with running(args, zero, subprocess.PIPE) as process:
            assert process.stdout is not None
            assert LineReader(process.stdout).next(DEADLINE) == f"read {size}\n".encode()
            read = _settled_reads(process.pid)
            assert read < size + 64 * 1024 * 1024, f"mcp-tap read {read} bytes"
            assert _rss(process.pid) < 512 * 1024 * 1024
            os.kill(process.pid, signal.SIGTERM)
            assert process.wait(timeout=DEADLINE) == 128 + signal.SIGTERM
    detail = faults(load_recording(record))["message-too-large"]
    assert "from the host is over --max-line (1000 bytes)" in detail
    assert "cut by the end of the stream" in detail


def _settled_reads(pid: int) -> int:
    """Bytes mcp-tap has read, once they stop growing (less than 1 MiB in half a second)."""
    deadline = time.monotonic() + DEADLINE
    before = _rchar(pid)
    while True:
        window = time.monotonic() + 0.5
        while time.monotonic() < window:
            time.sleep(0.05)
        now = _rchar(pid)
        if now - before < 1024 * 1024:
            return now
        assert time.monotonic() < deadline, f"mcp-tap keeps reading: {now} bytes so far"
        before = now


def _rchar(pid: int) -> int:
    for row in (Path("/proc") / str(pid) / "io").read_text().splitlines():
        if row.startswith("rchar:"):
            return int(row.split()[1])
    raise AssertionError("no rchar in /proc/PID/io")


def _rss(pid: int) -> int:
    for row in (Path("/proc") / str(pid) / "status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/PID/status")


def test_a_socket_as_stdin_and_stdout() -> None:
    host, ours = socket.socketpair()
    with host, ours:
        with running(tap(None, *child("cat")), ours, ours) as process:
            ours.close()
            host.settimeout(DEADLINE)
            host.sendall(line(INITIALIZE))
            got = b""
            while not got.endswith(b"\n"):
                got += host.recv(65536)
            assert got == line(INITIALIZE)
            host.shutdown(socket.SHUT_WR)  # EOF, as a host closing its end
            assert process.wait(timeout=DEADLINE) == 0


def test_a_tty_as_stdin_and_stdout() -> None:
    master, slave = pty.openpty()
    tty.setraw(slave)  # bytes as they are: no echo, no line editing
    try:
        with running(tap(None, *child("cat")), slave, slave) as process:
            os.close(slave)
            slave = -1
            os.write(master, line(INITIALIZE))
            got = b""
            deadline = time.monotonic() + DEADLINE
            while not got.endswith(b"\n"):
                assert time.monotonic() < deadline, f"no echo, got {got!r}"
                if select.select([master], [], [], 0.1)[0]:
                    got += os.read(master, 65536)
            assert got == line(INITIALIZE)
            os.kill(process.pid, signal.SIGTERM)  # a raw tty has no EOF: the terminal closes
            assert process.wait(timeout=DEADLINE) == 128 + signal.SIGTERM
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


# --- signals ------------------------------------------------------------------------------


def test_sigterm_to_mcp_tap_ends_a_server_that_ignores_it(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    args = tap(record, *child("ignore-term"), extra=("--term-grace", "0.5"))
    with spawned(args) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(line(INITIALIZE))
        process.stdin.flush()
        assert LineReader(process.stdout).next() == line(INITIALIZE)  # SIGTERM is ignored now
        server = server_of(process.pid)
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 128 + signal.SIGKILL
        wait_gone(server)
    found = faults(load_recording(record))
    assert found["server-killed"].endswith("did not exit 0.5 s after SIGTERM: sent SIGKILL")
    assert "was killed by SIGKILL" in found["server-exit"]


def test_the_server_dies_with_mcp_tap_killed_outright() -> None:
    with spawned(tap(None, *child("ignore-term"))) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(line(INITIALIZE))
        process.stdin.flush()
        assert LineReader(process.stdout).next() == line(INITIALIZE)
        server = server_of(process.pid)
        os.kill(process.pid, signal.SIGKILL)  # what a host does when SIGTERM was not enough
        assert process.wait(timeout=DEADLINE) == -signal.SIGKILL
        wait_gone(server)
