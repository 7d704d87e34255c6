"""`--fault` on the proxy and on stdio: real SDK clients meet the faults a rule injects.

Each test runs the bundled demo server and `mcp-tap` as processes, drives them with the
official Python SDK client (`clients/py_client.py`), and reads the recording back: every
injected fault is a `fault-injected` event, never a message from the server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from mcp_tap.protocol.events import (
    Direction,
    ExchangeOpened,
    FaultInjected,
    MessageSeen,
    TapEvent,
    header,
)
from mcp_tap.recording.reader import load_recording
from tests.procs import (
    PY_CLIENT,
    ROOT,
    Proc,
    demo_server,
    running,
    tap_proxy,
    ts_client,
)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The demo server the proxy tests reach (the faults are the proxy's): its base URL."""
    with demo_server() as base:
        yield base


def client(
    url: str, tool: str, arguments: dict[str, Any], *extra: str
) -> tuple[int, list[dict[str, Any]]]:
    """The Python SDK client calling one tool; its exit code and JSON lines."""
    args = [sys.executable, str(PY_CLIENT), url, "--tool", tool, "--args", json.dumps(arguments)]
    proc = Proc([*args, "--timeout", "30", *extra])
    code = proc.finish(60)
    return code, [json.loads(line) for line in proc.lines if line.startswith("{")]


def faulty_proxy(
    target: str, tmp_path: Path, rule: str, record: Path
) -> AbstractContextManager[tuple[str, Proc]]:
    """`mcp-tap proxy --fault RULE --record RECORD --quiet` in front of `target`."""
    return tap_proxy(target, tmp_path, "--fault", rule, "--record", str(record), "--quiet")


def recorded(path: Path) -> list[TapEvent]:
    return load_recording(path).events


def injected(events: list[TapEvent]) -> list[FaultInjected]:
    return [e for e in events if isinstance(e, FaultInjected)]


def test_python_client_gets_the_injected_error_for_one_tool_only(
    tmp_path: Path, server: str
) -> None:
    record = tmp_path / "error.yaml"
    rule = 'error tool=echo code=-32001 message="echo is broken today"'
    with (
        faulty_proxy(server + "/mcp", tmp_path, rule, record) as (url, proxy),
    ):
        code, lines = client(url, "echo", {"text": "hi"})
        assert code == 1
        assert lines[-1]["event"] == "error" and "echo is broken today" in lines[-1]["message"]
        assert lines[-1].get("code") == -32001
        code, lines = client(url, "download_file", {"filename": "a", "size_mb": 2, "step_delay": 0})
        assert code == 0 and lines[-1]["text"] == "Downloaded a (2 MB)"
        proxy.stop()
    events = recorded(record)
    (fault,) = injected(events)
    assert (fault.action, fault.rule) == ("error", rule)
    assert "-32001" in fault.detail and fault.request_id is not None
    # what the client got is the fault's, never a message from the server
    answers = [
        e for e in events
        if isinstance(e, MessageSeen) and e.direction is Direction.SERVER_TO_CLIENT
        and e.exchange_id == fault.exchange_id
    ]  # fmt: skip
    assert answers == []


def test_a_429_with_retry_after_then_success(tmp_path: Path, server: str) -> None:
    record = tmp_path / "status.yaml"
    rule = "status 429 retry-after=1 method=tools/call times=1"
    with (
        faulty_proxy(server + "/mcp", tmp_path, rule, record) as (url, proxy),
    ):
        code, lines = client(url, "echo", {"text": "first"})
        assert code == 1 and "429" in lines[-1]["message"]
        code, lines = client(url, "echo", {"text": "second"})
        assert code == 0 and lines[-1]["text"] == "second"
        proxy.stop()
    (fault,) = injected(recorded(record))
    assert fault.action == "status" and "HTTP 429 (Retry-After: 1)" in fault.detail


def test_stream_dropped_after_two_progress_is_resumed_in_full(tmp_path: Path) -> None:
    record = tmp_path / "drop.yaml"
    rule = "drop-stream tool=download_file after-progress=2 times=1"
    arguments = {"filename": "f", "size_mb": 5, "step_delay": 0.05}
    with (
        demo_server(event_store=True) as server,
        faulty_proxy(server + "/mcp", tmp_path, rule, record) as (url, proxy),
    ):
        code, lines = client(url, "download_file", arguments, "--transport", "legacy")
        proxy.stop()
    assert code == 0, lines
    assert [line["progress"] for line in lines if line["event"] == "progress"] == [1, 2, 3, 4, 5]
    assert lines[-1]["text"] == "Downloaded f (5 MB)"
    events = recorded(record)
    (fault,) = injected(events)
    assert fault.action == "drop-stream"
    resumed = [
        e for e in events
        if isinstance(e, ExchangeOpened) and e.method == "GET"
        and header(e.headers, "last-event-id") is not None and e.time > fault.time
    ]  # fmt: skip
    assert resumed, "the client resumed the stream with Last-Event-ID"


