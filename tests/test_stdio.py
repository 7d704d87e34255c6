"""`mcp-tap stdio`: real processes on real pipes, a host on one side and a server on the other.

The host is this test (a raw subprocess, byte for byte) or the `mcp` Python SDK's stdio
client; the server is `python -m demo_server --stdio` or `tests/stdio_child.py`, which
misbehaves on demand. Every process is started in a session of its own and whatever is left
of that session is killed at the end of the test.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    Fault,
    MessageKind,
    MessageSeen,
    StreamKind,
)
from mcp_tap.recording.reader import Recording, load_recording

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "tests" / "stdio_child.py"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


def tap(record: Path | None, *command: str, extra: tuple[str, ...] = ()) -> list[str]:
    recording = ["--record", str(record)] if record is not None else ["--no-record"]
    return [sys.executable, "-m", "mcp_tap", "stdio", *recording, *extra, "--", *command]


def child(mode: str, *args: str) -> list[str]:
    return [sys.executable, str(CHILD), mode, *args]


def line(message: Any) -> bytes:
    return json.dumps(message).encode() + b"\n"


def _session_members(session: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # stat field 6, the session id
            pids.append(int(entry.name))
    return pids


@contextmanager
def spawned(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Start a host-side process on pipes; kill what is left of its session afterwards."""
    process = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **{"cwd": ROOT, **kwargs},
    )
    try:
        yield process
    finally:
        for pid in _session_members(process.pid):  # mcp-tap and the server it started
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if process.poll() is None:
            process.wait(timeout=5)
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


class LineReader:
    """Reads a process's stdout lines in a thread, so a test can wait for one with a timeout."""

    def __init__(self, pipe: Any) -> None:
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._pipe = pipe
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        for raw in iter(self._pipe.readline, b""):
            self._queue.put(raw)
        self._queue.put(b"")

    def next(self, timeout: float = 20.0) -> bytes:
        return self._queue.get(timeout=timeout)


def messages(recording: Recording, direction: Direction | None = None) -> list[MessageSeen]:
    return [
        event
        for event in recording.events
        if isinstance(event, MessageSeen) and direction in (None, event.direction)
    ]


def faults(recording: Recording) -> dict[str, str]:
    return {e.kind: e.detail for e in recording.events if isinstance(e, Fault)}


def closed_reason(recording: Recording) -> str:
    ends = [e for e in recording.events if isinstance(e, ExchangeClosed)]
    assert len(ends) == 1
    return ends[0].reason


# --- byte-exactness ----------------------------------------------------------------------


def test_bytes_cross_both_ways_untouched(tmp_path: Path) -> None:
    big = line({"jsonrpc": "2.0", "method": "notifications/big", "params": {"x": "a" * 10_000_000}})
    batch = line(
        [
            {"jsonrpc": "2.0", "id": 7, "method": "ping"},
            {"jsonrpc": "2.0", "id": 8, "method": "ping"},
        ]
    )
    payload = (
        line(INITIALIZE)
        + big
        + b"this is { not json\n"
        + b'{"jsonrpc":"2.0","id":2,"method":"tools/list"}\r\n'
        + b"\n"
        + batch
        + '{"jsonrpc":"2.0","method":"notifications/x","params":{"s":"\u00e9\u2603"}}\n'.encode()
        + b'{"jsonrpc":"2.0","id":3,"method":"ping"}'  # the host ends without a newline
    )
    record = tmp_path / "rec.yaml"
    with spawned(tap(record, *child("cat"))) as process:
        out, err = process.communicate(payload, timeout=90)
    assert process.returncode == 0, err
    assert out == payload
    assert b"Traceback" not in err
    recording = load_recording(record)
    assert recording.header["transport"] == "stdio"
    for direction in Direction:
        seen = messages(recording, direction)
        kinds = [m.message.kind for m in seen]
        assert kinds == [
            MessageKind.REQUEST,
            MessageKind.NOTIFICATION,
            MessageKind.INVALID,
            MessageKind.REQUEST,
            MessageKind.REQUEST,
            MessageKind.REQUEST,
            MessageKind.NOTIFICATION,
            MessageKind.REQUEST,
        ], direction
        assert all(m.stream is StreamKind.STDIO for m in seen)
        assert len(seen[1].message.payload["params"]["x"]) == 10_000_000
        assert seen[2].message.raw == "this is { not json"
        assert seen[3].message.method == "tools/list"  # the \r is framing, not JSON
        assert [m.message.batch_index for m in seen[4:6]] == [0, 1]
        assert seen[6].message.payload["params"]["s"] == "\u00e9\u2603"
        assert seen[7].message.id == 3
    assert closed_reason(recording) == "host-closed"


