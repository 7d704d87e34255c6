"""`mcp-tap show`: the committed samples, --jsonl, --filter, and bad files as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_tap.analysis.select import filter_events
from mcp_tap.cli.app import main
from mcp_tap.protocol.codec import event_from_dict
from mcp_tap.protocol.events import MessageSeen
from mcp_tap.recording.reader import load_recording
from tests.samples import SAMPLES

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[1]
HEADER = "---\nformat: mcp-tap-recording\nversion: 1\n...\n"
FAULT = "---\ntype: fault\ntime: 0.5\nkind: upstream-reset\ndetail: gone\n...\n"


def show(*args: str) -> subprocess.CompletedProcess[str]:
    """`mcp-tap show` as a user runs it: a separate process, nothing caught for it."""
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", "show", *args],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.yaml", None),
        ("binary.yaml", b"\x89PNG\r\n\x1a\n\x00\x00"),
        ("not-yaml.yaml", b"key: [unclosed\n  - {\n"),
        ("version-3.yaml", HEADER.replace("version: 1", "version: 3").encode()),
        (
            "python-tag.yaml",
            (HEADER + "--- !!python/object/apply:os.system ['true']\n...\n").encode(),
        ),
    ],
)
def test_bad_recording_is_one_line_and_exit_2(
    tmp_path: Path, name: str, content: bytes | None
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = show(str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("mcp-tap: ")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cut_recording_shows_what_it_has_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cut.yaml"
    path.write_text(HEADER + FAULT + FAULT[:30])
    result = show(str(path))
    assert result.returncode == 0
    assert (
        result.stderr.count("\n") == 1
        and "warning" in result.stderr
        and "cut short" in result.stderr
    )
    assert "upstream-reset" in result.stdout and "gone" in result.stdout


def test_samples_exist_and_load() -> None:
    names = {path.name for path in SAMPLES}
    for tool in ("download_file", "process_data", "install_package"):
        assert {f"{tool}-2026-07-28.yaml", f"{tool}-handshake.yaml"} <= names
    assert "sse-2024-11-05.yaml" in names
    for path in SAMPLES:
        recording = load_recording(path)
        assert recording.warnings == [] and recording.events, path


def test_show_prints_the_recorded_progress(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(ROOT / "recordings" / "download_file-handshake.yaml")]) == 0
    out = capsys.readouterr().out
    assert all(f"report.pdf: {mb}/5 MB" in out for mb in range(1, 6))


def test_jsonl_is_the_codec_form_of_every_event(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "recordings" / "sse-2024-11-05.yaml"
    assert main(["show", "--jsonl", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [event_from_dict(json.loads(line)) for line in lines] == load_recording(path).events


@pytest.mark.parametrize("sample", ["download_file-2026-07-28", "download_file-handshake",
                                    "sse-2024-11-05"])  # fmt: skip
def test_filter_keeps_a_call_with_its_progress_and_result(sample: str) -> None:
    events = load_recording(ROOT / "recordings" / f"{sample}.yaml").events
    kept = filter_events(events, ["tools/c*"])
    messages = [e.message for e in kept if isinstance(e, MessageSeen)]
    assert [m.method for m in messages] == ["tools/call"] + ["notifications/progress"] * 5 + [None]
    assert messages[-1].id == messages[0].id
    exchanges = {e.exchange_id for e in kept}
    assert exchanges == {e.exchange_id for e in kept if isinstance(e, MessageSeen)}
    assert filter_events(events, []) == events
    assert filter_events(events, ["nothing/*"]) == []


def test_filter_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "recordings" / "install_package-2026-07-28.yaml"
    assert main(["show", "--filter", "server/discover", "--jsonl", str(path)]) == 0
    methods = [
        (json.loads(line).get("message") or {}).get("json", {}).get("method")
        for line in capsys.readouterr().out.splitlines()
    ]
    assert "server/discover" in methods and "tools/call" not in methods
