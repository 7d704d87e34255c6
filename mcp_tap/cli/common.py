"""What every command shares: the bad-input error, the event loop, checks of what a user
typed, and reading recordings and writing outputs with one-line errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar
from urllib.parse import urlsplit

from rich.console import Console

from mcp_tap.recording.reader import EventSource
from mcp_tap.replay.compare import CallVerdict
from mcp_tap.replay.report import print_verdicts, verdicts_json
from mcp_tap.view.visible import visible

T = TypeVar("T")


class UserError(Exception):
    """Bad input: reported as one line and exit code 2."""


# Every message parsed allocates dozens of dicts and lists, so at CPython's default
# threshold (700) the cyclic collector ran every few requests and took ~40% of the proxy's
# CPU per tools/list. Reference counting frees these payloads; the collector only has cycles
# to find, and those are rare here, so it can run far less often.
GC_THRESHOLDS = (50_000, 50, 100)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine on uvloop where it is installed (a faster event loop)."""
    gc.freeze()  # what the imports made lives as long as the process: never scan it again
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


@contextlib.asynccontextmanager
async def until_signalled() -> AsyncIterator[asyncio.Event]:
    """An event set by the first SIGINT or SIGTERM (the live commands then print their
    summary and exit 0); a second one exits at once (130)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: out at once
        print(file=sys.stderr)  # the summary starts on a new line, not after `^C`
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def banner(first: str, *rest: str, out: TextIO) -> str:
    """A start-up line, `first - rest - ...`, when it fits the terminal `out` is; else each
    part on a line of its own, so that the terminal never breaks a URL in two (a broken URL
    cannot be copied). A pipe has no width: one line, for scripts to read."""
    line = " - ".join((first, *rest))
    width = terminal_width(out)
    if width is None or len(line) < width:
        return line + "\n"
    return first + "\n" + "".join(f"  {part}\n" for part in rest)


def terminal_width(out: TextIO) -> int | None:
    """The columns of the terminal `out` writes to, None when it is not a terminal."""
    try:
        return os.get_terminal_size(out.fileno()).columns if out.isatty() else None
    except (OSError, ValueError):  # no file descriptor (a StringIO), or a closed one
        return None


def checked_target(target: str | None, flag: str) -> str | None:
    """`target` if it is an http(s) URL; a scheme-less one gets a `did you mean` hint."""
    if target is None:
        return None
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.netloc:
        return target
    if "://" not in target:
        raise UserError(f"{flag} {target} has no scheme; did you mean http://{target}?")
    raise UserError(f"{flag} must be an http(s) URL, got {target!r}")


def checked_port(port: int) -> int:
    """`port` if it is one (0 picks a free one)."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port} is not a port (0-65535; --port 0 picks a free one)")
    return port


def check_record_path(args: argparse.Namespace) -> None:
    """Refuse to replace a recording unless --force says so, before anything starts."""
    path = getattr(args, "record", None)
    if path and Path(path).exists() and not getattr(args, "force", False):
        raise UserError(f"{path} already exists; use --force to replace it")


def name_values(items: list[str], flag: str) -> dict[str, str]:
    """`NAME=VALUE` options (--header, --otlp-header) as a dict."""
    values = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise UserError(f"{flag} wants NAME=VALUE, got {item!r}")
        values[name.strip()] = value
    return values


def environment_names() -> list[str]:
    """The names the server's environment holds (it inherits ours); never the values."""
    return sorted(os.environ)


def warn(recording: EventSource) -> None:
    """A recording's warnings (a cut end) on stderr, once a pass over it has found them."""
    for warning in recording.warnings:
        print(f"mcp-tap: warning: {visible(warning)}", file=sys.stderr)


def write_output(path: str | None, text: str | Iterable[str]) -> None:
    """Write `text` (whole, or in chunks written as they come) to the file `path`, or to
    stdout for None or `-`."""
    chunks = [text] if isinstance(text, str) else text
    if path is None or path == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    try:
        with Path(path).open("w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(chunk)
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def report_verdicts(args: argparse.Namespace, verdicts: Sequence[CallVerdict]) -> None:
    """The replay's diff and verdict; on stderr when stdout carries JSON lines."""
    if getattr(args, "format", "text") == "json":
        print(json.dumps(verdicts_json(verdicts), indent=2, default=str))
        return
    print_verdicts(Console(stderr=True) if args.jsonl else Console(), verdicts)
