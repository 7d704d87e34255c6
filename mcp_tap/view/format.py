"""What one line of the console view says, as styled segments: no console, no I/O.

Every formatter returns `Line`, a list of (text, rich style) pairs. The colored view turns a
line into a `rich.text.Text`; the plain view joins the texts and drops the styles. So both
say exactly the same words, and a plain line costs no rich machinery at all.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_tap.analysis.progress_stats import ProgressStats, RequestState, TrackedRequest
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    Finding,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    Severity,
)

Line = list[tuple[str, str]]

SUMMARY_WIDTH = 72  # characters of params/result shown on a one-line summary
BAR_WIDTH = 24
KIND_LABELS = {
    MessageKind.REQUEST: ("request", "bold blue"),
    MessageKind.NOTIFICATION: ("notify ", "cyan"),
    MessageKind.RESPONSE: ("result ", "green"),
    MessageKind.ERROR: ("error  ", "bold red"),
    MessageKind.INVALID: ("invalid", "bold red"),
    MessageKind.ENDPOINT: ("endpoint", "magenta"),
}
SEVERITY_STYLES = {
    Severity.ERROR: ("✖", "bold red"),
    Severity.WARNING: ("⚠", "bold yellow"),
    Severity.INFO: ("ℹ", "cyan"),
}
OUTCOME_MARKS = {
    RequestState.COMPLETED: ("✔", "green"),
    RequestState.FAILED: ("✖", "red"),
    RequestState.CANCELLED: ("⊘", "yellow"),
    RequestState.ABANDONED: ("✖", "red"),
}
TOKEN_STYLE = "bold black on magenta"
ENVELOPE_FIELDS = frozenset({"_meta", "resultType", "cacheScope", "ttlMs"})  # 2026-07-28 plumbing


def plain(line: Line) -> str:
    """The words of a line, without styles."""
    return "".join(text for text, _ in line)


def clip(text: str, width: int = SUMMARY_WIDTH) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def compact(value: Any, width: int = SUMMARY_WIDTH) -> str:
    """Short JSON for a one-line summary."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    except ValueError:  # a circular structure cannot come from the wire, but be safe
        text = repr(value)
    return clip(text, width)


