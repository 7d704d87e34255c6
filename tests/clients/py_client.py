"""A real MCP client (the official Python SDK) for end-to-end tests.

Run as a separate process against a URL (the mcp-tap proxy, or a server directly)::

    python tests/clients/py_client.py http://127.0.0.1:PORT/mcp --tool NAME --args '{"k": 1}'

It prints one JSON object per line on stdout (see tests/clients/README.md):

    {"event": "connected", "protocol_version": ..., "transport": ..., "t": ...}
    {"event": "tools", "names": [...], "t": ...}                          (--list-tools)
    {"event": "progress", "call": i, "progress": p, "total": t, "message": m, "t": ...}
    {"event": "result", "call": i, "text": ..., "is_error": bool, "protocol_version": ..., "t": ...}
    {"event": "error", "type": ..., "message": ..., "t": ...}             (exit 1)
    {"event": "timeout", "timeout": s, "t": ...}                          (exit 3)

``t`` is seconds since the process started. Logs and warnings go to stderr only.

Transports:
    auto    ``Client(url)``: protocol 2026-07-28 probe (server/discover), falls back to initialize
    legacy  ``Client(url, mode="legacy")``: streamable HTTP with the initialize handshake
    sse     ``Client(sse_client(url), mode=...)``: the 2024-11-05 HTTP+SSE transport (URL = .../sse)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
import warnings
from typing import Any

_START = time.monotonic()

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3


def _elapsed() -> float:
    return round(time.monotonic() - _START, 4)


def emit(event: str, **fields: Any) -> None:
    """Write one JSON line to stdout and flush at once, so a reader sees it live."""
    line = {"event": event, **fields, "t": _elapsed()}
    sys.stdout.write(json.dumps(line, default=str) + "\n")
    sys.stdout.flush()


def _leaf_exception(exc: BaseException) -> BaseException:
    """Unwrap (possibly nested) exception groups from task groups to the first real cause."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> dict[str, Any]:
    leaf = _leaf_exception(exc)
    info: dict[str, Any] = {"type": type(leaf).__name__, "message": str(leaf)}
    code = getattr(leaf, "code", None)
    if isinstance(code, int):
        info["code"] = code
    return info


def _text_of(result: Any) -> str:
    parts: list[str] = []
    for block in result.content or []:
        text = getattr(block, "text", None)
        if isinstance(text, str):
            parts.append(text)
    return "".join(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("url", help="server/proxy URL (.../mcp for auto/legacy, .../sse for sse)")
    parser.add_argument("--transport", choices=("auto", "legacy", "sse"), default="auto")
    parser.add_argument(
        "--sse-mode",
        choices=("legacy", "auto"),
        default="legacy",
        help="negotiation over --transport sse: 'legacy' (initialize, as a 2024-11-05 client "
        "does; default) or 'auto' (probe server/discover first)",
    )
    parser.add_argument("--tool", help="tool to call")
    parser.add_argument("--args", default="{}", help="tool arguments as a JSON object")
    parser.add_argument("--calls", type=int, default=1, help="how many times to call the tool")
    parser.add_argument(
        "--concurrent", action="store_true", help="run the --calls calls concurrently, one session"
    )
    parser.add_argument("--list-tools", action="store_true", help="print the server's tool names")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="overall deadline in seconds; exit 3 when hit"
    )
    parser.add_argument(
        "--read-timeout", type=float, default=None, help="per-request read timeout (default: none)"
    )
    ns = parser.parse_args(argv)
    if ns.tool is None and not ns.list_tools:
        parser.error("give --tool NAME and/or --list-tools")
    if ns.calls < 1:
        parser.error("--calls must be >= 1")
    try:
        ns.tool_args = json.loads(ns.args)
    except json.JSONDecodeError as e:
        parser.error(f"--args is not valid JSON: {e}")
    if not isinstance(ns.tool_args, dict):
        parser.error("--args must be a JSON object")
    return ns


async def run(ns: argparse.Namespace) -> None:
    import anyio
    from mcp import Client

    if ns.transport == "sse":
        from mcp.client.sse import sse_client

        client = Client(sse_client(ns.url), mode=ns.sse_mode, read_timeout_seconds=ns.read_timeout)
    elif ns.transport == "legacy":
        client = Client(ns.url, mode="legacy", read_timeout_seconds=ns.read_timeout)
    else:
        client = Client(ns.url, read_timeout_seconds=ns.read_timeout)

    async with client:
        protocol_version = client.protocol_version
        emit("connected", protocol_version=protocol_version, transport=ns.transport)

        if ns.list_tools:
            tools = await client.list_tools()
            emit("tools", names=[tool.name for tool in tools.tools])

        if ns.tool is None:
            return

        async def one_call(index: int) -> None:
            async def on_progress(
                progress: float, total: float | None, message: str | None
            ) -> None:
                emit("progress", call=index, progress=progress, total=total, message=message)

            result = await client.call_tool(ns.tool, ns.tool_args, progress_callback=on_progress)
            emit(
                "result",
                call=index,
                text=_text_of(result),
                is_error=bool(result.is_error),
                protocol_version=protocol_version,
            )

        if ns.concurrent and ns.calls > 1:
            async with anyio.create_task_group() as tg:
                for i in range(ns.calls):
                    tg.start_soon(one_call, i)
        else:
            for i in range(ns.calls):
                await one_call(i)


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(argv)
    # Nothing but JSON lines on stdout: route logging and warnings to stderr.
    logging.basicConfig(level=os.environ.get("PY_CLIENT_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    warnings.simplefilter("ignore")

    import anyio

    # Backstop: if cancellation cannot unwind (a transport stuck in a shielded close),
    # still end within the deadline plus a short grace period.
    def _hard_stop() -> None:
        emit("timeout", timeout=ns.timeout, hard=True)
        os._exit(EXIT_TIMEOUT)

    watchdog = threading.Timer(ns.timeout + 5.0, _hard_stop)
    watchdog.daemon = True
    watchdog.start()

    async def bounded() -> int:
        with anyio.move_on_after(ns.timeout) as scope:
            await run(ns)
        if scope.cancelled_caught:
            emit("timeout", timeout=ns.timeout)
            return EXIT_TIMEOUT
        return EXIT_OK

    try:
        return anyio.run(bounded)
    except KeyboardInterrupt:
        emit("error", type="KeyboardInterrupt", message="interrupted")
        return EXIT_ERROR
    except BaseException as exc:  # boundary: report any failure as one JSON line, no traceback
        if isinstance(exc, SystemExit):
            raise
        emit("error", **_describe(exc))
        if os.environ.get("PY_CLIENT_TRACEBACK"):
            import traceback

            traceback.print_exc(file=sys.stderr)
        return EXIT_ERROR
    finally:
        watchdog.cancel()


if __name__ == "__main__":
    sys.exit(main())
