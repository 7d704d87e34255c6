"""The recording layer: the YAML file of a session, written and read.

`RecordingWriter` (`writer`) writes events from a thread as they come, redacted first
(`redact`), through mcp-tap's own emitter (`yaml_emit`); `load_recording` (`reader`) reads
them back, checking the format version. Imports: `protocol` and `tap`; never `analysis` or
`view`, and nothing that serves or prints.
"""
