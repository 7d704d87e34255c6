"""Checks on single messages, apart from progress: invalid JSON-RPC, unknown methods and versions.

A tap forwards such messages untouched; this subscriber only flags them, once per distinct
value, so an unusual but valid session is not drowned in findings.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp_tap.analysis.rules import MESSAGE_INVALID, METHOD_UNKNOWN, PROTOCOL_VERSION_UNKNOWN, Rule
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Finding,
    MessageKind,
    MessageSeen,
    TapEvent,
    header,
)

KNOWN_PROTOCOL_VERSIONS = frozenset(
    {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"}
)
# Every method of every MCP revision, 2024-11-05 to 2026-07-28.
KNOWN_METHODS = frozenset(
    {
        "initialize", "ping", "server/discover", "subscriptions/listen",
        "tools/list", "tools/call", "prompts/list", "prompts/get",
        "resources/list", "resources/templates/list", "resources/read",
        "resources/subscribe", "resources/unsubscribe", "logging/setLevel",
        "completion/complete", "sampling/createMessage", "roots/list", "elicitation/create",
        "tasks/get", "tasks/result", "tasks/list", "tasks/cancel",
        "notifications/initialized", "notifications/cancelled", "notifications/progress",
        "notifications/message", "notifications/roots/list_changed",
        "notifications/tools/list_changed", "notifications/prompts/list_changed",
        "notifications/resources/list_changed", "notifications/resources/updated",
        "notifications/elicitation/complete", "notifications/tasks/status",
        "notifications/subscriptions/acknowledged",
    }
)  # fmt: skip
MAX_INVALID_FINDINGS = 20  # a stream of garbage deserves a few findings, not thousands


class WireChecker:
    """Subscriber publishing a finding for each new oddity in single messages."""

    def __init__(self, publish: Callable[[TapEvent], None]) -> None:
        self.publish = publish
        self._seen: set[tuple[str, str]] = set()
        self._invalid = 0
        # A forward proxy's exchanges that are not (yet) known to be MCP: OAuth forms, web
        # pages. Their bodies are not JSON-RPC and should not be, so they are not flagged.
        self._not_mcp: set[int] = set()

    def handle(self, event: TapEvent) -> None:
        if isinstance(event, ExchangeClosed):
            self._not_mcp.discard(event.exchange_id)
        elif isinstance(event, ExchangeOpened):
            mcp_headers = ("mcp-protocol-version", "mcp-session-id")
            if event.origin is not None and not any(header(event.headers, h) for h in mcp_headers):
                self._not_mcp.add(event.exchange_id)
            for name, value in event.headers:
                if name == "mcp-protocol-version" and value not in KNOWN_PROTOCOL_VERSIONS:
                    self._once(PROTOCOL_VERSION_UNKNOWN, value, event, f"header says {value!r}")
        elif isinstance(event, MessageSeen):
            message = event.message
            if message.kind is not MessageKind.INVALID:
                if event.direction is Direction.CLIENT_TO_SERVER:
                    self._not_mcp.discard(event.exchange_id)
            elif event.exchange_id in self._not_mcp:
                pass
            else:
                self._invalid += 1
                if self._invalid <= MAX_INVALID_FINDINGS:
                    self._report(MESSAGE_INVALID, event, message.problem or "invalid")
            if message.method is not None and message.method not in KNOWN_METHODS:
                self._once(METHOD_UNKNOWN, message.method, event, f"method {message.method!r}")
            version = message.protocol_version
            if version is not None and version not in KNOWN_PROTOCOL_VERSIONS:
                self._once(PROTOCOL_VERSION_UNKNOWN, version, event, f"message says {version!r}")

    def close(self) -> None:
        pass

    def _once(
        self, rule: Rule, value: str, event: ExchangeOpened | MessageSeen, detail: str
    ) -> None:
        if (rule.slug, value) not in self._seen:
            self._seen.add((rule.slug, value))
            self._report(rule, event, detail)

    def _report(self, rule: Rule, event: ExchangeOpened | MessageSeen, detail: str) -> None:
        self.publish(
            Finding(
                event.time,
                rule.severity,
                rule.slug,
                f"{detail}: {rule.summary}",
                exchange_id=event.exchange_id,
                session_id=event.session_id,
            )
        )
