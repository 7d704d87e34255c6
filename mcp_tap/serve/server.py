"""The mock's HTTP side: answers MCP requests from recorded interactions, over the proxy's server.

`MockServer` is a `front.RequestHandler`, so the mock gets the proxy's HTTP/1.1 server with its
limits, streaming and hardening. It speaks Streamable HTTP in both eras: a 2026-07-28 client's
self-contained POSTs, and the handshake (`initialize` mints a new `Mcp-Session-Id`, DELETE
ends the session, the optional GET stream is declined with 405, which clients accept, unless
the recorded server asked its client on one: then `standalone.py` offers it). Its
own traffic goes through an `ExchangeTap`, as the proxy's does, so the view, the tracker and
`--record` see a mock session exactly as they see a real one.

The 2024-11-05 HTTP+SSE transport (`GET /sse`, then POSTs answered on that stream) is in
`legacy_sse.py`, which knows this mock only as a `replies.Replier`.

A request's answer is replayed, not summarised: each recorded notification at its recorded
offset (scaled by the speed), progress carrying the client's own token, then the response with
the client's id. A client that leaves stops it, as a 2026-07-28 cancellation should.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import itertools
import uuid
from typing import Any

from mcp_tap.faults import FaultPlan
from mcp_tap.http.front import ClientConnection
from mcp_tap.http.guard import HostGuard
from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.http.request_reader import Request
from mcp_tap.protocol.events import (
    Fault,
    Finding,
    Headers,
    MessageKind,
    RpcMessage,
    Severity,
    header,
)
from mcp_tap.protocol.jsonrpc import error_body, request_id_for_error
from mcp_tap.serve.answer import Answer
from mcp_tap.serve.asks import DEFAULT_ASK_TIMEOUT, AskBroker, AskContext
from mcp_tap.serve.faults import AnswerFaults, fault_request
from mcp_tap.serve.inbound import Refused, read_message
from mcp_tap.serve.interactions import Emission, Interaction, RecordedServer, is_retry
from mcp_tap.serve.legacy_sse import LegacySseSessions, opens_legacy_stream
from mcp_tap.serve.lifecycle import lifecycle_answer
from mcp_tap.serve.matching import Matcher, Miss, miss_body
from mcp_tap.serve.replies import Reply
from mcp_tap.serve.retries import check_retry
from mcp_tap.serve.spy import Spy, SpyError
from mcp_tap.serve.standalone import StandaloneStreams, asks_on_get_stream
from mcp_tap.serve.wire import (
    INVALID_REQUEST,
    Item,
    dumps,
    json_headers,
    respond_whole,
)
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.exchange import ExchangeTap

LIFECYCLE = frozenset({"initialize", "server/discover", "ping"})


def _accepts(headers: Headers) -> tuple[bool, bool]:
    """(JSON, SSE): what the client's Accept allows; no Accept allows both."""
    accept = (header(headers, "accept") or "*/*").lower()
    anything = "*/*" in accept
    return anything or "application/json" in accept, anything or "text/event-stream" in accept


