"""`mcp-tap report`: a recording as one self-contained HTML page.

The page has no outside reference (no CDN, no font, no image: a Content-Security-Policy
forbids any fetch), so it can be attached to a bug report or kept as a CI artifact and
opened anywhere. Python (`report_data.py`, in one pass that keeps a bounded amount) computes
the facts, the timeline, the progress series and the message list; they travel in the page
as one JSON document, and the inline script
(`static/report.js`) draws them as SVG and DOM nodes. Recorded text is untrusted: the JSON
is escaped so that nothing in it can close its `<script>` element, the header is escaped
with `html.escape`, and the script only ever sets `textContent` and attributes, never HTML.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

from mcp_tap.analysis.origin import target_name
from mcp_tap.export.report_data import ReportLimits, report_data
from mcp_tap.protocol.events import TapEvent
from mcp_tap.recording.reader import EventSource


def render_report(recording: EventSource, limits: ReportLimits | None = None) -> str:
    """The HTML page for a recording, read once, listing at most what `limits` allow."""
    events: Iterable[TapEvent] = recording
    data = report_data(recording.header, events, limits)
    data["warnings"][:0] = recording.warnings  # known once the pass is over (a cut end)
    return render_page(recording.header, data)


def render_page(header: dict[str, Any], data: dict[str, Any]) -> str:
    """The HTML page for the report's data."""
    static = resources.files("mcp_tap.export") / "static"
    template = (static / "report.html").read_text(encoding="utf-8")
    facts = "".join(
        f"<div><dt>{html.escape(name)}</dt><dd>{html.escape(str(value))}</dd></div>"
        for name, value in data["facts"]
    )
    parts = {
        "{{TITLE}}": html.escape(f"mcp-tap report: {target_name(header)}"),
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
