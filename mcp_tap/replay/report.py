"""Tell a person, or a machine, what a replay found.

For a person: each divergent request, then one line per difference: its path, the recorded
value after `-` and the received one after `+`, and the `--ignore` that would silence it.
Values are compact JSON with sorted keys, so two objects line up; a value too long for the
line is shown as a window around where the two sides first differ, never cut before it.
Colors on a terminal, plain text in a pipe, no wrapping in the middle of a value, and
recorded text with its control characters escaped (`view.visible`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from mcp_tap.analysis.diff import MISSING
from mcp_tap.replay.compare import CallVerdict
from mcp_tap.replay.verdicts import summary
from mcp_tap.view.visible import visible

CONTEXT = 12  # characters kept before the first difference when a value is windowed
MAX_DIFFS_FLAG = "--max-diffs"
MIN_ROOM = 40  # values get at least this many characters, however narrow the terminal


def print_verdicts(
    console: Console,
    verdicts: Sequence[CallVerdict],
    silence: Callable[[Sequence[str]], str] | None = None,
) -> None:
    """The diff of every divergent request, then a one-line verdict.

    `silence` words the hints of a request (ignore paths, `--progress-tolerance N`) as the
    reader would pass them; by default as `replay`'s flags.
    """
    silence = silence or cli_flags
    counted = summary(verdicts)
    divergent = [v for v in counted if not v.ok]
    room = max(MIN_ROOM, console.width - 6)
    for verdict in divergent:
        call = verdict.call
        head = Text.assemble(
            ("DIVERGED ", "bold red"),
            (visible(call.label), "bold"),
            (f"  recorded call {call.number}, t={call.sent_at:.3f}s", "dim"),
        )
        console.print(head, soft_wrap=True)
        hints: list[str] = []
        for divergence in verdict.divergences:
            console.print(Text(visible(f"  {divergence.what}"), style="yellow"), soft_wrap=True)
            recorded, received = show(divergence.recorded), show(divergence.received)
            if recorded is not None and received is not None:
                recorded, received = window(recorded, received, room)
            elif recorded is not None or received is not None:  # one side: keep its start
                recorded = _cut(recorded, 0, room) if recorded is not None else None
                received = _cut(received, 0, room) if received is not None else None
            if recorded is not None:
                console.print(Text(visible(f"    - {recorded}"), style="red"), soft_wrap=True)
            if received is not None:
                console.print(Text(visible(f"    + {received}"), style="green"), soft_wrap=True)
            if divergence.ignore and divergence.ignore not in hints:
                hints.append(divergence.ignore)
        if hints:
            text = f"  silence with: {silence(hints)}"
            console.print(Text(visible(text), style="dim"), soft_wrap=True)
    if counted.left_out:
        console.print(
            f"[dim]... and {counted.left_out} more divergent requests, not shown "
            f"({MAX_DIFFS_FLAG} N shows more)[/]"
        )
    if counted.diverged:
        console.print(
            f"[bold red]replay diverged[/]: {counted.diverged} of {counted.requests} "
            "requests differ"
        )
    else:
        console.print(
            f"[bold green]replay matched[/]: all {counted.requests} requests behaved the same"
        )


def verdicts_json(verdicts: Sequence[CallVerdict]) -> dict[str, Any]:
    """`replay --format json`: the same verdicts for machines (`diverged_not_shown`: the
    divergent requests beyond `--max-diffs`, when there are any)."""
    counted = summary(verdicts)
    found: dict[str, Any] = {
        "matched": counted.ok,
        "requests": counted.requests,
        "diverged": [
            {
                "request": v.call.label,
                "call": v.call.number,
                "exchange": v.call.exchange_id,
                "sent_at": round(v.call.sent_at, 6),
                "divergences": [d.to_json() for d in v.divergences],
            }
            for v in counted
            if not v.ok
        ],
    }
    if counted.left_out:
        found["diverged_not_shown"] = counted.left_out
    return found


def show(value: Any) -> str | None:
    """A value as compact JSON with sorted keys; None for a side where it is missing."""
    if value is MISSING:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def window(a: str, b: str, room: int) -> tuple[str, str]:
    """Both texts cut to `room` characters around where they first differ, marked with `…`."""
    if len(a) <= room and len(b) <= room:
        return a, b
    first = 0
    while first < min(len(a), len(b)) and a[first] == b[first]:
        first += 1
    start = max(0, first - CONTEXT)
    return _cut(a, start, room), _cut(b, start, room)


def _cut(text: str, start: int, room: int) -> str:
    if len(text) <= room:
        return text
    head = "…" if start > 0 else ""
    body = text[start : start + room - len(head) - 1]
    tail = "…" if start + len(body) < len(text) else ""
    return head + body + tail


def cli_flags(hints: Sequence[str]) -> str:
    """`--ignore 'result.content[0].text' --progress-tolerance 1`: hints as `replay`'s flags."""
    return " ".join(_flag(hint) for hint in hints)


def _flag(hint: str) -> str:
    if hint.startswith("--"):
        return hint
    return f"--ignore '{hint}'"
