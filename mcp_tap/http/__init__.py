"""The HTTP carrier: the proxy's own HTTP/1.1 server and its upstream client.

`front` serves clients (`request_reader` parses their requests, `response_framing` writes
the heads of the answers, `idle` times out a kept-alive connection), `upstream` keeps a pool
of connections to the target (each an `upstream_connection.UpstreamConnection`), `proxy`
(`TapProxy`) relays one to the other and taps each exchange, `guard` decides which requests
are served at all, `serving` binds sockets.
Imports: `protocol` and `tap` (and `view`, `recording`, `analysis` only through the events it
publishes: never directly).
"""
