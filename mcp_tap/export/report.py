"""`mcp-tap report`: a recording as one self-contained HTML page.

The page has no outside reference (no CDN, no font, no image: a Content-Security-Policy
forbids any fetch), so it can be attached to a bug report or kept as a CI artifact and
opened anywhere. Python computes the facts, the timeline, the progress series and the
message list; they travel in the page as one JSON document, and the inline script
(`static/report.js`) draws them as SVG and DOM nodes. Recorded text is untrusted: the JSON
is escaped so that nothing in it can close its `<script>` element, the header is escaped
with `html.escape`, and the script only ever sets `textContent` and attributes, never HTML.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

from mcp_tap.export.har import iso
from mcp_tap.export.session import Call, Session, analyze
from mcp_tap.protocol.events import MessageKind, MessageSeen
from mcp_tap.recording.reader import Recording

MAX_SUMMARY = 160  # characters of a message shown in its table row
PROGRESS = "notifications/progress"


def render_report(recording: Recording) -> str:
    """The HTML page for a loaded recording."""
    return render_session(analyze(recording))


def render_session(session: Session) -> str:
    """The HTML page for an analyzed recording."""
    static = resources.files("mcp_tap.export") / "static"
    template = (static / "report.html").read_text(encoding="utf-8")
    data = report_data(session)
    facts = "".join(
        f"<div><dt>{html.escape(name)}</dt><dd>{html.escape(str(value))}</dd></div>"
        for name, value in data["facts"]
    )
    parts = {
        "{{TITLE}}": html.escape(f"mcp-tap report: {session.header.get('target', '?')}"),
        "{{FACTS}}": facts,
        "{{CSS}}": (static / "report.css").read_text(encoding="utf-8"),
        "{{JS}}": (static / "report.js").read_text(encoding="utf-8"),
        "{{DATA}}": script_json(data),
    }
    page = template
    for key, value in parts.items():
        page = page.replace(key, value)
    return page


def script_json(value: Any) -> str:
    """JSON that is safe inside a `<script>` element whatever strings it holds.

    `<`, `>` and `&` become `\\u` escapes (so `</script>` or `<!--` cannot appear), as do
    U+2028 and U+2029 (ensure_ascii), which older parsers treat as line ends.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def report_data(session: Session) -> dict[str, Any]:
    """Everything the page shows, as plain JSON data (times in seconds from the start)."""
    counts: dict[str, int] = {}
    for call in session.calls:
        counts[call.outcome] = counts.get(call.outcome, 0) + 1
    messages = [e for e in session.events if isinstance(e, MessageSeen)]
    facts: list[tuple[str, Any]] = [
        ("target", session.header.get("target", "?")),
        ("started", iso(session.started)),
        ("duration", f"{session.duration:.3f} s"),
        ("sessions", ", ".join(session.session_ids) or "none (stateless)"),
        ("protocol", ", ".join(_revisions(session)) or "unknown"),
        ("exchanges", len(session.exchanges)),
        ("messages", len(messages)),
        ("requests", ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))),
        ("findings", len(session.findings)),
        ("faults", len(session.faults)),
        ("recorded by", f"mcp-tap {session.header.get('mcp_tap_version', '?')}"),
    ]
    return {
        "facts": facts,
        "duration": session.duration,
        "calls": [_call(call) for call in session.calls],
        "progress": [_progress(call) for call in session.calls if _has_progress(call)],
        "findings": [_finding(f) for f in session.findings],
        "faults": [{"t": f.time, "kind": f.kind, "detail": f.detail} for f in session.faults],
        "messages": [_message(index, e) for index, e in enumerate(messages)],
        "warnings": session.warnings,
    }


def _revisions(session: Session) -> list[str]:
    seen: dict[str, None] = {}
    for call in session.calls:
        if call.tracked is not None and call.tracked.revision:
            seen.setdefault(call.tracked.revision)
    return list(seen)


def _call(call: Call) -> dict[str, Any]:
    return {
        "method": call.method,
        "target": call.target,
        "id": call.request.message.id,
        "session": call.request.session_id,
        "dir": call.request.direction.value,
        "start": call.start,
        "end": call.end,
        "outcome": call.outcome,
        "exchange": call.request.exchange_id,
        "progress": len(call.progress),
        "findings": len(call.findings),
    }


def _has_progress(call: Call) -> bool:
    return bool(call.progress) or call.request.message.has_progress_token


def _progress(call: Call) -> dict[str, Any]:
    points = []
    for seen in call.progress:
        params = seen.message.payload.get("params")
        params = params if isinstance(params, dict) else {}
        progress, total = params.get("progress"), params.get("total")
        points.append(
            {
                "t": seen.time,
                "progress": _number(progress),
                "total": _number(total),
                "message": params.get("message")
                if isinstance(params.get("message"), str)
                else None,
            }
        )
    return {
        "token": call.request.message.progress_token,
        "method": call.method,
        "target": call.target,
        "id": call.request.message.id,
        "start": call.start,
        "end": call.end,
        "outcome": call.outcome,
        "determinate": any(p["total"] is not None for p in points),
        "points": points,
        "findings": [_finding(f) for f in call.findings],
    }


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value) if abs(value) != float("inf") else None
    return None


def _finding(finding: Any) -> dict[str, Any]:
    return {
        "t": finding.time,
        "severity": finding.severity.value,
        "rule": finding.rule,
        "detail": finding.detail,
        "id": finding.request_id,
        "token": finding.progress_token if _plain(finding.progress_token) else None,
        "session": finding.session_id,
    }


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _message(index: int, event: MessageSeen) -> dict[str, Any]:
    message = event.message
    if message.raw is not None:
        text = message.raw
    elif message.payload is None:
        text = message.problem or ""
    else:
        text = json.dumps(message.payload, indent=2, ensure_ascii=False, default=str)
    return {
        "i": index,
        "t": event.time,
        "dir": event.direction.value,
        "kind": message.kind.value,
        "method": message.method,
        "id": message.id,
        "exchange": event.exchange_id,
        "session": event.session_id,
        "stream": event.stream.value,
        "summary": _summary(event),
        "text": text,
    }


def _summary(event: MessageSeen) -> str:
    message = event.message
    if message.kind is MessageKind.INVALID:
        return message.problem or "invalid"
    if message.raw is not None:
        return message.raw[:MAX_SUMMARY]
    payload = message.payload if isinstance(message.payload, dict) else {}
    part = payload.get("params", payload.get("result", payload.get("error")))
    if message.method == PROGRESS and isinstance(part, dict):
        total = part.get("total")
        text = f"{part.get('progress')}" + (f"/{total}" if total is not None else "")
        if isinstance(part.get("message"), str):
            text += f" {part['message']}"
        return text[:MAX_SUMMARY]
    if part is None:
        return ""
    text = json.dumps(part, ensure_ascii=False, separators=(",", ":"), default=str)
    return text[:MAX_SUMMARY]
