"""The tap layer: where a carrier's traffic becomes tap events.

`ExchangeTap` (`exchange`) turns one exchange's request and response bytes into events, and
`TapBus` (`bus`) delivers events to subscribers on the next loop turn, so nothing a
subscriber does runs on the forwarding path. `StdioTap` (`stdio`) decodes a stdio session's
pipes after each burst. Imports: `protocol` only.
"""
