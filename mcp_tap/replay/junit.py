"""Write replay verdicts as a JUnit XML report, one test case per recorded request."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from mcp_tap.replay.compare import CallVerdict
from mcp_tap.replay.report import show


def write_junit(
    path: Path, suite_name: str, verdicts: Sequence[CallVerdict], seconds: float
) -> None:
    """A `<testsuite>` a CI system can gate on; failures carry recorded vs received."""
    failures = sum(not v.ok for v in verdicts)
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(verdicts)),
        failures=str(failures),
        errors="0",
        time=f"{seconds:.3f}",
    )
    for index, verdict in enumerate(verdicts, start=1):
        case = ET.SubElement(
            suite, "testcase", classname=suite_name, name=f"{index:04d} {verdict.call.label}"
        )
        if verdict.call.answered_at is not None:
            case.set("time", f"{verdict.call.answered_at - verdict.call.sent_at:.3f}")
        if not verdict.ok:
            failure = ET.SubElement(
                case, "failure", message="; ".join(d.what for d in verdict.divergences)
            )
            failure.text = "\n".join(_lines(verdict))
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _lines(verdict: CallVerdict) -> list[str]:
    """The same text `replay` prints: path, `-` recorded, `+` received, the --ignore hint."""
    lines = []
    for divergence in verdict.divergences:
        lines.append(divergence.what)
        for sign, value in (("-", divergence.recorded), ("+", divergence.received)):
            shown = show(value)
            if shown is not None:
                lines.append(f"  {sign} {shown}")
        if divergence.ignore:
            lines.append(f"  silence with: {divergence.ignore}")
    return lines
