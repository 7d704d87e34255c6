"""The end-of-run summary: requests per method with latency percentiles, progress streams,
findings and faults, as rich tables.

Data in, renderables out: the console view prints them in color, or through a colorless
console when the output is a pipe.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rich import box
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from mcp_tap.analysis.progress_stats import LIVE_STATES, ProgressStats, RequestState, percentile
from mcp_tap.protocol.events import Fault, FaultInjected, Finding, Severity
from mcp_tap.view.format import (
    SEVERITY_STYLES,
    number,
    outcome_word,
    seconds,
    short_session,
    went_down,
)
from mcp_tap.view.visible import visible

MAX_STREAM_ROWS = 15  # the most recent streams; older ones are counted in the caption
SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass
class Tally:
    """What the view counted itself: findings and faults, whoever published them."""

    findings: list[Finding] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # faults mcp-tap injected by a --fault rule: counted apart, never the server's
    injected: list[FaultInjected] = field(default_factory=list)


Cell = str | Text


@dataclass
class Column:
    """One column of a summary table, with what to do when the terminal is narrow."""

    header: str
    cells: list[Cell]
    short: str | None = None  # a narrower header, used before any column is dropped
    justify: JustifyMethod = "left"
    style: str = ""
    drop: int = 0  # 0: always shown; else dropped when the table does not fit, highest first
    prose: bool = False  # free text: wraps within the room left, instead of widening the table
    name: bool = False  # a name of any length: cut (with an ellipsis) to fit a narrow table


def fit_table(
    console: Console,
    options: ConsoleOptions,
    title: str,
    columns: list[Column],
    caption: str | None = None,
) -> Table:
    """A table that fits the width rich gives it: shorter headers first, then fewer columns
    (least useful first), so that no header is cut and no value wraps."""
    width = options.max_width
    shown = list(columns)
    short = False
    names = max(MIN_NAME, width // 4)  # a name takes at most a quarter of the line at first
    while True:
        table = _table(title, shown, caption, short, names, measuring=True)
        excess = Measurement.get(console, options.update_width(10_000), table).maximum - width
        if excess <= 0:
            break
        droppable = [c for c in shown if c.drop]
        if not short:
            short = True
        elif droppable:
            shown.remove(max(droppable, key=lambda c: c.drop))
        elif names > MIN_NAME and any(c.name for c in shown):
            names = max(MIN_NAME, names - excess)
        else:
            break  # prose wraps in what is left
    return _table(title, shown, caption, short, names, measuring=False)


MIN_NAME = 8
PROSE_ROOM = 16  # cells a prose column needs at least, for the fitting


def _table(
    title: str,
    columns: list[Column],
    caption: str | None,
    short: bool,
    names: int,
    measuring: bool,
) -> Table:
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, title_justify="left")
    for column in columns:
        header = column.short if short and column.short else column.header
        if column.prose:
            room = PROSE_ROOM if measuring else None
            table.add_column(header, style=column.style, max_width=room, overflow="fold")
        else:
            table.add_column(
                header,
                style=column.style,
                justify=column.justify,
                no_wrap=True,
                overflow="ellipsis",
                max_width=names if column.name else None,
            )
    for row in zip(*(c.cells for c in columns), strict=True):
        # recorded words: shown as they are (controls escaped), never read as rich markup
        table.add_row(*(Text(visible(cell)) if isinstance(cell, str) else cell for cell in row))
    return table


def requests_table(
    requests: Counter[str],
    errors: Counter[str],
    latencies: Mapping[str, Sequence[float]],
    open_requests: Counter[str],
    tool_errors: Counter[str] | None = None,
) -> list[Column]:
    """Requests per method: how many, how many failed or are open, p50/p95/max latency.

    Results with `isError: true` are answers, not error responses: they get a column of their
    own ("tool errors"), shown when there is any.
    """
    methods = sorted(requests, key=lambda m: (-requests[m], m))
    times = [latencies.get(method, ()) for method in methods]
    tools = tool_errors or Counter()
    columns = [
        Column("method", list(methods), style="bold", name=True),
        Column("requests", [str(requests[m]) for m in methods], "n", "right"),
        Column("errors", [_count(errors[m], "red") for m in methods], "err", "right"),
        Column("open", [_count(open_requests[m], "yellow") for m in methods], None, "right"),
        Column("p50", [seconds(percentile(t, 0.50)) for t in times], None, "right", drop=1),
        Column("p95", [seconds(percentile(t, 0.95)) for t in times], None, "right", drop=3),
        Column("max", [seconds(max(t) if t else None) for t in times], None, "right", drop=2),
    ]
    if any(tools[m] for m in methods):
        cells = [_count(tools[m], "red") for m in methods]
        columns.insert(3, Column("tool errors", cells, "tool err", "right"))
    return columns


def _count(value: int, style: str) -> Cell:
    return Text(str(value), style=style) if value else "0"


def _outcome(stats: ProgressStats, peak: float | None) -> Text:
    word = outcome_word(stats)
    if stats.outcome is RequestState.COMPLETED and not stats.tool_error:
        if went_down(stats, peak):
            return Text(f"{word}, went down", style="yellow")
        return Text(word + ("" if stats.count else ", no progress"), style="green")
    if stats.late:
        word += f", {stats.late} late"
    return Text(word, style="yellow" if stats.outcome in LIVE_STATES else "red")


def streams_table(
    streams: Sequence[ProgressStats],
    stream_count: int,
    peaks: Mapping[ProgressStats, float] | None = None,
) -> tuple[list[Column], str | None]:
    """One row per progress token (the latest of `stream_count`): where, updates, timing,
    outcome; and the caption counting the streams not shown."""
    shown = list(streams)[-MAX_STREAM_ROWS:]
    caption = (
        f"{stream_count - len(shown)} earlier streams not shown"
        if len(shown) < stream_count
        else None
    )
    peaks = peaks or {}
    lasts: list[Cell] = []
    for stats in shown:
        last = number(stats.last_progress) + (
            f"/{number(stats.total)}" if stats.total is not None else ""
        )
        down = went_down(stats, peaks.get(stats))
        lasts.append(Text(last, style="yellow") if down else last if stats.count else "-")
    return [
        Column("token", [json.dumps(s.token) for s in shown], style="magenta"),
        Column("session", [short_session(s.session_id) for s in shown], "sess", drop=9),
        Column("id", [_id(s.request_id) for s in shown], drop=8),
        Column("request", [s.label or s.method for s in shown], name=True),
        Column("updates", [str(s.count) for s in shown], "upd", "right", drop=4),
        Column("last", lasts, None, "right"),
        Column("duration", [seconds(s.duration) for s in shown], "took", "right", drop=5),
        Column("first after", [seconds(s.time_to_first) for s in shown], "first", "right", drop=6),
        Column(
            "longest gap",
            [seconds(s.longest_gap) if s.count > 1 else "-" for s in shown],
            "gap",
            "right",
            drop=7,
        ),
        Column("outcome", [_outcome(s, peaks.get(s)) for s in shown]),
    ], caption


def _id(request_id: str | int | None) -> str:
    return "-" if request_id is None else json.dumps(request_id)


def findings_table(findings: list[Finding]) -> list[Column]:
    """Findings grouped by rule, worst first, with the first one's detail as an example."""
    groups: dict[tuple[Severity, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.severity, finding.rule), []).append(finding)
    ordered = sorted(groups.items(), key=lambda kv: (SEVERITY_ORDER[kv[0][0]], kv[0][1]))
    styles = [SEVERITY_STYLES[severity][1] for (severity, _), _ in ordered]
    return [
        Column(
            "severity",
            [Text(sev.value, style=st) for ((sev, _), _), st in zip(ordered, styles, strict=True)],
            "sev",
            drop=1,
        ),
        Column(
            "rule",
            [
                Text(visible(rule), style=st)
                for ((_, rule), _), st in zip(ordered, styles, strict=True)
            ],
        ),
        Column("count", [str(len(group)) for _, group in ordered], "n", "right"),
        Column("first", [group[0].detail for _, group in ordered], prose=True),
    ]


