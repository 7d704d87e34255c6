"""One numbering of calls: `show --call N`, serve's misses, replay's divergences and check's
findings name the same request by the same number, for an HTTP recording and a stdio one.

Then stdio recordings as first-class recordings: named by their command in `show`, the
report and the exports, refused by HAR, and replayed against their own command.

Every command is a real `python -m mcp_tap` process; the stdio recording is made here by the
`mcp` SDK's stdio client through `mcp-tap stdio` in front of the demo server.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from pathlib import Path

import anyio
import pytest

from mcp_tap.protocol.events import ExchangeClosed
from mcp_tap.recording.reader import load_recording
from tests.procs import ROOT, Proc
from tests.samples import sample
from tests.test_serve_stdio import call_download, messages_of
from tests.test_stdio import INITIALIZE, _download, child, line, spawned, tap

pytestmark = pytest.mark.timeout(150)

HTTP_SAMPLE = sample("download_file-handshake")
ARGS = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.02}


def mcp_tap(*args: str, timeout: float = 120) -> Proc:
    proc = Proc([sys.executable, "-m", "mcp_tap", *args], cwd=ROOT)
    proc.finish(timeout)
    return proc


def said(proc: Proc) -> str:
    return "\n".join(proc.lines) + proc.stderr


def finished(record: Path) -> Path:
    """Wait for mcp-tap stdio to write the recording's end."""
    deadline = time.monotonic() + 20
    while not any(isinstance(e, ExchangeClosed) for e in load_recording(record).events):
        assert time.monotonic() < deadline, "the recording never got its end"
        time.sleep(0.1)
    return record


