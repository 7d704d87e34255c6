"""`mcp-tap replay` and `mcp-tap demo`, run as real processes against real servers."""

from __future__ import annotations

import asyncio
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client

from mcp_tap.cli import main as mcp_tap_main
from mcp_tap.cli.proxy import running_proxy
from mcp_tap.protocol.redaction import RedactionRules
from mcp_tap.recording.writer import RecordingWriter
from mcp_tap.tap.bus import TapBus
from tests.misbehaving_server import running_misbehaving_server
from tests.procs import ROOT, Proc, running
from tests.samples import SAMPLES

pytestmark = pytest.mark.timeout(120)

DOWNLOAD_SAMPLE = ROOT / "recordings" / "download_file-handshake.yaml"


def mcp_tap(*args: str, cwd: Path | None = None, timeout: float = 90) -> Proc:
    """Run `python -m mcp_tap ARGS` to the end."""
    proc = Proc([sys.executable, "-m", "mcp_tap", *args], cwd=cwd)
    proc.finish(timeout)
    return proc


def stdout_of(proc: Proc) -> str:
    """What the command wrote to stdout alone (its stderr lines removed)."""
    errors = set(proc.stderr.splitlines())
    return "\n".join(line for line in proc.lines if line not in errors)


def output(proc: Proc) -> str:
    return "\n".join(proc.lines)


def edit_recording(source: Path, target: Path, edit: Any) -> None:
    """Load every document, let `edit(documents)` change them, write them back."""
    documents = list(yaml.safe_load_all(source.read_text()))
    edit(documents)
    target.write_text(yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True))


def messages(documents: list[Any], method: str) -> list[dict[str, Any]]:
    return [
        d["message"]["json"]
        for d in documents
        if d and d.get("type") == "message" and d["message"].get("json", {}).get("method") == method
    ]


def test_there_are_samples_of_every_era() -> None:
    names = {path.name for path in SAMPLES}
    for tool in ("download_file", "process_data", "install_package"):
        assert f"{tool}-2026-07-28.yaml" in names and f"{tool}-handshake.yaml" in names
    assert "sse-2024-11-05.yaml" in names


@pytest.mark.parametrize("sample", SAMPLES, ids=[path.stem for path in SAMPLES])
def test_every_sample_recording_replays_against_the_demo_server(sample: Path) -> None:
    proc = mcp_tap("replay", str(sample), "--fast")
    assert proc.returncode == 0, output(proc) + proc.stderr
    assert "replay matched" in output(proc)


def test_a_changed_result_diverges_and_names_the_request(tmp_path: Path) -> None:
    edited = tmp_path / "changed.yaml"

    def change_result(documents: list[Any]) -> None:
        for d in documents:
            result = d.get("message", {}).get("json", {}).get("result", {}) if d else {}
            for block in result.get("content", []) if isinstance(result, dict) else []:
                block["text"] = block["text"].replace("Downloaded", "Fetched")

    edit_recording(DOWNLOAD_SAMPLE, edited, change_result)
    junit = tmp_path / "report.xml"
    proc = mcp_tap("replay", str(edited), "--fast", "--junit", str(junit))
    text = output(proc)
    assert proc.returncode == 1, text
    assert "DIVERGED tools/call download_file" in text
    assert "  result.content[0].text\n" in text
    assert '    - "Fetched report.pdf (5 MB)"' in text
    assert '    + "Downloaded report.pdf (5 MB)"' in text
    assert "silence with: --ignore 'result.content[0].text'" in text
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


def test_a_missing_progress_notification_diverges(tmp_path: Path) -> None:
    edited = tmp_path / "missing.yaml"

    def drop_one(documents: list[Any]) -> None:
        first = messages(documents, "notifications/progress")[0]
        documents[:] = [
            d for d in documents if not (d and d.get("message", {}).get("json") is first)
        ]

    edit_recording(DOWNLOAD_SAMPLE, edited, drop_one)
    proc = mcp_tap("replay", str(edited), "--fast")
    text = output(proc)
    assert proc.returncode == 1, text
    assert "DIVERGED tools/call download_file" in text
    assert "progress extra 1" in text and "silence with: --progress-tolerance 1" in text


def test_progress_made_to_go_down_diverges(tmp_path: Path) -> None:
    edited = tmp_path / "down.yaml"

    def go_down(documents: list[Any]) -> None:
        messages(documents, "notifications/progress")[1]["params"]["progress"] = 0

    edit_recording(DOWNLOAD_SAMPLE, edited, go_down)
    proc = mcp_tap("replay", str(edited), "--fast")
    text = output(proc)
    assert proc.returncode == 1, text
    assert "DIVERGED tools/call download_file" in text
    assert "progress missing 0 (recorded at " in text and "progress extra 2" in text