def faults_table(faults: list[Fault]) -> list[Column]:
    """Transport faults by kind."""
    counts = Counter(f.kind for f in faults)
    firsts: dict[str, str] = {}
    for fault in faults:
        firsts.setdefault(fault.kind, fault.detail)
    kinds = [kind for kind, _ in counts.most_common()]
    return [
        Column("kind", list(kinds), style="bold red"),
        Column("count", [str(counts[k]) for k in kinds], "n", "right"),
        Column("first", [firsts[k] for k in kinds], prose=True),
    ]


def injected_table(injected: list[FaultInjected]) -> list[Column]:
    """Faults injected on purpose, by rule."""
    counts = Counter(f.rule for f in injected)
    firsts: dict[str, str] = {}
    for fault in injected:
        firsts.setdefault(fault.rule, fault.detail)
    rules = [rule for rule, _ in counts.most_common()]
    return [
        Column("rule", list(rules), style="bold magenta", name=True),
        Column("count", [str(counts[r]) for r in rules], "n", "right"),
        Column("first", [firsts[r] for r in rules], prose=True),
    ]


@dataclass
class Summary:
    """Everything for the end of a run, only the tables that have rows, laid out for the
    width of the console it is printed on."""

    requests: Counter[str]
    errors: Counter[str]
    latencies: Mapping[str, Sequence[float]]
    open_requests: Counter[str]
    streams: Sequence[ProgressStats]
    stream_count: int
    tally: Tally
    peaks: Mapping[ProgressStats, float] = field(default_factory=dict)
    tool_errors: Counter[str] = field(default_factory=Counter)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("mcp-tap summary", style="bold underline")
        if not self.requests and not self.tally.faults and not self.tally.injected:
            yield Text("no MCP requests seen", style="dim")
        if self.requests:
            columns = requests_table(
                self.requests, self.errors, self.latencies, self.open_requests, self.tool_errors
            )
            yield fit_table(console, options, "Requests", columns)
        if self.streams:
            columns, caption = streams_table(self.streams, self.stream_count, self.peaks)
            yield fit_table(console, options, "Progress streams", columns, caption)
        if self.tally.findings:
            yield fit_table(console, options, "Findings", findings_table(self.tally.findings))
        else:
            yield Text("no findings", style="green")
        if self.tally.faults:
            yield fit_table(console, options, "Faults", faults_table(self.tally.faults))
        if self.tally.injected:
            columns = injected_table(self.tally.injected)
            yield fit_table(console, options, "Injected faults (--fault)", columns)


def summary(
    requests: Counter[str],
    errors: Counter[str],
    latencies: Mapping[str, Sequence[float]],
    open_requests: Counter[str],
    streams: Sequence[ProgressStats],
    stream_count: int,
    tally: Tally,
    peaks: Mapping[ProgressStats, float] | None = None,
    tool_errors: Counter[str] | None = None,
) -> RenderableType:
    """The end-of-run tables (see `Summary`)."""
    return Summary(
        requests, errors, latencies, open_requests, streams, stream_count, tally, peaks or {},
        tool_errors or Counter(),
    )  # fmt: skip
