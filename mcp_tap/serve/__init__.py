"""Serve: a recording stands in for its server, progress and all.

`interactions` turns a recording's events into what the server said to each request,
`matching` decides which recorded request a new one is, `lifecycle` answers the protocol's
own requests, `server` is the HTTP side (on the proxy's own HTTP server, tapped like it),
`legacy_sse` and `stdio` the other transports (which see the mock as a `replies.Replier`),
`shaping` is what Python callers add (`match_on`, `before_playback`, `before_record`),
and `run` starts it all and reports misses. Imports: every layer below; never `replay` or
`cli`.
"""

from mcp_tap.serve.interactions import Interaction
from mcp_tap.serve.run import RunningMock, ServeReport, serving_recording
from mcp_tap.serve.shaping import same_params

__all__ = ["Interaction", "RunningMock", "ServeReport", "same_params", "serving_recording"]
