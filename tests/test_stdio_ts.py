"""The TypeScript SDK's `StdioClientTransport` as the host of `mcp-tap stdio`.

The SDK spawns `mcp-tap stdio --record X -- python -m demo_server --stdio` as its server and
calls `download_file` with a progress callback. The recording must hold every progress
notification, in order, before the response. What the SDK reports is compared with a direct
run, but only as an ordered subset: the SDK can drop progress that arrives in the same read
as the response, so its own view is never taken as the count.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mcp_tap.analysis.check_run import CheckOptions, check_events
from mcp_tap.analysis.conformance import CONFORMANCE_RULES
from mcp_tap.protocol.events import Direction, ExchangeClosed, Finding, MessageSeen
from mcp_tap.recording.reader import Recording, load_recording
from tests.procs import ROOT, TS_DIR, Proc, run_client

pytestmark = [pytest.mark.timeout(150), pytest.mark.usefixtures("typescript_client")]

STDIO_HOST = TS_DIR / "stdio_call.mjs"
SERVER = [sys.executable, "-m", "demo_server", "--stdio"]
STEPS = 8
ARGS = {"filename": "report.pdf", "size_mb": STEPS, "step_delay": 0.02}


def host(*command: str) -> list[dict[str, Any]]:
    return run_client(["node", str(STDIO_HOST), "download_file", json.dumps(ARGS), "--", *command])


def progress_of(events: list[dict[str, Any]]) -> list[Any]:
    return [e["progress"] for e in events if e["event"] == "progress"]


def is_ordered_subset(part: list[Any], whole: list[Any]) -> bool:
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


def finished(record: Path) -> Recording:
    deadline = time.monotonic() + 20
    while True:
        recording = load_recording(record)
        if any(isinstance(e, ExchangeClosed) for e in recording.events):
            return recording
        assert time.monotonic() < deadline, "the recording never got its end"
        time.sleep(0.1)


def test_typescript_stdio_host_through_mcp_tap(tmp_path: Path) -> None:
    record = tmp_path / "ts.yaml"
    direct = host(*SERVER)
    tap = [sys.executable, "-m", "mcp_tap", "stdio", "--record", str(record), "--", *SERVER]
    tapped = host(*tap)

    recording = finished(record)
    lifecycle = {rule.slug for rule in CONFORMANCE_RULES}  # judged live, and again by check
    assert [
        e.detail for e in recording.events if isinstance(e, Finding) and e.rule in lifecycle
    ] == []
    checked = check_events(recording.events, CheckOptions(rules=frozenset(lifecycle)))
    assert [f.detail for _, f in checked.findings] == []
    seen = [e for e in recording.events if isinstance(e, MessageSeen)]
    call = next(m for m in seen if m.message.method == "tools/call")
    token = call.message.progress_token
    after = seen[seen.index(call) + 1 :]
    response = next(
        m
        for m in after
        if m.direction is Direction.SERVER_TO_CLIENT and m.message.id == call.message.id
    )
    progress = [
        m
        for m in after[: after.index(response)]
        if m.message.method == "notifications/progress"
        and m.message.payload["params"]["progressToken"] == token
    ]
    recorded = [m.message.payload["params"]["progress"] for m in progress]
    assert recorded == list(range(1, STEPS + 1))  # all of them, in order, before the result
    assert response.message.payload["result"]["content"][0]["text"] == (
        f"Downloaded report.pdf ({STEPS} MB)"
    )

    results = [[e for e in run if e["event"] == "result"] for run in (direct, tapped)]
    assert [r[0]["text"] for r in results] == [f"Downloaded report.pdf ({STEPS} MB)"] * 2
    for run in (direct, tapped):  # what the SDK chose to report, never more than was sent
        assert is_ordered_subset(progress_of(run), recorded), run
    assert progress_of(tapped), "the SDK reported no progress at all through mcp-tap"

    replay = Proc(
        [sys.executable, "-m", "mcp_tap", "replay", str(record), "--fast", "-q"], cwd=ROOT
    )
    assert replay.finish(120) == 0, "\n".join(replay.lines) + replay.stderr
    command = shlex.join(SERVER)  # the SDK began with initialize: replayed in that era
    replay = Proc(
        [
            sys.executable,
            "-m",
            "mcp_tap",
            "replay",
            str(record),
            "--fast",
            "-q",
            "--command",
            command,
        ],
        cwd=ROOT,
    )
    assert replay.finish(120) == 0, "\n".join(replay.lines) + replay.stderr
