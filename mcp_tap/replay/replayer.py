"""Re-send the client side of a recording to a server, in the era it was recorded in.

The replayer is a client. It sends each recorded exchange in order once the responses that
preceded it in the recording have come back, maps recorded session ids to the new ones
(handshake `Mcp-Session-Id`s, 2024-11-05 endpoint URLs), and feeds everything it sends and
receives through `ExchangeTap`, so the tracker, the view and the recorder see a replay exactly
as they see a live proxy session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterable
from functools import partial
from urllib.parse import urljoin, urlsplit

from mcp_tap.analysis.calls import Call, CallBook
from mcp_tap.http.upstream import UpstreamPool
from mcp_tap.http.upstream_connection import UpstreamError
from mcp_tap.protocol.events import (
    ExchangeClosed,
    Fault,
    Headers,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    TapEvent,
)
from mcp_tap.protocol.headers import NOT_FORWARDED_REQUEST, forwardable
from mcp_tap.replay.compare import Judge
from mcp_tap.replay.plan import PlanReader, RecordedExchange, Step
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.exchange import ExchangeTap, legacy_session_id

REDACTED_PREFIX = "<redacted:"


class ReplayError(Exception):
    """Replay cannot start or go on (a missing secret, an unreachable target): exit code 2."""


def secret_env_name(header: str) -> str:
    """`Authorization` -> `MCP_TAP_HEADER_AUTHORIZATION`, where a redacted value may come from."""
    return "MCP_TAP_HEADER_" + header.upper().replace("-", "_")


def refill_secrets(headers: Iterable[Headers], given: dict[str, str]) -> dict[str, str]:
    """Values for every redacted header, from `--header` or the environment; else ReplayError."""
    values = {name.lower(): value for name, value in given.items()}
    for each in headers:
        for name, value in each:
            if not value.startswith(REDACTED_PREFIX) or name in values:
                continue
            from_env = os.environ.get(secret_env_name(name))
            if from_env is None:
                raise ReplayError(
                    f"the recording redacted header {name!r}: give its value with "
                    f"--header {name}=VALUE or ${secret_env_name(name)}"
                )
            values[name] = from_env
    return values


class Replayer:
    """Drives one replay of a plan, read as it goes, against the origin of `upstream`.

    With a judge, each call is judged once both sides are complete: its replayed exchange
    closed with an answer, and the recording holds all of it (`PlanReader.on_complete`),
    whichever comes second; what was judged is let go of on both sides.
    """

    def __init__(
        self,
        plan: PlanReader,
        upstream: UpstreamPool,
        bus: TapBus,
        speed: float | None = 1.0,  # None: as fast as causality allows
        timeout: float = 30.0,  # how long to wait for a response the next step depends on
        secrets: dict[str, str] | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.plan = plan
        self.judge = judge
        self.origin = upstream.origin
        self.bus = bus
        self.upstream = upstream
        self.speed = speed
        self.timeout = timeout
        self.secrets = secrets or {}
        self.book = CallBook(keep=judge is None)
        self.exchange_map: dict[int, int] = {}  # recorded exchange id -> replayed one
        self._recorded_of: dict[int, RecordedExchange] = {}  # replayed id -> while open
        self._sessions: dict[str, str] = {}  # recorded session id -> new session id
        self._endpoints: dict[str, str] = {}  # recorded legacy session -> new endpoint target
        self._changed = asyncio.Event()  # set whenever a replayed event arrives
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._next_id = 0
        # id -> a recorded call judged or waited for, not both yet (held: its id stays its own)
        self._judged: dict[int, Call] = {}
        self._awaited: dict[int, Call] = {}
        if judge is not None:
            plan.on_complete = self._recorded_complete
        bus.subscribe(self)

    # -- the replayer watches its own tap events for sessions, endpoints and responses --
    def handle(self, event: TapEvent) -> None:
        self.book.handle(event)
        if isinstance(event, ResponseStarted):
            recorded = self._recorded_of.get(event.exchange_id)
            minted = recorded.mints_session if recorded is not None else None
            if minted and event.session_id:
                self._sessions[minted] = event.session_id
        elif isinstance(event, MessageSeen) and event.message.kind is MessageKind.ENDPOINT:
            recorded = self._recorded_of.get(event.exchange_id)
            if recorded is not None and recorded.endpoint_session:
                endpoint = event.message.raw or ""
                parts = urlsplit(urljoin(self.origin + "/", endpoint))
                query = f"?{parts.query}" if parts.query else ""
                self._endpoints[recorded.endpoint_session] = parts.path + query
                self._sessions[recorded.endpoint_session] = legacy_session_id(endpoint) or ""
        elif isinstance(event, ExchangeClosed):
            recorded = self._recorded_of.pop(event.exchange_id, None)
            if recorded is not None and self.judge is not None:
                for call in list(self.plan.by_exchange.get(recorded.exchange_id, ())):
                    if id(call) in self.plan.complete:
                        self._judge(call)
                self._let_go(recorded.exchange_id)
        self._changed.set()

    def _recorded_complete(self, call: Call) -> None:
        replayed = self.exchange_map.get(call.exchange_id)
        if replayed is not None and replayed not in self._recorded_of:  # its replay closed
            self._judge(call)
            self._let_go(call.exchange_id)

    def _judge(self, recorded: Call) -> None:
        """Judge `recorded` if its replay has its answer; let go of both calls."""
        assert self.judge is not None
        twin = self.replayed_call(recorded)
        if twin is None or twin.response is None:
            return  # judged at the end (an answer on another stream, or none)
        self.judge.judge(self.plan.place.get(id(recorded), 0), recorded, twin)
        self.book.forget(twin)
        self.plan.release(recorded)
        if self._awaited.pop(id(recorded), None) is None and recorded.answered_at is not None:
            self._judged[id(recorded)] = recorded  # a later step waits for it

    def _let_go(self, recorded_exchange: int) -> None:
        if recorded_exchange not in self.plan.by_exchange:  # every call of it judged
            self.exchange_map.pop(recorded_exchange, None)

    def finish(self) -> None:
        """Judge what is left, in recorded order: calls not replayed or not answered."""
        assert self.judge is not None
        for call in self.plan.pending():
            self.judge.judge(self.plan.place.get(id(call), 0), call, self.replayed_call(call))
            self.plan.release(call)

    def close(self) -> None:
        pass

    async def _until(self, ready: Callable[[], bool], what: str) -> bool:
        """Wait until `ready()` is true or the timeout passes; False on timeout."""
        try:
            async with asyncio.timeout(self.timeout):
                while not ready():
                    self._changed.clear()
                    await self._changed.wait()
            return True
        except TimeoutError:
            self.bus.publish(
                Fault(self.bus.now(), None, "replay-timeout", f"gave up waiting {what}")
            )
            return False

    # -- running the plan --
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for step in self.plan.steps():
            for call in step.waits_for:
                await self._until(partial(self._answered, call), f"for {call.label}")
                if self._judged.pop(id(call), None) is None:
                    self._awaited[id(call)] = call
            if self.speed is not None:
                due = started + (step.time - (self.plan.start or 0.0)) / self.speed
                await asyncio.sleep(max(0.0, due - loop.time()))
            if step.action == "open":
                await self._open(step)
            else:
                self._close(step.exchange)
        pending = [t for t in self._tasks.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=self.timeout)
        for task in self._tasks.values():
            task.cancel()  # streams the recording never closed (a standalone GET stream)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def replayed_call(self, recorded: Call) -> Call | None:
        """The replay's counterpart of a recorded call, if it was sent."""
        exchange_id = self.exchange_map.get(recorded.exchange_id)
        if exchange_id is None:
            return None
        return self.book.sent_on(exchange_id, recorded.request.id)

    def _answered(self, recorded: Call) -> bool:
        if id(recorded) in self._judged:
            return True
        call = self.replayed_call(recorded)
        return call is not None and call.response is not None

    async def _open(self, step: Step) -> None:
        recorded = step.exchange
        target = recorded.opened.target
        session = recorded.opened.session_id
        if session is not None and session in self.plan.legacy_sessions:
            if not await self._until(lambda: session in self._endpoints, "for an endpoint event"):
                return
            target = self._endpoints[session]
        headers = await self._headers(recorded.headers)
        self._next_id += 1
        self.exchange_map[recorded.exchange_id] = self._next_id
        self._recorded_of[self._next_id] = recorded
        tap = ExchangeTap(self.bus, self._next_id, recorded.opened.method, target, headers)
        tap.opened(recorded.body)
        task = asyncio.create_task(self._exchange(tap, target, headers, recorded.body))
        self._tasks[recorded.exchange_id] = task
        task.add_done_callback(partial(self._done, recorded.exchange_id))

    def _done(self, exchange_id: int, task: asyncio.Task[None]) -> None:
        if self._tasks.get(exchange_id) is task:  # a finished exchange holds nothing
            del self._tasks[exchange_id]

    async def _headers(self, recorded: Headers) -> Headers:
        headers = []
        for name, value in forwardable(recorded, NOT_FORWARDED_REQUEST):
            if value.startswith(REDACTED_PREFIX):
                value = self.secrets[name]
            elif name == "mcp-session-id":
                if value not in self._sessions:
                    await self._until(partial(self._sessions.__contains__, value), "for a session")
                value = self._sessions.get(value, value)
            headers.append((name, value))
        return tuple(headers)

    def _close(self, recorded: RecordedExchange) -> None:
        task = self._tasks.get(recorded.exchange_id)
        if task is not None:
            task.cancel()

    async def _exchange(self, tap: ExchangeTap, target: str, headers: Headers, body: bytes) -> None:
        outcome: asyncio.Future[UpstreamError | None] = asyncio.get_running_loop().create_future()
        exchange = self.upstream.send(tap.method, target, headers, body, _TapFeed(tap, outcome))
        try:
            error = await outcome
        except asyncio.CancelledError:
            exchange.cancel()
            tap.closed("client-disconnected")
            return
        if error is not None:
            detail = f"{tap.method} {self.origin}{target}: {type(error).__name__}: {error}"
            self.bus.publish(
                Fault(self.bus.now(), tap.exchange_id, "replay-request-failed", detail)
            )
        tap.closed("complete" if error is None else "upstream-error")


class _TapFeed:
    """An upstream response sink that feeds the replay's tap and reports how it ended."""

    def __init__(self, tap: ExchangeTap, outcome: asyncio.Future[UpstreamError | None]):
        self.tap = tap
        self.outcome = outcome

    def response_head(self, status: int, headers: Headers) -> None:
        self.tap.response_started(status, headers)

    def response_body(self, chunk: bytes) -> None:
        self.tap.response_chunk(chunk)

    def response_flush(self) -> None:
        pass

    def response_end(self) -> None:
        if not self.outcome.done():  # done: the replay stopped waiting (cancelled)
            self.outcome.set_result(None)

    def response_failed(self, error: UpstreamError) -> None:
        if not self.outcome.done():
            self.outcome.set_result(error)
