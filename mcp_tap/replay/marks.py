"""Divergences as findings: how `replay --report` marks them on the recording's HTML page.

Each divergence becomes a `replay-diverged` finding of error severity on the recorded
request it concerns, so the page's timeline and findings list show where the server now
behaves differently, in the same words `replay` prints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp_tap.analysis.diff import MISSING
from mcp_tap.protocol.events import Finding, Severity
from mcp_tap.replay.compare import CallVerdict

RULE = "replay-diverged"


def divergence_findings(verdicts: Sequence[CallVerdict]) -> list[Finding]:
    """One finding per divergence, on the recorded call it concerns."""
    marks = []
    for verdict in verdicts:
        call = verdict.call
        for divergence in verdict.divergences:
            marks.append(
                Finding(
                    time=call.sent_at,
                    severity=Severity.ERROR,
                    rule=RULE,
                    detail=divergence.what + _values(divergence.recorded, divergence.received),
                    exchange_id=call.exchange_id,
                    session_id=call.session_id,
                    request_id=call.request.id,
                )
            )
    return marks


def _values(recorded: Any, received: Any) -> str:
    parts = []
    if recorded is not MISSING:
        parts.append(f"recorded {json.dumps(recorded, sort_keys=True)}")
    if received is not MISSING:
        parts.append(f"received {json.dumps(received, sort_keys=True)}")
    return f" ({'; '.join(parts)})" if parts else ""
