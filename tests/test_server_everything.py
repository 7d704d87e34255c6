"""server-everything (the reference server that exercises every MCP feature) recorded through
`mcp-tap stdio`, with the TypeScript SDK's stdio client as host listing everything it offers
and calling `echo`: the recording diffed with itself has no differences, and its own pins
find nothing against it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_tap.protocol.events import Finding
from tests.procs import EVERYTHING_SERVER, ROOT, TS_DIR, run_client
from tests.test_stdio_ts import finished

pytestmark = [pytest.mark.timeout(150), pytest.mark.usefixtures("typescript_client")]


def mcp_tap(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mcp_tap", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_server_everything_diffed_with_itself(tmp_path: Path) -> None:
    record = tmp_path / "everything.yaml"
    tap = [sys.executable, "-m", "mcp_tap", "stdio", "--record", str(record), "--"]
    host = ["node", str(TS_DIR / "stdio_call.mjs"), "echo", json.dumps({"message": "hi"})]
    events = run_client([*host, "--list", "--", *tap, "node", str(EVERYTHING_SERVER), "stdio"])
    listed = next(e for e in events if e["event"] == "listed")
    assert listed["tools"] > 5 and listed["prompts"] > 0 and listed["resourceTemplates"] > 0
    assert next(e for e in events if e["event"] == "result")["text"] == "Echo: hi"
    recording = finished(record)
    definitions = [
        e.detail for e in recording.events if isinstance(e, Finding) and "definition" in e.rule
    ]
    assert definitions == []  # nothing hidden in the reference server's texts

    same = mcp_tap("diff", str(record), str(record), "--fail-on", "any")
    assert (same.returncode, same.stdout) == (0, "no differences\n"), same.stderr
    pins = tmp_path / "pins.json"
    assert mcp_tap("pin", str(record), "-o", str(pins)).returncode == 0
    pinned = json.loads(pins.read_text())
    assert len(pinned["tools"]) == listed["tools"] and "echo" in pinned["tools"]
    checked = mcp_tap("check", str(record), "--pins", str(pins), "--rule", "definition-changed")
    assert checked.returncode == 0 and "0 findings" in checked.stdout, checked.stdout
