"""`mcp-tap export --format jsonl`: the recording's events, as `--jsonl` prints them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_tap.protocol.codec import event_from_dict
from mcp_tap.recording.reader import load_recording
from tests.samples import SAMPLES

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


@pytest.mark.parametrize("sample", SAMPLES[:3] + SAMPLES[-1:], ids=lambda p: p.stem)
def test_jsonl_is_what_show_jsonl_prints(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    exported = run("export", str(sample), "--format", "jsonl", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    shown = run("show", str(sample), "--jsonl")
    assert shown.returncode == 0, shown.stderr
    text = out.read_text(encoding="utf-8")
    assert text == shown.stdout
    events = [event_from_dict(json.loads(line)) for line in text.splitlines()]
    assert events == load_recording(sample).events
