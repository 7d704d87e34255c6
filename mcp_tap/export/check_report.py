"""`mcp-tap check`'s verdicts written out: text for people, JSON, JUnit XML and SARIF 2.1.0.

One `CheckedFile` per recording; every format names each finding's rule, severity, detail and
place (the recording, and the line of the event behind it), and SARIF carries the rule
registry (description, spec link, default level) so code scanning can show it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcp_tap.analysis.check_run import CheckedRecording
from mcp_tap.analysis.gate import RANK
from mcp_tap.analysis.rules import RULES
from mcp_tap.protocol.events import Finding, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


@dataclass(frozen=True)
class CheckedFile:
    """A recording's path, its verdict, and the line each of its events starts on."""

    path: str
    verdict: CheckedRecording
    lines: Mapping[int, int]  # line (1-based) of the events findings point at; {} unknown

    def line_of(self, index: int) -> int:
        """The line of the event at `index`, 1 when unknown."""
        return self.lines.get(index, 1)

    def call_of(self, position: int) -> int | None:
        """The call number (as `show --call` takes it) of the finding at `position`."""
        calls = self.verdict.calls
        return calls[position] if 0 <= position < len(calls) else None


def event_lines(rows: Iterable[str], wanted: Collection[int]) -> dict[int, int]:
    """The line each `wanted` event of a recording starts on, read from its rows as they
    stream (a file, never its whole text): one YAML document an event, after the header's.
    An event's line is the first of its document (its `type:`). Lines are numbered as
    `str.splitlines` splits them."""
    found: dict[int, int] = {}
    if not wanted:
        return found
    last = max(wanted)
    number = 0
    document = -2  # the first `---` starts the header
    for row in rows:
        for line in row.splitlines() or [row]:
            number += 1
            if line == "---":
                document += 1
                if document in wanted:
                    found[document] = number + 1
                if document >= last:
                    return found
    return found


def failing(files: Sequence[CheckedFile], threshold: Severity) -> int:
    """How many findings are at `threshold` or worse."""
    return sum(
        RANK[finding.severity] >= RANK[threshold]
        for checked in files
        for _, finding in checked.verdict.findings
    )


def _where(finding: Finding, call: int | None) -> str:
    parts = []
    if call is not None:
        parts.append(f"call {call}")
    elif finding.exchange_id is not None:
        parts.append(f"exchange {finding.exchange_id}")
    if finding.session_id is not None:
        parts.append(f"session {finding.session_id}")
    return ", ".join(parts)


def text_report(files: Sequence[CheckedFile], threshold: Severity) -> str:
    """Lines for people: `FILE:LINE: severity rule: detail (call N, session S)` (the HTTP
    exchange when no call is named), then a summary."""
    out = []
    for checked in files:
        for position, (index, finding) in enumerate(checked.verdict.findings):
            where = _where(finding, checked.call_of(position))
            suffix = f" ({where})" if where else ""
            out.append(
                f"{checked.path}:{checked.line_of(index)}: {finding.severity.value} "
                f"{finding.rule}: {finding.detail}{suffix}"
            )
        verdict = checked.verdict
        out.append(
            f"{checked.path}: {len(verdict.findings)} findings; {verdict.messages} messages, "
            f"{verdict.judged} checked against their revision's schema"
            + (f", {verdict.unjudged} with no revision known" if verdict.unjudged else "")
        )
    count = failing(files, threshold)
    out.append(f"{count} findings at --fail-on {threshold.value} or worse in {len(files)} files")
    return "\n".join(out) + "\n"


def _finding_json(
    checked: CheckedFile, position: int, index: int, finding: Finding
) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "detail": finding.detail,
        "line": checked.line_of(index),
        "time": finding.time,
        "call": checked.call_of(position),
        "exchange_id": finding.exchange_id,
        "session_id": finding.session_id,
        "request_id": finding.request_id,
        "extra": finding.extra,
    }


def json_report(files: Sequence[CheckedFile], threshold: Severity) -> str:
    """One JSON document: each file's findings and counts, and whether the gate failed."""
    document = {
        "fail_on": threshold.value,
        "failed": failing(files, threshold) > 0,
        "files": [
            {
                "path": checked.path,
                "messages": checked.verdict.messages,
                "schema_checked": checked.verdict.judged,
                "no_revision_known": checked.verdict.unjudged,
                "findings": [
                    _finding_json(checked, position, i, f)
                    for position, (i, f) in enumerate(checked.verdict.findings)
                ],
            }
            for checked in files
        ],
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def junit_report(files: Sequence[CheckedFile], threshold: Severity, rules: Sequence[str]) -> str:
    """JUnit XML: a suite a recording, a test case a rule; a rule fails on findings at
    `threshold` or worse, and lists its milder ones as output."""
    root = ET.Element("testsuites", name="mcp-tap check")
    for checked in files:
        by_rule: dict[str, list[tuple[int, Finding]]] = {rule: [] for rule in rules}
        for index, finding in checked.verdict.findings:
            by_rule.setdefault(finding.rule, []).append((index, finding))
        suite = ET.SubElement(root, "testsuite", name=checked.path, tests=str(len(by_rule)))
        failures = 0
        for rule, found in by_rule.items():
            case = ET.SubElement(suite, "testcase", classname=checked.path, name=rule)
            lines = [f"line {checked.line_of(i)}: {f.severity.value}: {f.detail}" for i, f in found]
            bad = [f for _, f in found if RANK[f.severity] >= RANK[threshold]]
            if bad:
                failures += 1
                failure = ET.SubElement(case, "failure", message=bad[0].detail, type=rule)
                failure.text = "\n".join(lines)
            elif lines:
                ET.SubElement(case, "system-out").text = "\n".join(lines)
        suite.set("failures", str(failures))
        suite.set("errors", "0")
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def sarif_report(files: Sequence[CheckedFile], version: str) -> str:
    """SARIF 2.1.0: one run of mcp-tap, every rule described, a result a finding."""
    index_of = {rule.slug: i for i, rule in enumerate(RULES)}
    results = []
    for checked in files:
        for position, (index, finding) in enumerate(checked.verdict.findings):
            result: dict[str, Any] = {
                "ruleId": finding.rule,
                "level": SARIF_LEVELS[finding.severity],
                "message": {"text": finding.detail},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": checked.path},
                            "region": {"startLine": checked.line_of(index)},
                        }
                    }
                ],
            }
            if finding.rule in index_of:
                result["ruleIndex"] = index_of[finding.rule]
            properties = {
                k: v for k, v in _finding_json(checked, position, index, finding).items() if v
            }
            result["properties"] = json.loads(json.dumps(properties, default=str))
            results.append(result)
    rules = [
        {
            "id": rule.slug,
            "name": rule.slug,
            "shortDescription": {"text": rule.summary},
            "helpUri": rule.spec,
            "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
        }
        for rule in RULES
    ]
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mcp-tap",
                        "version": version,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def rule_table() -> str:
    """The registry for `--list-rules`: name, severity, description and spec link."""
    width = max(len(rule.slug) for rule in RULES)
    lines = []
    for rule in RULES:
        lines.append(f"{rule.slug:<{width}}  {rule.severity.value:<7}  {rule.summary}")
        if rule.spec:
            lines.append(f"{'':<{width}}  {'':<7}  {rule.spec}")
    return "\n".join(lines) + "\n"
