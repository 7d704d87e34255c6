"""Export: a recording taken elsewhere, as HAR, JSON lines, OpenTelemetry traces or one HTML page.

`session` groups a recording's events into HTTP exchanges and JSON-RPC calls (correlated by
the progress tracker), `bodies` rebuilds body text from recorded messages, and `har`,
`jsonl`, `otlp` and `report` write the formats; `live_otlp` sends `otlp`'s spans live to a
collector, through the SDK's exporter in `otlp_sink`. Imports: `protocol`, `analysis` and
`recording`; never `http`, `view` or `cli`.
"""
