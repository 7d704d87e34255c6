"""What changed from one recording to another: `mcp-tap diff` without the command.

The interface (`interface_diff`) and then the behaviour (`behaviour_diff`), each difference
with its impact; `--fail-on breaking` trips on breaking or suspicious ones, `--fail-on any`
on every one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mcp_tap.analysis.behaviour_diff import LatencyLimits, behaviour_changes
from mcp_tap.analysis.calls import collect_calls
from mcp_tap.analysis.differences import IMPACT_RANK, Difference, Impact
from mcp_tap.analysis.interface import interface_of
from mcp_tap.analysis.interface_diff import interface_changes
from mcp_tap.analysis.server_side import without_injected
from mcp_tap.protocol.events import FaultInjected, TapEvent

FAIL_ON = ("breaking", "any")


@dataclass(frozen=True)
class DiffOptions:
    """What the user asked `diff` for."""

    ignore: tuple[str, ...] = ()  # paths never reported (`json_diff` paths, `*` any part)
    latency: LatencyLimits = field(default_factory=LatencyLimits)


@dataclass
class RecordingDiff:
    """The differences from the first recording to the second, and what was not compared."""

    differences: list[Difference]
    notes: list[str]

    def count(self, impact: Impact) -> int:
        """How many differences have `impact`."""
        return sum(d.impact is impact for d in self.differences)

    def fails(self, fail_on: str | None) -> bool:
        """Whether `--fail-on` trips: `breaking` (breaking or suspicious) or `any`."""
        if fail_on is None:
            return False
        if fail_on == "any":
            return bool(self.differences)
        worst = IMPACT_RANK[Impact.BREAKING]
        return any(IMPACT_RANK[d.impact] >= worst for d in self.differences)


def diff_recordings(
    before: Iterable[TapEvent], after: Iterable[TapEvent], options: DiffOptions | None = None
) -> RecordingDiff:
    """Every difference from the events of `before` to those of `after` (each read in a
    few passes: a list, or a recording file). What a `--fault` rule injected is left out,
    as `replay` leaves it out: it was never the server's doing."""
    options = options or DiffOptions()
    injected = [_count_injected(before), _count_injected(after)]
    before, after = without_injected(before), without_injected(after)
    interface, notes = interface_changes(interface_of(before), interface_of(after), options.ignore)
    behaviour, more = behaviour_changes(
        collect_calls(list(before)), collect_calls(list(after)), options.ignore, options.latency
    )
    faults = [
        f"{count} fault(s) injected by mcp-tap in the {side} recording, left out"
        for side, count in zip(("first", "second"), injected, strict=True)
        if count
    ]
    return RecordingDiff([*interface, *behaviour], [*faults, *notes, *more])


def _count_injected(events: Iterable[TapEvent]) -> int:
    return sum(isinstance(event, FaultInjected) for event in events)
