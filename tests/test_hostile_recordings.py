"""Recordings from others are data: aliases refused, wrong types named, memory bounded.

Every command that reads a recording runs as a user runs it (a separate `mcp-tap`
process) on a small "billion laughs" file and on a file with a wrong-typed field.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_tap.protocol.codec import event_to_json
from mcp_tap.recording.reader import (
    RecordingError,
    RecordingFile,
    load_recording,
    open_recording,
    parse_recording,
)
from tests.samples import SAMPLES

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
GOLDENS = ROOT / "tests" / "goldens" / "recordings"
HEADER = "---\nformat: mcp-tap-recording\nversion: 1\ntarget: demo\n...\n"
# Nine times nine times nine... "lol"s: 9**8 strings once anything walks the data.
LAUGHS = "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9)).replace(
    "*l0", '"lol"'
)
ALIASES = HEADER + "---\ntype: fault\ntime: 1.0\nkind: k\nl0: x\n" + LAUGHS + "detail: *l8\n...\n"
FAULT = "---\ntype: fault\ntime: {time}\nkind: upstream-reset\ndetail: gone\n...\n"
WRONG_TYPE = HEADER + FAULT.format(time="0.5") + FAULT.format(time="abc0.06")
COMMANDS = {
    "show": ["show"],
    "show --jsonl": ["show", "--jsonl"],
    "export": ["export", "--format", "jsonl"],
    "export har": ["export", "--format", "har"],
    "report": ["report"],
    "check": ["check"],
    # a closed port: the file is refused before the target is tried
    "replay": ["replay", "--fast", "--target", "http://127.0.0.1:9/mcp"],
    "serve": ["serve", "--port", "0"],
}


def mcp_tap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused file gets, after checking it is only that."""
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("mcp-tap: ")
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_aliases_are_refused_by_every_command(tmp_path: Path, command: str) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(ALIASES)
    assert path.stat().st_size < 1000
    line = refused(mcp_tap(*COMMANDS[command], str(path)))
    assert str(path) in line and "document 1" in line and "alias" in line


def test_an_alias_in_the_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(HEADER.replace("target: demo\n", "l0: x\n" + LAUGHS + "target: *l8\n"))
    line = refused(mcp_tap("show", str(path)))
    assert "document 0" in line and "alias" in line


@pytest.mark.parametrize("command", COMMANDS)
def test_a_wrong_typed_field_is_named_by_every_command(tmp_path: Path, command: str) -> None:
    path = tmp_path / "typed.yaml"
    path.write_text(WRONG_TYPE)
    line = refused(mcp_tap(*COMMANDS[command], str(path)))
    assert f"{path}: document 2, line 12: fault event: field `time` must be a number" in line
    assert "'abc0.06'" in line


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            "type: exchange-opened\nexchange_id: 1\ntime: 1\nmethod: GET\ntarget: /\nheaders: 7\n",
            "field `headers` must be a list of [name, value] pairs",
        ),
        ("type: exchange-closed\nexchange_id: true\ntime: 1\nreason: c\n", "`exchange_id`"),
        ("type: exchange-closed\nexchange_id: 1\ntime: 1\nreason: c\nmore: 1\n", "`more`"),
        ("type: finding\ntime: 1\nseverity: loud\nrule: r\ndetail: d\n", "be one of"),
        ("type: exchange-closed\nexchange_id: 1\ntime: 1\nreason: [a]\n", "be a string"),
        ("type: fault\ntime: 1\nkind: k\n", "field `detail` is missing"),
    ],
)
def test_each_field_is_checked(document: str, problem: str) -> None:
    with pytest.raises(RecordingError) as raised:
        parse_recording(f"{HEADER}---\n{document}...\n", "f.yaml")
    assert problem in str(raised.value) and "f.yaml: document 1" in str(raised.value)


def test_message_fields_are_checked() -> None:
    message = "message:\n  kind: request\n  json: {}\n  batch_index: x\n"
    text = HEADER + (
        "---\ntype: message\nexchange_id: 1\ntime: 1\ndirection: client->server\n"
        f"stream: request-body\n{message}...\n"
    )
    with pytest.raises(RecordingError, match="field `message.batch_index` must be an integer"):
        parse_recording(text)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("!!binary aGk=", "!!binary"), ("!!set {a}", "!!set"), ("!custom x", "!custom")],
)
def test_tags_beyond_plain_data_are_refused(value: str, problem: str) -> None:
    text = HEADER + f"---\ntype: fault\ntime: 1\nkind: k\ndetail: {value}\n...\n"
    with pytest.raises(RecordingError, match=f"unsupported YAML tag {problem}"):
        parse_recording(text)


def test_an_unquoted_date_stays_text() -> None:
    text = HEADER + "---\ntype: fault\ntime: 1\nkind: k\ndetail: 2026-11-26\n...\n"
    assert parse_recording(text).events[0].detail == "2026-11-26"  # type: ignore[union-attr]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_committed_recordings_load_as_before(sample: Path) -> None:
    """Header and events as the reader before streaming read them (tests/goldens)."""
    recording = load_recording(sample)
    lines = [json.dumps(recording.header, sort_keys=True)]
    lines += [event_to_json(event) for event in recording.events]
    golden = (GOLDENS / f"{sample.stem}.jsonl").read_text().splitlines()
    assert lines == golden and recording.warnings == []


def test_every_pass_over_a_file_gives_the_same_events(tmp_path: Path) -> None:
    sample = ROOT / "recordings" / "download_file-handshake.yaml"
    expected = load_recording(sample).events
    for keep in (0, 3, 10_000):  # read again each pass, or kept after the first
        stream = RecordingFile(str(sample), lambda: sample.open(encoding="utf-8"), keep)
        assert list(stream) == expected and list(stream) == expected
    cut = tmp_path / "cut.yaml"
    cut.write_text(sample.read_text()[:-20])
    stream = open_recording(cut)
    assert list(stream) == expected[:-1] and "cut short" in stream.warnings[0]


def test_report_lists_what_its_limits_allow_and_says_what_it_left_out(tmp_path: Path) -> None:
    sample = ROOT / "recordings" / "download_file-handshake.yaml"
    page = tmp_path / "report.html"
    limits = ["--max-rows", "3", "--max-charts", "1", "--max-points", "2"]
    result = mcp_tap("report", str(sample), "-o", str(page), *limits)
    assert result.returncode == 0, result.stderr
    found = re.search(r'id="report-data"[^>]*>(.*?)</script>', page.read_text(), re.S)
    assert found is not None
    data = json.loads(found.group(1))
    messages = sum(1 for line in sample.read_text().splitlines() if line == "type: message")
    assert len(data["messages"]) == 3 and data["left_out"]["messages"] == messages - 3
    assert dict(data["facts"])["messages"] == messages
    (chart,) = data["progress"]
    assert len(chart["points"]) <= 4 and chart["sampled"] == 5  # thinned, the last one kept
    assert chart["points"][-1]["progress"] == 5
    assert any("left out of this page" in w for w in data["warnings"])


def test_report_limits_must_be_positive(tmp_path: Path) -> None:
    sample = ROOT / "recordings" / "download_file-handshake.yaml"
    line = refused(mcp_tap("report", str(sample), "--max-rows", "0"))
    assert "--max-rows" in line
