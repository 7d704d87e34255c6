"""The handshake and what each side declared in it, held against what each side then does.

`LifecycleChecker` follows each handshake session (2024-11-05 to 2025-11-25) from its
`initialize` (or, on stdio, from its first message): the version the client offered and the
one the server answered, both sides' capabilities, the resources the client subscribed to
and how far the handshake went. It raises:

* `request-before-initialized`: the lifecycle page says the client SHOULD NOT send requests
  other than pings before the server answered `initialize`, and the server SHOULD NOT send
  requests other than pings and logging before `notifications/initialized`. A stdio session
  whose first message is not `initialize` breaks it too ("initialization MUST be the first
  interaction"); an HTTP session the tap joined late is not judged.
* `client-capability-undeclared` / `server-capability-undeclared`: "Only use capabilities
  that were successfully negotiated" (MUST; SHOULD in 2024-11-05, so a warning there).
* `resource-not-subscribed`: an update for a URI no `resources/subscribe` named (or a
  sub-resource of one, which the schema allows).
* `protocol-version-mismatch`: a request's MCP-Protocol-Version header against the version
  its session negotiated.
* `version-not-offered`: the server answered a newer version than the client offered, and
  the client went on. The client offers one version, which SHOULD be its latest; a server
  not supporting it answers another. An older answer is what negotiation is for; a newer one
  the client accepts means it offered less than its latest, or kept a version it does not
  support where it SHOULD disconnect: either way a SHOULD the client broke.

2026-07-28 requests (their `_meta` names the version) have no handshake and are skipped
here; `modern_checks` judges them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY, Bounded
from mcp_tap.analysis.rules import (
    CLIENT_CAPABILITY_UNDECLARED,
    PROTOCOL_VERSION_MISMATCH,
    REQUEST_BEFORE_INITIALIZED,
    RESOURCE_NOT_SUBSCRIBED,
    SERVER_CAPABILITY_UNDECLARED,
    VERSION_NOT_OFFERED,
    Rule,
)
from mcp_tap.analysis.scopes import ScopeTable, finding_at, is_date, modern_version
from mcp_tap.protocol.events import (
    Direction,
    ExchangeOpened,
    MessageKind,
    MessageSeen,
    Severity,
    StreamKind,
    TapEvent,
    header,
)

C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT

# The server capability (a path into `capabilities`) each client method needs.
SERVER_METHODS: dict[str, tuple[str, ...]] = {
    "tools/list": ("tools",),
    "tools/call": ("tools",),
    "prompts/list": ("prompts",),
    "prompts/get": ("prompts",),
    "resources/list": ("resources",),
    "resources/read": ("resources",),
    "resources/templates/list": ("resources",),
    "resources/subscribe": ("resources", "subscribe"),
    "resources/unsubscribe": ("resources", "subscribe"),
    "logging/setLevel": ("logging",),
    "completion/complete": ("completions",),  # a capability since 2025-03-26
}
# The server capability each server notification needs.
SERVER_NOTIFICATIONS: dict[str, tuple[str, ...]] = {
    "notifications/message": ("logging",),
    "notifications/tools/list_changed": ("tools", "listChanged"),
    "notifications/prompts/list_changed": ("prompts", "listChanged"),
    "notifications/resources/list_changed": ("resources", "listChanged"),
    "notifications/resources/updated": ("resources", "subscribe"),
}
# The client capability each server request (or client notification) needs.
CLIENT_METHODS: dict[str, tuple[str, ...]] = {
    "sampling/createMessage": ("sampling",),
    "elicitation/create": ("elicitation",),
    "roots/list": ("roots",),
    "notifications/roots/list_changed": ("roots", "listChanged"),
}
# What a server may send before notifications/initialized: ping and logging, and the
# progress and cancellation of the client's own initialize or ping.
EARLY_SERVER_METHODS = frozenset(
    {"ping", "notifications/message", "notifications/progress", "notifications/cancelled"}
)
LATE_COMPLETIONS = "2025-03-26"  # 2024-11-05 had completion/complete without a capability


@dataclass
class _Session:
    """One handshake session, as far as the tap saw it."""

    initialize_id: Any = None  # None: no initialize seen (a stdio session not begun)
    answered: bool = False  # the server answered initialize
    initialized: bool = False  # the client sent notifications/initialized
    offered: str | None = None
    revision: str | None = None  # the version the server answered
    client: dict[str, Any] = field(default_factory=dict)  # the client's capabilities
    server: dict[str, Any] | None = None  # the server's, once it answered
    newer: bool = False  # the server answered a newer version than offered: unjudged yet
    subscribed: set[str] = field(default_factory=set)
    modern: bool = False  # stdio that began with 2026-07-28 requests: no handshake to judge
    said: set[tuple[str, str]] = field(default_factory=set)  # (rule, what): once a session


class LifecycleChecker:
    """Subscriber publishing a finding for each step out of the handshake's order or
    beyond what the other side declared."""

    def __init__(
        self, publish: Callable[[TapEvent], None], memory: int = DEFAULT_JUDGE_MEMORY
    ) -> None:
        self.publish = publish
        self._sessions: ScopeTable[_Session] = ScopeTable(memory)
        self._versions = Bounded(memory)  # exchange id -> its MCP-Protocol-Version header

    def handle(self, event: TapEvent) -> None:
        if isinstance(event, ExchangeOpened):
            version = header(event.headers, "mcp-protocol-version")
            if version is not None:
                self._versions.put(event.exchange_id, version)
        elif isinstance(event, MessageSeen):
            kind = event.message.kind
            if kind in (MessageKind.REQUEST, MessageKind.NOTIFICATION):
                if modern_version(event.message.payload) is None:
                    self._on_message(event)
                elif event.stream is StreamKind.STDIO and self._sessions.get(event) is None:
                    self._sessions.put(event, _Session(modern=True))
            elif kind in (MessageKind.RESPONSE, MessageKind.ERROR):
                self._on_answer(event)

    def close(self) -> None:
        pass

    def _on_message(self, event: MessageSeen) -> None:
        message = event.message
        method = message.method or ""
        if method == "initialize" and message.kind is MessageKind.REQUEST:
            params = _dict(message.payload.get("params"))
            offered = params.get("protocolVersion")
            session = _Session(
                initialize_id=message.id,
                offered=offered if isinstance(offered, str) else None,
                client=_dict(params.get("capabilities")),
            )
            self._sessions.put(event, session)
            return
        found = self._sessions.get(event)
        if found is None:
            if event.stream is not StreamKind.STDIO:
                return  # an HTTP session begun before the tap: its handshake is unknown
            found = self._sessions.put(event, _Session())
        session = found
        if session.modern:
            return
        if event.direction is C2S:
            self._client_sent(event, session, method)
        else:
            self._server_sent(event, session, method)

    def _on_answer(self, event: MessageSeen) -> None:
        session = self._sessions.get(event)
        message = event.message
        if session is None or event.direction is not S2C or session.answered:
            return
        if session.initialize_id is None or message.id != session.initialize_id:
            return
        if message.kind is MessageKind.ERROR:
            session.initialize_id = None  # a refused handshake: the session never began
            return
        result = _dict(message.payload.get("result"))
        version = result.get("protocolVersion")
        session.answered = True
        session.revision = version if isinstance(version, str) else None
        session.server = _dict(result.get("capabilities"))
        offered, answered = session.offered, session.revision
        if offered and answered and is_date(offered) and is_date(answered):
            session.newer = answered > offered

    def _client_sent(self, event: MessageSeen, session: _Session, method: str) -> None:
        message = event.message
        if session.newer:
            session.newer = False
            detail = (
                f"the client offered {session.offered}, the server answered {session.revision}, "
                f"and the client went on with {method}"
            )
            self._say(event, session, VERSION_NOT_OFFERED, detail, "version")
        if method == "notifications/initialized":
            session.initialized = session.answered
        if message.kind is MessageKind.REQUEST and method != "ping" and not session.answered:
            before = "initialize" if session.initialize_id is None else "the initialize result"
            detail = f"client request {method} before {before}"
            self._say(event, session, REQUEST_BEFORE_INITIALIZED, detail)
        self._check_version_header(event, session)
        if method in CLIENT_METHODS:  # notifications/roots/list_changed
            self._need(event, session, CLIENT_CAPABILITY_UNDECLARED, "client", method)
        elif message.kind is MessageKind.REQUEST and method in SERVER_METHODS:
            late = method == "completion/complete" and session.revision in (None, "2024-11-05")
            if not late:
                self._need(event, session, SERVER_CAPABILITY_UNDECLARED, "server", method)
            uri = _dict(message.payload.get("params")).get("uri")
            if method == "resources/subscribe" and isinstance(uri, str):
                session.subscribed.add(uri)
            elif method == "resources/unsubscribe" and isinstance(uri, str):
                session.subscribed.discard(uri)

    def _server_sent(self, event: MessageSeen, session: _Session, method: str) -> None:
        if method not in EARLY_SERVER_METHODS and not session.initialized:
            kind = event.message.kind.value
            detail = f"server {kind} {method} before notifications/initialized"
            self._say(event, session, REQUEST_BEFORE_INITIALIZED, detail)
        if event.message.kind is MessageKind.REQUEST and method in CLIENT_METHODS:
            self._need(event, session, CLIENT_CAPABILITY_UNDECLARED, "client", method)
        elif event.message.kind is MessageKind.NOTIFICATION and method in SERVER_NOTIFICATIONS:
            declared = self._need(event, session, SERVER_CAPABILITY_UNDECLARED, "server", method)
            if declared and method == "notifications/resources/updated":
                self._check_subscribed(event, session)

    def _need(
        self, event: MessageSeen, session: _Session, rule: Rule, side: str, method: str
    ) -> bool:
        """Whether the capability `method` needs was declared; a finding when it was not."""
        capabilities = session.client if side == "client" else session.server
        if capabilities is None or (side == "client" and session.initialize_id is None):
            return True  # nothing declared yet to hold it against
        params = _dict(event.message.payload.get("params"))
        missing = missing_capability(capabilities, method, params)
        if missing is None:
            return True
        sender = "server" if event.direction is S2C else "client"
        detail = f"{sender} sent {method}, but the {side} did not declare `{missing}`"
        severity = Severity.WARNING if session.revision == "2024-11-05" else None
        self._say(event, session, rule, detail, method, severity)
        return False

    def _check_subscribed(self, event: MessageSeen, session: _Session) -> None:
        uri = _dict(event.message.payload.get("params")).get("uri")
        if not isinstance(uri, str) or any(uri.startswith(s) for s in session.subscribed):
            return
        detail = f"server sent notifications/resources/updated for {uri!r}, never subscribed to"
        self._say(event, session, RESOURCE_NOT_SUBSCRIBED, detail, uri)

    def _check_version_header(self, event: MessageSeen, session: _Session) -> None:
        if not session.answered or session.revision is None:
            return
        sent = self._versions.get(event.exchange_id)
        if sent is not None and sent != session.revision:
            detail = (
                f"MCP-Protocol-Version {sent!r} on {event.message.method}, "
                f"but the session negotiated {session.revision!r}"
            )
            self._say(event, session, PROTOCOL_VERSION_MISMATCH, detail, sent)

    def _say(
        self,
        event: MessageSeen,
        session: _Session,
        rule: Rule,
        detail: str,
        what: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        """Publish once a session for each (rule, what): a loop of calls is one finding."""
        key = (rule.slug, what if what is not None else (event.message.method or ""))
        if key in session.said:
            return
        session.said.add(key)
        extra = {"revision": session.revision} if session.revision else {}
        self.publish(finding_at(event, rule, detail, severity, **extra))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def missing_capability(capabilities: dict[str, Any], method: str, params: Any) -> str | None:
    """The capability `method` (with `params`) needs and `capabilities` lacks, dotted."""
    path = {**CLIENT_METHODS, **SERVER_METHODS, **SERVER_NOTIFICATIONS}.get(method)
    if path is None:
        return None
    missing = _missing(capabilities, path)
    params = _dict(params)
    if missing is None and method == "sampling/createMessage" and "tools" in params:
        missing = _missing(capabilities, ("sampling", "tools"))  # tool use is its own
    if missing is None and method == "elicitation/create":
        missing = _elicitation_mode(capabilities, params.get("mode"))
    return missing


def _missing(capabilities: dict[str, Any], path: tuple[str, ...]) -> str | None:
    """The dotted capability `path` names when `capabilities` lacks it (or says false)."""
    node: Any = capabilities
    for step in path:
        if not isinstance(node, dict) or node.get(step) in (None, False):
            return ".".join(path)
        node = node[step]
    return None


def _elicitation_mode(capabilities: dict[str, Any], mode: Any) -> str | None:
    """The elicitation mode a request needs and the client lacks: `{}` means form only."""
    declared = _dict(capabilities.get("elicitation"))
    wanted = mode if isinstance(mode, str) else "form"
    if wanted in declared or (wanted == "form" and not declared):
        return None
    return f"elicitation.{wanted}"
