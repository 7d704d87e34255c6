"""The transparent forwarding proxy: relays each client request to the target, and taps it.

Forward first, inspect second: every chunk is sent on to the client before a copy of it is
handed to the exchange's `ExchangeTap`, and nothing the tap or its subscribers do can hold a
chunk back. A response is relayed from the upstream connection's read callback straight to
the client connection (`front.py`, `upstream.py`): whatever one read brought leaves in one
write, with no task, queue or buffer in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from urllib.parse import urlsplit

from mcp_tap.faults import ActionKind, FaultPlan
from mcp_tap.faults.pace import Pacer
from mcp_tap.http.faults import StreamFaults, call_of, fault_request
from mcp_tap.http.front import ClientConnection, serving_requests
from mcp_tap.http.guard import HostGuard
from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.http.request_reader import Request
from mcp_tap.http.upstream import RETRYABLE, UpstreamPool
from mcp_tap.http.upstream_connection import (
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
    UpstreamUntrusted,
    UpstreamUpgrade,
)
from mcp_tap.protocol.endpoint import EndpointRewriter
from mcp_tap.protocol.events import Fault, Headers, StreamKind, header
from mcp_tap.protocol.headers import NOT_FORWARDED_REQUEST, forwardable
from mcp_tap.protocol.jsonrpc import error_body, request_id_for_error
from mcp_tap.protocol.secrets import redact_text, redact_url
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.exchange import ExchangeTap, media_type

UPSTREAM_ERROR_CODE = -32000


class TapProxy:
    """Serves each client request by forwarding it to the target's origin."""

    def __init__(
        self,
        target: str,
        bus: TapBus,
        guard: HostGuard | None = None,
        limits: Limits = DEFAULT_LIMITS,
        *,
        forward: bool = False,
        exchange_ids: Iterator[int] | None = None,
        faults: FaultPlan | None = None,
    ):
        """`forward`: one origin of a forward proxy, whose clients use the origin's own URLs:
        its events name the origin, and no URL is rewritten. `exchange_ids` is shared by all
        the origins of one forward proxy, so ids stay unique in its recording. `faults`: the
        `--fault` rules to perform (`http/faults.py`); None or empty, nothing is looked at."""
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"target must be an http(s) URL, got {target!r}")
        self.target = target
        self.shown_target = redact_url(target)  # the target in texts: faults, error bodies
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.bus = bus
        self.upstream = UpstreamPool(
            self.origin,
            limits.idle_timeout,
            connect_timeout=limits.connect_timeout,
            keep_alive=limits.upstream_keep_alive,
            max_idle=limits.max_idle_upstream,
        )
        self.guard = guard
        self.limits = limits
        self.forward = forward
        self.exchange_ids = exchange_ids if exchange_ids is not None else itertools.count(1)
        self.faults = faults if faults else None

    async def aclose(self) -> None:
        """Close the idle upstream connections."""
        await self.upstream.aclose()

    def serve(self, request: Request, client: ClientConnection) -> None:
        """Answer one client request (front.RequestHandler)."""
        if request.too_large:
            limit = f"request body larger than --max-body ({self.limits.max_body} bytes)"
            detail = f"{request.method} {redact_text(request.target)}: {limit}"
            self.refuse(client, 413, "request-too-large", detail)
            return
        if request.method == "CONNECT" and not self.forward:
            detail = (
                f"CONNECT {request.target}: this is a reverse proxy to {self.shown_target}; "
                "for a forward proxy run `mcp-tap proxy --forward`"
            )
            self.refuse(client, 405, "request-refused", detail)
            return
        refusal = self.guard.refusal(request.headers) if self.guard is not None else None
        if refusal is not None:
            self.refuse(client, 403, "request-refused", refusal, request_id_for_error(request.body))
            return
        if self.faults is not None and fault_request(
            self.faults,
            self.bus,
            request,
            client,
            lambda: self.new_tap(request),
            lambda: _Relay(self, request, client),
        ):
            return
        _Relay(self, request, client)

    def new_tap(self, request: Request) -> ExchangeTap:
        """The tap of a new exchange, with the next id."""
        return ExchangeTap(
            self.bus,
            next(self.exchange_ids),
            request.method,
            request.target,
            request.headers,
            max_message=self.limits.max_inspect,
            origin=self.origin if self.forward else None,
        )

    def fault(self, kind: str, detail: str) -> None:
        """A client connection refused or failed a request on its own (front.RequestHandler)."""
        self.bus.publish(Fault(self.bus.now(), None, kind, detail))

    def refuse(
        self,
        client: ClientConnection,
        status: int,
        kind: str,
        detail: str,
        request_id: str | int | None = None,
    ) -> None:
        """Answer without forwarding (403, 413): a JSON-RPC error a person can read, and a fault."""
        self.bus.publish(Fault(self.bus.now(), None, kind, detail))
        payload = error_body(request_id, UPSTREAM_ERROR_CODE, f"mcp-tap: {detail}")
        client.respond(status, _json_headers(payload), payload)


