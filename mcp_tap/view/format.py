"""What one line of the console view says, as styled segments: no console, no I/O.

Every formatter returns `Line`, a list of (text, rich style) pairs. The colored view turns a
line into a `rich.text.Text`; the plain view joins the texts and drops the styles. So both
say exactly the same words, and a plain line costs no rich machinery at all.
"""

from __future__ import annotations

import json
from typing import Any

from rich.cells import cell_len

from mcp_tap.analysis.progress_stats import ProgressStats, RequestState, TrackedRequest
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    FaultInjected,
    Finding,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    Severity,
)
from mcp_tap.view.layout import Layout, clip_cells, crop
from mcp_tap.view.visible import visible

Line = list[tuple[str, str]]
PLAIN = Layout()  # a pipe or a file: fixed columns, nothing cut to a width
MIN_LABEL = 8  # cells of a tool's name kept on a finished stream's line
MIN_BAR = 4  # a finished stream's bar is never narrower

SUMMARY_WIDTH = 72  # characters of params/result shown on a one-line summary
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
    return "".join([text for text, _ in line])


def clip(text: str, width: int = SUMMARY_WIDTH) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# json.dumps builds an encoder for every call it is given options for: these are made once
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), default=str).encode
_QUOTED = json.JSONEncoder(ensure_ascii=False).encode


def compact(value: Any, width: int = SUMMARY_WIDTH) -> str:
    """Short JSON for a one-line summary."""
    try:
        text = _COMPACT(value)
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
    key = (token, ascii_only)
    badge = _BADGES.get(key) if type(token) in (str, int) else None
    if badge is None:
        shown = visible(json.dumps(token) if isinstance(token, str) else str(token))
        badge = (f"[token {shown}]" if ascii_only else f" ⟳ {shown} ", TOKEN_STYLE)
        if type(token) in (str, int) and len(_BADGES) < _BADGES_MAX:
            _BADGES[key] = badge
    return badge


# every notification of a stream carries its token: the badges of recent ones, kept
_BADGES: dict[tuple[Any, bool], tuple[str, str]] = {}
_BADGES_MAX = 1024


def _head(
    time: float,
    mark: tuple[str, str],
    session: str | None,
    layout: Layout,
) -> Line:
    """Time, a one-cell mark (an arrow, or a finding's icon) and the session column."""
    width = layout.session_width
    shown = f" {short_session(session, width):<{width}} " if width else " "
    return [(f"{layout.time(time)} ", "dim"), mark, (shown, "magenta")]


def _arrow(direction: Direction | None, ascii_only: bool) -> tuple[str, str]:
    return _ARROWS[direction, ascii_only]


_ARROWS = {
    (Direction.CLIENT_TO_SERVER, True): ("->", "bold cyan"),
    (Direction.CLIENT_TO_SERVER, False): ("→", "bold cyan"),
    (Direction.SERVER_TO_CLIENT, True): ("<-", "bold green"),
    (Direction.SERVER_TO_CLIENT, False): ("←", "bold green"),
    (None, True): ("!!", "bold red"),
    (None, False): ("‼", "bold red"),
}


def short_session(session: str | None, width: int = 9) -> str:
    """A session id in `width` columns: short ids whole (`session-1`), long ones cut."""
    if session is None:
        return "-"
    return session if len(session) <= width else session[: width - 1] + "…"


def _used(line: Line) -> int:
    return sum(cell_len(text) for text, _ in line)


def message_line(
    event: MessageSeen, request: TrackedRequest | None, ascii_only: bool, layout: Layout = PLAIN
) -> Line:
    """One line for one JSON-RPC message: time, arrow, session, kind, method, id, summary."""
    message = event.message
    kind, kind_style = KIND_LABELS[message.kind]
    line = _head(event.time, _arrow(event.direction, ascii_only), event.session_id, layout)
    line.append((kind, kind_style))
    method = message.method or (request.method if request else "")
    line.append((f" {method:<{layout.method_width}}", "bold" if message.method else "dim"))
    if message.id is not None:
        line.append(
            (f" #{json.dumps(message.id) if isinstance(message.id, str) else message.id}", "yellow")
        )
    if message.has_progress_token:
        line += [(" ", ""), token_badge(message.progress_token, ascii_only)]
    # a pipe's room is fixed: the cells used so far matter only on a terminal
    room = layout.room(_used(line) if layout.width is not None else 0)
    line += _summary(event, request, ascii_only, room)
    return line


