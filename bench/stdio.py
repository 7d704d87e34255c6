"""`mcp-tap stdio` against a direct pipe: added latency per message, and a notification flood.

    uv run python bench/stdio.py                     # 2,000 round trips, 100,000 notifications
    uv run python bench/stdio.py --calls 500 --notifications 20000 --rounds 1

The benchmark process is the host. The server is this script run as a child (`--child`):
it answers each request line at once, and a `flood` request with N progress notifications
then the response, each written as its own line. Both are measured with the server started
directly and through `python -m mcp_tap stdio`, with the recording on (to a temp file, as a
user runs it) and off. Rounds alternate direct and tapped so that a machine that drifts
(other work on its 2 cores) shifts both alike; each figure is the median over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
PONG = b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
# With `session`, the host begins as a host does, so the judges know the revision and every
# message is held to its schema: initialize, then pings with ids of their own, then the flood
# as a tools/call that asks for progress.
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}
INITIALIZED = b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
INITIALIZE_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "bench-stdio", "version": "0"},
}
FLOOD_CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "flood", "arguments": {"count": 0}, "_meta": {"progressToken": 1}},
}


# --- the child: a minimal stdio server ------------------------------------------------------


def child() -> int:
    """Answer `ping` lines with one response, `flood` lines with N notifications + one."""
    stdin = os.fdopen(0, "rb", buffering=0)
    out = 1
    buffered = b""
    while True:
        chunk = stdin.read(65536)
        if not chunk:
            return 0
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            request = json.loads(line)
            if "id" not in request:
                continue  # notifications/initialized
            if request["method"] == "initialize":
                answer = {"jsonrpc": "2.0", "id": 0, "result": INITIALIZE_RESULT}
                _write_all(out, json.dumps(answer).encode() + b"\n")
            elif request["method"] in ("flood", "tools/call"):
                call = request["method"] == "tools/call"
                count = (request["params"]["arguments"] if call else request["params"])["count"]
                template = (
                    '{"jsonrpc":"2.0","method":"notifications/progress","params":'
                    '{"progressToken":1,"progress":%d,"total":%d}}\n'
                )
                batch = []
                for number in range(1, count + 1):
                    batch.append((template % (number, count)).encode())
                    if len(batch) == 64:  # several lines a write, as an SDK writes a burst
                        os.write(out, b"".join(batch))
                        batch = []
                batch.append(FLOOD_END if call else b'{"jsonrpc":"2.0","id":2,"result":{}}\n')
                _write_all(out, b"".join(batch))
            else:
                _write_all(out, pong(request["id"]))


FLOOD_END = b'{"jsonrpc":"2.0","id":2,"result":{"content":[]}}\n'


def ping(request_id: int) -> bytes:
    return b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n' % request_id


def pong(request_id: int) -> bytes:
    return b'{"jsonrpc":"2.0","id":%d,"result":{}}\n' % request_id


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# --- the host --------------------------------------------------------------------------------


def server_command() -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child"]


def start(mode: str, record: Path) -> subprocess.Popen[bytes]:
    command = server_command()
    if mode == "direct":
        args = command
    elif mode == "tap-no-record":
        args = [sys.executable, "-m", "mcp_tap", "stdio", "--no-record", "--", *command]
    else:  # "tap", or "tap-no-check" (recorded, the schema and conformance judges off)
        flags = ["--no-check"] if mode == "tap-no-check" else []
        record_args = ["--record", str(record), *flags]
        args = [sys.executable, "-m", "mcp_tap", "stdio", *record_args, "--", *command]
    return subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    process.wait(timeout=30)
    process.stdout.close()


def read_line(fd: int, pending: bytearray) -> bytes:
    while b"\n" not in pending:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError("the server closed stdout")
        pending += chunk
    end = pending.index(b"\n") + 1
    line = bytes(pending[:end])
    del pending[:end]
    return line


def handshake(fd_in: int, fd_out: int, pending: bytearray) -> None:
    """initialize, its result, notifications/initialized: a session the judges can place."""
    os.write(fd_in, json.dumps(INITIALIZE).encode() + b"\n")
    read_line(fd_out, pending)
    os.write(fd_in, INITIALIZED)


def latencies(mode: str, calls: int, record: Path, session: bool = False) -> list[float]:
    """Round-trip times of `calls` pings, one at a time, in milliseconds.

    `session`: after a handshake, and each ping with an id of its own.
    """
    process = start(mode, record)
    assert process.stdin is not None and process.stdout is not None
    fd_in, fd_out = process.stdin.fileno(), process.stdout.fileno()
    pending = bytearray()
    times = []
    try:
        if session:
            handshake(fd_in, fd_out, pending)
        for number in range(calls + 50):
            request_id = number + 10 if session else 1
            started = time.perf_counter()
            os.write(fd_in, ping(request_id) if session else PING)
            line = read_line(fd_out, pending)
            took = (time.perf_counter() - started) * 1000
            assert line == (pong(request_id) if session else PONG), line
            if number >= 50:  # the first calls warm up both processes
                times.append(took)
    finally:
        stop(process)
    return times


def flood(mode: str, count: int, record: Path, session: bool = False) -> float:
    """Seconds from a flood request to its response, all notifications read in between.

    `session`: after a handshake, the flood is a tools/call with a progress token.
    """
    process = start(mode, record)
    assert process.stdin is not None and process.stdout is not None
    fd_in, fd_out = process.stdin.fileno(), process.stdout.fileno()
    try:
        pending = bytearray()
        if session:
            handshake(fd_in, fd_out, pending)
        os.write(fd_in, ping(1))  # the server runs and answers before the clock starts
        read_line(fd_out, pending)
        if session:
            request = {
                **FLOOD_CALL,
                "params": {**FLOOD_CALL["params"], "arguments": {"count": count}},
            }
            end = FLOOD_END
        else:
            request = {"jsonrpc": "2.0", "id": 2, "method": "flood", "params": {"count": count}}
            end = b'"id":2,"result":{}}\n'
        started = time.perf_counter()
        os.write(fd_in, json.dumps(request).encode() + b"\n")
        lines = 0
        tail = b""
        while True:
            chunk = os.read(fd_out, 1 << 20)
            if not chunk:
                raise EOFError("the server closed stdout mid-flood")
            lines += chunk.count(b"\n")
            tail = (tail + chunk)[-64:]
            if tail.endswith(end):
                break
        took = time.perf_counter() - started
        assert lines == count + 1, (lines, count)
    finally:
        stop(process)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--notifications", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        return child()
    modes = ("direct", "tap-no-record", "tap")
    p50: dict[str, list[float]] = {mode: [] for mode in modes}
    p99: dict[str, list[float]] = {mode: [] for mode in modes}
    rate: dict[str, list[float]] = {mode: [] for mode in modes}
    print(f"nproc {os.cpu_count()}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as directory:
        for number in range(args.rounds):
            for mode in modes:
                record = Path(directory) / f"{mode}-{number}.yaml"
                times = sorted(latencies(mode, args.calls, record))
                p50[mode].append(statistics.median(times))
                p99[mode].append(times[int(len(times) * 0.99) - 1])
                record = Path(directory) / f"{mode}-flood-{number}.yaml"
                rate[mode].append(args.notifications / flood(mode, args.notifications, record))
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)
    median = statistics.median
    print(f"round trip, {args.calls} pings one at a time (median of {args.rounds} rounds):")
    for mode in modes:
        added = median(p50[mode]) - median(p50["direct"])
        print(
            f"  {mode:14} p50 {median(p50[mode]):.3f} ms  p99 {median(p99[mode]):.3f} ms"
            + (f"  added p50 {added:+.3f} ms" if mode != "direct" else "")
        )
    print(f"flood of {args.notifications} notifications (median of {args.rounds} rounds):")
    for mode in modes:
        ratio = median(rate[mode]) / median(rate["direct"])
        print(
            f"  {mode:14} {median(rate[mode]):,.0f} notifications/s"
            + (f"  x{ratio:.2f} of direct" if mode != "direct" else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
