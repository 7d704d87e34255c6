"""The bundled "progress-demo" MCP server that mcp-tap is demonstrated and tested against.

`build_server` makes the MCP server, `build_app` serves it over Streamable HTTP (`/mcp`) and
HTTP+SSE (`/sse`) in one ASGI app, and the runners start that app on a free local port.
"""

from demo_server.app import build_app
from demo_server.event_store import InMemoryEventStore
from demo_server.runner import demo_server_thread, running_demo_server
from demo_server.server import build_server

__all__ = [
    "InMemoryEventStore",
    "build_app",
    "build_server",
    "demo_server_thread",
    "running_demo_server",
]
