"""Command line: `python -m demo_server --port N [--host H] [--step-delay S] [--event-store]`,
or `python -m demo_server --stdio [--step-delay S]`.

Over HTTP it prints one line with the endpoint URLs once the server is listening, then serves
until Ctrl-C. Over stdio it speaks newline-delimited JSON-RPC on stdin and stdout (what hosts
launch as a command) and prints nothing else on stdout; it ends when stdin closes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from demo_server.app import MCP_PATH, SSE_PATH
from demo_server.runner import DEFAULT_HOST, serve_forever
from demo_server.server import build_server


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo_server",
        description="Run the progress-demo MCP server (Streamable HTTP at /mcp, HTTP+SSE at "
        "/sse, or stdio).",
    )
    carrier = parser.add_mutually_exclusive_group(required=True)
    carrier.add_argument("--port", type=int, help="TCP port (0 picks a free one)")
    carrier.add_argument(
        "--stdio", action="store_true", help="serve over stdin and stdout instead of HTTP"
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="bind address (default %(default)s)")
    parser.add_argument(
        "--step-delay",
        type=float,
        default=0.2,
        metavar="S",
        help="default seconds between progress steps (default 0.2)",
    )
    parser.add_argument(
        "--event-store",
        action="store_true",
        help="keep SSE events in memory so /mcp streams can be resumed with Last-Event-ID",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.stdio:
        return serve_stdio(args.step_delay)

    def announce(base_url: str) -> None:
        # flush: whoever started us may be waiting on this line through a pipe.
        print(
            f"progress-demo: {base_url}{MCP_PATH} (streamable HTTP)  {base_url}{SSE_PATH} (SSE)",
            flush=True,
        )

    try:
        serve_forever(args.host, args.port, args.step_delay, args.event_store, on_ready=announce)
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        pass
    except OSError as exc:  # e.g. the port is taken
        print(f"progress-demo: {exc}", file=sys.stderr)
        return 1
    return 0


def serve_stdio(step_delay: float) -> int:
    """Serve until the client closes stdin (the stdio transport's way to end a session)."""
    server = build_server(step_delay)
    try:
        anyio.run(server.run_stdio_async)
    except KeyboardInterrupt:  # Ctrl-C or a SIGINT passed on by a wrapper: a normal end
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
