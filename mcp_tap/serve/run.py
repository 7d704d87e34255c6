"""Start a mock from recordings, and say at the end what it could not answer.

`serving_recording` is the one-line way in, for tests and the pytest plugin:

    async with serving_recording("recordings/download_file-handshake.yaml") as mock:
        async with Client(mock.url) as client: ...
    assert not mock.report.misses

`running_mock` is the same for callers that bring their own bus (the CLI, with its view and
recorder); `ServeReport` holds the misses and the recorded interactions nobody asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mcp_tap.faults import FaultPlan, Rule
from mcp_tap.faults.plan import plan_of
from mcp_tap.http.front import serving_requests
from mcp_tap.http.guard import HostGuard
from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.protocol.events import TapEvent
from mcp_tap.recording.reader import RecordingError, load_recording
from mcp_tap.serve.asks import DEFAULT_ASK_TIMEOUT
from mcp_tap.serve.interactions import Interaction, RecordedServer, recorded_server
from mcp_tap.serve.matching import Matcher, MatchRules, Miss
from mcp_tap.serve.server import MockServer
from mcp_tap.serve.shaping import InteractionHook, MatchOn, apply_before_playback, check_match_on
from mcp_tap.serve.spy import DEFAULT_UPSTREAM_TIMEOUT, Spy, Upstream
from mcp_tap.serve.spy_http import HttpUpstream
from mcp_tap.serve.spy_stdio import StdioUpstream
from mcp_tap.serve.stdio import serve_stdio
from mcp_tap.stdio.relay import DEFAULT_GRACE, DEFAULT_TERM_GRACE
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.stdio import StdioTap

DEFAULT_PATH = "/mcp"


@dataclass
class LoadedRecordings:
    """The recordings a mock serves, and what a person should hear about them at start."""

    server: RecordedServer
    path: str = DEFAULT_PATH  # where the recorded server was reached
    warnings: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        notes = []
        if self.server.redacted_values:
            notes.append(
                f"{self.server.redacted_values} recorded values were redacted: they are served "
                "as their <redacted:...> placeholders"
            )
        return notes


def load_recordings(
    paths: Sequence[str | Path], before_playback: InteractionHook | None = None
) -> LoadedRecordings:
    """Load every recording; RecordingError (one line) when one cannot be served.

    `before_playback` edits or drops each interaction before it is served (`shaping`)."""
    if not paths:
        raise RecordingError("no recording given")
    loaded: list[tuple[str, list[TapEvent]]] = []
    warnings: list[str] = []
    path = DEFAULT_PATH
    for index, item in enumerate(paths):
        recording = load_recording(item)
        warnings.extend(recording.warnings)
        loaded.append((Path(item).name, recording.events))
        target = recording.header.get("target")
        if index == 0 and isinstance(target, str) and target.startswith("http"):
            # /sse too: the mock answers the 2024-11-05 GET stream there (and POSTs anywhere)
            path = urlsplit(target).path or path
    server = recorded_server(loaded)
    apply_before_playback(server, before_playback)
    if not any(i.response is not None for i in server.interactions):
        names = ", ".join(str(p) for p in paths)
        raise RecordingError(f"{names}: no answered request to serve")
    return LoadedRecordings(server, path, warnings)


def make_spy(
    loaded: LoadedRecordings,
    paths: Sequence[str | Path],
    upstream: str | None,
    record_misses: bool,
    before_record: InteractionHook | None,
    timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
    command: Sequence[str] | None = None,
    stop_grace: tuple[float, float] = (DEFAULT_GRACE, DEFAULT_TERM_GRACE),
) -> Spy | None:
    """Spy mode's forwarder, or None without an upstream; ValueError for bad options.

    `upstream` is a real server's URL, `command` a stdio server's argv (one of them), stopped
    with `stop_grace`: seconds from closing its stdin to SIGTERM, then to SIGKILL."""
    if upstream is not None and command is not None:
        raise ValueError("--upstream and --command both name the real server: give one")
    if upstream is None and command is None:
        if record_misses:
            raise ValueError(
                "--record-misses needs --upstream or --command: the misses come from the server"
            )
        return None
    if not timeout > 0:  # NaN too
        raise ValueError("--upstream-timeout must be above 0")
    if not all(grace >= 0 for grace in stop_grace):
        raise ValueError("--grace and --term-grace must not be negative")
    recorded = loaded.server.first("initialize")
    initialize = dict(recorded.request) if recorded is not None else None
    real: Upstream = (
        HttpUpstream(upstream, initialize, timeout)
        if upstream is not None
        else StdioUpstream(command or (), initialize, *stop_grace)
    )
    learn_to = Path(paths[0]) if record_misses else None
    return Spy(real, loaded.server, learn_to, before_record, timeout)


@dataclass
class ServeReport:
    """What the mock could not answer, and what of the recordings it never used."""

    matcher: Matcher
    mock: MockServer | None = None

    @property
    def forwarded(self) -> list[str]:
        """The methods of the requests spy mode answered from the real server, in order."""
        spy = self.mock.spy if self.mock is not None else None
        return list(spy.forwarded) if spy is not None else []

    @property
    def learnt(self) -> int:
        """Forwarded calls appended to the recording (--record-misses)."""
        spy = self.mock.spy if self.mock is not None else None
        return spy.learnt if spy is not None else 0

    @property
    def misses(self) -> list[Miss]:
        return list(self.matcher.misses)

    @property
    def unused(self) -> list[Interaction]:
        return self.matcher.unused()

    @property
    def served(self) -> int:
        """Requests answered, misses included."""
        return self.mock.served if self.mock is not None else 0

    @property
    def clean(self) -> bool:
        return not self.misses and not self.unused

    def summary(self) -> list[str]:
        """Lines for a person: every miss, every unused interaction."""
        lines = [
            f"mcp-tap serve: {self.served} requests, {len(self.misses)} missed, "
            f"{len(self.unused)} recorded interactions unused"
        ]
        if self.forwarded:
            lines.append(
                f"  forwarded to the upstream: {len(self.forwarded)} requests, "
                f"{self.learnt} appended to the recording"
            )
        lines.extend(f"  miss: {miss.message}" for miss in self.misses)
        lines.extend(f"  unused: {interaction.label}" for interaction in self.unused)
        return lines


@dataclass
class RunningMock:
    """A mock being served: where to point a client, and its report so far."""

    url: str  # the MCP endpoint, e.g. http://127.0.0.1:8000/mcp
    base_url: str
    report: ServeReport
    notes: list[str]


@contextlib.asynccontextmanager
async def running_mock(
    loaded: LoadedRecordings,
    bus: TapBus,
    *,
    rules: MatchRules | None = None,
    speed: float | None = 1.0,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_hosts: Sequence[str] = (),
    limits: Limits = DEFAULT_LIMITS,
    ask_timeout: float = DEFAULT_ASK_TIMEOUT,
    strict: bool = False,
    faults: FaultPlan | None = None,
    match_on: Sequence[MatchOn] = (),
    spy: Spy | None = None,
) -> AsyncIterator[RunningMock]:
    """Serve `loaded` on host:port (0: a free one) until the block ends.

    `ask_timeout` bounds the wait for a client's answer to a re-enacted request; `strict`
    makes a different answer a miss; `faults`: the `--fault` rules the mock performs;
    `match_on` callables replace the params comparison."""
    if speed is not None and speed <= 0:
        raise ValueError("--speed must be above 0")
    matcher = Matcher(loaded.server.interactions, rules, check_match_on(match_on))
    guard = HostGuard(host, allow_hosts)
    mock = MockServer(
        loaded.server,
        matcher,
        bus,
        speed,
        guard,
        limits,
        ask_timeout=ask_timeout,
        strict=strict,
        faults=faults,
        spy=spy,
    )
    report = ServeReport(matcher, mock)
    try:
        async with serving_requests(mock, host, port, limits) as base_url:
            yield RunningMock(base_url + loaded.path, base_url, report, loaded.notes)
    finally:
        await mock.aclose()


async def run_stdio_mock(
    loaded: LoadedRecordings,
    bus: TapBus,
    *,
    rules: MatchRules | None = None,
    speed: float | None = 1.0,
    stop: asyncio.Event | None = None,
    ask_timeout: float = DEFAULT_ASK_TIMEOUT,
    strict: bool = False,
    faults: FaultPlan | None = None,
    spy: Spy | None = None,
) -> ServeReport:
    """Serve `loaded` on this process's stdin and stdout until the host closes stdin."""
    if speed is not None and speed <= 0:
        raise ValueError("--speed must be above 0")
    matcher = Matcher(loaded.server.interactions, rules)
    mock = MockServer(
        loaded.server, matcher, bus, speed, ask_timeout=ask_timeout, strict=strict, spy=spy
    )
    try:
        await serve_stdio(mock, StdioTap(bus, "mcp-tap serve --stdio"), stop, faults)
    finally:
        await mock.aclose()
    return ServeReport(matcher, mock)


