"""The recording layer: the YAML file of a session, written and read.

`RecordingWriter` (`writer`) writes events as they come, redacted first, through
mcp-tap's own emitter (`yaml_emit`), from a thread or a writer process (`process`);
`load_recording` (`reader`) reads them back, checking the format version. Imports:
`protocol` and `tap`; never `analysis` or `view`, and nothing that serves or prints.
"""
