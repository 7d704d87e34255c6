"""Re-send the client side of a recording to a stdio server: a command the replayer starts.

The replayer is the host. It writes each recorded client message to the server's stdin as
one line, once the responses that preceded it in the recording have come back, reads the
server's stdout, and feeds both directions through `StdioTap`, so the tracker, the view and
the recorder see this replay as they see `mcp-tap stdio`. At the end it closes the server's
stdin and waits for it to exit, as a host does (then SIGTERM, then SIGKILL); only a server
that needs the SIGKILL, or exits with a status of its own, is a fault.

A recorded call's counterpart is found by position: the lines go out in the recorded order
on one stream, so the n-th request written is the n-th request the tap sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial

from mcp_tap.analysis.calls import Call, CallBook
from mcp_tap.protocol.events import Fault, TapEvent
from mcp_tap.replay.plan import ReplayPlan, client_lines
from mcp_tap.replay.replayer import ReplayError
from mcp_tap.stdio.child import describe_end
from mcp_tap.stdio.command import program_name
from mcp_tap.stdio.relay import DEFAULT_GRACE, DEFAULT_TERM_GRACE
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.stdio import StdioTap

READ_SIZE = 1024 * 1024
DRAIN = 1.0  # seconds to wait for the server's stdout to close once it has exited


@contextlib.asynccontextmanager
async def running_command(argv: Sequence[str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start the server's command on pipes (our environment and working directory, stderr
    passed through); ReplayError when it cannot start. Whatever is left of it is killed
    on the way out."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            start_new_session=True,  # a Ctrl-C for the replay does not reach it twice
        )
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ReplayError(f"cannot start {argv[0]!r}: {reason}") from None
    try:
        yield process
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), DEFAULT_TERM_GRACE)


class StdioReplayer:
    """Drives one replay of a plan over a started server's stdin and stdout."""

    def __init__(
        self,
        plan: ReplayPlan,
        process: asyncio.subprocess.Process,
        command: Sequence[str],
        bus: TapBus,
        speed: float | None = 1.0,  # None: as fast as causality allows
        timeout: float = 30.0,
        grace: float = DEFAULT_GRACE,
        term_grace: float = DEFAULT_TERM_GRACE,
    ) -> None:
        self.plan = plan
        self.process = process
        self.program = program_name(command)
        self.bus = bus
        self.speed = speed
        self.timeout = timeout
        self.grace = grace
        self.term_grace = term_grace
        self.book = CallBook()
        self.tap = StdioTap(bus, self.program)
        self._position: dict[int, int] = {}  # id(recorded call) -> its request's position
        self._sent = 0  # requests written so far
        self._changed = asyncio.Event()
        self._server_gone = False
        self.answered_any = False  # the server wrote something to stdout
        self.ended_first = False  # the server exited before the replay closed its stdin
        bus.subscribe(self)

    # -- the replayer watches its own tap events for responses --
    def handle(self, event: TapEvent) -> None:
        self.book.handle(event)
        self._changed.set()

    def close(self) -> None:
        pass

    def replayed_call(self, recorded: Call) -> Call | None:
        """The replay's counterpart of a recorded call, if it was sent."""
        position = self._position.get(id(recorded))
        if position is None or position >= len(self.book.calls):
            return None
        return self.book.calls[position]

    def _answered(self, recorded: Call) -> bool:
        call = self.replayed_call(recorded)
        return call is not None and call.response is not None

    async def _until(self, ready: Callable[[], bool], what: str) -> bool:
        """Wait until `ready()`, the server's end or the timeout; False unless ready."""
        try:
            async with asyncio.timeout(self.timeout):
                while not ready():
                    if self._server_gone:
                        return False
                    self._changed.clear()
                    await self._changed.wait()
            return True
        except TimeoutError:
            self.bus.publish(
                Fault(self.bus.now(), self.tap.exchange_id, "replay-timeout", f"gave up {what}")
            )
            return False

    async def run(self) -> None:
        """Send every line, wait for the answers, end the server as a host would."""
        loop = asyncio.get_running_loop()
        self.tap.opened()
        reader = asyncio.create_task(self._read())
        exited = asyncio.create_task(self._watch_exit())
        started = loop.time()
        stdin = self.process.stdin
        assert stdin is not None
        try:
            for line in client_lines(self.plan):
                for call in line.waits_for:
                    await self._until(partial(self._answered, call), f"waiting for {call.label}")
                if self._server_gone:
                    break
                if self.speed is not None:
                    due = started + (line.time - self.plan.start) / self.speed
                    await asyncio.sleep(max(0.0, due - loop.time()))
                for call in line.requests:
                    self._position[id(call)] = self._sent
                    self._sent += 1
                data = line.body + b"\n"
                stdin.write(data)
                self.tap.client_chunk(data)
                with contextlib.suppress(ConnectionError):
                    await stdin.drain()
            for call in self.plan.calls:  # the last answers, for calls the recording answered
                if call.response is not None and id(call) in self._position:
                    await self._until(partial(self._answered, call), f"waiting for {call.label}")
        finally:
            await self._end(reader, exited)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while chunk := await stdout.read(READ_SIZE):
            self.answered_any = True
            self.tap.server_chunk(chunk)

    async def _watch_exit(self) -> None:
        await self.process.wait()
        self._server_gone = True
        self._changed.set()

    async def _end(self, reader: asyncio.Task[None], exited: asyncio.Task[None]) -> None:
        """Close the server's stdin; SIGTERM after `grace`, SIGKILL after `term_grace`."""
        stdin = self.process.stdin
        assert stdin is not None
        host_closed = not self._server_gone
        self.ended_first = not host_closed
        stdin.close()
        self.tap.client_closed()
        sent: set[int] = set()
        for sig, wait in ((signal.SIGTERM, self.grace), (signal.SIGKILL, self.term_grace)):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), wait)
                break
            # Ending the server it started is the replay's job, as it is a host's: SIGTERM is
            # no fault. A server that ignores it and must be killed is worth a line.
            if sig is signal.SIGKILL:
                self.tap.fault("server-killed", f"{self.program} ignored SIGTERM: sent SIGKILL")
            sent.add(sig)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), self.term_grace)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), DRAIN)
        reader.cancel()
        exited.cancel()
        returncode = self.process.returncode
        if returncode is not None and returncode != 0 and -returncode not in sent:
            self.tap.fault("server-exit", f"{self.program} {describe_end(returncode)}")
        self.tap.closed("host-closed" if host_closed else "server-exited")
