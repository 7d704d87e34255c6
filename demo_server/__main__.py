"""Command line: `python -m demo_server --port N [--host H] [--step-delay S] [--event-store]`.

Prints one line with the endpoint URLs once the server is listening, then serves until
Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from demo_server.app import MCP_PATH, SSE_PATH
from demo_server.runner import DEFAULT_HOST, serve_forever


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo_server",
        description="Run the progress-demo MCP server (Streamable HTTP at /mcp, HTTP+SSE at /sse).",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port (0 picks a free one)")
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


if __name__ == "__main__":
    sys.exit(main())