def record_misbehaving_session(path: Path) -> None:
    """A real client calls good_progress then no_progress through a recording proxy."""

    async def main() -> None:
        async def ignore(progress: float, total: float | None, message: str | None) -> None:
            pass

        bus = TapBus([RecordingWriter(path, None, RedactionRules.from_options())])
        async with running_misbehaving_server() as server:
            async with running_proxy(server + "/mcp", bus) as proxy:
                async with Client(proxy + "/mcp") as client:
                    args = {"steps": 3}
                    await client.call_tool("good_progress", args, progress_callback=ignore)
                    await client.call_tool("no_progress", {}, progress_callback=ignore)
                await asyncio.sleep(0.05)
        bus.close()

    asyncio.run(main())


def test_replay_against_a_misbehaving_server_fails_for_the_right_request(tmp_path: Path) -> None:
    recording = tmp_path / "session.yaml"
    record_misbehaving_session(recording)
    server_args = [sys.executable, str(ROOT / "tests" / "misbehaving_server.py"), "--port", "0"]

    with running([*server_args], cwd=ROOT) as server:
        url = server.wait_for_line(r"(http://\S+/mcp)").group(1)
        same = mcp_tap("replay", str(recording), "--fast", "--target", url)
        assert same.returncode == 0, output(same)

    with running([*server_args, "--break", "good_progress"], cwd=ROOT) as server:
        url = server.wait_for_line(r"(http://\S+/mcp)").group(1)
        broken = mcp_tap("replay", str(recording), "--fast", "--target", url)
    text = output(broken)
    assert broken.returncode == 1, text
    assert "DIVERGED tools/call good_progress" in text
    assert "DIVERGED tools/call no_progress" not in text
    assert "1 of" in text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["replay", "no-such-file.yaml"], "no-such-file.yaml"),
        (["replay", "{corrupt"], "corrupt"),
        (["replay", str(DOWNLOAD_SAMPLE), "--target", "http://127.0.0.1:9/mcp"], "cannot reach"),
    ],
    ids=["missing file", "corrupt yaml", "unreachable target"],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    if args[1] == "{corrupt":
        corrupt = tmp_path / "corrupt.yaml"
        corrupt.write_text("---\nformat: [unclosed\n")
        args = ["replay", str(corrupt)]
    proc = mcp_tap(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_redacted_value_stops_the_replay_with_one_line(tmp_path: Path) -> None:
    edited = tmp_path / "secret.yaml"

    def add_secret(documents: list[Any]) -> None:
        for d in documents:
            if d and d.get("type") == "exchange-opened":
                d["headers"].append(["authorization", "<redacted:authorization>"])

    edit_recording(DOWNLOAD_SAMPLE, edited, add_secret)
    proc = mcp_tap("replay", str(edited), "--fast")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "authorization" in line and "--header" in line
    given = mcp_tap("replay", str(edited), "--fast", "--header", "Authorization=Bearer x")
    assert given.returncode == 0, output(given)


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    # The steps' pause is for people watching; the same scenarios run at 0.01 s a step.
    proc = mcp_tap("demo", "--step-delay", "0.01", cwd=tmp_path, timeout=110)
    text = output(proc)
    assert proc.returncode == 0, text + proc.stderr
    assert "replay matched" in text
    for tool in ("dataset.parquet", "processed 60 records", "verifying", "model.bin"):
        assert tool in text
    (recording,) = (tmp_path / "recordings").glob("*.yaml")
    assert "notifications/progress" in recording.read_text()


@pytest.mark.parametrize("delay", ["-1", "nan"])
def test_a_demo_step_delay_below_zero_is_one_line(
    delay: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert mcp_tap_main(["demo", "--step-delay", delay]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "--step-delay" in line
    assert not (tmp_path / "recordings").exists()


def test_replay_report_marks_each_divergence_on_the_recordings_page(tmp_path: Path) -> None:
    edited = tmp_path / "edited.yaml"
    edited.write_text(DOWNLOAD_SAMPLE.read_text().replace("Downloaded report", "Fetched report"))
    page = tmp_path / "replay.html"
    proc = mcp_tap("replay", str(edited), "--fast", "--report", str(page), "--format", "json")
    assert proc.returncode == 1, output(proc)
    verdict = json.loads(stdout_of(proc))
    (diverged,) = verdict["diverged"]
    paths = [d["what"] for d in diverged["divergences"]]
    assert "result.content[0].text" in paths
    html = page.read_text()
    assert html.count("replay-diverged") >= len(paths)  # each one marked, in the page's data
    assert "result.content[0].text" in html and "<script src=" not in html