def _summary(
    event: MessageSeen, request: TrackedRequest | None, ascii_only: bool, room: int
) -> Line:
    message = event.message
    payload = message.payload if isinstance(message.payload, dict) else {}
    if message.kind is MessageKind.INVALID:
        return [
            (f" {message.problem}: ", "red"),
            (clip(message.raw or compact(message.payload, room), room), ""),
        ]
    if message.kind is MessageKind.ENDPOINT:
        return [(f" {message.raw}", "magenta")]
    if message.kind is MessageKind.ERROR:
        err = payload.get("error")
        err = err if isinstance(err, dict) else {}
        text = f" {err.get('code')} {clip(str(err.get('message', '')), room)}"
        return [(text, "red"), *_took(request)]
    if message.kind is MessageKind.RESPONSE:
        return [*_took(request), (" " + _result_text(payload.get("result"), room), "")]
    params = payload.get("params")
    params = params if isinstance(params, dict) else {}
    if message.method == "notifications/progress":
        return _progress_summary(params, ascii_only, room)
    if message.method == "tools/call":
        arguments = params.get("arguments")
        return [(f" {params.get('name')} ", "bold"), (compact(arguments or {}, room), "")]
    shown = {k: v for k, v in params.items() if k != "_meta"}
    return [(" " + compact(shown, room), "dim")] if shown else []


def _took(request: TrackedRequest | None) -> Line:
    latency = request.latency if request else None
    return [] if latency is None else [(f" in {seconds(latency)}", "dim")]


def _result_text(result: Any, room: int) -> str:
    if isinstance(result, dict) and isinstance(result.get("content"), list):
        texts = [b.get("text", "") for b in result["content"] if isinstance(b, dict)]
        prefix = "tool error: " if result.get("isError") else ""
        return prefix + clip(" ".join(t for t in texts if isinstance(t, str)) or "(no text)", room)
    if not isinstance(result, dict):
        return compact(result, room)
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
    return clip("; ".join(parts), room) if parts else "{}"


def _progress_summary(params: dict[str, Any], ascii_only: bool, room: int) -> Line:
    token = params.get("progressToken")
    value, total = params.get("progress"), params.get("total")
    line: Line = [(" ", ""), token_badge(token, ascii_only)]
    if isinstance(total, _NUMBER) and isinstance(value, _NUMBER) and total > 0:
        line.append((f" {value:g}/{total:g} ({value / total:.0%})", "bold"))  # as `number`
    else:
        line.append((f" {value}" + (f"/{total}" if total is not None else ""), "bold"))
    if isinstance(params.get("message"), str):
        quoted = _QUOTED(params["message"])
        line.append((f" {clip(quoted, room)}", "italic"))
    return line


_NUMBER = (int, float)


def finding_line(finding: Finding, ascii_only: bool, layout: Layout = PLAIN) -> Line:
    """A protocol finding, colored by severity: its icon where a message has its arrow."""
    mark, style = SEVERITY_STYLES[finding.severity]
    if ascii_only:
        head = _head(finding.time, ("!!", style), finding.session_id, layout)
        return [
            *head,
            (f"{finding.severity.value.upper()} {finding.rule}", style),
            _detail(finding),
        ]
    head = _head(finding.time, (mark, style), finding.session_id, layout)
    return [*head, (finding.rule, style), _detail(finding)]


def _detail(finding: Finding) -> tuple[str, str]:
    return (f" {finding.detail}", SEVERITY_STYLES[finding.severity][1].split()[-1])


