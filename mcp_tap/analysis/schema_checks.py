"""Every message judged by the official schema of the revision its session speaks.

`SchemaChecker` is a tap subscriber, like the progress tracker: it runs on the bus, after
the bytes were forwarded, never on the forwarding path. Each request, notification, result
and error is checked against its JSON-RPC envelope, then against the definition for its
method and direction (`CallToolRequest`, `ProgressNotification`; a result by its request's
method, `CallToolResult`), in the revision `RevisionIndex` says it speaks. The tools it sees
listed are held to their own schemas (`tool_checks`).

A revision mcp-tap has no schema for is judged by the newest it has, and said so once (an
info finding, `schema-revision-unknown`). A message whose revision nothing names (the tap
joined a session after its handshake) is not judged; `unjudged` counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY
from mcp_tap.analysis.revisions import RevisionIndex, SentRequest
from mcp_tap.analysis.rules import SCHEMA_REVISION_UNKNOWN, SCHEMA_VIOLATION, Rule
from mcp_tap.analysis.schema_catalog import KNOWN_REVISIONS, NEWEST_REVISION, schema_revision
from mcp_tap.analysis.schema_validation import Violation, validators_for
from mcp_tap.analysis.tool_checks import Problem, ToolContracts
from mcp_tap.protocol.events import (
    ExchangeOpened,
    Finding,
    MessageKind,
    MessageSeen,
    TapEvent,
)

JUDGED = (MessageKind.REQUEST, MessageKind.NOTIFICATION, MessageKind.RESPONSE, MessageKind.ERROR)
MAX_VIOLATIONS = 3  # per message: the first few say what is wrong, the rest repeat it


def describe(event: MessageSeen, method: str | None) -> str:
    """The message, for people: `server->client response id 3 (tools/call)`."""
    message = event.message
    answer = message.kind in (MessageKind.RESPONSE, MessageKind.ERROR)
    text = f"{event.direction.value} {message.kind.value}"
    if not answer and message.method is not None:
        text += f" {message.method}"
    if message.id is not None:
        text += f" id {message.id!r}"
    if answer and method is not None:
        text += f" ({method})"
    return text


class SchemaChecker:
    """Subscriber publishing a finding for each message its revision's schema rejects."""

    def __init__(
        self, publish: Callable[[TapEvent], None], memory: int = DEFAULT_JUDGE_MEMORY
    ) -> None:
        """`memory`: sessions, exchanges and requests remembered (`--judge-memory`)."""
        self.publish = publish
        self.index = RevisionIndex(memory)
        self.tools = ToolContracts(sessions=max(1, memory // 4))
        self.judged = 0  # messages checked against a schema
        self.unjudged = 0  # messages no revision was known for
        self._unknown_said: set[str] = set()

    def handle(self, event: TapEvent) -> None:
        if isinstance(event, MessageSeen):
            if event.message.kind in JUDGED:
                self._on_message(event)
        elif isinstance(event, ExchangeOpened):
            self.index.opened(event)

    def close(self) -> None:
        pass

    def _on_message(self, event: MessageSeen) -> None:
        message = event.message
        request: SentRequest | None = None
        if message.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            request = self.index.answered(event)
            revision = request.revision if request is not None else None
            if revision is None:
                revision = self.index.revision_of(event)
        else:
            revision = self.index.revision_of(event)
            if message.kind is MessageKind.REQUEST:
                self.index.sent(event, revision)
        if revision is None:
            self.unjudged += 1
            return
        self.judged += 1
        known = self._known(event, revision)
        method = request.method if request is not None else message.method
        violations = self._violations(event, known, request)
        for violation in violations[:MAX_VIOLATIONS]:
            self._report_violation(event, method, known, revision, violation)
        self._tool_checks(event, known, request)

    def _known(self, event: MessageSeen, revision: str) -> str:
        """The revision whose schema judges: the negotiated one, or the newest known."""
        known = schema_revision(revision)
        if known != revision and revision not in self._unknown_said:
            self._unknown_said.add(revision)
            detail = (
                f"revision {revision!r} is not one of {', '.join(KNOWN_REVISIONS)}: "
                f"its messages are judged by {NEWEST_REVISION}"
            )
            self._publish(event, SCHEMA_REVISION_UNKNOWN, detail)
        return known

    def _violations(
        self, event: MessageSeen, revision: str, request: SentRequest | None
    ) -> list[Violation]:
        message = event.message
        payload: Any = message.payload
        validators = validators_for(revision)
        schema = validators.schema
        # the definition first: it says where in CallToolResult, where the envelope would
        # only say JSONRPCResultResponse.result; the envelope is checked when it is clean
        if message.kind in (MessageKind.REQUEST, MessageKind.NOTIFICATION):
            assert message.method is not None
            name = schema.message_definition(message.kind, event.direction, message.method)
            if name is not None:
                found = validators.violations(name, payload)
                if found:
                    return found
        elif message.kind is MessageKind.RESPONSE and request is not None:
            result = payload.get("result")
            name = schema.result_definition(request.method, request.params, result)
            found = validators.violations(name, result, ("result",))
            if found:
                return found
        if message.kind is MessageKind.ERROR and payload.get("id", 0) is None:
            # JSON-RPC 2.0 answers a request whose id it could not read with `"id": null`,
            # as every SDK does; MCP's schemas leave the id out instead. Both are fine.
            payload = {key: value for key, value in payload.items() if key != "id"}
        return validators.violations(schema.envelope(message.kind), payload)

    def _tool_checks(self, event: MessageSeen, revision: str, request: SentRequest | None) -> None:
        message = event.message
        payload: Any = message.payload
        session = event.session_id
        problems: list[Problem] = []
        if message.kind is MessageKind.REQUEST and message.method == "tools/call":
            problems = self.tools.called(session, payload.get("params"))
        elif message.kind is MessageKind.RESPONSE and request is not None:
            if request.method == "tools/list":
                result = payload.get("result")
                problems = self.tools.listed(session, result, revision, message.json_exact)
            elif request.method == "tools/call":
                problems = self.tools.answered(session, request.params, payload.get("result"))
        for problem in problems:
            extra: dict[str, Any] = {"revision": revision}
            if problem.violation is not None:
                extra.update(_fields(problem.violation))
            self._publish(event, problem.rule, problem.detail, extra)

    def _report_violation(
        self,
        event: MessageSeen,
        method: str | None,
        revision: str,
        negotiated: str,
        violation: Violation,
    ) -> None:
        what = describe(event, method)
        detail = (
            f"{what}: {violation.path}: expected {violation.expected}, found {violation.found} "
            f"({revision} {violation.definition})"
        )
        extra = {"message": what, **_fields(violation), "revision": revision}
        if negotiated != revision:
            extra["negotiated"] = negotiated
        self._publish(event, SCHEMA_VIOLATION, detail, extra)

    def _publish(
        self,
        event: MessageSeen,
        rule: Rule,
        detail: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.publish(
            Finding(
                event.time,
                rule.severity,
                rule.slug,
                detail,
                exchange_id=event.exchange_id,
                session_id=event.session_id,
                request_id=event.message.id,
                extra=extra or {},
            )
        )


def _fields(violation: Violation) -> dict[str, str]:
    return {
        "path": violation.path,
        "expected": violation.expected,
        "found": violation.found,
        "definition": violation.definition,
    }
