"""What 2026-07-28 asks beyond its schema: results, retries, caching, headers, sessions.

The schema already requires `resultType` on every result and `ttlMs` (at least 0) and
`cacheScope` on cacheable ones (`schema-violation`). `ModernChecker` follows each request
whose `_meta` names a 2026-07-28-or-later version to its answer and raises:

* `result-type-unknown`: a resultType the core protocol does not define;
* `input-required-invalid`: an `input_required` answer to a method MRTR does not allow, or
  with neither `inputRequests` nor `requestState`; and `client-capability-undeclared` for an
  inputRequest the request's `clientCapabilities` do not declare;
* `input-retry-invalid`: a retry (a request of the same method and target carrying
  `inputResponses` or `requestState`) that keeps the original id, does not echo the
  `requestState` exactly, or leaves an inputRequest unanswered;
* `cache-scope-inconsistent`: a page of a list (asked for with the previous page's
  `nextCursor`) whose cacheScope differs from that page's;
* `header-mismatch`: the mirrored headers against the body (`modern_headers`);
* `session-id-stateless`: an `Mcp-Session-Id` on a request or its response;
* `log-without-level`: `notifications/message` on the stream of a request without logLevel.

Retries and pages span requests: they are matched within one server, the proxy's origin
(or one stdio process).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY, Bounded
from mcp_tap.analysis.json_memo import JsonMemo
from mcp_tap.analysis.lifecycle import missing_capability
from mcp_tap.analysis.modern_headers import Annotation, header_problems, tool_marks
from mcp_tap.analysis.rules import (
    CACHE_SCOPE_INCONSISTENT,
    CLIENT_CAPABILITY_UNDECLARED,
    HEADER_MISMATCH,
    INPUT_REQUIRED_INVALID,
    INPUT_RETRY_INVALID,
    LOG_WITHOUT_LEVEL,
    RESULT_TYPE_UNKNOWN,
    SESSION_ID_STATELESS,
    Rule,
)
from mcp_tap.analysis.scopes import finding_at, modern_version, typed
from mcp_tap.protocol.events import (
    Direction,
    ExchangeOpened,
    Finding,
    Headers,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    StreamKind,
    TapEvent,
    header,
)

RESULT_TYPES = frozenset({"complete", "input_required"})
MRTR_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
LIST_METHODS = frozenset(
    {"tools/list", "prompts/list", "resources/list", "resources/templates/list"}
)
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"


@dataclass
class _Request:
    """A 2026-07-28 request waiting for its answer."""

    id: Any
    method: str
    params: dict[str, Any]
    server: Hashable  # the server it went to: retries and pages are matched within it

    @property
    def target(self) -> Any:
        return self.params.get("uri" if self.method == "resources/read" else "name")

    @property
    def meta(self) -> dict[str, Any]:
        return _dict(self.params.get("_meta"))


@dataclass
class _Asked:
    """An input_required answer, waiting for its retry."""

    id: Any
    keys: frozenset[str]
    state: str | None


class ModernChecker:
    """Subscriber publishing a finding for each 2026-07-28 rule a request or answer breaks."""

    def __init__(
        self, publish: Callable[[TapEvent], None], memory: int = DEFAULT_JUDGE_MEMORY
    ) -> None:
        self.publish = publish
        self._headers = Bounded(memory)  # exchange id -> its request headers
        self._origins = Bounded(memory)  # exchange id -> its origin (None: the one target)
        self._requests = Bounded(memory)  # (exchange id, typed id) -> _Request
        self._posts = Bounded(memory)  # exchange id -> the 2026-07-28 request its body carried
        self._asked = Bounded(memory)  # (server, method, target) -> [_Asked]
        self._pages = Bounded(memory)  # (server, method, cursor) -> cacheScope of the page before
        self._tools = Bounded(memory)  # (server, tool name) -> its x-mcp-header annotations
        self._marks = JsonMemo(tool_marks)  # a tools/list's tools, listed again and again
        self._listed = Bounded(memory)  # server -> the marks of its latest tools/list
        self._logged: set[int] = set()  # exchanges already said to log without a level

    def handle(self, event: TapEvent) -> None:
        if isinstance(event, ExchangeOpened):
            self._headers.put(event.exchange_id, event.headers)
            self._origins.put(event.exchange_id, event.origin)
        elif isinstance(event, ResponseStarted):
            self._on_response_started(event)
        elif isinstance(event, MessageSeen):
            message = event.message
            if message.kind is MessageKind.REQUEST:
                version = modern_version(message.payload)
                if version is not None and event.direction is Direction.CLIENT_TO_SERVER:
                    self._on_request(event, version)
            elif message.kind is MessageKind.RESPONSE:
                request = self._requests.pop((event.exchange_id, typed(message.id)), None)
                if request is not None:
                    self._on_result(event, request)
            elif message.kind is MessageKind.NOTIFICATION:
                self._on_notification(event)

    def close(self) -> None:
        pass

    def _server(self, event: MessageSeen) -> Hashable:
        if event.stream is StreamKind.STDIO:
            return ("stdio", event.exchange_id)
        return ("http", self._origins.get(event.exchange_id))

    def _on_request(self, event: MessageSeen, version: str) -> None:
        message = event.message
        params = _dict(message.payload.get("params"))
        request = _Request(message.id, message.method or "", params, self._server(event))
        self._requests.put((event.exchange_id, typed(message.id)), request)
        if event.stream is StreamKind.REQUEST_BODY:
            self._posts.put(event.exchange_id, request)
            headers: Headers = self._headers.get(event.exchange_id, ())
            if header(headers, "mcp-session-id") is not None:
                detail = f"the client sent Mcp-Session-Id with {request.method}"
                self._say(event, SESSION_ID_STATELESS, detail)
            marks: list[Annotation] = self._tools.get((request.server, request.target), [])
            problems = header_problems(headers, message.payload, version, marks)
            if problems:
                detail = f"{request.method} id {message.id!r}: " + "; ".join(problems)
                self._say(event, HEADER_MISMATCH, detail)
        self._on_retry(event, request)

    def _on_retry(self, event: MessageSeen, request: _Request) -> None:
        key = (request.server, request.method, request.target)
        params = request.params
        if "inputResponses" not in params and "requestState" not in params:
            self._asked.pop(key, None)  # a new call, not a retry: what was asked is dropped
            return
        asked: list[_Asked] = self._asked.get(key, [])
        state = params.get("requestState")
        echoed = [a for a in asked if a.state is not None and a.state == state]
        chosen = echoed[0] if echoed else asked[0] if len(asked) == 1 else None
        if chosen is None:
            return  # no earlier answer the tap saw, or several it cannot tell apart
        asked.remove(chosen)
        problems = []
        if typed(request.id) == typed(chosen.id):
            problems.append(f"it keeps the id {request.id!r} of the request it retries")
        if chosen.state is None and state is not None:
            problems.append("it sends a requestState, though none was given")
        elif chosen.state is not None and state != chosen.state:
            problems.append("its requestState is not the one given")
        answered = _dict(params.get("inputResponses"))
        missing = sorted(chosen.keys - set(answered))
        if missing:
            problems.append(f"no inputResponses for {', '.join(missing)}")
        if problems:
            what = f"retry of {request.method} id {chosen.id!r} as id {request.id!r}: "
            self._say(event, INPUT_RETRY_INVALID, what + "; ".join(problems))

    def _on_result(self, event: MessageSeen, request: _Request) -> None:
        result = _dict(event.message.payload.get("result"))
        kind = result.get("resultType")
        if isinstance(kind, str) and kind not in RESULT_TYPES:
            what = f"{request.method} id {request.id!r}"
            self._say(event, RESULT_TYPE_UNKNOWN, f"{what}: resultType {kind!r}")
        if kind == "input_required":
            self._on_input_required(event, request, result)
            return
        if request.method == "tools/list":
            listed = self._marks(result.get("tools"))
            if self._listed.get(request.server) is not listed:  # else its marks are in already
                self._listed.put(request.server, listed)
                for name, marks in listed:
                    self._tools.put((request.server, name), marks)
        if request.method in LIST_METHODS:
            self._on_page(event, request, result)

    def _on_input_required(
        self, event: MessageSeen, request: _Request, result: dict[str, Any]
    ) -> None:
        what = f"{request.method} id {request.id!r}"
        inputs = result.get("inputRequests")
        state = result.get("requestState")
        if request.method not in MRTR_METHODS:
            detail = f"{what} answered input_required; only {', '.join(sorted(MRTR_METHODS))} may"
            self._say(event, INPUT_REQUIRED_INVALID, detail)
        if inputs is None and state is None:
            detail = f"{what} answered input_required with neither inputRequests nor requestState"
            self._say(event, INPUT_REQUIRED_INVALID, detail)
        declared = _dict(request.meta.get(META_CAPABILITIES))
        for name, asked in sorted(_dict(inputs).items()):
            asked = _dict(asked)
            method = str(asked.get("method"))
            missing = missing_capability(declared, method, asked.get("params"))
            if missing is not None:
                detail = (
                    f"{what} asks {name!r} by {method}, but the request's clientCapabilities "
                    f"do not declare `{missing}`"
                )
                self._say(event, CLIENT_CAPABILITY_UNDECLARED, detail)
        key = (request.server, request.method, request.target)
        keys = frozenset(_dict(inputs))
        asked_list: list[_Asked] = self._asked.get(key) or []
        asked_list.append(_Asked(request.id, keys, state if isinstance(state, str) else None))
        self._asked.put(key, asked_list)

    def _on_page(self, event: MessageSeen, request: _Request, result: dict[str, Any]) -> None:
        scope = result.get("cacheScope")
        cursor = request.params.get("cursor")
        if isinstance(cursor, str):
            before = self._pages.get((request.server, request.method, cursor))
            if before is not None and isinstance(scope, str) and scope != before:
                detail = (
                    f"{request.method} id {request.id!r}: cacheScope {scope!r} on a page of a "
                    f"list whose page before said {before!r}"
                )
                self._say(event, CACHE_SCOPE_INCONSISTENT, detail)
        following = result.get("nextCursor")
        if isinstance(following, str) and isinstance(scope, str):
            self._pages.put((request.server, request.method, following), scope)

    def _on_notification(self, event: MessageSeen) -> None:
        if event.message.method != "notifications/message" or event.stream not in (
            StreamKind.POST_SSE,
            StreamKind.JSON_RESPONSE,
        ):
            return
        request: _Request | None = self._posts.get(event.exchange_id)
        if request is None or META_LOG_LEVEL in request.meta:
            return
        if event.exchange_id not in self._logged:
            self._logged.add(event.exchange_id)
            detail = f"notifications/message for {request.method} id {request.id!r}"
            self._say(event, LOG_WITHOUT_LEVEL, detail)

    def _on_response_started(self, event: ResponseStarted) -> None:
        request: _Request | None = self._posts.get(event.exchange_id)
        if request is None or header(event.headers, "mcp-session-id") is None:
            return
        detail = f"the server answered {request.method} with an Mcp-Session-Id"
        rule = SESSION_ID_STATELESS
        finding = Finding(event.time, rule.severity, rule.slug, detail, event.exchange_id)
        self.publish(finding)

    def _say(self, event: MessageSeen, rule: Rule, detail: str) -> None:
        self.publish(finding_at(event, rule, detail))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
