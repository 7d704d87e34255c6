"""`mcp-tap replay` across carriers: stdio recordings over stdio and HTTP, HTTP ones over stdio.

Every server is a real process: `python -m demo_server --stdio` started by the replay itself,
`python -m demo_server --port 0` started by the test, or `tests/stdio_child.py answer`, a
stdio server that answers the same requests with something else.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import anyio
import pytest

from mcp_tap.protocol.events import ExchangeClosed, MessageKind, MessageSeen, StreamKind
from mcp_tap.recording.reader import load_recording
from mcp_tap.replay.plan import build_plan, client_lines
from mcp_tap.replay.stdio_session import SESSION, stdio_as_http
from tests.procs import ROOT, Proc, demo_server
from tests.test_stdio import INITIALIZE, _download, child, line, spawned, tap

pytestmark = pytest.mark.timeout(150)

STDIO_SERVER = shlex.join([sys.executable, "-m", "demo_server", "--stdio"])
HTTP_SAMPLE = ROOT / "recordings" / "download_file-handshake.yaml"
TOOL_CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {
        "name": "download_file",
        "arguments": {"filename": "a.bin", "size_mb": 3, "step_delay": 0.01},
        "_meta": {"progressToken": "t-2"},
    },
}


def mcp_tap(*args: str, timeout: float = 120) -> Proc:
    proc = Proc([sys.executable, "-m", "mcp_tap", *args], cwd=ROOT)
    proc.finish(timeout)
    return proc


def said(proc: Proc) -> str:
    return "\n".join(proc.lines) + proc.stderr


def finished(record: Path) -> None:
    """Wait for mcp-tap stdio to write the recording's end (the host may be gone already)."""
    deadline = time.monotonic() + 20
    while not any(isinstance(e, ExchangeClosed) for e in load_recording(record).events):
        assert time.monotonic() < deadline, "the recording never got its end"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def sdk_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stdio session of the mcp 2.x client calling download_file through mcp-tap stdio."""
    record = tmp_path_factory.mktemp("stdio") / "sdk.yaml"
    args = tap(record, sys.executable, "-m", "demo_server", "--stdio")
    progress, result = anyio.run(_download, args[0], args[1:])
    assert [p[0] for p in progress] == [1, 2, 3, 4, 5]
    assert result["content"][0]["text"] == "Downloaded report.pdf (5 MB)"
    finished(record)
    return record


@pytest.fixture(scope="module")
def handshake_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stdio session that starts with initialize: a host of the handshake era."""
    record = tmp_path_factory.mktemp("stdio") / "handshake.yaml"
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    with spawned(tap(record, sys.executable, "-m", "demo_server", "--stdio")) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(line(INITIALIZE))
        process.stdin.flush()
        answers = [process.stdout.readline()]  # as a host does: the rest after the answer
        process.stdin.write(line(initialized) + line(TOOL_CALL))
        process.stdin.flush()
        answers += [process.stdout.readline() for _ in range(4)]  # 3 progress, the result
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    assert b"Downloaded a.bin (3 MB)" in answers[-1]
    finished(record)
    return record