class MockServer:
    """Answers each client request from a recording (front.RequestHandler)."""

    def __init__(
        self,
        recorded: RecordedServer,
        matcher: Matcher,
        bus: TapBus,
        speed: float | None = 1.0,
        guard: HostGuard | None = None,
        limits: Limits = DEFAULT_LIMITS,
        ask_timeout: float = DEFAULT_ASK_TIMEOUT,
        strict: bool = False,
        faults: FaultPlan | None = None,
        spy: Spy | None = None,
    ):
        self.asks = AskBroker(bus, ask_timeout, strict)
        self.spy = spy  # forwards misses to the real server (--upstream)
        self.recorded = recorded
        self.faults = faults  # --fault rules; None: nothing is decided on the way
        self.matcher = matcher
        self.bus = bus
        self.speed = speed  # None: every message at once (--fast)
        self.guard = guard
        self.limits = limits
        self.sessions: set[str] = set()
        self.exchange_ids = itertools.count(1)
        self.answers: set[asyncio.Task[None]] = set()
        self.served = 0
        self.legacy = LegacySseSessions(self)  # the 2024-11-05 transport's open streams
        # Streamable HTTP's GET streams, offered when the recorded server asked on one
        self.standalone = StandaloneStreams(asks_on_get_stream(recorded), ask_timeout)

    # -- front.RequestHandler --

    def serve(self, request: Request, client: ClientConnection) -> None:
        if request.too_large:
            detail = f"request body larger than --max-body ({self.limits.max_body} bytes)"
            self._refuse(client, 413, "request-too-large", detail, None)
            return
        refusal = self.guard.refusal(request.headers) if self.guard is not None else None
        if refusal is not None:
            self._refuse(
                client, 403, "request-refused", refusal, request_id_for_error(request.body)
            )
            return
        tap = ExchangeTap(
            self.bus,
            next(self.exchange_ids),
            request.method,
            request.target,
            request.headers,
            max_message=self.limits.max_inspect,
        )
        tap.opened(request.body)
        if request.method == "POST":
            legacy = self.legacy.session_of(request)
            if legacy is not None:
                self.legacy.post(request, client, tap, legacy)
            else:
                self._post(request, client, tap)
        elif opens_legacy_stream(request):
            self.legacy.open(client, tap)
        elif self.standalone.wanted(request):
            self.standalone.open(request, client, tap, self.sessions)
        elif request.method == "DELETE":
            session = header(request.headers, "mcp-session-id")
            if session is not None and session in self.sessions:
                self.sessions.discard(session)
                self.standalone.end(session)
                self.end_session(session)
                respond_whole(
                    client, tap, 200, json_headers(b"", (("mcp-session-id", session),)), b""
                )
            else:
                respond_whole(client, tap, 405, (("allow", "POST"), ("content-length", "0")), b"")
        else:
            # The optional standalone GET stream: declined, which every client accepts (the
            # recording has nothing the mock would send on it).
            respond_whole(
                client, tap, 405, (("allow", "POST, DELETE"), ("content-length", "0")), b""
            )

    def fault(self, kind: str, detail: str) -> None:
        self.bus.publish(Fault(self.bus.now(), None, kind, detail))

    async def aclose(self) -> None:
        """Stop the answers still streaming."""
        await self.legacy.aclose()
        self.standalone.aclose()
        for task in list(self.answers):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.answers, return_exceptions=True)
        if self.spy is not None:
            await self.spy.aclose()  # a --command server stops with the mock

    # -- internals --

    def _refuse(
        self, client: ClientConnection, status: int, kind: str, detail: str, request_id: Any
    ) -> None:
        self.fault(kind, detail)
        payload = error_body(request_id, INVALID_REQUEST, f"mcp-tap: {detail}")
        client.respond(status, json_headers(payload), payload)

    def _error(
        self,
        client: ClientConnection,
        tap: ExchangeTap,
        status: int,
        request_id: Any,
        code: int,
        text: str,
    ) -> None:
        payload = error_body(request_id, code, text)
        respond_whole(client, tap, status, json_headers(payload), payload)

    def _post(self, request: Request, client: ClientConnection, tap: ExchangeTap) -> None:
        message = read_message(request.body)
        if isinstance(message, Refused):
            if message.payload is None:  # a batch of notifications: nothing to answer
                respond_whole(client, tap, 202, (("content-length", "0"),), b"")
            else:
                headers = json_headers(message.payload)
                respond_whole(client, tap, 400, headers, message.payload)
            return
        session = header(request.headers, "mcp-session-id")
        if session is not None and session not in self.sessions and message.method != "initialize":
            self._error(client, tap, 404, message.id, INVALID_REQUEST, "Session not found")
            return
        if message.kind is not MessageKind.REQUEST:
            # Notifications and responses from the client: accepted, as a server does; a
            # response may answer a request the mock sent.
            self.asks.resolve(message)
            respond_whole(client, tap, 202, (("content-length", "0"),), b"")
            return
        if self.faults:
            answer = functools.partial(self._answer, request, client, tap, message, session)
            if fault_request(self.faults, self.bus, client, tap, message, session, answer):
                return
        self._answer(request, client, tap, message, session)

    def _answer(
        self,
        request: Request,
        client: ClientConnection,
        tap: ExchangeTap,
        message: RpcMessage,
        session: str | None,
    ) -> None:
        reply = self.reply_to(message, session or "", tap.exchange_id)
        if isinstance(reply, Miss) and self.spy is not None:
            self.take_back(reply)
            task = asyncio.get_running_loop().create_task(
                self._spied(self.spy, message, request.headers, client, tap, session)
            )
            self.answers.add(task)
            task.add_done_callback(self.answers.discard)
            return
        if isinstance(reply, Miss):
            self._missed(reply, client, tap, message.id, session)
            return
        session = reply.session or session
        extra: Headers = (("mcp-session-id", session),) if session is not None else ()
        takes_json, takes_sse = _accepts(request.headers)
        sse = takes_sse and (reply.wants_sse or not takes_json)
        context = (
            AskContext(reply.interaction, message.payload, tap.exchange_id, session)
            if (reply.interaction is not None)
            else None
        )
        faults = None
        if self.faults:
            faults = AnswerFaults(self.faults, self.bus, message, session, tap.exchange_id)
        aside = self.standalone.aside(session)
        Answer(self, client, tap, sse, extra, reply, context, faults, aside)

    async def _spied(
        self,
        spy: Spy,
        message: RpcMessage,
        headers: Headers,
        client: ClientConnection,
        tap: ExchangeTap,
        session: str | None,
    ) -> None:
        """Answer a miss from the real server (spy mode), and learn it."""
        version = header(headers, "mcp-protocol-version") or message.protocol_version
        reply = await self.forwarded_reply(spy, message, version, headers, session or "")
        if isinstance(reply, Miss):
            self._missed(reply, client, tap, message.id, session)
            return
        extra: Headers = (("mcp-session-id", session),) if session is not None else ()
        takes_json, takes_sse = _accepts(headers)
        sse = takes_sse and (reply.wants_sse or bool(reply.items) or not takes_json)
        Answer(self, client, tap, sse, extra, reply, None, None)

    async def forwarded_reply(
        self,
        spy: Spy,
        message: RpcMessage,
        version: str | None,
        headers: Headers = (),
        scope: str = "",
    ) -> Reply | Miss:
        """What the real server answers a miss (spy mode), learnt (as served to client
        session `scope`); a Miss when it fails."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            answer = await spy.forward(message.payload, version, headers)
        except (SpyError, TimeoutError) as error:
            why = str(error) or f"no answer within {spy.timeout:g}s (--upstream-timeout)"
            miss = Miss(
                message.payload, None, [], f"forwarded to the upstream, which failed: {why}"
            )
            self.matcher.add_miss(miss)
            return miss
        learnt = spy.learn(message.payload, answer, loop.time() - start)
        if learnt is not None:
            self.matcher.learn(learnt, scope)
        spy.forwarded.append(str(message.method))
        *notes, response = answer.messages
        return Reply([(0.0, n) for n in notes], (0.0, response), answer.streamed, None)

    def take_back(self, miss: Miss) -> None:
        """A miss spy mode will answer from the real server: not a miss after all."""
        self.matcher.forgive(miss)

    def end_session(self, scope: str) -> None:
        """Client session `scope` is over: its place in the recorded sequences is forgotten."""
        self.matcher.end(scope)

    def reply_to(
        self, message: RpcMessage, scope: str = "", exchange_id: int | None = None
    ) -> Reply | Miss:
        """What to answer a client's request, on any carrier: its notifications and response.

        `scope` is the client session the request belongs to (its `Mcp-Session-Id`, its
        stdio connection; "" for none), whose place in recorded sequences it moves.
        `initialize` mints a new session (used over HTTP); a request that matches no recorded
        one is a Miss, which the carrier answers with the miss message.
        """
        self.served += 1
        payload: dict[str, Any] = message.payload
        if message.method in LIFECYCLE:
            body, interaction = lifecycle_answer(payload, self.recorded)
            if interaction is not None:
                self.matcher.mark_used(interaction)
            session = None
            if message.method == "initialize" and "result" in body:
                session = uuid.uuid4().hex
                self.sessions.add(session)
            response = {"jsonrpc": "2.0", "id": message.id, **body}
            stream = interaction.response_stream if interaction is not None else None
            wants_sse = stream is not None and stream.value.endswith("sse")
            return Reply([], (0.0, response), wants_sse, session)  # the protocol's own: at once
        found = self.matcher.match(payload, scope)
        if isinstance(found, Miss):
            return found
        if is_retry(payload):
            session = scope if scope in self.sessions else None
            strict = self.asks.strict
            wrong = check_retry(self.bus, strict, found, payload, exchange_id, session)
            if wrong is not None:  # --strict: the miss in place of the recorded result
                self.matcher.add_miss(wrong)
                return Reply([], (0.0, miss_body(wrong, message.id)), False, None, {}, found)
        items, asks, response = self._replayed(
            found, message.progress_token, message.has_progress_token
        )
        response["id"] = message.id
        stream = found.response_stream
        wants_sse = bool(items) or (stream is not None and stream.value.endswith("sse"))
        return Reply(items, (found.response_offset, response), wants_sse, None, asks, found)

    def missed_late(self, miss: Miss) -> None:
        """Count a miss found while a call was being answered (a --strict ask)."""
        self.matcher.add_miss(miss)

    def miss_answer(
        self, miss: Miss, request_id: Any, exchange_id: int, session: str | None
    ) -> bytes:
        """The JSON-RPC error for a miss, and its finding on the view."""
        self.bus.publish(
            Finding(
                self.bus.now(),
                Severity.ERROR,
                "serve-no-match",
                miss.message,
                exchange_id=exchange_id,
                session_id=session,
                request_id=request_id,
            )
        )
        return dumps(miss_body(miss, request_id))

    def _replayed(
        self, interaction: Interaction, token: Any, has_token: bool
    ) -> tuple[list[Item], dict[int, Emission], dict[str, Any]]:
        """The recorded notifications and asks for this client, and the response to give it."""
        items: list[Item] = []
        asks: dict[int, Emission] = {}
        for emission in interaction.notifications:
            if emission.is_ask:
                asks[len(items)] = emission
                note = emission.payload
            elif emission.is_progress:
                if not has_token:
                    continue  # a real server sends progress only to those who asked
                note = copy.deepcopy(emission.payload)
                note["params"]["progressToken"] = token
            else:
                note = emission.payload
            items.append((emission.offset, note))
        response = copy.deepcopy(interaction.response) if interaction.response else {}
        return items, asks, response

    def _missed(
        self,
        miss: Miss,
        client: ClientConnection,
        tap: ExchangeTap,
        request_id: Any,
        session: str | None,
    ) -> None:
        payload = self.miss_answer(miss, request_id, tap.exchange_id, session)
        extra: Headers = (("mcp-session-id", session),) if session is not None else ()
        respond_whole(client, tap, 200, json_headers(payload, extra), payload)
