"""mcp-tap's words first: the failure of a test whose requests its recording could not answer.

The mock answers such a request with a JSON-RPC error, so the client raises, and what pytest
shows first is the SDK's traceback, often an ExceptionGroup seventy lines long with mcp-tap's
explanation at its bottom. `lead_with_misses` puts that explanation (which request missed,
the closest recorded one, the fields that changed) at the top of the failure report, in the
summary line and in `--tb=line`; the test's own traceback follows it, whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _pytest._code.code import (  # pytest's own report pieces: xdist serializes them as they are
    ExceptionChainRepr,
    ReprEntry,
    ReprFileLocation,
    ReprTraceback,
)

if TYPE_CHECKING:
    from mcp_tap.serve.matching import Miss
    from mcp_tap.serve.run import ServeReport

SHOWN_DIFFERENCES = 10  # fields listed for one miss; the rest are counted
THEN = "The mock answered that request with a JSON-RPC error; what the test raised then:"


def request_label(miss: Miss) -> str:
    """`tools/call download_file`: the method, and the tool or prompt it names."""
    params = miss.request.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return f"{miss.method} {name}" if isinstance(name, str) else miss.method


def miss_lines(miss: Miss) -> list[str]:
    """A miss for a person: the request, the closest recorded one, then one line a field."""
    label = request_label(miss)
    if miss.reason:
        return [f"{label}: no recorded request matches it: {miss.reason}"]
    if miss.closest is None:
        return [f"{label}: no recorded {miss.method} request matches it"]
    lines = [
        f"{label}: no recorded request matches it; the closest is {miss.closest.label}, "
        "which differs in"
    ]
    lines.extend(f"  {d.describe()}" for d in miss.differences[:SHOWN_DIFFERENCES])
    more = len(miss.differences) - SHOWN_DIFFERENCES
    if more > 0:
        lines.append(f"  and {more} more")
    return lines


def miss_summary(miss: Miss) -> str:
    """One line for pytest's summary: the request, and the first field that changed."""
    head = f"{request_label(miss)} matches no recorded request"
    if miss.reason:
        return f"{head}: {miss.reason}"
    if not miss.differences:
        return head
    more = len(miss.differences) - 1
    return f"{head}: {miss.differences[0].describe()}" + (f"; and {more} more" if more else "")


def failure_lines(path: Path, report: ServeReport, strict: bool) -> list[str]:
    """Why a replayed test fails: its misses, and under strict its unused interactions;
    empty when nothing fails it."""
    unused = report.unused if strict else []
    if not report.misses and not unused:
        return []
    heading = f"mcp-tap: {path} could not answer every request of this test"
    if not report.misses:
        heading = f"mcp-tap: {path} was not used as recorded (--mcp-strict)"
    lines = [heading]
    for miss in report.misses:
        lines.extend(f"  {line}" for line in miss_lines(miss))
    lines.extend(f"  unused recorded interaction: {i.label}" for i in unused)
    return lines


def lead_with_misses(
    report: pytest.TestReport, lines: Sequence[str], misses: Sequence[Miss], test: Path, line: int
) -> None:
    """Put `lines` at the top of a failed test's report, before the traceback it had.

    `test` and `line` (1-based) are where the summary line and `--tb=line` point; their text
    is the first miss's summary. A report pytest did not render as an exception is left
    alone, unless it is plain text, which the lines then precede.
    """
    longrepr = report.longrepr
    if isinstance(longrepr, str):
        report.longrepr = "\n".join([*lines, "", longrepr])
        return
    if not isinstance(longrepr, ExceptionChainRepr):
        return
    first = f"mcp-tap: {miss_summary(misses[0])}" if misses else lines[0]
    crash = ReprFileLocation(str(test), line, first)
    entry = ReprEntry(
        lines=list(lines), reprfuncargs=None, reprlocals=None, reprfileloc=None, style="value"
    )
    ours = ReprTraceback([entry], extraline=None, style="value")
    # The summary line shows the newest exception's crash, even after xdist sends the report.
    *older, (newest, _, said) = longrepr.chain
    led = ExceptionChainRepr([(ours, crash, THEN), *older, (newest, crash, said)])
    for name, content, sep in longrepr.sections:
        led.addsection(name, content, sep)
    report.longrepr = led