@pytest.fixture(scope="module")
def stdio_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mcp 2.x stdio client calling download_file through `mcp-tap stdio`."""
    record = tmp_path_factory.mktemp("numbering") / "sdk.yaml"
    args = tap(record, sys.executable, "-m", "demo_server", "--stdio")
    _, result = anyio.run(_download, args[0], args[1:])
    assert result["content"][0]["text"] == "Downloaded report.pdf (5 MB)"
    return finished(record)


def serve_miss_number(recording: Path) -> int:
    """The call serve names as the closest to a download with another size."""
    args = ["-m", "mcp_tap", "serve", "--stdio", "--fast", str(recording)]
    with pytest.raises(BaseException) as raised:
        anyio.run(call_download, args, {**ARGS, "size_mb": 6})
    said = messages_of(raised.value)
    found = re.search(
        rf"closest is tools/call download_file \(call (\d+) of {recording.name}", said
    )
    assert found, said
    return int(found.group(1))


@pytest.mark.parametrize("which", ["http", "stdio"])
def test_every_command_names_the_download_by_the_same_number(
    which: str, request: pytest.FixtureRequest
) -> None:
    recording = HTTP_SAMPLE if which == "http" else request.getfixturevalue("stdio_recording")
    number = serve_miss_number(recording)

    shown = mcp_tap("show", str(recording), "--call", str(number))
    assert shown.returncode == 0, said(shown)
    text = "\n".join(shown.lines)
    assert '"method": "tools/call"' in text and '"name": "download_file"' in text
    assert "notifications/progress" in text and "Downloaded report.pdf" in text
    if which == "http":
        assert "HTTP 200" in text and "POST /mcp" in text  # the exchange that carried it

    other = shlex.join(child("answer", "Fetched something else"))
    replayed = mcp_tap("replay", str(recording), "--fast", "-q", "--command", other)
    assert replayed.returncode == 1, said(replayed)
    assert re.search(
        rf"DIVERGED tools/call download_file \(id \d+\)\s+recorded call {number},", said(replayed)
    ), said(replayed)

    checked = mcp_tap("check", str(recording), "--max-duration", "tools/call=0")
    assert checked.returncode == 1, said(checked)
    (late,) = [line for line in checked.lines if "duration-exceeded" in line]
    assert f"(call {number}" in late


def test_show_counts_calls_in_its_header_and_its_filter() -> None:
    proc = mcp_tap("show", str(sample("process_data-handshake")), "--filter", "tools/call")
    assert proc.returncode == 0, said(proc)
    text = re.sub(r"\s+", " ", " ".join(proc.lines))  # the header wraps at 80 columns
    assert "3 calls · 1 session" in text  # initialize, tools/call, tools/list
    assert "1 of 3 calls match" in text


def test_show_call_out_of_range_is_one_line_exit_2() -> None:
    proc = mcp_tap("show", str(HTTP_SAMPLE), "--call", "99")
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("has no call 99 (3 in all)"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_stdio_recording_is_named_by_its_command_with_its_calls(stdio_recording: Path) -> None:
    proc = mcp_tap("show", str(stdio_recording))
    assert proc.returncode == 0, said(proc)
    head = re.sub(r"\s+", " ", " ".join(proc.lines[:3]))
    assert "-m demo_server --stdio" in head and "stdio: " in head
    assert "target ?" not in head and "1 session" in head
    calls = re.search(r"(\d+) calls", head)
    assert calls and int(calls.group(1)) >= 2  # at least the download and a handshake or probe


def test_har_refuses_a_stdio_recording(stdio_recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.har"
    proc = mcp_tap("export", str(stdio_recording), "--format", "har", "-o", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        "HAR holds HTTP exchanges; a stdio recording has none: use --format jsonl or otlp"
    )
    assert not out.exists()
    otlp = mcp_tap("export", str(stdio_recording), "--format", "otlp")
    assert otlp.returncode == 0, said(otlp)
    assert '"mcp_tap.call"' in "\n".join(otlp.lines)


def test_the_report_names_a_stdio_recordings_command(stdio_recording: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    proc = mcp_tap("report", str(stdio_recording), "-o", str(page))
    assert proc.returncode == 0, said(proc)
    html = page.read_text()
    assert "stdio: " in html and "-m demo_server --stdio" in html
    assert '["target", "?"]' not in html


@pytest.fixture(scope="module")
def other_server_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stdio session of a server that is not the demo's (`stdio_child.py answer`), driven
    line by line as a host does."""
    record = tmp_path_factory.mktemp("numbering") / "other.yaml"
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "fetch"}}
    with spawned(tap(record, *child("answer", "Fetched it"))) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(line(INITIALIZE))
        process.stdin.flush()
        answers = [process.stdout.readline()]
        process.stdin.write(line(call))
        process.stdin.flush()
        answers.append(process.stdout.readline())
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    assert b"Fetched it" in answers[-1]
    return finished(record)


def test_replay_runs_a_stdio_recordings_own_command(other_server_recording: Path) -> None:
    proc = mcp_tap("replay", str(other_server_recording), "--fast", "-q")
    assert proc.returncode == 0, said(proc)
    first = proc.stderr.strip().splitlines()[0]
    assert first.startswith("replaying against the recorded command: ")
    assert "stdio_child.py answer" in first
    assert "replay matched" in said(proc)


def test_replay_of_a_redacted_command_asks_for_one(
    other_server_recording: Path, tmp_path: Path
) -> None:
    text = other_server_recording.read_text()
    redacted = tmp_path / "redacted.yaml"
    assert ", answer, " in text  # the header's command, in flow style
    redacted.write_text(text.replace(", answer, ", ', "--token=<redacted:token>", ', 1))
    proc = mcp_tap("replay", str(redacted), "--fast", "-q")
    assert proc.returncode == 2, said(proc)
    assert proc.stderr.strip().endswith("cannot be run: give --command"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_demo_stdio_recording_still_replays_against_the_demo_server(
    stdio_recording: Path,
) -> None:
    proc = mcp_tap("replay", str(stdio_recording), "--fast", "-q")
    assert proc.returncode == 0, said(proc)
    assert "replaying against the recorded command" not in proc.stderr
    assert "replay matched" in said(proc)
