"""`mcp-tap replay FILE.yaml`: re-send a recording, compare what comes back, give a verdict."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mcp_tap.analysis.calls import client_call_numbers
from mcp_tap.http.limits import DEFAULT_IDLE_TIMEOUT
from mcp_tap.http.upstream import UpstreamPool
from mcp_tap.protocol.events import (
    Direction,
    ExchangeOpened,
    Headers,
    MessageKind,
    MessageSeen,
    TapEvent,
)
from mcp_tap.replay.compare import CallVerdict, Judge
from mcp_tap.replay.plan import PlanReader, build_plan
from mcp_tap.replay.replayer import REDACTED_PREFIX, Replayer, ReplayError, refill_secrets
from mcp_tap.replay.stdio_replayer import StdioReplayer, running_command
from mcp_tap.replay.stdio_session import is_stdio_session, stdio_as_http
from mcp_tap.replay.verdicts import DEFAULT_MAX_DIFFS, Verdicts, summary
from mcp_tap.stdio.child import describe_end
from mcp_tap.tap.bus import TapBus

EXIT_MATCH, EXIT_DIVERGED = 0, 1
DEMO_PATH = "/mcp"  # where the bundled demo server speaks streamable HTTP


@dataclass
class ReplayOptions:
    """What `mcp-tap replay` was asked to do."""

    target: str | None = None  # None: a fresh bundled demo server (unless `command`)
    command: Sequence[str] | None = None  # a stdio server's argv, started for the replay
    speed: float | None = 1.0  # None: --fast
    ignore: Sequence[str] = ()
    headers: dict[str, str] = field(default_factory=dict)
    progress_tolerance: int = 0
    timeout: float = 30.0
    junit: Path | None = None
    max_diffs: int | None = DEFAULT_MAX_DIFFS  # None: keep every verdict


@contextlib.asynccontextmanager
async def target_origin(target: str | None) -> AsyncIterator[str]:
    """The origin to replay against: the given target's, or a demo server's started for it."""
    if target is None:
        from demo_server.runner import running_demo_server

        async with running_demo_server() as base_url:
            yield base_url
        return
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReplayError(f"--target must be an http(s) URL, got {target!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(5):
            _, writer = await asyncio.open_connection(parts.hostname, port)
        writer.close()
    except (OSError, TimeoutError) as error:
        raise ReplayError(f"cannot reach the target {target}: {error or 'timed out'}") from None
    yield f"{parts.scheme}://{parts.netloc}"


def survey(events: Iterable[TapEvent]) -> tuple[int, list[Headers]]:
    """One pass before anything is sent: how many requests the client made, and the header
    lists that hold a redacted value (whose secrets must be given first)."""
    requests = 0
    redacted: dict[Headers, None] = {}
    for event in events:
        if isinstance(event, ExchangeOpened):
            if any(value.startswith(REDACTED_PREFIX) for _, value in event.headers):
                redacted.setdefault(event.headers)
        elif (
            isinstance(event, MessageSeen)
            and event.direction is Direction.CLIENT_TO_SERVER
            and event.message.kind is MessageKind.REQUEST
        ):
            requests += 1
    return requests, list(redacted)


async def replay(
    events: Iterable[TapEvent],
    options: ReplayOptions,
    bus: TapBus,
    on_started: Callable[[], None] | None = None,
    is_stdio: bool | None = None,
) -> tuple[Verdicts, float]:
    """Replay `events` and compare; returns the verdicts and the seconds it took.

    `events` may be a recording file, read as it streams: once to count what it asks of the
    replay, then as the replay goes (and once more to find out whether it is a stdio session
    when `is_stdio` is None: a header that says so saves that pass). A stdio session is held
    whole. The verdicts keep the first `options.max_diffs` divergent requests (None: every
    verdict) and count the rest. `on_started` is called once the target is reached, before
    the first request: a start-up error (nothing to replay, a missing secret, an
    unreachable target) comes before it.
    """
    numbers: list[int] = []
    if is_stdio if is_stdio is not None else is_stdio_session(events):
        # the same messages, cut into the exchanges HTTP needs; each call keeps the number
        # it has in the recording, where the server's requests count too
        recorded = list(events)
        numbers = client_call_numbers(recorded)
        path = urlsplit(options.target).path if options.target else ""
        events = stdio_as_http(recorded, path or DEMO_PATH)
    plan = PlanReader(events, numbers)
    requests, redacted = survey(plan.events)
    if not requests:
        raise ReplayError("nothing to replay: the recording holds no request")
    verdicts = Verdicts(options.max_diffs)
    judge = Judge(verdicts.add, options.ignore, options.progress_tolerance, options.timeout)
    started = time.monotonic()
    if options.command is not None:
        whole = build_plan(events, numbers)
        async with running_command(options.command) as process:
            if on_started is not None:
                on_started()
            stdio = StdioReplayer(
                whole, process, options.command, bus, options.speed, options.timeout
            )
            await stdio.run()
        if stdio.ended_first and not stdio.answered_any:
            end = describe_end(stdio.returncode) if stdio.returncode is not None else "ended"
            raise ReplayError(f"{stdio.program} {end} before answering anything")
        await asyncio.sleep(0)  # let the bus deliver the last events
        bus.drain()
        for place, call in enumerate(whole.calls):
            judge.judge(place, call, stdio.replayed_call(call))
    else:
        secrets = refill_secrets(redacted, options.headers)  # before sending anything
        async with target_origin(options.target) as origin:
            if on_started is not None:
                on_started()
            upstream = UpstreamPool(origin, idle_timeout=DEFAULT_IDLE_TIMEOUT)
            try:
                replayer = Replayer(
                    plan, upstream, bus, options.speed, options.timeout, secrets, judge
                )
                await replayer.run()
            finally:
                await upstream.aclose()
        await asyncio.sleep(0)  # let the bus deliver the last events
        bus.drain()
        replayer.finish()
    return verdicts, time.monotonic() - started


def exit_code(verdicts: Sequence[CallVerdict]) -> int:
    return EXIT_MATCH if summary(verdicts).ok else EXIT_DIVERGED