@contextlib.asynccontextmanager
async def serving_recording(
    *paths: str | Path,
    fast: bool = False,
    speed: float = 1.0,
    match: Sequence[str] = (),
    repeat: str = "last",
    bus: TapBus | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    ask_timeout: float = DEFAULT_ASK_TIMEOUT,
    strict: bool = False,
    faults: FaultPlan | Sequence[str | Rule] | None = None,
    seed: int | None = None,
    match_on: Sequence[MatchOn] = (),
    before_playback: InteractionHook | None = None,
    upstream: str | None = None,
    record_misses: bool = False,
    before_record: InteractionHook | None = None,
    upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
    command: Sequence[str] | None = None,
) -> AsyncIterator[RunningMock]:
    """Serve recordings on a free loopback port; yield the URL and the report.

    `fast` sends every recorded message at once; `speed` scales the recorded gaps otherwise.
    `match` and `repeat` are the CLI's `--match` and `--repeat`; `faults` its `--fault`
    rules (text such as `"error tool=echo code=-32001"`, or parsed) and `seed` its `--seed`;
    `ask_timeout` and `strict` its `--ask-timeout` and `--strict` for re-enacted requests.
    A bad rule raises `mcp_tap.faults.RuleError`. `match_on` is a list of callables
    `(received, recorded) -> bool` that decide, in place of the params comparison, whether a
    recorded request answers a received one; `before_playback(interaction)` edits an
    interaction before it is served, or drops it by returning None (`shaping`). `upstream`
    (an MCP URL) is spy mode: misses go to the real server, or to the stdio server `command`
    (an argv list) runs, started at the first miss and stopped with the mock; `record_misses`
    appends each to the first recording, after `before_record` (`spy`).
    """
    plan = plan_of(faults, seed, "serve")
    loaded = load_recordings(paths, before_playback)
    spy = make_spy(loaded, paths, upstream, record_misses, before_record, upstream_timeout, command)
    rules = MatchRules.from_options(match, repeat)
    own_bus = bus is None
    tap_bus = bus if bus is not None else TapBus()
    try:
        async with running_mock(
            loaded,
            tap_bus,
            rules=rules,
            speed=None if fast else speed,
            host=host,
            port=port,
            ask_timeout=ask_timeout,
            strict=strict,
            faults=plan,
            match_on=match_on,
            spy=spy,
        ) as mock:
            yield mock
    finally:
        if own_bus:
            tap_bus.close()
