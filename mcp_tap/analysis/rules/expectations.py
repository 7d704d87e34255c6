"""What a person expects of a recording, beyond the protocol: the pins of `mcp-tap check`,
and the definitions of tools, prompts and resource templates, pinned or judged for text a
person does not see (`analysis/definition_checks.py`, `analysis/suspicious.py`).
"""

from __future__ import annotations

from mcp_tap.analysis.rules.base import MESSAGES, SPEC, TOOLS, Rule
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

# A definition is what the model reads and the host decides by: one that changes after it
# was approved (a "rug pull") or that hides text from the person approving it is a risk the
# spec's security considerations name.
SECURITY = f"{TOOLS}#security-considerations"
SECURITY_PRACTICES = f"{SPEC}/basic/security_best_practices"
DEFINITION_CHANGED = Rule(
    "definition-changed",
    Severity.ERROR,
    "a tool, prompt or resource template differs from its pin (--pins), or changed within "
    "one session",
    SECURITY,
)
DEFINITION_HIDDEN_TEXT = Rule(
    "definition-hidden-text",
    Severity.WARNING,
    "a definition holds text a person does not see: invisible, bidirectional or tag "
    "characters (an error), long whitespace runs, HTML comments",
    SECURITY_PRACTICES,
)
DEFINITION_DIRECTIVE = Rule(
    "definition-directive",
    Severity.WARNING,
    'a definition addresses the model with directives: <IMPORTANT>, "ignore previous '
    'instructions", "do not tell the user"',
    SECURITY,
)

RULES: tuple[Rule, ...] = (
    TOOL_EXPECTED,
    TOOL_FORBIDDEN,
    DURATION_EXCEEDED,
    DEFINITION_CHANGED,
    DEFINITION_HIDDEN_TEXT,
    DEFINITION_DIRECTIVE,
)
