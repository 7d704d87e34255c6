"""`mcp-tap check`, run as a user runs it: exit codes, each format (SARIF against the
OASIS schema), the pins, rule selection, and a recording holding two revisions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mcp_tap.analysis.rules import RULES
from mcp_tap.protocol.events import TapEvent
from mcp_tap.recording.writer import RecordingWriter
from tests.samples import sample
from tests.tap_script import MODERN, request, result
from tests.test_schema_checks import TOOLS, Checked, modern, text

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"
CLEAN = str(sample("download_file-handshake"))


def check(*args: str) -> subprocess.CompletedProcess[str]:
    """`mcp-tap check` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", "check", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


def planted(path: Path) -> Path:
    """A recording of two sessions at two revisions and a 2026-07-28 POST, violations planted:
    a tool schema, its arguments (a warning), and a result each revision judges differently."""
    c = Checked()
    link = {"type": "resource_link", "uri": "file:///a", "name": "a"}
    c.script.session = "new"
    c.handshake("2025-11-25", session="new")
    c.exchange(request(1, "tools/list"), result(1, {"tools": TOOLS}))
    c.exchange(request(2, name="add", arguments={"a": "1"}), result(2, _sum()))
    c.exchange(request(3, name="x"), result(3, {"content": [link]}))  # fine in 2025-11-25
    c.script.session = "old"
    c.handshake("2024-11-05", session="old")
    c.exchange(request(1, name="x"), result(1, {"content": [link]}))  # not in 2024-11-05
    c.script.session = None
    mirrored = (("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "x"))
    c.exchange(modern(1), result(1, {"content": [text("a")]}), headers=mirrored)  # no resultType
    return write(path, c.events)


def _sum() -> dict[str, Any]:
    return {"content": [text("3")], "structuredContent": {"sum": 3}}


def warning_only(path: Path) -> Path:
    c = Checked()
    c.handshake("2025-11-25", session="sess-1")
    c.exchange(request(1, "tools/list"), result(1, {"tools": TOOLS[:1]}))
    c.exchange(request(2, name="add", arguments={"a": "1"}), result(2, _sum()))
    return write(path, c.events)


def write(path: Path, events: list[TapEvent]) -> Path:
    """A recording as the proxy writes it: the events and the live checker's findings."""
    writer = RecordingWriter(path, "http://127.0.0.1:1/mcp")
    for event in events:
        writer.handle(event)
    writer.close()
    return path


def test_a_clean_recording_exits_0_and_says_what_was_checked() -> None:
    done = check(CLEAN)
    assert done.returncode == 0, done.stderr
    assert "0 findings; 12 messages, 12 checked against their revision's schema" in done.stdout


def test_planted_violations_exit_1_each_where_it_is_and_by_its_revision(tmp_path: Path) -> None:
    path = planted(tmp_path / "two-revisions.yaml")
    done = check(str(path), "--format", "json")
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["files"][0]["findings"]
    assert [(f["rule"], f["session_id"], f["extra"].get("revision")) for f in findings] == [
        ("tool-schema-invalid", "new", "2025-11-25"),
        ("tool-arguments-invalid", "new", "2025-11-25"),
        ("schema-violation", "old", "2024-11-05"),
        ("schema-violation", None, "2026-07-28"),
    ]
    lines = path.read_text().splitlines()
    for finding in findings:  # each points at the message behind it, in the file
        assert lines[finding["line"] - 1] == "type: message"
    assert findings[2]["extra"]["definition"] == "CallToolResult.content[0]"


def test_fail_on_warning_trips_on_a_warning_that_the_default_lets_pass(tmp_path: Path) -> None:
    path = str(warning_only(tmp_path / "warning.yaml"))
    assert check(path).returncode == 0
    done = check(path, "--fail-on", "warning")
    assert done.returncode == 1
    assert "warning tool-arguments-invalid" in done.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["missing.yaml"], "missing.yaml: no such file"),
        ([CLEAN, "--rule", "no-such-rule"], "no rule named no-such-rule"),
        ([CLEAN, "--max-duration", "tools/call"], "--max-duration wants METHOD=SECONDS"),
        ([CLEAN, "--max-duration", "tools/call=soon"], "--max-duration wants METHOD=SECONDS"),
        ([], "check needs at least one recording"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    done = check(*args)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"mcp-tap: {says}" + _rest(done.stderr, says)]


def _rest(stderr: str, says: str) -> str:
    line = stderr.strip()
    return line[line.index(says) + len(says) :]


def test_a_corrupt_recording_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.yaml"
    path.write_text("---\nformat: something-else\n...\n")
    done = check(str(path))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


def test_pins_expect_forbid_and_max_duration() -> None:
    assert check(CLEAN, "--expect-tool", "download_*").returncode == 0
    done = check(CLEAN, "--expect-tool", "upload_file", "--forbid-tool", "download_file")
    assert done.returncode == 1
    assert "error tool-expected: no call of a tool named 'upload_file'" in done.stdout
    assert "error tool-forbidden: tool 'download_file' was called" in done.stdout
    assert check(CLEAN, "--max-duration", "tools/call=600").returncode == 0
    done = check(CLEAN, "--max-duration", "tools/*=0.001")
    assert done.returncode == 1 and "duration-exceeded: tools/call id" in done.stdout


def test_rule_and_skip_rule_choose_findings(tmp_path: Path) -> None:
    path = str(planted(tmp_path / "p.yaml"))
    only = json.loads(check(path, "--format", "json", "--rule", "tool-schema-invalid").stdout)
    assert [f["rule"] for f in only["files"][0]["findings"]] == ["tool-schema-invalid"]
    skipped = check(path, "--skip-rule", "schema-violation", "--skip-rule", "tool-schema-invalid")
    assert skipped.returncode == 0  # what is left is a warning
    assert "schema-violation" not in skipped.stdout


def test_list_rules_prints_the_registry() -> None:
    done = check("--list-rules")
    assert done.returncode == 0
    for rule in RULES:
        assert rule.slug in done.stdout and rule.spec in done.stdout


def test_sarif_output_is_valid_sarif_2_1_0(tmp_path: Path) -> None:
    path = planted(tmp_path / "p.yaml")
    out = tmp_path / "report.sarif"
    assert check(str(path), CLEAN, "--format", "sarif", "-o", str(out)).returncode == 1
    document = json.loads(out.read_text())
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(document)
    (run,) = document["runs"]
    assert len(run["results"]) == 4
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {r.slug for r in RULES}
    first = run["results"][0]
    assert first["ruleId"] == "tool-schema-invalid" and first["level"] == "error"
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == str(path)


def test_junit_output_has_a_case_per_rule_failing_where_found(tmp_path: Path) -> None:
    path = planted(tmp_path / "p.yaml")
    done = check(str(path), CLEAN, "--format", "junit")
    assert done.returncode == 1
    root = ET.fromstring(done.stdout)
    planted_suite, clean_suite = root.findall("testsuite")
    assert planted_suite.get("failures") == "2" and clean_suite.get("failures") == "0"
    cases = {case.get("name"): case for case in planted_suite.findall("testcase")}
    assert set(cases) == {rule.slug for rule in RULES}
    assert cases["schema-violation"].find("failure") is not None
    assert cases["tool-arguments-invalid"].find("failure") is None  # a warning: output only
    assert cases["tool-arguments-invalid"].find("system-out") is not None


def test_show_exchange_prints_a_violation_whole(tmp_path: Path) -> None:
    path = planted(tmp_path / "p.yaml")  # with the findings the live checker published
    findings = json.loads(check(str(path), "--format", "json").stdout)["files"][0]["findings"]
    exchange = findings[2]["exchange_id"]
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "show", str(path), "--exchange", str(exchange)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "80", "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())  # rich folds long lines: compare the words
    assert "finding schema-violation: server->client response id 1 (tools/call)" in out
    for name in ("path", "expected", "found", "definition", "revision", "message"):
        assert f" {name}: " in out
    assert "definition: CallToolResult.content[0]" in out
    assert "revision: 2024-11-05" in out