def seconds(value: float | None) -> str:
    """A duration for people: 0.042 s, 1.20 s, 2m05s."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    return f"{int(value // 60)}m{int(value % 60):02d}s"


def number(value: float | None) -> str:
    """A progress value without a pointless `.0`."""
    return "?" if value is None else f"{value:g}"


def token_badge(token: Any, ascii_only: bool) -> tuple[str, str]:
    """The highlighted mark of a progress token."""
    shown = json.dumps(token) if isinstance(token, str) else str(token)
    return (f"[token {shown}]" if ascii_only else f" ⟳ {shown} ", TOKEN_STYLE)


def _head(time: float, direction: Direction | None, session: str | None, ascii_only: bool) -> Line:
    arrows = ("->", "<-") if ascii_only else ("→", "←")
    if direction is Direction.CLIENT_TO_SERVER:
        arrow = (arrows[0], "bold cyan")
    elif direction is Direction.SERVER_TO_CLIENT:
        arrow = (arrows[1], "bold green")
    else:
        arrow = ("!!" if ascii_only else "‼", "bold red")
    return [(f"{time:9.3f}s ", "dim"), arrow, (f" {short_session(session):<9} ", "magenta")]


def short_session(session: str | None) -> str:
    """A session id in nine columns: short ids whole (`session-1`), long ones cut."""
    if session is None:
        return "-"
    return session if len(session) <= 9 else session[:8] + "…"


def message_line(event: MessageSeen, request: TrackedRequest | None, ascii_only: bool) -> Line:
    """One line for one JSON-RPC message: time, arrow, session, kind, method, id, summary."""
    message = event.message
    kind, kind_style = KIND_LABELS[message.kind]
    line = _head(event.time, event.direction, event.session_id, ascii_only)
    line.append((kind, kind_style))
    method = message.method or (request.method if request else "")
    line.append((f" {method:<24}", "bold" if message.method else "dim"))
    if message.id is not None:
        line.append(
            (f" #{json.dumps(message.id) if isinstance(message.id, str) else message.id}", "yellow")
        )
    if message.has_progress_token:
        line += [(" ", ""), token_badge(message.progress_token, ascii_only)]
    line += _summary(event, request, ascii_only)
    return line


def _summary(event: MessageSeen, request: TrackedRequest | None, ascii_only: bool) -> Line:
    message = event.message
    payload = message.payload if isinstance(message.payload, dict) else {}
    if message.kind is MessageKind.INVALID:
        return [
            (f" {message.problem}: ", "red"),
            (clip(message.raw or compact(message.payload)), ""),
        ]
    if message.kind is MessageKind.ENDPOINT:
        return [(f" {message.raw}", "magenta")]
    if message.kind is MessageKind.ERROR:
        err = payload.get("error")
        err = err if isinstance(err, dict) else {}
        return [(f" {err.get('code')} {clip(str(err.get('message', '')))}", "red"), *_took(request)]
    if message.kind is MessageKind.RESPONSE:
        return [*_took(request), (" " + _result_text(payload.get("result")), "")]
    params = payload.get("params")
    params = params if isinstance(params, dict) else {}
    if message.method == "notifications/progress":
        return _progress_summary(params, ascii_only)
    if message.method == "tools/call":
        arguments = params.get("arguments")
        return [(f" {params.get('name')} ", "bold"), (compact(arguments or {}), "")]
    shown = {k: v for k, v in params.items() if k != "_meta"}
    return [(" " + compact(shown), "dim")] if shown else []


def _took(request: TrackedRequest | None) -> Line:
    latency = request.latency if request else None
    return [] if latency is None else [(f" in {seconds(latency)}", "dim")]


def _result_text(result: Any) -> str:
    if isinstance(result, dict) and isinstance(result.get("content"), list):
        texts = [b.get("text", "") for b in result["content"] if isinstance(b, dict)]
        prefix = "tool error: " if result.get("isError") else ""
        return prefix + clip(" ".join(t for t in texts if isinstance(t, str)) or "(no text)")
    if not isinstance(result, dict):
        return compact(result)
    parts = []
    for key, value in result.items():
        if key in ENVELOPE_FIELDS:
            continue
        if isinstance(value, list):  # tools/list and friends: the names say the most
            names = [
                v["name"] for v in value if isinstance(v, dict) and isinstance(v.get("name"), str)
            ]
            value = (
                ", ".join(names) if len(names) == len(value) and names else f"{len(value)} items"
            )
            parts.append(f"{key}: {value}")
        else:
            parts.append(f"{key}: {compact(value, 40)}")
    return clip("; ".join(parts)) if parts else "{}"


def _progress_summary(params: dict[str, Any], ascii_only: bool) -> Line:
    token = params.get("progressToken")
    value, total = params.get("progress"), params.get("total")
    line: Line = [(" ", ""), token_badge(token, ascii_only)]
    if isinstance(total, int | float) and isinstance(value, int | float) and total > 0:
        line.append((f" {number(value)}/{number(total)} ({value / total:.0%})", "bold"))
    else:
        line.append((f" {value}" + (f"/{total}" if total is not None else ""), "bold"))
    if isinstance(params.get("message"), str):
        line.append((f" {clip(json.dumps(params['message'], ensure_ascii=False))}", "italic"))
    return line


def finding_line(finding: Finding, ascii_only: bool) -> Line:
    """A protocol finding, colored by severity."""
    mark, style = SEVERITY_STYLES[finding.severity]
    mark = finding.severity.value.upper() if ascii_only else mark
    head = _head(finding.time, None, finding.session_id, ascii_only)
    head[1] = ("!!" if ascii_only else "‼", style)
    return [*head, (f"{mark} {finding.rule}", style), (f" {finding.detail}", style.split()[-1])]


def fault_line(fault: Fault, ascii_only: bool) -> Line:
    """Something went wrong in transport: always red."""
    head = _head(fault.time, None, None, ascii_only)
    return [*head, (f"FAULT {fault.kind}", "bold red"), (f" {fault.detail}", "red")]


def http_line(event: ResponseStarted, opened: ExchangeOpened | None, ascii_only: bool) -> Line:
    """An HTTP status worth a look (4xx/5xx), or any status with -v."""
    head = _head(event.time, Direction.SERVER_TO_CLIENT, event.session_id, ascii_only)
    style = "bold red" if event.status >= 500 else "yellow" if event.status >= 400 else "dim"
    where = f" {opened.method} {opened.target}" if opened else ""
    stream = f" ({event.stream.value})" if event.stream else ""
    return [*head, (f"HTTP {event.status}", style), (f"{where}{stream}", "dim")]


def exchange_line(event: ExchangeOpened | ExchangeClosed, ascii_only: bool) -> Line:
    """-v only: an HTTP request arriving, or an exchange ending."""
    if isinstance(event, ExchangeOpened):
        head = _head(event.time, Direction.CLIENT_TO_SERVER, event.session_id, ascii_only)
        return [
            *head,
            (f"HTTP {event.method} {event.target}", "dim"),
            (f" x{event.exchange_id}", "dim"),
        ]
    head = _head(event.time, Direction.SERVER_TO_CLIENT, None, ascii_only)
    style = "yellow" if event.reason != "complete" else "dim"
    text = f"HTTP closed: {event.reason}, {event.bytes_to_client} bytes"
    return [*head, (text, style), (f" x{event.exchange_id}", "dim")]


def stream_line(stats: ProgressStats, ascii_only: bool) -> Line:
    """The one-line summary printed when a progress stream ends: the bar, completed."""
    mark, style = OUTCOME_MARKS.get(stats.outcome, ("•", "white"))
    ok = stats.outcome is RequestState.COMPLETED
    fraction = 1.0 if ok else (stats.fraction or 0.0)
    filled = round(fraction * BAR_WIDTH)
    bar_chars = ("#", "-") if ascii_only else ("━", "─")
    if stats.total is not None:
        amount = f"{fraction:>4.0%}"
    else:
        amount = f"{number(stats.last_progress)} done" if ok else number(stats.last_progress)
    line: Line = [
        (f"{'ok' if ascii_only and ok else mark} ", style),
        token_badge(stats.token, ascii_only),
        (f" {stats.label or stats.method} ", "bold"),
        (bar_chars[0] * filled, style),
        (bar_chars[1] * (BAR_WIDTH - filled), "dim"),
        (f" {amount}", style),
    ]
    if not ok:
        line.append((f" {stats.outcome.value}", style))
    line.append((f"  {stats.count} update{'s' if stats.count != 1 else ''}", ""))
    line.append((f" in {seconds(stats.duration)}", ""))
    line.append((f" · first after {seconds(stats.time_to_first)}", "dim"))
    line.append((f" · longest gap {seconds(stats.longest_gap)}", "dim"))
    if stats.late:
        line.append((f" · {stats.late} late", "yellow"))
    return line