def test_bad_rule_is_one_line_and_exit_2(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "mcp_tap", "proxy", "--port", "0", "--fault", "explode tool=x"]
    with running(args, cwd=ROOT) as proc:
        assert proc.finish(30) == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "unknown action 'explode'" in proc.stderr and "Traceback" not in proc.stderr


# --- stdio -------------------------------------------------------------------------------------


async def _stdio_call(
    args: list[str], tool: str, arguments: dict[str, Any]
) -> tuple[list[float], Any]:
    """The Python SDK as a host: one call through `mcp-tap stdio`; its progress and result
    (or the exception it ended with)."""
    import anyio
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(ROOT))
    with anyio.fail_after(60):
        try:
            async with Client(params) as host:
                result = await host.call_tool(tool, arguments, progress_callback=on_progress)
                return progress, result.model_dump(mode="json")
        except Exception as error:  # what the host sees is the point of the test
            while isinstance(error, ExceptionGroup) and error.exceptions:
                error = error.exceptions[0]  # the SDK's task groups wrap it
            return progress, error


def _stdio_args(record: Path, rule: str) -> list[str]:
    server = [sys.executable, "-m", "demo_server", "--stdio"]
    return ["-m", "mcp_tap", "stdio", "--record", str(record), "--fault", rule, "--", *server]


