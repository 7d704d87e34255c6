"""An MCP server that asks its client before it answers: sampling, elicitation, and a counter.

`ask_model` sends `sampling/createMessage` and returns the model's text; `ask_name` sends
`elicitation/create` and returns the name the user gave; `ask_city` asks for a city the
2026-07-28 way (an `input_required` result, answered by the client's retry of the call; a
handshake client gets `elicitation/create`); `increment` and `get` keep a counter, for
sequences. The requests go on the call's own stream (its POST's SSE stream over HTTP), as a
server does for a request it makes while answering one. `ask_model_aside` sends its sampling
request on the session's own stream instead (the standalone GET stream over Streamable HTTP),
as a server does that asks outside any request.

The tools of the official conformance suite's asking scenarios are here too
(`conformance_tools.py`), so the suite can run them through `mcp-tap proxy` and `serve`.

    python -m tests.asking_server          (prints its URL; serves on a free port)
    python -m tests.asking_server --sse    (the 2024-11-05 HTTP+SSE transport, at /sse)
    python -m tests.asking_server --stdio
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel

from demo_server.app import TRANSPORT_SECURITY
from mcp_tap.http.serving import serving
from tests.conformance_tools import add_conformance_tools


class Name(BaseModel):
    """What `ask_name` asks the user for."""

    name: str


class City(BaseModel):
    """What `ask_city` asks the user for."""

    city: str


def which_city() -> Elicit[City]:
    """`ask_city`'s question: over 2026-07-28, an `input_required` result the client retries."""
    return Elicit("Which city?", City)


def build_server() -> MCPServer:
    """The asking tools and the counter."""
    server = MCPServer("asking", log_level="WARNING")
    count = [0]

    @server.tool()
    async def ask_model(prompt: str, ctx: Context) -> str:
        """Ask the client's model `prompt`; return its text."""
        result = await ctx.session.create_message(  # type: ignore[call-overload]
            [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=50,
            related_request_id=ctx.request_id,
        )
        content = result.content
        return f"model said: {content.text if isinstance(content, TextContent) else content}"

    @server.tool()
    async def ask_model_aside(prompt: str, ctx: Context) -> str:
        """Ask the client's model `prompt` on the session's stream; return its text."""
        result = await ctx.session.create_message(  # type: ignore[call-overload]
            [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=50,
        )
        content = result.content
        return f"model said: {content.text if isinstance(content, TextContent) else content}"

    @server.tool()
    async def ask_name(ctx: Context) -> str:
        """Ask the user for a name; return a greeting."""
        answer = await ctx.elicit("Your name?", Name)
        return f"hello {answer.data.name}" if answer.action == "accept" and answer.data else "no"

    @server.tool()
    def ask_city(country: str, city: Annotated[City, Resolve(which_city)]) -> str:
        """Ask the user for a city of `country`; return it."""
        return f"{city.city}, {country}"

    @server.tool()
    def increment() -> int:
        """Add one to the counter; return it."""
        count[0] += 1
        return count[0]

    @server.tool()
    def get() -> int:
        """The counter."""
        return count[0]

    add_conformance_tools(server)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the asking MCP test server.")
    parser.add_argument("--stdio", action="store_true", help="serve on stdin and stdout")
    parser.add_argument("--sse", action="store_true", help="serve the 2024-11-05 transport")
    args = parser.parse_args(argv)
    server = build_server()
    if args.stdio:
        asyncio.run(server.run_stdio_async())
        return 0

    async def serve() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        if args.sse:
            app, path = server.sse_app(transport_security=TRANSPORT_SECURITY), "/sse"
        else:
            app, path = (
                server.streamable_http_app(
                    streamable_http_path="/mcp", transport_security=TRANSPORT_SECURITY
                ),
                "/mcp",
            )
        async with serving(app, "127.0.0.1", 0, log_level="warning") as base_url:
            print(f"asking server: {base_url}{path}", flush=True)
            await stop.wait()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
