"""`--fail-on`: whether a session saw findings (or faults) bad enough to fail a script or CI.

A subscriber like any other: it counts, the command reads the count when the session ends.
"""

from __future__ import annotations

from mcp_tap.protocol.events import Fault, Finding, Severity, TapEvent

RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class SeverityGate:
    """Counts findings at or above `threshold`; a transport fault counts as an error."""

    def __init__(self, threshold: Severity) -> None:
        self.threshold = threshold
        self.tripped = 0

    def handle(self, event: TapEvent) -> None:
        if isinstance(event, Finding):
            if RANK[event.severity] >= RANK[self.threshold]:
                self.tripped += 1
        elif isinstance(event, Fault):
            self.tripped += 1  # an unreachable or broken upstream is worse than any warning

    def close(self) -> None:
        pass