def client_url(proxy_base: str, target: str) -> str:
    """The URL to give a client: the proxy's origin plus the target's path and query."""
    parts = urlsplit(target)
    return proxy_base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@contextlib.asynccontextmanager
async def running_proxy(
    target: str,
    bus: TapBus,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_hosts: Sequence[str] = (),
    limits: Limits = DEFAULT_LIMITS,
    on_closing: Callable[[int], None] | None = None,
    faults: FaultPlan | None = None,
) -> AsyncIterator[str]:
    """Serve a proxy to `target` in the background; yield the proxy's base URL."""
    guard = HostGuard(host, allow_hosts)
    proxy = TapProxy(target, bus, guard=guard, limits=limits, faults=faults)
    try:
        async with serving_requests(proxy, host, port, limits, on_closing) as base_url:
            yield base_url
    finally:
        await proxy.aclose()


class _Relay:
    """One exchange: the upstream's response sink and the client connection's listener."""

    def __init__(self, proxy: TapProxy, request: Request, client: ClientConnection):
        self.proxy = proxy
        self.request = request
        self.client = client
        self._answered = False
        self._parts: list[bytes] = []
        self._rewriter: EndpointRewriter | None = None
        self._head_for_tap: tuple[int, Headers] | None = None
        client.listener = self
        headers = forwardable(request.headers, NOT_FORWARDED_REQUEST)
        self.upstream = proxy.upstream.send(
            request.method, request.target, headers, request.body, self
        )
        self._faults: StreamFaults | None = None  # with --fault rules, on an SSE response
        self._pacer: Pacer | None = None  # its writes, in order, some slowed
        # Inspect the request once it is on its way: then it costs the exchange no time. (No
        # response can arrive before this returns to the event loop.)
        self.tap = proxy.new_tap(request)
        self.tap.opened(request.body)

    # -- upstream_connection.ResponseSink --

    def response_head(self, status: int, headers: Headers) -> None:
        self._answered = True
        headers = forwardable(headers)
        if self.request.method == "GET":
            # A GET may open a 2024-11-05 SSE stream, whose endpoint URL gets rewritten: the tap
            # must say what the body is before the head leaves.
            self.tap.response_started(status, headers)
            encoded = header(headers, "content-encoding") is not None
            rewrite = not self.proxy.forward  # a forward proxy's client uses the real URLs
            if self.tap.stream is StreamKind.LEGACY_SSE and not encoded and rewrite:
                host = header(self.tap.headers, "host") or urlsplit(self.proxy.origin).netloc
                self._rewriter = EndpointRewriter(f"http://{host}")
                headers = tuple(h for h in headers if h[0] != "content-length")  # it may change
        else:
            self._head_for_tap = (status, headers)  # told once the head is on its way
        plan = self.proxy.faults
        if plan is not None and self._rewriter is None and _plain_sse(headers):
            self._faults = StreamFaults(plan, self.proxy.bus, self.tap, call_of(self.request.body))
        self.client.start_response(status, headers)

    def response_body(self, chunk: bytes) -> None:
        self._parts.append(chunk)

    def response_flush(self) -> None:
        if self._faults is not None:
            self._faulty_flush(self._faults, end=False)
            return
        if not self._parts:
            self.client.flush()
            self._tell_tap_the_head()
            return
        data = self._take_parts()
        rewriter = self._rewriter
        self.client.write_body(rewriter.feed(data) if rewriter is not None else data)
        self._tell_tap_the_head()
        self.tap.response_chunk(data)
        if rewriter is not None and rewriter.passing_through:
            self._rewriter = None

    def response_end(self) -> None:
        if self._faults is not None:
            self._faulty_flush(self._faults, end=True)
            return
        data = self._take_parts()
        out = data
        if self._rewriter is not None:
            out = self._rewriter.feed(data) + self._rewriter.flush()
        self.client.end_response(out)
        self._tell_tap_the_head()
        if data:
            self.tap.response_chunk(data)
        self.tap.closed("complete")

    def response_failed(self, error: UpstreamError) -> None:
        if self._faults is not None and self._faults.stopped is not None:
            return  # the client's stream already ended by a rule; the rest is not theirs
        if not self._answered:
            self._answer_for_upstream(error)
            return
        self.response_flush()  # the events that did arrive still go to the client, in full
        if self._pacer is not None:
            self._pacer.then(lambda: self._upstream_broke(error))  # once they have gone
        else:
            self._upstream_broke(error)

    def _upstream_broke(self, error: UpstreamError) -> None:
        # Break the client's connection too, as the upstream broke ours: ending the body
        # cleanly would tell the client that a cut-off stream was complete.
        kind = "upstream-stalled" if isinstance(error, UpstreamTimeout) else "upstream-reset"
        self._fault(kind, f"upstream {self.proxy.shown_target} {error}")
        self.client.abort()
        self.tap.closed("upstream-error")

    # -- front.ExchangeListener --

    def client_gone(self) -> None:
        if self._pacer is not None:
            self._pacer.stop()
        # Closing the upstream request is how a 2026-07-28 client cancels.
        self.upstream.cancel()
        self._tell_tap_the_head()
        self.tap.closed("client-disconnected")

    def client_paused(self) -> None:
        self.upstream.pause_reading()

    def client_resumed(self) -> None:
        self.upstream.resume_reading()

    # -- internals --

    def _faulty_flush(self, faults: StreamFaults, end: bool) -> None:
        """Forward what the rules let through, at the pace they set (`slow`); end the stream
        as a rule says. Every step waits behind the bytes of a slowed message still going."""
        was_stopped = faults.stopped is not None
        pieces = faults.feed(self._take_parts())
        if end:
            pieces.append((faults.rest(), None))
        if was_stopped:
            return  # the upstream's rest after a drop: read and let go
        pacer = self._pacer
        if pacer is None:
            loop = asyncio.get_running_loop()
            pacer = self._pacer = Pacer(loop.call_later)
        for data, slow in pieces:
            if slow is None:
                pacer.write(self.client.write_body, data)
            else:
                pacer.write(self.client.write_body, data, slow.slow_bytes, slow.slow_every)
        pacer.then(self._tell_tap_the_head)
        data = b"".join(data for data, _ in pieces)
        if data:
            pacer.then(lambda: self.tap.response_chunk(data))  # once the client has it all
        stopped = faults.stopped
        if stopped is ActionKind.DROP_STREAM:
            pacer.then(self.client.end_response)  # a clean end, without the response: resume
            pacer.then(lambda: self.tap.closed("fault-injected"))
        elif stopped is ActionKind.RESET:
            pacer.then(self._reset)
        elif stopped is None and end:
            pacer.then(self.client.end_response)
            pacer.then(lambda: self.tap.closed("complete"))
        elif stopped is None:
            pacer.then(self.client.flush)
        # HANG: the client keeps its open stream, and nothing more comes on it

    def _reset(self) -> None:
        self.client.abort()
        self.upstream.cancel()
        self.tap.closed("fault-injected")

    def _tell_tap_the_head(self) -> None:
        """Publish a response head that went to the client before the tap heard of it."""
        if self._head_for_tap is not None:
            status, headers = self._head_for_tap
            self._head_for_tap = None
            self.tap.response_started(status, headers)

    def _take_parts(self) -> bytes:
        parts, self._parts = self._parts, []
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _answer_for_upstream(self, error: UpstreamError) -> None:
        """No response came: a 502/504 JSON-RPC error naming the target, and a fault."""
        if isinstance(error, UpstreamTimeout):
            status, kind, detail = 504, "upstream-timeout", f"did not answer: {error}"
        elif isinstance(error, UpstreamUnreachable):
            status, kind, detail = 502, "upstream-unreachable", f"is unreachable ({error})"
        elif isinstance(error, UpstreamUntrusted):
            status, kind, detail = 502, "upstream-untrusted", str(error)
        elif isinstance(error, UpstreamUpgrade):
            status, kind, detail = 502, "upstream-upgrade", str(error)
        elif self.request.method not in RETRYABLE:
            status, kind = 502, "upstream-reset"
            detail = f"{error}; the request was not sent again, as the server may have run it"
        else:
            status, kind, detail = 502, "upstream-reset", str(error)
        message = f"mcp-tap: upstream {self.proxy.shown_target} {detail}"
        self._fault(kind, message)
        payload = error_body(request_id_for_error(self.request.body), UPSTREAM_ERROR_CODE, message)
        headers = _json_headers(payload)
        self.client.respond(status, headers, payload)
        self.tap.response_started(status, headers)
        self.tap.response_chunk(payload)
        self.tap.closed("upstream-error")

    def _fault(self, kind: str, detail: str) -> None:
        self.proxy.bus.publish(Fault(self.proxy.bus.now(), self.tap.exchange_id, kind, detail))


def _plain_sse(headers: Headers) -> bool:
    """An SSE body the rules can cut into events (a compressed one is forwarded as it is)."""
    kind = media_type(header(headers, "content-type"))
    return kind == "text/event-stream" and header(headers, "content-encoding") is None


def _json_headers(payload: bytes) -> Headers:
    return (("content-type", "application/json"), ("content-length", str(len(payload))))