def fault_line(fault: Fault, ascii_only: bool, layout: Layout = PLAIN) -> Line:
    """Something went wrong in transport: always red."""
    head = _head(fault.time, _arrow(None, ascii_only), None, layout)
    return [*head, (f"FAULT {fault.kind}", "bold red"), (f" {fault.detail}", "red")]


def injected_line(fault: FaultInjected, ascii_only: bool, layout: Layout = PLAIN) -> Line:
    """A fault mcp-tap injected by a rule: magenta, so it is never read as the server's."""
    head = _head(fault.time, _arrow(None, ascii_only), fault.session_id, layout)
    call = f" (request {fault.request_id})" if fault.request_id is not None else ""
    return [
        *head,
        (f"INJECTED {fault.action}", "bold magenta"),
        (f" {fault.detail}{call}", "magenta"),
        (f"  [{fault.rule}]", "dim"),
    ]


def declined_stream(event: ResponseStarted, opened: ExchangeOpened | None) -> bool:
    """A GET answered 405: the server offers no standalone stream, as the spec allows."""
    return event.status == 405 and opened is not None and opened.method == "GET"


def http_line(
    event: ResponseStarted, opened: ExchangeOpened | None, ascii_only: bool, layout: Layout = PLAIN
) -> Line:
    """An HTTP status worth a look (4xx/5xx), or any status with -v."""
    arrow = _arrow(Direction.SERVER_TO_CLIENT, ascii_only)
    head = _head(event.time, arrow, event.session_id, layout)
    style = "bold red" if event.status >= 500 else "yellow" if event.status >= 400 else "dim"
    where = f" {opened.method} {opened.target}" if opened else ""
    stream = f" ({event.stream.value})" if event.stream else ""
    if declined_stream(event, opened):
        style, stream = "dim", " (no standalone stream offered; allowed)"
    return [*head, (f"HTTP {event.status}", style), (f"{where}{stream}", "dim")]


def exchange_line(
    event: ExchangeOpened | ExchangeClosed, ascii_only: bool, layout: Layout = PLAIN
) -> Line:
    """-v only: an HTTP request arriving, or an exchange ending."""
    if isinstance(event, ExchangeOpened):
        arrow = _arrow(Direction.CLIENT_TO_SERVER, ascii_only)
        head = _head(event.time, arrow, event.session_id, layout)
        return [
            *head,
            (f"HTTP {event.method} {event.target}", "dim"),
            (f" x{event.exchange_id}", "dim"),
        ]
    head = _head(event.time, _arrow(Direction.SERVER_TO_CLIENT, ascii_only), None, layout)
    style = "yellow" if event.reason != "complete" else "dim"
    text = f"HTTP closed: {event.reason}, {event.bytes_to_client} bytes"
    return [*head, (text, style), (f" x{event.exchange_id}", "dim")]


def outcome_word(stats: ProgressStats) -> str:
    """What became of a stream's request, in the words a person expects."""
    if stats.outcome is RequestState.ABANDONED:
        return "no response"
    if stats.outcome is RequestState.COMPLETED and stats.tool_error:
        return "tool error"  # the call worked; the tool said it failed (isError: true)
    return stats.outcome.value


def went_down(stats: ProgressStats, peak: float | None) -> bool:
    """True when the stream's progress ended below a value it had already reached."""
    last = stats.last_progress
    return peak is not None and last is not None and last < peak


