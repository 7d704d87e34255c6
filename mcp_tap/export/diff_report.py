"""`mcp-tap diff`'s report: text for a terminal, JSON, and Markdown for a pull-request comment.

Every format lists each difference with its impact, the thing it is about, the path that
`--ignore` takes and one line of what changed; text and Markdown add a description's word
diff. Text from the recordings goes out escaped (`suspicious.escaped`): a hidden character
is shown as its escape, never passed on to the terminal or the page.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_tap.analysis.diff import MISSING
from mcp_tap.analysis.differences import Difference, Impact
from mcp_tap.analysis.interface_diff import described
from mcp_tap.analysis.recording_diff import RecordingDiff
from mcp_tap.analysis.suspicious import escaped

NO_DIFFERENCES = "no differences"
MAX_VALUE = 80  # characters of a value shown inline
ORDER = (Impact.SUSPICIOUS, Impact.BREAKING, Impact.COMPATIBLE)


def counts(diff: RecordingDiff) -> str:
    """`7 differences (1 suspicious, 4 breaking, 2 compatible)`."""
    total = len(diff.differences)
    parts = [f"{diff.count(i)} {i.value}" for i in ORDER if diff.count(i)]
    noun = "difference" if total == 1 else "differences"
    return f"{total} {noun} ({', '.join(parts)})"


def text_report(diff: RecordingDiff, before: str, after: str) -> str:
    """For people at a terminal: by subject, each difference on its own line."""
    head = f"mcp-tap diff {escaped(before)} {escaped(after)}: "
    if not diff.differences:
        lines = [NO_DIFFERENCES]
    else:
        lines = [head + counts(diff)]
        for subject, group in _by_subject(diff.differences):
            lines.append("")
            lines.append(escaped(subject))
            for item in group:
                lines.append(f"  {item.impact.value:<11} {_line(item)}")
                values = _values(item)
                if values:
                    lines.append(f"  {'':<11} {values}")
                if item.detail:
                    lines.append(f"  {'':<11} {item.detail}")
    lines.extend(_notes(diff))
    return "\n".join(lines) + "\n"


def json_report(diff: RecordingDiff, before: str, after: str) -> str:
    """For machines: every difference with its fields, the counts and the notes."""
    doc: dict[str, Any] = {
        "before": before,
        "after": after,
        "counts": {i.value: diff.count(i) for i in ORDER},
        "differences": [d.to_json() for d in diff.differences],
        "notes": diff.notes,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


def markdown_report(diff: RecordingDiff, before: str, after: str) -> str:
    """For a pull-request comment: a table of differences, word diffs folded below it."""
    title = f"### mcp-tap diff: {_code(before)} → {_code(after)}"
    if not diff.differences:
        return "\n".join([title, "", NO_DIFFERENCES, *_notes(diff, "- ")]) + "\n"
    lines = [title, "", f"**{counts(diff)}**", ""]
    lines.append("| impact | subject | change | path |")
    lines.append("| --- | --- | --- | --- |")
    ranked = sorted(diff.differences, key=lambda d: ORDER.index(d.impact))
    for item in ranked:
        values = _values(item)
        said = _line(item)
        change = _cell(said) + (f"<br>{_cell(values)}" if values else "")
        lines.append(
            f"| **{item.impact.value}** | {_cell(item.subject)} | {change} | {_code(item.path)} |"
        )
    texts = [item for item in ranked if item.detail]
    if texts:
        lines.extend(["", "<details><summary>text changes</summary>", ""])
        for item in texts:
            lines.append(f"- {_cell(item.subject)}, {_code(item.path)}:")
            lines.append("")
            lines.append("  ```")
            lines.append("  " + item.detail.replace("```", "`\u200b``"))
            lines.append("  ```")
        lines.extend(["", "</details>"])
    notes = _notes(diff, "- ")
    if notes:
        lines.extend(notes)
    return "\n".join(lines) + "\n"


def _by_subject(items: list[Difference]) -> list[tuple[str, list[Difference]]]:
    groups: dict[str, list[Difference]] = {}
    for item in items:
        groups.setdefault(item.subject, []).append(item)
    return list(groups.items())


def _line(item: Difference) -> str:
    if item.area in ("calls", "latency"):
        if item.what in ("added", "removed", "changed"):
            return f"{escaped(item.path)} {item.what}"  # a field of the result or error
        return escaped(item.what)
    if item.area == "server":
        return escaped(item.what)
    return escaped(described(item))


def _values(item: Difference) -> str:
    """`before -> after` for a changed value of a call or the server, when short."""
    if item.area not in ("calls", "server") or item.what.startswith(("an error", "the error")):
        return ""
    if item.path == "progress" or item.path == "server.instructions":
        return ""
    sides = [_short(v) for v in (item.before, item.after)]
    return f"{sides[0]} -> {sides[1]}"


def _short(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    text = escaped(text)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def _notes(diff: RecordingDiff, bullet: str = "  - ") -> list[str]:
    if not diff.notes:
        return []
    return [
        "",
        "notes:" if bullet.startswith(" ") else "**notes**",
        *(bullet + n for n in diff.notes),
    ]


def _cell(text: str) -> str:
    """Text for a Markdown table cell: escaped, pipes and markup characters neutralised."""
    out = escaped(text)
    for char in "\\|*_`<>[]":
        out = out.replace(char, "\\" + char)
    return out


def _code(text: str) -> str:
    inner = escaped(text).replace("`", "'").replace("|", "\\|")
    return f"`{inner}`"
