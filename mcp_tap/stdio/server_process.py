"""A stdio server that mcp-tap itself talks to: started, written lines, read lines, stopped.

The relay (`relay.py`) stands between a host and a server; this is for when mcp-tap is the
host (spy mode's `serve --command`). The process is started as the relay starts its own
(`child.spawn`: a group of its own, killed with mcp-tap even by SIGKILL), its stderr is
mcp-tap's, and it is stopped as a host stops one: stdin closed, then SIGTERM after `grace`,
then SIGKILL after `term_grace`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Callable, Sequence

from mcp_tap.protocol.lines import DEFAULT_MAX_LINE, LineDecoder, LongLine
from mcp_tap.stdio.child import describe_end, signal_group, spawn, watch_exit
from mcp_tap.stdio.pipes import PipeReader, PipeWriter, connect_read, connect_write
from mcp_tap.stdio.relay import DEFAULT_GRACE, DEFAULT_TERM_GRACE


class ServerNotStarted(Exception):
    """The command could not start (one line: the program and why)."""


class ServerProcess:
    """One running stdio server: `write` a line to it, each line it writes goes to `on_line`."""

    def __init__(
        self,
        command: Sequence[str],
        on_line: Callable[[bytes], None],
        on_end: Callable[[str], None],
        max_line: int = DEFAULT_MAX_LINE,
    ) -> None:
        self.command = list(command)
        self.on_line = on_line
        self.on_end = on_end  # its stdout ended: why, in words
        self._lines = LineDecoder(max_line)
        self._process: subprocess.Popen[bytes] | None = None
        self._exited: asyncio.Future[int] | None = None
        self._in: PipeWriter | None = None
        self._out: PipeReader | None = None

    @property
    def program(self) -> str:
        return self.command[0]

    @property
    def running(self) -> bool:
        return self._exited is not None and not self._exited.done()

    async def start(self) -> None:
        """Start the command; ServerNotStarted when it cannot run."""
        loop = asyncio.get_running_loop()
        try:
            self._process, to_child, from_child = spawn(self.command)
        except (OSError, ValueError, subprocess.SubprocessError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise ServerNotStarted(f"cannot start {self.program!r}: {reason}") from None
        self._exited = loop.create_future()
        watch_exit(loop, self._process, self._exited)
        self._in = PipeWriter(lambda: None)
        await connect_write(loop, to_child, self._in)
        self._out = PipeReader(self._data, self._ended)
        await connect_read(loop, from_child, self._out)

    def write(self, line: bytes) -> None:
        """One message to the server (a newline is added)."""
        if self._in is not None:
            self._in.write(line + b"\n")

    async def stop(
        self, grace: float = DEFAULT_GRACE, term_grace: float = DEFAULT_TERM_GRACE
    ) -> None:
        """End it as a host does: stdin closed, then SIGTERM, then SIGKILL."""
        if self._in is not None:
            self._in.close()
        exited = self._exited
        if exited is not None:
            for wait, then in ((grace, signal.SIGTERM), (term_grace, signal.SIGKILL)):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(exited), wait)
                    break
                signal_group(self._process, then)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), term_grace)
        if self._out is not None and self._out.transport is not None:
            self._out.transport.close()

    def _data(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            if not isinstance(line, LongLine):
                self.on_line(line)

    def _ended(self) -> None:
        exited = self._exited
        if exited is not None and exited.done():
            self.on_end(f"{self.program} {describe_end(exited.result())}")
        else:
            self.on_end(f"{self.program} closed its stdout")