def stream_line(
    stats: ProgressStats, ascii_only: bool, layout: Layout = PLAIN, peak: float | None = None
) -> Line:
    """The one-line summary printed when a progress stream ends, where its bar was.

    The bar ends where the progress ended (full only when it reached its total, or, without
    a total, when the request completed), colored by what became of the request; progress
    that went down (`peak`: the highest value seen) is said, in yellow. No progress at all is
    said in words, without a bar.
    """
    mark, style = OUTCOME_MARKS.get(stats.outcome, ("•", "white"))
    ok = stats.outcome is RequestState.COMPLETED and not stats.tool_error
    if stats.tool_error:
        mark, style = OUTCOME_MARKS[RequestState.FAILED]
    down = went_down(stats, peak)
    if ok and down:
        style = "yellow"
    elif ok and stats.count == 0:
        mark, style = "•", "dim"
    shown_mark = ("ok" if ok and not down and stats.count else mark) if ascii_only else mark
    head: Line = [(f"{shown_mark} ", style), token_badge(stats.token, ascii_only)]
    bar_width = layout.bar_width
    end: Line = []
    if stats.count == 0:
        end.append(("no progress", "dim"))
        end.append((f" · {outcome_word(stats)}", "" if ok else style))
    else:
        if not ok:
            end.append((f" {outcome_word(stats)}", style))
        elif down:
            end.append((f" completed, down from {number(peak)}", style))
        elif stats.total is not None and (stats.fraction or 0.0) < 1.0:
            end.append((" completed", style))
        bar = _end_bar(stats, ok, style, ascii_only, bar_width)
        # on a narrow terminal the name and then the bar give way, not what the end says
        if layout.width is not None:
            label_room = layout.width - (_used(head) + _used(bar) + _used(end) + 2)
        if layout.width is not None and label_room < MIN_LABEL:
            bar_width = max(MIN_BAR, bar_width - (MIN_LABEL - label_room))
        end = _end_bar(stats, ok, style, ascii_only, bar_width) + end
    label = stats.label or stats.method
    width = layout.label_width
    if width is not None and layout.width is not None:
        width = max(MIN_LABEL, min(width, layout.width - (_used(head) + _used(end) + 2)))
    label = clip_cells(label, width)
    line = [*head, (f" {label} ", "bold"), *end]
    updates = f"  {stats.count} update{'s' if stats.count != 1 else ''}" if stats.count else ""
    # what may follow, in the order of the line, each with its rank: dropped from the last
    rest: list[tuple[int, tuple[str, str]]] = [
        (0, (f"{updates} in {seconds(stats.duration)}", "")),
        (2, (f" · first after {seconds(stats.time_to_first)}", "dim")),
        (3, (f" · longest gap {seconds(stats.longest_gap)}", "dim")),
        (1, (f" · {stats.late} late", "yellow")),
    ]
    if not stats.count:
        rest = rest[:1]
    if not stats.late:
        rest = [part for part in rest if part[0] != 1]
    return line + fit_parts(rest, layout, _used(line))


def _end_bar(stats: ProgressStats, ok: bool, style: str, ascii_only: bool, width: int) -> Line:
    """A finished stream's bar, filled as far as its progress went, and the amount."""
    if stats.total is None:  # no total: full once completed, with the amount done
        fraction = 1.0 if ok else 0.0
        amount = f"{number(stats.last_progress)} done" if ok else number(stats.last_progress)
    else:
        fraction = stats.fraction or 0.0
        amount = f"{fraction:>4.0%}"
        if fraction < 1.0:
            amount += f" {number(stats.last_progress)}/{number(stats.total)}"
    filled = round(fraction * width)
    full, empty = ("#", "-") if ascii_only else ("━", "─")
    return [(full * filled, style), (empty * (width - filled), "dim"), (f" {amount}", style)]


def fit_parts(parts: list[tuple[int, tuple[str, str]]], layout: Layout, used: int) -> Line:
    """The parts (in line order, each with a rank: lower is kept first) that fit the width."""
    if layout.width is None:
        return [part for _, part in parts]
    room = layout.width - used
    kept: set[int] = set()
    for index in sorted(range(len(parts)), key=lambda i: parts[i][0]):
        size = cell_len(parts[index][1][0])
        if size <= room:
            kept.add(index)
            room -= size
    return [part for index, (_, part) in enumerate(parts) if index in kept]


def fit(line: Line, width: int | None) -> Line:
    """`line` cut to `width` cells, with an ellipsis where it was cut (None: whole)."""
    if width is None:
        return line
    out: Line = []
    room = width
    for text, style in line:
        size = cell_len(text)
        if size <= room:
            out.append((text, style))
            room -= size
            continue
        out.append((crop(text + "…", room), style))  # always ends in the ellipsis
        break
    return out
