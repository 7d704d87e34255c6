"""The pytest plugin: MCP recordings as test fixtures, recorded and replayed like VCR.py.

Installed with mcp-tap (the `pytest11` entry point), it adds:

* `mcp_server`: the URL of an MCP server backed by the test's recording,
  `recordings/<module>/<test>.yaml` beside the test file (or the path a
  `@pytest.mark.mcp_recording("path.yaml")` marker gives). Under `--mcp-record-mode`
  `none` (the default) a mock serves it (`mcp_tap.serve`); `once` records through the proxy
  to the real server when it is missing; `new_episodes` adds the requests it cannot answer;
  `all` records again; a recording is written only when its test passes (`settle.py`).
  After the test, a request the recording could not answer fails it, and the failure
  starts with which request and why (`miss_report.py`); recorded interactions nobody
  asked for are a warning (a failure with `--mcp-strict`).
  `@pytest.mark.mcp_faults("error tool=echo code=-32001")` and `mcp_server.inject(rule)`
  make the mock perform `--fault` rules (`faults.py`).
* `mcp_target`: the real server's URL to record from (`--mcp-target`, the `mcp_target` ini
  value); override it in a conftest.py to start the server for recording.
* `mcp_replay`: for server authors, replays a recording against their server and fails
  with the diff when it behaves differently (`replay_check.py`).

Every fixture is inert unless a test asks for it; nothing is imported before then.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mcp_tap.pytest_plugin.replay_check import ReplayCheck
    from mcp_tap.serve.run import ServeReport

RECORD_MODES = ("none", "once", "new_episodes", "all")
MARKER = "mcp_recording"
RECORDINGS_DIRECTORY = "recordings"


class MCPRecordingWarning(UserWarning):
    """Recorded interactions a test never asked for, a recording that captured nothing, or
    an `mcp_replay` ignore path that names no field."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mcp-tap", "MCP recordings (mcp-tap)")
    group.addoption(
        "--mcp-record-mode",
        choices=RECORD_MODES,
        default=None,
        help="none: replay recordings only (default); once: record the missing ones; "
        "new_episodes: also record requests a recording cannot answer; all: record again",
    )
    group.addoption(
        "--mcp-target",
        default=None,
        metavar="URL",
        help="the real MCP server to record from, e.g. http://127.0.0.1:8000/mcp",
    )
    group.addoption(
        "--mcp-strict",
        action="store_true",
        default=None,
        help="fail a test that left recorded interactions unused",
    )
    parser.addini("mcp_record_mode", "default --mcp-record-mode", default="none")
    parser.addini("mcp_target", "default --mcp-target", default="")
    parser.addini("mcp_strict", "default --mcp-strict", type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    from mcp_tap.pytest_plugin.faults import MARKER_HELP

    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line(
        "markers",
        f"{MARKER}(path=None, *, target=None, record_mode=None, strict=None, speed=None, "
        "match=(), repeat='last', redact_headers=(), redact_fields=(), match_on=(), "
        "before_record=None, before_playback=None): the recording the "
        "mcp_server and mcp_replay fixtures use, relative to the test file's directory",
    )


@dataclass
class RecordingSettings:
    """What a test's marker and the options say about its recording."""

    path: Path
    mode: str
    strict: bool
    target: str | None  # from the marker; the mcp_target fixture otherwise
    speed: float | None  # None: every recorded message at once
    match: Sequence[str] = ()
    repeat: str = "last"
    redact_headers: Sequence[str] = ()
    redact_fields: Sequence[str] = ()
    match_on: Sequence[Any] = ()  # callables (received, recorded) -> bool
    before_record: Any = None  # (interaction) -> interaction | None
    before_playback: Any = None


MARKER_KEYWORDS = frozenset(
    {
        "path",
        "target",
        "record_mode",
        "strict",
        "speed",
        "match",
        "repeat",
        "redact_headers",
        "redact_fields",
        "match_on",
        "before_record",
        "before_playback",
    }
)


def default_recording_path(item: pytest.Item) -> Path:
    """`recordings/<module>/<test>.yaml` beside the test file; a class adds `Class.`."""
    module = item.path.stem
    name = item.nodeid.split("::", 1)[-1].replace("::", ".")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "test"
    return item.path.parent / RECORDINGS_DIRECTORY / module / f"{name}.yaml"


def recording_settings(item: pytest.Item) -> RecordingSettings:
    """Marker keywords, then the command line, then the ini file."""
    config = item.config
    marker = item.get_closest_marker(MARKER)
    args: tuple[Any, ...] = marker.args if marker is not None else ()
    kwargs: Mapping[str, Any] = marker.kwargs if marker is not None else {}
    unknown = set(kwargs) - MARKER_KEYWORDS
    if unknown or len(args) > 1:
        raise pytest.UsageError(
            f"@pytest.mark.{MARKER} takes one path and the keywords "
            f"{', '.join(sorted(MARKER_KEYWORDS - {'path'}))}; got {args!r} {sorted(unknown)}"
        )
    given = args[0] if args else kwargs.get("path")
    path = item.path.parent / given if given else default_recording_path(item)
    mode = config.getoption("mcp_record_mode") or kwargs.get("record_mode")
    mode = mode or config.getini("mcp_record_mode") or "none"
    if mode not in RECORD_MODES:
        raise pytest.UsageError(
            f"MCP record mode {mode!r}: choose one of {', '.join(RECORD_MODES)}"
        )
    strict = config.getoption("mcp_strict")
    if strict is None:
        strict = kwargs.get("strict")
    if strict is None:
        strict = bool(config.getini("mcp_strict"))
    speed = kwargs.get("speed")
    if speed is not None and speed <= 0:
        raise pytest.UsageError(f"@pytest.mark.{MARKER}(speed={speed!r}) must be above 0")
    return RecordingSettings(
        path=Path(path),
        mode=mode,
        strict=bool(strict),
        target=kwargs.get("target"),
        speed=speed,
        match=tuple(kwargs.get("match", ())),
        repeat=kwargs.get("repeat", "last"),
        redact_headers=tuple(kwargs.get("redact_headers", ())),
        redact_fields=tuple(kwargs.get("redact_fields", ())),
        match_on=kwargs.get("match_on", ()),
        before_record=kwargs.get("before_record"),
        before_playback=kwargs.get("before_playback"),
    )


@dataclass
class MCPRecordingServer:
    """What `mcp_server` gives a test: where to point its client, and what serves it."""

    url: str
    path: Path  # the recording
    mode: str  # the record mode in force
    recording: bool  # True: this run talks to the real server and records
    report: ServeReport | None = None  # the mock's misses and unused interactions, when replaying
    strict: bool = False
    notes: list[str] = field(default_factory=list)
    injector: Callable[[Sequence[str]], None] | None = None  # None: recording, no faults

    def __str__(self) -> str:
        return self.url

    def inject(self, *rules: str) -> None:
        """Make the mock perform these `--fault` rules from now on (the README's fault
        table), e.g. `inject("status 429 retry-after=1 times=1")`."""
        if self.injector is None:
            from mcp_tap.pytest_plugin.faults import not_when_recording

            not_when_recording(rules)
        else:
            self.injector(rules)

    def verdict(self) -> tuple[list[str], list[str]]:
        """(why the test fails, what it is warned of) once it has run: requests the
        recording could not answer fail it; recorded interactions it left unused are a
        warning, or a failure when strict."""
        if self.report is None:
            return [], []
        failures = [miss.message for miss in self.report.misses]
        unused = [f"unused recorded interaction: {i.label}" for i in self.report.unused]
        return (failures + unused, []) if self.strict else (failures, unused)


SERVED = pytest.StashKey[MCPRecordingServer]()
PASSED = pytest.StashKey[bool]()  # the test's body ran to its end: its recording may be kept
RAISED = pytest.StashKey[bool]()  # the test's body raised while the mock served it


@pytest.fixture
def mcp_target(request: pytest.FixtureRequest) -> str | None:
    """The real MCP server to record from: `--mcp-target`, else the `mcp_target` ini value.

    Asked for only when a test records. Override it to start the real server yourself.
    """
    target = request.config.getoption("mcp_target") or request.config.getini("mcp_target")
    return str(target) if target else None


def _target(request: pytest.FixtureRequest, settings: RecordingSettings) -> str:
    target = settings.target or request.getfixturevalue("mcp_target")
    if not target:
        pytest.fail(
            f"mcp-tap: record mode {settings.mode!r} needs the real MCP server to record "
            f"{settings.path} from: pass --mcp-target URL, set mcp_target in the ini file, give "
            f"@pytest.mark.{MARKER}(target=URL) or override the mcp_target fixture",
            pytrace=False,
        )
    from mcp_tap.pytest_plugin.recorder import TargetUnreachable, check_reachable

    problem = None
    try:
        check_reachable(str(target))
    except TargetUnreachable as error:
        problem = str(error)
    if problem is not None:  # failed outside the except block: no chained traceback
        pytest.fail(f"mcp-tap: cannot record {settings.path}: {problem}", pytrace=False)
    return str(target)


@pytest.fixture
def mcp_server(request: pytest.FixtureRequest) -> Iterator[MCPRecordingServer]:
    """An MCP server URL backed by this test's recording; see the module's docstring."""
    settings = recording_settings(request.node)
    exists = settings.path.is_file()
    if settings.mode == "none" and not exists:
        pytest.fail(
            f"mcp-tap: no recording at {settings.path} (record mode 'none' only replays); "
            "record it once against the real server with "
            "`pytest --mcp-record-mode=once --mcp-target URL`",
            pytrace=False,
        )
    if settings.mode == "all" or (settings.mode in ("once", "new_episodes") and not exists):
        yield from _record(request, settings, merge=False)
    elif settings.mode == "new_episodes":
        yield from _record(request, settings, merge=True)
    else:
        yield from _serve(request, settings)


def _serve(
    request: pytest.FixtureRequest, settings: RecordingSettings
) -> Generator[MCPRecordingServer, None, None]:
    from mcp_tap.pytest_plugin.background import BackgroundContext
    from mcp_tap.pytest_plugin.faults import injector, marker_faults
    from mcp_tap.recording.reader import RecordingError
    from mcp_tap.serve.run import serving_recording

    faults, seed = marker_faults(request.node)

    def serve() -> Any:
        return serving_recording(
            settings.path,
            fast=settings.speed is None,
            speed=settings.speed or 1.0,
            match=settings.match,
            repeat=settings.repeat,
            faults=faults,
            seed=seed,
            match_on=settings.match_on,
            before_playback=settings.before_playback,
        )

    background = BackgroundContext(serve, name="mcp-tap-serve")
    problem = None
    try:
        mock = background.__enter__()
    except (RecordingError, ValueError, TypeError) as error:
        problem = str(error)
    if problem is not None:
        pytest.fail(f"mcp-tap: cannot serve {settings.path}: {problem}", pytrace=False)
    served = MCPRecordingServer(
        mock.url, settings.path, settings.mode, False, mock.report, settings.strict, mock.notes,
        injector(background, mock, seed),
    )  # fmt: skip
    request.node.stash[SERVED] = served
    try:
        yield served
    finally:
        background.__exit__(None, None, None)


def _record(
    request: pytest.FixtureRequest, settings: RecordingSettings, merge: bool
) -> Generator[MCPRecordingServer, None, None]:
    from mcp_tap.pytest_plugin.background import BackgroundContext
    from mcp_tap.pytest_plugin.faults import marker_faults, not_when_recording
    from mcp_tap.pytest_plugin.recorder import (
        open_recording,
        part_path,
        recording_proxy,
        redaction,
    )
    from mcp_tap.pytest_plugin.settle import settle_recording
    from mcp_tap.serve.matching import MatchRules

    not_when_recording(marker_faults(request.node)[0])
    target = _target(request, settings)
    rules = redaction(settings.redact_headers, settings.redact_fields)
    match_rules = MatchRules.from_options(settings.match, settings.repeat)  # checked first
    partial = part_path(settings.path)
    writer = open_recording(partial, target, rules)
    if isinstance(writer, str):  # failed here, not in the except block: no chained traceback
        pytest.fail(f"mcp-tap: cannot record {settings.path}: {writer}", pytrace=False)
    background = BackgroundContext(lambda: recording_proxy(target, writer), name="mcp-tap-record")
    try:
        session = background.__enter__()
    except BaseException:
        writer.close()  # the proxy never started: nothing will close it
        partial.unlink(missing_ok=True)
        raise
    served = MCPRecordingServer(session.url, settings.path, settings.mode, True)
    request.node.stash[SERVED] = served
    try:
        yield served
    finally:
        background.__exit__(None, None, None)
    passed = request.node.stash.get(PASSED, False)
    if passed and settings.before_record is not None:
        from mcp_tap.pytest_plugin.shaping import shape_recording

        problem = shape_recording(session.path, settings.before_record)
        if problem is not None:
            session.path.unlink(missing_ok=True)
            pytest.fail(f"mcp-tap: cannot record {settings.path}: {problem}", pytrace=False)
    settled = settle_recording(
        session, settings.path, passed=passed, merge=merge, rules=match_rules
    )
    if settled.error is not None:
        pytest.fail(f"mcp-tap: {settled.error}", pytrace=False)
    if settled.warning is not None:
        warnings.warn(MCPRecordingWarning(f"mcp-tap: {settled.warning}"), stacklevel=1)
    if settled.note is not None:
        note = settled.note if merge else f"{settled.note} from {target}"
        request.node.add_report_section("teardown", "mcp-tap", note)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """After the test: fail it for requests its recording could not answer."""
    try:
        result = yield
    except BaseException:
        served = item.stash.get(SERVED, None)
        if served is not None:
            item.stash[RAISED] = True  # its report leads with the misses (makereport)
            _, unused = served.verdict()
            lines = [*unused, *served.notes]
            if lines:
                item.add_report_section("call", "mcp-tap", "\n".join(lines))
        raise
    served = item.stash.get(SERVED, None)
    if served is None:
        return result
    failures, unused = served.verdict()
    for line in unused:
        warnings.warn(MCPRecordingWarning(f"mcp-tap: {served.path}: {line}"), stacklevel=1)
    if failures and served.report is not None:
        from mcp_tap.pytest_plugin.miss_report import failure_lines

        lines = failure_lines(served.path, served.report, served.strict)
        pytest.fail("\n".join(lines), pytrace=False)
    item.stash[PASSED] = True
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test that raised after a miss: its report starts with mcp-tap's explanation."""
    report = yield
    served = item.stash.get(SERVED, None)
    if call.when != "call" or not report.failed or not item.stash.get(RAISED, False):
        return report
    if served is None or served.report is None or not served.report.misses:
        return report
    from mcp_tap.pytest_plugin.miss_report import failure_lines, lead_with_misses

    lines = failure_lines(served.path, served.report, served.strict)
    path, line, _ = item.reportinfo()
    lead_with_misses(report, lines, served.report.misses, Path(path), (line or 0) + 1)
    return report


@pytest.fixture
def mcp_replay(request: pytest.FixtureRequest) -> ReplayCheck:
    """Replay a recording against your server and fail with the diff if it changed."""
    from mcp_tap.pytest_plugin.replay_check import ReplayCheck

    settings = recording_settings(request.node)
    return ReplayCheck(settings.path, request.node.path.parent)
