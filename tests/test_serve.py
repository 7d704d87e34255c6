"""`mcp-tap serve` against real clients, in real processes, on loopback sockets."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_tap.protocol.events import Direction, MessageSeen
from mcp_tap.recording.reader import load_recording
from tests.procs import PY_CLIENT, ROOT, Proc, py_client, running, ts_client

pytestmark = pytest.mark.timeout(120)

STATELESS = ROOT / "recordings" / "download_file-2026-07-28.yaml"
HANDSHAKE = ROOT / "recordings" / "download_file-handshake.yaml"
ARGS = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.05}
RECORDED_SPREAD = 0.16  # seconds from the first recorded progress to the last, both samples


@contextmanager
def serving(recording: Path, *extra: str) -> Iterator[tuple[str, Proc]]:
    """`python -m mcp_tap serve RECORDING --port 0`; yields the URL to give clients."""
    args = [sys.executable, "-m", "mcp_tap", "serve", str(recording), "--port", "0", "-q", *extra]
    with running(args, cwd=ROOT) as proc:
        yield proc.wait_for_line(r"point your client at (\S+)").group(1), proc


def stop(proc: Proc) -> int:
    """SIGTERM, as Ctrl-C would, and the exit code; the summary is on stderr."""
    proc.stop()
    return proc.finish(10)


def assert_recorded_download(events: list[dict[str, Any]], protocol_version: str) -> None:
    progress = [e for e in events if e["event"] == "progress"]
    assert [(p["progress"], p["total"]) for p in progress] == [(i, 5) for i in range(1, 6)]
    assert [p["message"] for p in progress] == [f"report.pdf: {i}/5 MB" for i in range(1, 6)]
    (result,) = [e for e in events if e["event"] == "result"]
    assert result["text"] == "Downloaded report.pdf (5 MB)" and not result["is_error"]
    assert result["protocol_version"] == protocol_version
    # The recorded pacing, loosely: a burst would take a few milliseconds.
    assert progress[-1]["t"] - progress[0]["t"] >= 0.5 * RECORDED_SPREAD
    assert result["t"] >= progress[-1]["t"]


@pytest.mark.parametrize(
    ("recording", "transport", "version"),
    [
        (STATELESS, "auto", "2026-07-28"),
        (HANDSHAKE, "legacy", "2025-11-25"),
        (HANDSHAKE, "auto", "2025-11-25"),  # discover refused as the era did: falls back
        (STATELESS, "legacy", "2025-11-25"),  # initialize made from the recorded discover
    ],
    ids=["2026-auto", "handshake-legacy", "handshake-auto", "2026-legacy"],
)
def test_python_client_gets_the_recorded_result_and_progress(
    recording: Path, transport: str, version: str
) -> None:
    with serving(recording) as (url, _):
        assert_recorded_download(py_client(url, transport, "download_file", ARGS), version)


def test_two_clients_at_once_each_get_their_own_stream() -> None:
    with serving(HANDSHAKE) as (url, _):
        results: dict[str, list[dict[str, Any]]] = {}

        def client(name: str, transport: str) -> None:
            results[name] = py_client(url, transport, "download_file", ARGS)

        threads = [
            threading.Thread(target=client, args=("a", "legacy")),
            threading.Thread(target=client, args=("b", "auto")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert set(results) == {"a", "b"}
    for events in results.values():
        assert_recorded_download(events, "2025-11-25")


def test_a_changed_argument_is_a_miss_and_strict_exits_1_listing_it() -> None:
    with serving(HANDSHAKE, "--strict") as (url, proc):
        changed = {**ARGS, "size_mb": 6}
        events = run_failing_client(url, changed)
        code = stop(proc)
    (error,) = [e for e in events if e["event"] == "error"]
    assert error["code"] == -32050
    assert "closest is tools/call download_file" in error["message"]
    assert "params.arguments.size_mb: recorded 5, received 6" in error["message"]
    assert code == 1, proc.stderr
    assert "1 missed" in proc.stderr
    assert "miss: mcp-tap serve: no recorded tools/call" in proc.stderr
    assert "unused: tools/call download_file (call 2 of download_file-handshake.yaml" in proc.stderr


def test_strict_exits_0_when_everything_was_used() -> None:
    with serving(HANDSHAKE, "--strict", "--fast") as (url, proc):
        py_client(url, "legacy", "download_file", ARGS)
        code = stop(proc)
    assert code == 0, proc.stderr
    assert "0 missed, 0 recorded interactions unused" in proc.stderr


def run_failing_client(url: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    client = Proc(
        [
            sys.executable,
            str(PY_CLIENT),
            url,
            "--transport",
            "legacy",
            "--tool",
            "download_file",
            "--args",
            json.dumps(arguments),
        ]
    )
    assert client.finish(60) == 1
    return [json.loads(line) for line in client.lines if line.startswith("{")]


@pytest.mark.parametrize("recording", [STATELESS, HANDSHAKE], ids=["2026", "handshake"])
def test_round_trip_replay_against_the_mock_matches(recording: Path) -> None:
    with serving(recording, "--strict") as (url, proc):
        replay = Proc([sys.executable, "-m", "mcp_tap", "replay", str(recording), "--target", url])
        assert replay.finish(60) == 0, "\n".join(replay.lines) + replay.stderr
        assert any("replay matched" in line for line in replay.lines)
        code = stop(proc)
    assert code == 0, proc.stderr  # replay asked for everything the recording held


def test_the_mock_session_can_be_recorded(tmp_path: Path) -> None:
    record = tmp_path / "mock.yaml"
    with serving(STATELESS, "--fast", "--record", str(record)) as (url, proc):
        py_client(url, "auto", "download_file", ARGS)
        stop(proc)
    documents = [d for d in yaml.safe_load_all(record.read_text()) if d]
    sent = [
        d["message"]["json"]
        for d in documents
        if d.get("type") == "message" and d["direction"] == "server->client"
    ]
    assert [m.get("method") for m in sent].count("notifications/progress") == 5
    assert any("Downloaded report.pdf" in str(m.get("result")) for m in sent)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["nowhere.yaml"], "nowhere.yaml: no such file"),
        ([str(HANDSHAKE), "--match", "sideways"], "--match 'sideways'"),
        ([str(HANDSHAKE), "--speed", "0"], "--speed must be above 0"),
    ],
    ids=["missing-file", "bad-match", "bad-speed"],
)
def test_bad_input_exits_2_with_one_line(args: list[str], says: str) -> None:
    proc = Proc([sys.executable, "-m", "mcp_tap", "serve", "--port", "0", *args], cwd=ROOT)
    assert proc.finish(30) == 2
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_typescript_client_gets_the_recorded_result_and_progress(typescript_client: None) -> None:
    with serving(HANDSHAKE) as (url, _):
        assert_recorded_download(ts_client(url, "download_file", ARGS), "2025-11-25")


LEGACY_SSE = ROOT / "recordings" / "sse-2024-11-05.yaml"


def test_the_2024_11_05_sse_transport_gets_the_recorded_result_and_progress() -> None:
    with serving(LEGACY_SSE) as (url, _):
        assert url.endswith("/sse")
        events = py_client(url, "sse", "download_file", ARGS)
    progress = [e for e in events if e["event"] == "progress"]
    assert [(p["progress"], p["total"]) for p in progress] == [(i, 5) for i in range(1, 6)]
    (result,) = [e for e in events if e["event"] == "result"]
    assert result["text"] == "Downloaded report.pdf (5 MB)" and result["t"] >= progress[-1]["t"]


def test_a_2024_11_05_recording_replays_against_its_mock() -> None:
    with serving(LEGACY_SSE, "--strict", "--fast") as (url, proc):
        replay = Proc([sys.executable, "-m", "mcp_tap", "replay", str(LEGACY_SSE), "--target", url])
        assert replay.finish(60) == 0, "\n".join(replay.lines) + replay.stderr
        code = stop(proc)
    assert code == 0, proc.stderr


def comparable(message: dict[str, Any]) -> dict[str, Any]:
    """A message without what differs from run to run: ids, tokens, _meta, server version."""
    kept = {k: v for k, v in message.items() if k not in ("id", "jsonrpc")}
    params = kept.get("params")
    if isinstance(params, dict):
        kept["params"] = {k: v for k, v in params.items() if k not in ("progressToken", "_meta")}
    result = kept.get("result")
    if isinstance(result, dict):
        kept["result"] = {k: v for k, v in result.items() if k != "_meta"}
    return kept


def server_messages(path: Path) -> list[dict[str, Any]]:
    return [
        comparable(e.message.payload)
        for e in load_recording(path).events
        if isinstance(e, MessageSeen)
        and e.direction is Direction.SERVER_TO_CLIENT
        and isinstance(e.message.payload, dict)
    ]


def test_a_client_recorded_against_the_mock_sees_what_the_recording_holds(tmp_path: Path) -> None:
    """The round trip's second half: the mock's own session is the recorded one, ids aside."""
    record = tmp_path / "mock.yaml"
    with serving(HANDSHAKE, "--record", str(record)) as (url, proc):
        py_client(url, "legacy", "download_file", ARGS)
        stop(proc)
    original, mocked = server_messages(HANDSHAKE), server_messages(record)
    download = [m for m in original if m.get("method") == "notifications/progress"]
    assert [m for m in mocked if m.get("method") == "notifications/progress"] == download
    answers = [m for m in original if "result" in m and "content" in m["result"]]
    assert answers and all(answer in mocked for answer in answers)