def test_stdio_recording_replays_over_stdio(sdk_session: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.yaml"
    proc = mcp_tap(
        "replay",
        str(sdk_session),
        "--fast",
        "-q",
        "--command",
        STDIO_SERVER,
        "--record",
        str(again),
    )
    assert proc.returncode == 0, said(proc)
    assert "replay matched: all 3 requests behaved the same" in said(proc)
    replayed = load_recording(again)  # the replay's own recording is a stdio session too
    assert replayed.header["transport"] == "stdio"
    seen = [e for e in replayed.events if isinstance(e, MessageSeen)]
    assert {e.stream for e in seen} == {StreamKind.STDIO}
    progress = [m for m in seen if m.message.method == "notifications/progress"]
    assert [m.message.payload["params"]["progress"] for m in progress] == [1, 2, 3, 4, 5]


def test_http_recording_replays_over_stdio() -> None:
    proc = mcp_tap("replay", str(HTTP_SAMPLE), "--fast", "-q", "--command", STDIO_SERVER)
    assert proc.returncode == 0, said(proc)
    assert "replay matched" in said(proc)
    # -q in a pipe: a stream's progress is its one end line, never a line per notification
    assert not [x for x in proc.lines if "notifications/progress" in x]
    assert [x for x in proc.lines if x.startswith("ok ") and "5 updates" in x]


@pytest.mark.parametrize("session", ["sdk_session", "handshake_session"])
def test_stdio_recording_replays_over_http(session: str, request: pytest.FixtureRequest) -> None:
    record: Path = request.getfixturevalue(session)
    with demo_server(step_delay=0.01) as base_url:
        proc = mcp_tap("replay", str(record), "--fast", "-q", "--target", f"{base_url}/mcp")
    assert proc.returncode == 0, said(proc)
    assert "replay matched" in said(proc)


def test_stdio_recording_replays_against_the_bundled_demo_server(handshake_session: Path) -> None:
    proc = mcp_tap("replay", str(handshake_session), "--fast", "-q")
    assert proc.returncode == 0, said(proc)
    assert "replay matched: all 2 requests behaved the same" in said(proc)


@pytest.mark.parametrize("recording", ["sdk_session", "http_sample"])
def test_a_server_that_answers_differently_diverges(
    recording: str, request: pytest.FixtureRequest
) -> None:
    record = HTTP_SAMPLE if recording == "http_sample" else request.getfixturevalue(recording)
    other = shlex.join(child("answer", "Fetched something else"))
    proc = mcp_tap("replay", str(record), "--fast", "-q", "--command", other)
    assert proc.returncode == 1, said(proc)
    text = said(proc)
    assert "DIVERGED tools/call download_file (id 2)" in text
    assert "Fetched" in text  # what the other server said
    assert "progress missing 3, 4, 5" in text  # 2 where the recording has 5


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("/no/such/server --stdio", "cannot start '/no/such/server': No such file or directory"),
        ("", "--command is empty: give the server's command line"),
        ("python 'unbalanced", "No closing quotation"),
        (
            shlex.join([sys.executable, "-c", "raise SystemExit(3)"]),
            "exited with status 3 before answering anything",
        ),
    ],
)
def test_a_command_that_cannot_serve_exits_2_with_one_line(command: str, says: str) -> None:
    proc = mcp_tap("replay", str(HTTP_SAMPLE), "--fast", "-q", "--command", command)
    assert proc.returncode == 2, said(proc)
    assert proc.stderr.strip().splitlines()[-1].endswith(says), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_stdio_session_becomes_one_post_per_line(handshake_session: Path) -> None:
    events = stdio_as_http(load_recording(handshake_session).events, "/x/mcp")
    plan = build_plan(events)
    first, initialized, call = plan.exchanges
    assert [x.opened.method for x in plan.exchanges] == ["POST"] * 3
    assert {x.opened.target for x in plan.exchanges} == {"/x/mcp"}
    assert first.mints_session == SESSION and first.opened.session_id is None
    assert dict(call.headers)["mcp-session-id"] == SESSION
    assert dict(call.headers)["mcp-protocol-version"] == "2025-06-18"
    assert dict(initialized.headers)["mcp-session-id"] == SESSION
    download = plan.calls[-1]  # with its progress and response
    assert download.exchange_id == call.exchange_id
    assert [p["progress"] for p in download.progress] == [1, 2, 3]
    assert download.response is not None and download.response.kind is MessageKind.RESPONSE
    lines = client_lines(plan)
    assert [len(x.requests) for x in lines] == [1, 0, 1]
    assert lines[1].waits_for == (plan.calls[0],)  # sent once initialize was answered


def test_a_stateless_stdio_session_carries_the_routing_headers(sdk_session: Path) -> None:
    plan = build_plan(stdio_as_http(load_recording(sdk_session).events))
    headers = [dict(x.headers) for x in plan.exchanges]
    assert [h["mcp-method"] for h in headers] == ["server/discover", "tools/call", "tools/list"]
    assert {h["mcp-protocol-version"] for h in headers} == {"2026-07-28"}
    assert headers[1]["mcp-name"] == "download_file"
    assert all("mcp-session-id" not in h for h in headers)
