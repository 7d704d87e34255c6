"""What a person expects of a recording, beyond the protocol: the pins of `mcp-tap check`."""

from __future__ import annotations

from mcp_tap.analysis.rules.base import MESSAGES, TOOLS, Rule
from mcp_tap.protocol.events import Severity

# What `mcp-tap check` asserts about a recording as a whole (its --expect-tool,
# --forbid-tool and --max-duration flags): pins of a test, not rules of the protocol.
TOOL_EXPECTED = Rule(
    "tool-expected",
    Severity.ERROR,
    "a tool --expect-tool names was never called",
    TOOLS,
)
TOOL_FORBIDDEN = Rule(
    "tool-forbidden", Severity.ERROR, "a tool --forbid-tool names was called", TOOLS
)
DURATION_EXCEEDED = Rule(
    "duration-exceeded",
    Severity.ERROR,
    "a request took longer than --max-duration allows for its method",
    MESSAGES,
)

RULES: tuple[Rule, ...] = (
    TOOL_EXPECTED,
    TOOL_FORBIDDEN,
    DURATION_EXCEEDED,
)