def test_each_message_is_forwarded_as_soon_as_it_is_complete() -> None:
    with spawned(tap(None, *child("cat"))) as process:
        assert process.stdin is not None and process.stdout is not None
        reader = LineReader(process.stdout)
        for number in range(3):
            message = line({"jsonrpc": "2.0", "id": number, "method": "ping"})
            process.stdin.write(message[:5])  # half a message first: it goes on at once too
            process.stdin.flush()
            time.sleep(0.05)
            process.stdin.write(message[5:])
            process.stdin.flush()
            assert reader.next() == message  # while stdin stays open
        process.stdin.close()
        assert process.wait(timeout=20) == 0


def test_a_line_over_max_line_is_forwarded_and_reported(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    long = line({"jsonrpc": "2.0", "method": "notifications/long", "params": {"x": "b" * 5000}})
    short = line({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    with spawned(tap(record, *child("cat"), extra=("--max-line", "1000"))) as process:
        out, _ = process.communicate(long + short, timeout=60)
    assert out == long + short and process.returncode == 0
    recording = load_recording(record)
    details = [e.detail for e in recording.events if isinstance(e, Fault)]
    assert details == [
        f"a {len(long)}-byte line from the {side} is over --max-line (1000 bytes): "
        "forwarded, not inspected"
        for side in ("host", "server")
    ]
    assert [m.message.id for m in messages(recording)] == [1, 1]


# --- the MCP SDK as host --------------------------------------------------------------------


async def _download(command: str, args: list[str]) -> tuple[list[tuple[float, Any]], Any]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    progress: list[tuple[float, Any]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    params = StdioServerParameters(command=command, args=args, cwd=str(ROOT))
    with anyio.fail_after(60):
        async with Client(params) as client:
            result = await client.call_tool(
                "download_file",
                {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.02},
                progress_callback=on_progress,
            )
    return progress, result.model_dump(mode="json")


def test_python_sdk_client_through_mcp_tap(tmp_path: Path) -> None:
    record = tmp_path / "sdk.yaml"
    server = [sys.executable, "-m", "demo_server", "--stdio"]
    direct = anyio.run(_download, server[0], server[1:])
    tapped_args = tap(record, *server)
    tapped = anyio.run(_download, tapped_args[0], tapped_args[1:])
    assert tapped == direct  # the client saw exactly what it sees without mcp-tap
    assert [p[0] for p in tapped[0]] == [1, 2, 3, 4, 5]

    deadline = time.monotonic() + 20  # the client has gone; mcp-tap finishes the file
    recording = load_recording(record)
    while not any(isinstance(e, ExchangeClosed) for e in recording.events):
        assert time.monotonic() < deadline, "the recording never got its end"
        time.sleep(0.1)
        recording = load_recording(record)
    seen = [m for m in messages(recording) if m.message.kind is not MessageKind.INVALID]
    call = next(m for m in seen if m.message.method == "tools/call")
    token = call.message.progress_token
    after = seen[seen.index(call) + 1 :]
    progress = [m for m in after if m.message.method == "notifications/progress"]
    response = next(m for m in after if m.message.id == call.message.id)
    assert [m.message.payload["params"]["progress"] for m in progress] == [1, 2, 3, 4, 5]
    assert all(m.message.payload["params"]["progressToken"] == token for m in progress)
    assert all(m.direction is Direction.SERVER_TO_CLIENT for m in progress)
    assert after.index(response) > after.index(progress[-1])
    text = response.message.payload["result"]["content"][0]["text"]
    assert text == direct[1]["content"][0]["text"] == "Downloaded report.pdf (5 MB)"


# --- life cycle -------------------------------------------------------------------------------


def test_host_closing_stdin_ends_the_server(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    with spawned(tap(record, *child("cat"))) as process:
        out, _ = process.communicate(line(INITIALIZE), timeout=30)
    assert process.returncode == 0 and out == line(INITIALIZE)
    recording = load_recording(record)
    assert closed_reason(recording) == "host-closed"
    assert faults(recording) == {}


def test_server_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    args = tap(record, *child("ignore-term"), extra=("--grace", "0.3", "--term-grace", "0.3"))
    with spawned(args) as process:
        started = time.monotonic()
        out, _ = process.communicate(line(INITIALIZE), timeout=30)
        took = time.monotonic() - started
    assert out == line(INITIALIZE)
    assert process.returncode == 128 + signal.SIGKILL
    assert took < 15
    found = faults(load_recording(record))
    assert "sent SIGTERM" in found["server-terminated"]
    assert "sent SIGKILL" in found["server-killed"]
    assert "was killed by SIGKILL" in found["server-exit"]


def test_server_crash_status_is_passed_through(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    with spawned(tap(record, *child("crash", "3"))) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(line(INITIALIZE))
        process.stdin.flush()
        assert process.wait(timeout=30) == 3  # with the host's stdin still open
        out = process.stdout.read()
    assert out == line(INITIALIZE)
    recording = load_recording(record)
    assert [m.direction for m in messages(recording)] == list(Direction)
    assert "exited with status 3" in faults(recording)["server-exit"]
    assert closed_reason(recording) == "server-exited"


def test_server_writing_garbage_is_forwarded_and_flagged(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    with spawned(tap(record, *child("garbage"))) as process:
        out, _ = process.communicate(line(INITIALIZE), timeout=30)
    assert process.returncode == 0
    assert out == b"garbage \x00\xff not json\n" + line(INITIALIZE)
    first = messages(load_recording(record), Direction.SERVER_TO_CLIENT)[0].message
    assert first.kind is MessageKind.INVALID and first.raw is not None


def test_server_stderr_passes_through(tmp_path: Path) -> None:
    with spawned(tap(None, *child("stderr"))) as process:
        out, err = process.communicate(line(INITIALIZE), timeout=30)
    assert out == line(INITIALIZE) and process.returncode == 0
    assert "child: hello on stderr \u2713\n".encode() in err


def test_sigterm_is_passed_to_the_server(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    with spawned(tap(record, *child("term-exit"))) as process:
        assert process.stdin is not None and process.stdout is not None
        reader = LineReader(process.stdout)
        process.stdin.write(line(INITIALIZE))
        process.stdin.flush()
        assert reader.next() == line(INITIALIZE)  # the server runs
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 42
        assert process.stderr is not None
        assert b"child: got SIGTERM" in process.stderr.read()
        assert _session_members(process.pid) == []  # the writer process ended with mcp-tap
    recording = load_recording(record)  # nothing lost to the signal
    assert [m.direction for m in messages(recording)] == list(Direction)
    assert closed_reason(recording) == "server-exited"


def _one_exchange_recorded(process: subprocess.Popen[bytes], record: Path) -> float:
    """Send a line through `cat` and wait until the writer process has written it both
    ways; the deadline that the caller may go on with."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(line(INITIALIZE))
    process.stdin.flush()
    assert process.stdout.readline() == line(INITIALIZE)
    deadline = time.monotonic() + 20
    while len(messages(load_recording(record))) < 2:  # written, by the writer process
        assert time.monotonic() < deadline, "the messages never reached the recording"
        time.sleep(0.02)
    return deadline


def test_the_writer_process_ends_with_a_killed_mcp_tap(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    with spawned(tap(record, *child("cat"))) as process:
        deadline = _one_exchange_recorded(process, record)
        process.kill()
        process.wait(timeout=10)
        while _session_members(process.pid):  # the server and the writer process
            assert time.monotonic() < deadline + 10, _session_members(process.pid)
            time.sleep(0.02)
    assert len(messages(load_recording(record))) == 2


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:  # stat field 4, the parent's pid
                found.append(int(entry.name))
    return found


def test_a_killed_writer_process_is_reported_and_forwarding_goes_on(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    with spawned(tap(record, *child("cat"))) as process:
        _one_exchange_recorded(process, record)
        assert process.stdin is not None and process.stdout is not None
        ours = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        writers = [
            pid
            for pid in _children(process.pid)
            if Path(f"/proc/{pid}/cmdline").read_bytes() == ours
        ]
        assert len(writers) == 1  # forked: the server is the other child
        os.kill(writers[0], signal.SIGKILL)
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        for _ in range(3):  # the recorder finds the pipe broken; the host sees nothing of it
            process.stdin.write(line(ping))
            process.stdin.flush()
            assert process.stdout.readline() == line(ping)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "mcp-tap: the recording stopped early: " in err.decode()
    assert len(messages(load_recording(record))) >= 2  # what was written stays readable


def test_a_burst_over_max_backlog_crosses_and_is_recorded_whole(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    burst = b"".join(
        line({"jsonrpc": "2.0", "method": "notifications/progress",
              "params": {"progressToken": 1, "progress": n}})
        for n in range(3000)
    )  # fmt: skip
    with spawned(tap(record, *child("cat"), extra=("--max-backlog", "4096"))) as process:
        out, _ = process.communicate(burst, timeout=60)  # the reads wait for the decoding
    assert process.returncode == 0
    assert out == burst
    recorded = messages(load_recording(record))
    assert len(recorded) == 6000  # each line, both ways
    assert recorded[-1].message.payload["params"]["progress"] == 2999


def test_command_that_cannot_start(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    missing = str(tmp_path / "no-such-server")
    with spawned(tap(record, missing, "--flag")) as process:
        out, err = process.communicate(line(INITIALIZE), timeout=30)
    assert process.returncode == 127
    reply = json.loads(out)
    assert reply["id"] == 1 and reply["error"]["code"] == -32000
    assert missing in reply["error"]["message"]
    assert "No such file or directory" in reply["error"]["message"]
    lines = err.decode().strip().splitlines()
    assert lines[-1] == f"mcp-tap: cannot start {missing!r}: No such file or directory"
    recording = load_recording(record)
    assert "server-not-started" in faults(recording)
    assert [m.message.kind for m in messages(recording)] == [
        MessageKind.REQUEST,
        MessageKind.ERROR,
    ]


def test_recording_names_the_command_but_not_its_secrets(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    env = {**os.environ, "MY_SERVICE_TOKEN": "s3cr3t-env-value"}
    command = [*child("cat"), "--api-key", "s3cr3t-arg", "--token=s3cr3t-inline"]
    with spawned(tap(record, *command), env=env) as process:
        process.communicate(line(INITIALIZE), timeout=30)
    text = record.read_text()
    assert "s3cr3t" not in text
    header = load_recording(record).header
    assert header["version"] == 2 and header["transport"] == "stdio"
    assert header["command"][:3] == command[:3]
    assert header["command"][3:] == ["--api-key", "<redacted:api-key>", "--token=<redacted:token>"]
    assert "MY_SERVICE_TOKEN" in header["environment"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "stdio needs the server's command"),
        (["--", "--weird"], "put the server's command after `--`"),
        (["--max-line", "0", "--", "cat"], "--max-line must be at least 1"),
        (["--max-backlog", "0", "--", "cat"], "--max-backlog must be at least 1"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "stdio", "--no-record", *args],
        capture_output=True,
        timeout=30,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert message in done.stderr.decode() and b"Traceback" not in done.stderr
