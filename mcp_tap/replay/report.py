"""Print replay verdicts for a person: each divergent request with recorded vs received."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from mcp_tap.replay.compare import CallVerdict

MAX_SHOWN = 400  # characters of a recorded or received value before it is cut


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return escape(text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "...")


def print_verdicts(console: Console, verdicts: Sequence[CallVerdict]) -> None:
    """The diff of every divergent request, then a one-line verdict."""
    divergent = [v for v in verdicts if not v.ok]
    for verdict in divergent:
        call = verdict.call
        console.print(
            f"[bold red]DIVERGED[/] {escape(call.label)} "
            f"[dim](recorded exchange {call.exchange_id}, t={call.sent_at:.3f}s)[/]"
        )
        for divergence in verdict.divergences:
            console.print(f"  [yellow]{escape(divergence.what)}[/]")
            console.print(f"    recorded: {_show(divergence.recorded)}")
            console.print(f"    received: {_show(divergence.received)}")
    if divergent:
        console.print(
            f"[bold red]replay diverged[/]: {len(divergent)} of {len(verdicts)} requests differ"
        )
    else:
        console.print(
            f"[bold green]replay matched[/]: all {len(verdicts)} requests behaved the same"
        )
