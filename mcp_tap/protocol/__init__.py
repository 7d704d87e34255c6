"""The protocol layer: what crosses the wire, as data. Bytes in, events out, no I/O.

The tap event vocabulary (`events`), the sans-IO decoders (`jsonrpc` for messages, `sse` for
server-sent events, `endpoint` for the 2024-11-05 endpoint rewrite), HTTP header facts
(`headers`) and the event codec that turns events into plain values and back (`codec`).
Imports: the standard library and orjson only; nothing else of mcp_tap, no sockets, no tasks.
"""
