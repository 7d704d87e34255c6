"""The checkers of the protocol's lifecycle, ids and 2026-07-28 rules, and of the server's
definitions (pinned, changed, or hiding text), as one list.

Every command that judges traffic (proxy, stdio, replay, serve, show of a live file and
`check`) subscribes these beside the tracker, wire and schema checks.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY
from mcp_tap.analysis.definition_checks import DefinitionChecker
from mcp_tap.analysis.id_checks import IdChecker
from mcp_tap.analysis.lifecycle import LifecycleChecker
from mcp_tap.analysis.modern_checks import ModernChecker
from mcp_tap.analysis.pins import Pins
from mcp_tap.analysis.rules import (
    CACHE_SCOPE_INCONSISTENT,
    CLIENT_CAPABILITY_UNDECLARED,
    DEFINITION_CHANGED,
    DEFINITION_DIRECTIVE,
    DEFINITION_HIDDEN_TEXT,
    HEADER_MISMATCH,
    INPUT_REQUIRED_INVALID,
    INPUT_RETRY_INVALID,
    LOG_WITHOUT_LEVEL,
    PROTOCOL_VERSION_MISMATCH,
    REQUEST_BEFORE_INITIALIZED,
    REQUEST_ID_REUSED,
    RESOURCE_NOT_SUBSCRIBED,
    RESPONSE_DUPLICATE,
    RESPONSE_UNKNOWN_ID,
    RESULT_TYPE_UNKNOWN,
    SERVER_CAPABILITY_UNDECLARED,
    SESSION_ID_STATELESS,
    VERSION_NOT_OFFERED,
    Rule,
)
from mcp_tap.protocol.events import Subscriber, TapEvent

CONFORMANCE_RULES: tuple[Rule, ...] = (
    REQUEST_BEFORE_INITIALIZED,
    CLIENT_CAPABILITY_UNDECLARED,
    SERVER_CAPABILITY_UNDECLARED,
    RESOURCE_NOT_SUBSCRIBED,
    PROTOCOL_VERSION_MISMATCH,
    VERSION_NOT_OFFERED,
    RESPONSE_UNKNOWN_ID,
    RESPONSE_DUPLICATE,
    REQUEST_ID_REUSED,
    RESULT_TYPE_UNKNOWN,
    INPUT_REQUIRED_INVALID,
    INPUT_RETRY_INVALID,
    CACHE_SCOPE_INCONSISTENT,
    SESSION_ID_STATELESS,
    HEADER_MISMATCH,
    LOG_WITHOUT_LEVEL,
    DEFINITION_CHANGED,
    DEFINITION_HIDDEN_TEXT,
    DEFINITION_DIRECTIVE,
)
"""The rules these checkers raise, in the order `rules.RULES` lists them."""


def conformance_checkers(
    publish: Callable[[TapEvent], None],
    pins: Pins | None = None,
    memory: int = DEFAULT_JUDGE_MEMORY,
) -> list[Subscriber]:
    """The lifecycle and capability, id, 2026-07-28 and definition checkers, publishing on
    `publish`; `pins`: the definitions `--pins` holds the server to; `memory`: the sessions,
    exchanges and request ids each remembers (`--judge-memory`)."""
    return [
        LifecycleChecker(publish, memory),
        IdChecker(publish, memory),
        ModernChecker(publish, memory),
        DefinitionChecker(publish, pins, memory),
    ]
