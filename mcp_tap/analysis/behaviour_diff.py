"""How two recordings' calls differ: results, errors, progress and latency.

Calls are paired as `mcp-tap serve` matches a request (`request_key.call_key`: method and
params, volatile `_meta` left out), the n-th of one with the n-th of the other. For each
pair: the result by replay's structural diff (`diff.json_diff`, the same volatile fields
skipped), an error that appeared (breaking) or vanished, and the progress stream's shape
(how many notifications, the total, whether it kept increasing). Then latency, by method
and name over every answered call: the second's median at least `factor` times the first's
and `floor` seconds slower is a regression. List and lifecycle calls are the interface's,
compared there.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcp_tap.analysis.calls import VOLATILE_OUTCOME, Call, outcome
from mcp_tap.analysis.diff import MISSING, json_diff, names_a_field
from mcp_tap.analysis.differences import Difference, Impact
from mcp_tap.analysis.interface import LISTS, SERVER_METHODS
from mcp_tap.analysis.request_key import call_key
from mcp_tap.protocol.events import MessageKind

SKIPPED = frozenset({*LISTS, *SERVER_METHODS, "ping"})
DEFAULT_FACTOR = 2.0
DEFAULT_FLOOR = 0.1  # seconds


@dataclass(frozen=True)
class LatencyLimits:
    """When a slower median is a regression: `factor` times and `floor` seconds slower."""

    factor: float = DEFAULT_FACTOR
    floor: float = DEFAULT_FLOOR


def subject_of(call: Call) -> str:
    """`tools/call add`: the method, and the tool, prompt or resource it names."""
    params = call.request.payload.get("params")
    name = None
    if isinstance(params, dict):
        name = params.get("name", params.get("uri"))
    return f"{call.method} {name}" if isinstance(name, str) else call.method


def behaviour_changes(
    before: Sequence[Call],
    after: Sequence[Call],
    ignore: Sequence[str] = (),
    latency: LatencyLimits | None = None,
) -> tuple[list[Difference], list[str]]:
    """The differences between two recordings' calls, and notes on calls left unpaired."""
    old = _by_key(before)
    new = _by_key(after)
    found: list[Difference] = []
    alone = {"first": 0, "second": 0}
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key, []), new.get(key, [])
        for first, second in zip(a, b, strict=False):
            found.extend(call_changes(first, second, ignore))
        alone["first"] += max(0, len(a) - len(b))
        alone["second"] += max(0, len(b) - len(a))
    found.extend(latency_changes(before, after, latency or LatencyLimits()))
    notes = [
        f"{count} call(s) only in the {side} recording, not compared"
        for side, count in alone.items()
        if count
    ]
    kept = [d for d in found if not any(names_a_field(p, d.path) for p in ignore)]
    return kept, notes


def call_changes(first: Call, second: Call, ignore: Sequence[str] = ()) -> list[Difference]:
    """How the second answer to one call differs from the first."""
    subject = subject_of(first)
    if first.response is None or second.response is None:
        if (first.response is None) == (second.response is None):
            return []
        what = "no longer answered" if second.response is None else "now answered"
        impact = Impact.BREAKING if second.response is None else Impact.COMPATIBLE
        return [Difference("calls", subject, "response", what, impact)]
    failed = (_failure(first), _failure(second))
    if failed[0] is None and failed[1] is not None:
        what = f"an error appeared: {failed[1]}"
        return [Difference("calls", subject, "error", what, Impact.BREAKING, MISSING, failed[1])]
    found = []
    if failed[0] is not None and failed[1] is None:
        what = f"the error vanished: {failed[0]}"
        found.append(Difference("calls", subject, "error", what, Impact.COMPATIBLE, failed[0]))
    else:
        for change in json_diff(outcome(first), outcome(second), [*VOLATILE_OUTCOME, *ignore]):
            a, b = change.recorded, change.received
            typed = a is not MISSING and b is not MISSING and type(a) is not type(b)
            impact = Impact.BREAKING if change.kind == "removed" or typed else Impact.COMPATIBLE
            found.append(Difference("calls", subject, change.path, change.kind, impact, a, b))
    found.extend(_progress(subject, first, second))
    return found


def latency_changes(
    before: Sequence[Call], after: Sequence[Call], limits: LatencyLimits
) -> list[Difference]:
    """Median latencies, by subject, that regressed past both limits."""
    old, new = _latencies(before), _latencies(after)
    found = []
    for subject, times in old.items():
        if subject not in new:
            continue
        a, b = statistics.median(times), statistics.median(new[subject])
        if b >= a * limits.factor and b - a >= limits.floor:
            ratio = f"{b / a:.1f}x" if a > 0 else "from 0"
            what = f"p50 latency {a:.3f} s -> {b:.3f} s ({ratio})"
            found.append(
                Difference("latency", subject, f"latency[{subject}]", what, Impact.BREAKING, a, b)
            )
    return found


def _by_key(calls: Sequence[Call]) -> dict[str, list[Call]]:
    grouped: dict[str, list[Call]] = {}
    for call in calls:
        if call.method not in SKIPPED:
            grouped.setdefault(call_key(call.request.payload), []).append(call)
    return grouped


def _failure(call: Call) -> str | None:
    """The error a call ended in, for people; None when it succeeded."""
    response = call.response
    if response is None:
        return None
    if response.kind is MessageKind.ERROR:
        error = response.payload.get("error")
        if isinstance(error, dict):
            return f"{error.get('code')} {error.get('message', '')}".strip()
        return "error"
    result = response.payload.get("result")
    if isinstance(result, dict) and result.get("isError") is True:
        texts = [
            str(block["text"])
            for block in result.get("content") or []
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        ]
        return "isError: " + (" ".join(texts)[:80] or "true")
    return None


def _shape(call: Call) -> dict[str, Any]:
    values = [p.get("progress") for p in call.progress]
    totals = [p.get("total") for p in call.progress if p.get("total") is not None]
    increasing = all(_less(x, y) for x, y in zip(values, values[1:], strict=False))
    return {"count": len(values), "total": totals[-1] if totals else None, "increasing": increasing}


def _progress(subject: str, first: Call, second: Call) -> list[Difference]:
    a, b = _shape(first), _shape(second)
    found = []
    if a["increasing"] and not b["increasing"]:
        what = "progress no longer increases with each notification"
        found.append(Difference("calls", subject, "progress", what, Impact.BREAKING, a, b))
    if a["count"] != b["count"]:
        what = f"progress notifications {a['count']} -> {b['count']}"
        found.append(Difference("calls", subject, "progress", what, Impact.COMPATIBLE, a, b))
    if a["total"] != b["total"]:
        what = f"progress total {a['total']} -> {b['total']}"
        found.append(Difference("calls", subject, "progress", what, Impact.COMPATIBLE, a, b))
    return found


def _latencies(calls: Sequence[Call]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for call in calls:
        if call.method not in SKIPPED and call.answered_at is not None:
            found.setdefault(subject_of(call), []).append(call.answered_at - call.sent_at)
    return found


def _less(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        return False