def _finished(record: Path) -> list[TapEvent]:
    import time

    from mcp_tap.protocol.events import ExchangeClosed

    deadline = time.monotonic() + 20  # the host has gone; mcp-tap finishes the file
    while True:
        events = recorded(record)
        if any(isinstance(e, ExchangeClosed) for e in events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_stdio_server_killed_mid_call_ends_the_hosts_call(tmp_path: Path) -> None:
    import anyio

    record = tmp_path / "kill.yaml"
    args = _stdio_args(record, "kill tool=download_file after-progress=2")
    arguments = {"filename": "k", "size_mb": 5, "step_delay": 0.02}
    progress, outcome = anyio.run(_stdio_call, args, "download_file", arguments)
    assert progress == [1, 2]
    assert isinstance(outcome, Exception), outcome  # the call fails, as a crash makes it fail
    events = _finished(record)
    (fault,) = injected(events)
    assert fault.action == "kill"
    from mcp_tap.protocol.events import Fault

    assert any(isinstance(e, Fault) and "SIGKILL" in e.detail for e in events)


def test_stdio_injected_error_for_one_tool(tmp_path: Path) -> None:
    import anyio

    record = tmp_path / "stdio-error.yaml"
    args = _stdio_args(record, "error tool=echo code=-32050 message=nope")
    _, outcome = anyio.run(_stdio_call, args, "echo", {"text": "x"})
    assert isinstance(outcome, Exception) and "nope" in str(outcome)
    assert getattr(outcome, "code", None) == -32050
    args = _stdio_args(tmp_path / "again.yaml", "error tool=echo code=-32050 message=nope")
    _, answer = anyio.run(_stdio_call, args, "download_file", {"filename": "d", "size_mb": 1})
    assert answer["content"][0]["text"] == "Downloaded d (1 MB)"


def test_replay_leaves_out_what_was_injected(tmp_path: Path, server: str) -> None:
    from mcp_tap.replay.plan import build_plan

    record = tmp_path / "replayed.yaml"
    rule = "error tool=echo"
    with (
        faulty_proxy(server + "/mcp", tmp_path, rule, record) as (url, proxy),
    ):
        assert client(url, "echo", {"text": "never sent"})[0] == 1
        assert client(url, "echo", {"text": "x"})[0] == 1
        proxy.stop()
    events = recorded(record)
    assert len(injected(events)) == 2
    methods = [call.method for call in build_plan(events).calls]
    assert methods and "tools/call" not in methods  # the handshake stays, the calls go


def test_diff_leaves_out_what_was_injected(tmp_path: Path, server: str) -> None:
    import subprocess

    paths = {}
    for name, rules in (("faulty", ["--fault", "error tool=echo"]), ("clean", [])):
        paths[name] = tmp_path / f"{name}.yaml"
        with (
            tap_proxy(
                server + "/mcp", tmp_path, *rules, "--record", str(paths[name]), "--quiet"
            ) as (url, proxy),
        ):
            assert client(url, "echo", {"text": "hi"})[0] == (1 if rules else 0)
            assert (
                client(url, "download_file", {"filename": "a", "size_mb": 1, "step_delay": 0})[0]
                == 0
            )
            proxy.stop()
    args = ["diff", str(paths["faulty"]), str(paths["clean"]), "--fail-on", "any"]
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", *args, "--latency-floor", "60", "--format", "json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr  # the injected error is no change
    report = json.loads(done.stdout)
    assert report["differences"] == []
    assert "1 fault(s) injected by mcp-tap in the first recording, left out" in report["notes"]
    assert "1 call(s) only in the second recording, not compared" in report["notes"]


def _download_through_proxy(
    server: str, tmp_path: Path, rule: str, record: Path, arguments: dict[str, Any]
) -> tuple[int, list[dict[str, Any]]]:
    """One download_file call by the Python client through `proxy --fault RULE`, recorded."""
    with (
        faulty_proxy(server + "/mcp", tmp_path, rule, record) as (url, proxy),
    ):
        code, lines = client(url, "download_file", arguments)
        proxy.stop()
    return code, lines


def test_slow_bytes_still_bring_the_whole_answer(tmp_path: Path, server: str) -> None:
    record = tmp_path / "slow.yaml"
    rule = "slow bytes=8 every=1ms tool=download_file"
    arguments = {"filename": "s", "size_mb": 3, "step_delay": 0}
    code, lines = _download_through_proxy(server, tmp_path, rule, record, arguments)
    assert code == 0, lines
    assert [line["progress"] for line in lines if line["event"] == "progress"] == [1, 2, 3]
    assert lines[-1]["text"] == "Downloaded s (3 MB)"
    faults = injected(recorded(record))
    assert faults and {f.action for f in faults} == {"slow"}
    assert "8 bytes at a time, 1 ms apart" in faults[0].detail


def test_stdio_slow_lines_still_bring_the_whole_answer(tmp_path: Path) -> None:
    import anyio

    record = tmp_path / "stdio-slow.yaml"
    args = _stdio_args(record, "slow bytes=5 every=1ms tool=download_file")
    arguments = {"filename": "t", "size_mb": 2, "step_delay": 0}
    progress, answer = anyio.run(_stdio_call, args, "download_file", arguments)
    assert progress == [1, 2]
    assert answer["content"][0]["text"] == "Downloaded t (2 MB)"
    faults = injected(_finished(record))
    assert faults and {f.action for f in faults} == {"slow"}
    assert all(f.direction is Direction.SERVER_TO_CLIENT for f in faults)


def _findings(events: list[TapEvent]) -> set[str]:
    from mcp_tap.protocol.events import Finding

    return {e.rule for e in events if isinstance(e, Finding)}


def test_reordered_progress_is_flagged_and_the_call_still_ends(tmp_path: Path, server: str) -> None:
    record = tmp_path / "reorder.yaml"
    rule = "reorder tool=download_file nth=1"
    arguments = {"filename": "r", "size_mb": 4, "step_delay": 0}
    code, lines = _download_through_proxy(server, tmp_path, rule, record, arguments)
    assert code == 0, lines
    assert [line["progress"] for line in lines if line["event"] == "progress"] == [2, 1, 3, 4]
    assert lines[-1]["text"] == "Downloaded r (4 MB)"
    events = recorded(record)
    assert [f.action for f in injected(events)] == ["reorder"]
    assert "progress-not-increasing" in _findings(events)


def test_stdio_reordered_progress_is_flagged(tmp_path: Path) -> None:
    import anyio

    record = tmp_path / "stdio-reorder.yaml"
    args = _stdio_args(record, "reorder tool=download_file nth=2")
    arguments = {"filename": "u", "size_mb": 4, "step_delay": 0}
    progress, answer = anyio.run(_stdio_call, args, "download_file", arguments)
    assert progress == [1, 3, 2, 4]
    assert answer["content"][0]["text"] == "Downloaded u (4 MB)"
    events = _finished(record)
    assert [f.action for f in injected(events)] == ["reorder"]
    assert "progress-not-increasing" in _findings(events)


def test_stdio_with_rules_forwards_a_last_line_that_has_no_newline(tmp_path: Path) -> None:
    import subprocess

    # the server echoes its stdin back once it closes: both last lines lack a newline
    echo = [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read())"]
    line = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    args = ["-m", "mcp_tap", "stdio", "--fault", "error tool=nothing", "--", *echo]
    done = subprocess.run(
        [sys.executable, *args], input=line, capture_output=True, timeout=30, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == line  # every byte, through the rules' line cutting both ways


@pytest.mark.usefixtures("typescript_client")
def test_typescript_client_resumes_server_everything_after_a_dropped_stream(
    tmp_path: Path,
) -> None:
    """server-everything's Streamable HTTP server keeps an event store (InMemoryEventStore):
    the TypeScript SDK client resumes with Last-Event-ID and gets every notification."""
    from tests.test_real_traffic import everything_http

    record = tmp_path / "everything.yaml"
    tool = "trigger-long-running-operation"
    rule = f"drop-stream tool={tool} after-progress=2 times=1"
    with (
        everything_http() as server,
        faulty_proxy(server, tmp_path, rule, record) as (url, proxy),
    ):
        lines = ts_client(url, tool, {"duration": 1, "steps": 5})
        proxy.stop()
    assert [line["progress"] for line in lines if line["event"] == "progress"] == [1, 2, 3, 4, 5]
    assert lines[-1]["event"] == "result" and "completed" in lines[-1]["text"], lines
    events = recorded(record)
    (fault,) = injected(events)
    assert fault.action == "drop-stream" and fault.direction is Direction.SERVER_TO_CLIENT
    resumed = [
        e for e in events
        if isinstance(e, ExchangeOpened) and e.method == "GET"
        and header(e.headers, "last-event-id") is not None and e.time > fault.time
    ]  # fmt: skip
    assert resumed, "the client resumed the stream with Last-Event-ID"
