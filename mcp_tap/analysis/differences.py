"""What `mcp-tap diff` reports: each difference between two recordings, and how much it matters.

A difference names its area (the server, a kind of definition, calls, latency), the thing
it is about (`tool add`), the path `--ignore` takes to silence it, one line for people, and
its impact: `compatible` (a client written for the first still works with the second),
`breaking` (one may not), or `suspicious` (the second hides text from a person or
addresses the model: see `suspicious.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mcp_tap.analysis.diff import MISSING


class Impact(StrEnum):
    """How much a difference matters to a client, least first."""

    COMPATIBLE = "compatible"
    BREAKING = "breaking"
    SUSPICIOUS = "suspicious"


IMPACT_RANK = {Impact.COMPATIBLE: 0, Impact.BREAKING: 1, Impact.SUSPICIOUS: 2}


@dataclass(frozen=True)
class Difference:
    """One way the second recording differs from the first."""

    area: str  # "server", "tools", "prompts", "resources", "resourceTemplates", "calls"...
    subject: str  # "tool add", "tools/call add", "server"
    path: str  # what `--ignore` takes: "tools[name=add].inputSchema.required"
    what: str  # one line for people: "new required property 'b'"
    impact: Impact
    before: Any = MISSING
    after: Any = MISSING
    detail: str = ""  # more lines, already escaped: a description's word diff

    def to_json(self) -> dict[str, Any]:
        """The difference as JSON (a side that does not exist is left out)."""
        data: dict[str, Any] = {
            "area": self.area,
            "subject": self.subject,
            "path": self.path,
            "what": self.what,
            "impact": self.impact.value,
        }
        if self.before is not MISSING:
            data["before"] = self.before
        if self.after is not MISSING:
            data["after"] = self.after
        if self.detail:
            data["detail"] = self.detail
        return data
