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
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mcp_tap.analysis.progress_stats import ProgressStats, percentile
from mcp_tap.protocol.events import Fault, Finding, Severity
from mcp_tap.view.format import SEVERITY_STYLES, number, seconds

MAX_STREAM_ROWS = 15  # the most recent streams; older ones are counted in the caption
SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass
class Tally:
    """What the view counted itself: findings and faults, whoever published them."""

    findings: list[Finding] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)


def requests_table(
    requests: Counter[str],
    errors: Counter[str],
    latencies: Mapping[str, Sequence[float]],
    open_requests: Counter[str],
) -> Table:
    """Requests per method: how many, how many failed or are open, p50/p95/max latency."""
    table = Table(title="Requests", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("method", style="bold")
    for name in ("requests", "errors", "open", "p50", "p95", "max"):
        table.add_column(name, justify="right")
    for method in sorted(requests, key=lambda m: (-requests[m], m)):
        times = latencies.get(method, ())
        table.add_row(
            method,
            str(requests[method]),
            Text(str(errors[method]), style="red") if errors[method] else "0",
            Text(str(open_requests[method]), style="yellow") if open_requests[method] else "0",
            seconds(percentile(times, 0.50)),
            seconds(percentile(times, 0.95)),
            seconds(max(times) if times else None),
        )
    return table


def streams_table(streams: Sequence[ProgressStats], stream_count: int) -> Table:
    """One row per progress token (the latest of `stream_count`): updates, timing, outcome."""
    shown = list(streams)[-MAX_STREAM_ROWS:]
    caption = (
        f"{stream_count - len(shown)} earlier streams not shown"
        if len(shown) < stream_count
        else None
    )
    table = Table(
        title="Progress streams", caption=caption, box=box.SIMPLE_HEAD, title_justify="left"
    )
    table.add_column("token", style="magenta", no_wrap=True)
    table.add_column("request", no_wrap=True, max_width=28, overflow="ellipsis")
    for name in ("updates", "last", "duration", "first after", "longest gap"):
        table.add_column(name, justify="right")
    table.add_column("outcome", no_wrap=True)
    for stats in shown:
        last = number(stats.last_progress) + (
            f"/{number(stats.total)}" if stats.total is not None else ""
        )
        outcome = stats.outcome.value + (f", {stats.late} late" if stats.late else "")
        style = (
            "green"
            if outcome == "completed"
            else "yellow"
            if stats.outcome.value in ("active", "task")
            else "red"
        )
        table.add_row(
            json.dumps(stats.token),
            stats.label or stats.method,
            str(stats.count),
            last if stats.count else "-",
            seconds(stats.duration),
            seconds(stats.time_to_first),
            seconds(stats.longest_gap) if stats.count > 1 else "-",
            Text(outcome, style=style),
        )
    return table


def findings_table(findings: list[Finding]) -> Table:
    """Findings grouped by rule, worst first, with the first one's detail as an example."""
    groups: dict[tuple[Severity, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.severity, finding.rule), []).append(finding)
    table = Table(title="Findings", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("severity")
    table.add_column("rule", style="bold")
    table.add_column("count", justify="right")
    table.add_column("first", overflow="fold")
    for (severity, rule), group in sorted(
        groups.items(), key=lambda kv: (SEVERITY_ORDER[kv[0][0]], kv[0][1])
    ):
        style = SEVERITY_STYLES[severity][1]
        table.add_row(Text(severity.value, style=style), rule, str(len(group)), group[0].detail)
    return table


def faults_table(faults: list[Fault]) -> Table:
    """Transport faults by kind."""
    counts = Counter(f.kind for f in faults)
    table = Table(title="Faults", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("kind", style="bold red")
    table.add_column("count", justify="right")
    table.add_column("first", overflow="fold")
    firsts: dict[str, str] = {}
    for fault in faults:
        firsts.setdefault(fault.kind, fault.detail)
    for kind, count in counts.most_common():
        table.add_row(kind, str(count), firsts[kind])
    return table


def summary(
    requests: Counter[str],
    errors: Counter[str],
    latencies: Mapping[str, Sequence[float]],
    open_requests: Counter[str],
    streams: Sequence[ProgressStats],
    stream_count: int,
    tally: Tally,
) -> RenderableType:
    """Everything for the end of a run, only the tables that have rows."""
    parts: list[RenderableType] = [Text("mcp-tap summary", style="bold underline")]
    if requests:
        parts.append(requests_table(requests, errors, latencies, open_requests))
    if streams:
        parts.append(streams_table(streams, stream_count))
    if tally.findings:
        parts.append(findings_table(tally.findings))
    else:
        parts.append(Text("no findings", style="green"))
    if tally.faults:
        parts.append(faults_table(tally.faults))
    if not requests and not tally.faults:
        parts.insert(1, Text("no MCP requests seen", style="dim"))
    return Group(*parts)
