"""`mcp-tap proxy --forward`: an HTTP forward proxy that taps every host its clients reach.

The client keeps the server's real URL (so OAuth's resource checks hold) and is told to use
the proxy (`HTTPS_PROXY`). Two kinds of request arrive:

* absolute-form `GET http://host/path`: relayed to that origin by a `TapProxy` of its own;
* `CONNECT host:443`: answered `200 Connection Established`; then, for a host the
  `--allow-host` patterns intercept, the TLS inside is terminated with a certificate for the
  host minted by mcp-tap's CA (`ca.py`) and the decrypted stream is served by a new
  `ClientConnection` whose handler is that origin's `TapProxy` (the same streaming relay and
  tap as the reverse proxy, the upstream verified against the system's CAs); for any other
  host, bytes are piped both ways untouched and one finding says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

from mcp_tap.http.ca import LocalCA
from mcp_tap.http.front import ClientConnection
from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.http.proxy import UPSTREAM_ERROR_CODE, TapProxy
from mcp_tap.http.request_reader import Request
from mcp_tap.http.serving import disable_nagle
from mcp_tap.protocol.events import Fault, Finding, Severity
from mcp_tap.protocol.jsonrpc import error_body
from mcp_tap.protocol.secrets import redact_text
from mcp_tap.tap.bus import TapBus

ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"
TUNNELLED = "host-tunnelled"  # the finding that lists a host passed through unread


class ForwardProxy:
    """Serves a forward proxy's client requests (front.RequestHandler)."""

    def __init__(
        self,
        bus: TapBus,
        ca: LocalCA,
        intercept: Sequence[str] = (),
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.bus = bus
        self.ca = ca
        self.patterns = tuple(p.lower() for p in intercept) or ("*",)
        self.limits = limits
        self.exchange_ids = itertools.count(1)
        self._origins: dict[str, TapProxy] = {}
        self._untapped: dict[str, TapProxy] = {}
        self._quiet = TapBus()  # where untapped relays publish: nobody listens
        self._pipes: set[_Pipe] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def intercepts(self, host: str) -> bool:
        """Whether `host` is read (an `--allow-host` pattern matches) or only tunnelled."""
        name = host.lower().strip("[]")
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for pipe in list(self._pipes):
            pipe.abort()
        for proxy in [*self._origins.values(), *self._untapped.values()]:
            await proxy.aclose()
        self._quiet.close()
        self.ca.close()

    # -- front.RequestHandler --

    def serve(self, request: Request, client: ClientConnection) -> None:
        if request.method == "CONNECT":
            self._connect(request, client)
            return
        if request.origin is None or not request.origin.startswith(("http://", "https://")):
            detail = (
                f"{request.method} {redact_text(request.target)}: mcp-tap --forward is a "
                "forward proxy; set HTTPS_PROXY/HTTP_PROXY to it and use the server's own URL"
            )
            self._refuse(client, 400, detail)
            return
        host = urlsplit(request.origin).hostname or ""
        if self.intercepts(host):
            self._proxy_for(request.origin).serve(request, client)
            return
        self._publish_tunnelled(f"{request.method} {request.origin}{redact_text(request.target)}")
        proxy = self._untapped.get(request.origin)
        if proxy is None:
            proxy = self._untapped[request.origin] = TapProxy(
                request.origin, self._quiet, limits=self.limits, forward=True
            )
        proxy.serve(request, client)

    def fault(self, kind: str, detail: str) -> None:
        self.bus.publish(Fault(self.bus.now(), None, kind, detail))

    # -- internals --

    def _proxy_for(self, origin: str) -> TapProxy:
        proxy = self._origins.get(origin)
        if proxy is None:
            proxy = self._origins[origin] = TapProxy(
                origin,
                self.bus,
                limits=self.limits,
                forward=True,
                exchange_ids=self.exchange_ids,
            )
        return proxy

    def _refuse(self, client: ClientConnection, status: int, detail: str) -> None:
        self.fault("request-refused", detail)
        payload = error_body(None, UPSTREAM_ERROR_CODE, f"mcp-tap: {detail}")
        headers = (("content-type", "application/json"), ("content-length", str(len(payload))))
        client.respond(status, headers, payload)

    def _publish_tunnelled(self, what: str) -> None:
        detail = f"{what}: tunnelled untouched, not inspected (no --allow-host pattern matches)"
        self.bus.publish(Finding(self.bus.now(), Severity.INFO, TUNNELLED, detail))

    def _connect(self, request: Request, client: ClientConnection) -> None:
        authority = request.target
        host, port = _split_authority(authority)
        if host is None or port is None:
            self._refuse(client, 400, f"CONNECT {authority!r}: not a host:port")
            return
        taken = client.take_over()
        if taken is None:
            return
        transport, tail = taken
        transport.pause_reading()  # nothing is read until the next protocol is in place
        if self.intercepts(host):
            work = self._intercept(transport, tail, authority, host, port, client)
        else:
            work = self._tunnel(transport, tail, authority, host, port)
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _intercept(
        self,
        transport: asyncio.Transport,
        tail: bytes,
        authority: str,
        host: str,
        port: int,
        client: ClientConnection,
    ) -> None:
        if tail:
            # TLS bytes sent before the 200: asyncio cannot hand them to the TLS layer.
            self.fault("request-malformed", f"CONNECT {authority}: data before the 200 answer")
            transport.abort()
            return
        origin = f"https://{authority}" if port != 443 else f"https://{authority.rsplit(':', 1)[0]}"
        proxy = self._proxy_for(origin)
        inner = ClientConnection(proxy, self.limits, client.open_connections)
        loop = asyncio.get_running_loop()
        transport.write(ESTABLISHED)
        try:
            tls = await loop.start_tls(
                transport,
                inner,
                self.ca.server_context(host),
                server_side=True,
                ssl_handshake_timeout=self.limits.header_timeout,
            )
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", None) or str(error) or type(error).__name__
            self.fault(
                "client-tls-failed",
                f"CONNECT {authority}: the client's TLS handshake with mcp-tap failed "
                f"({reason}); does the client trust mcp-tap's CA? (`mcp-tap ca`)",
            )
            transport.abort()
            return
        if tls is None:  # the client went away during the handshake
            transport.abort()
            return
        inner.connection_made(tls)

    async def _tunnel(
        self, transport: asyncio.Transport, tail: bytes, authority: str, host: str, port: int
    ) -> None:
        loop = asyncio.get_running_loop()
        client_pipe = _Pipe(self._pipes)
        try:
            _, server_pipe = await asyncio.wait_for(
                loop.create_connection(lambda: _Pipe(self._pipes), host, port),
                self.limits.connect_timeout,
            )
        except (OSError, TimeoutError) as error:
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
            detail = f"mcp-tap: CONNECT {authority}: upstream is unreachable ({reason})"
            self.bus.publish(Fault(self.bus.now(), None, "upstream-unreachable", detail))
            payload = error_body(None, UPSTREAM_ERROR_CODE, detail)
            transport.write(
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n" % len(payload) + payload
            )
            transport.close()
            return
        self._publish_tunnelled(f"CONNECT {authority}")
        transport.write(ESTABLISHED)
        transport.set_protocol(client_pipe)
        client_pipe.connection_made(transport)
        client_pipe.pair(server_pipe)
        if tail:
            server_pipe.write(tail)
        transport.resume_reading()


class _Pipe(asyncio.Protocol):
    """One side of a tunnel: what it reads goes to its peer as it is, with back-pressure."""

    def __init__(self, registry: set[_Pipe]) -> None:
        self._registry = registry
        self._transport: asyncio.Transport | None = None
        self._peer: _Pipe | None = None
        self._pending: list[bytes] = []  # read before the peer was paired

    def pair(self, peer: _Pipe) -> None:
        self._peer, peer._peer = peer, self
        for side in (self, peer):
            pending, side._pending = side._pending, []
            for data in pending:
                side._peer_write(data)

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses
        self._registry.add(self)
        disable_nagle(transport)

    def data_received(self, data: bytes) -> None:
        if self._peer is None:
            self._pending.append(data)
        else:
            self._peer_write(data)

    def eof_received(self) -> bool:
        peer = self._peer._transport if self._peer is not None else None
        if peer is not None and not peer.is_closing() and peer.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                peer.write_eof()  # a half-close goes through as one
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._registry.discard(self)
        self._transport = None
        if self._peer is not None and self._peer._transport is not None:
            self._peer._transport.close()

    def pause_writing(self) -> None:
        if self._peer is not None and self._peer._transport is not None:
            self._peer._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._peer is not None and self._peer._transport is not None:
            self._peer._transport.resume_reading()

    def _peer_write(self, data: bytes) -> None:
        if self._peer is not None:
            self._peer.write(data)


def _split_authority(authority: str) -> tuple[str | None, int | None]:
    """`host:443` -> (`host`, 443); `[::1]:443` -> (`::1`, 443); (None, None) if malformed."""
    if authority.startswith("["):
        host, bracket, rest = authority[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            return None, None
        port_text = rest[1:]
    else:
        host, colon, port_text = authority.rpartition(":")
        if not colon or ":" in host:
            return None, None
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None, None
    return host, int(port_text)
