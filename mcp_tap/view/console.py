"""The live console view: colored lines, one progress bar per active token, a summary.

`ConsoleView` is a tap subscriber whose `handle` only queues the event: rendering happens in
frames, at most `fps` per second, on a timer of the running event loop. A frame prints the
queued lines in one write and updates the bars, so a flood of notifications costs the
forwarding path an append per event, and the terminal a bounded amount of work per frame.

Output modes, chosen from the console: a terminal gets colors and live bars (rich); a pipe,
a file or `NO_COLOR` gets plain lines with no escape codes; `--jsonl` (`JsonLinesView`) gets
one JSON object per event. The summary is printed by `close()`.
"""

from __future__ import annotations

import fnmatch
import io
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.text import Text

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY
from mcp_tap.analysis.conformance import conformance_checkers
from mcp_tap.analysis.oauth import OAuthFlow
from mcp_tap.analysis.pins import Pins
from mcp_tap.analysis.progress_stats import ProgressStats, TrackedRequest, is_number
from mcp_tap.analysis.schema_checks import SchemaChecker
from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.analysis.wire_checks import WireChecker
from mcp_tap.protocol.events import (
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    FaultInjected,
    Finding,
    MessageSeen,
    ResponseStarted,
    Subscriber,
    TapEvent,
)
from mcp_tap.protocol.redaction import RedactionRules, Redactor
from mcp_tap.view.bars import ProgressBars
from mcp_tap.view.format import (
    Line,
    declined_stream,
    exchange_line,
    fault_line,
    finding_line,
    fit,
    http_line,
    injected_line,
    message_line,
    plain,
    stream_line,
)
from mcp_tap.view.frames import FramePacer
from mcp_tap.view.jsonl import JsonLinesView
from mcp_tap.view.layout import SESSION, Layout
from mcp_tap.view.output import ViewOutput
from mcp_tap.view.summary import Tally, summary
from mcp_tap.view.visible import json_block, json_text, visible, visible_block

DEFAULT_FPS = 12.0  # smooth enough for bars, cheap enough for a flood
PLAIN_WIDTH = 120  # tables in a pipe: no terminal to fit, so room for every column
MAX_MESSAGE_LINES_PER_FRAME = 40  # beyond this a live frame folds message lines into counts


@dataclass(frozen=True)
class ViewOptions:
    """What the user asked the view to show (`-v`, `-q`, `--filter`, `--clock`, ...)."""

    verbose: bool = False  # full messages as highlighted JSON, and HTTP exchange lines
    quiet: bool = False  # only progress (bars, or a stream's end line) and findings, faults
    filters: tuple[str, ...] = ()  # method globs: a message's, or its request's, must match
    fps: float = DEFAULT_FPS
    # lines show the local time of day (14:03:07.250) instead of seconds since the start
    clock: bool = False
    # the wall-clock time (seconds since 1970) of time 0, e.g. a recording's `started`; None:
    # taken from the first event as it arrives, which is right for a live proxy
    started_at: float | None = None
    # a line for each progress notification, as well as the bar (which is always drawn);
    # -q leaves them out anyway: a stream's bar and its end line show its progress
    progress_lines: bool = True
    # secrets are shown redacted, by the recording's rules (session ids are kept)
    redaction: RedactionRules = RedactionRules()
    # cells of the session column on a wide terminal; `show --follow DIR` names servers there
    session_width: int = SESSION


class ConsoleView:
    """Tap subscriber rendering the live view (see the module docstring)."""

    def __init__(
        self,
        tracker: ProgressTracker | None = None,
        options: ViewOptions | None = None,
        console: Console | None = None,
    ) -> None:
        self.tracker = tracker
        self.options = options or ViewOptions()
        self.console = console or Console()
        # NO_COLOR also means no bars: whoever set it wants quiet, plain text (no-color.org)
        console = self.console
        self.live = console.is_terminal and not console.no_color and not console.is_dumb_terminal
        self.ascii = not self.live
        # Plain text goes through a writer thread: a reader that stops must not stop us.
        # (A terminal gets rich's live display, which writes little: folded lines, bars.)
        self._output = None if self.live else ViewOutput(console.file)
        self.tally = Tally()
        self.redact = Redactor(self.options.redaction, sessions=False)
        self._queue: list[tuple[TapEvent, TrackedRequest | None]] = []
        self._pacer = FramePacer(self.render_frame, 1.0 / self.options.fps)
        self._exchanges: dict[int, ExchangeOpened] = {}
        self.bars = ProgressBars(self.console)
        # streams whose end line was printed (weak: the tracker forgets old streams)
        self._summarized: weakref.WeakSet[ProgressStats] = weakref.WeakSet()
        # the highest progress each stream reached, to tell progress that went down
        self.peaks: weakref.WeakKeyDictionary[ProgressStats, float] = weakref.WeakKeyDictionary()
        self._broken = False  # the output went away (a closed pipe): stop writing
        self._closed = False
        self._epoch = self.options.started_at  # for --clock: the wall-clock time of time 0
        self.layout = Layout()  # laid out again for every frame, at the width of the moment

    # --- subscriber -----------------------------------------------------------------------

    def handle(self, event: TapEvent) -> None:
        """Queue the event for the next frame; the only work done on the forwarding path."""
        tracker = self.tracker
        if self._epoch is None and self.options.clock:
            self._epoch = time.time() - event.time
        self._queue.append((event, tracker.match(event) if tracker is not None else None))
        if not self._pacer.pending:
            self._pacer.poke()

    def close(self) -> None:
        """Render what is queued, finish the bars and print the summary."""
        if self._closed:
            return
        self._closed = True
        self._pacer.cancel()
        self.render_frame(final=True)
        self.bars.stop()
        self.print_summary()
        if self._output is not None:
            self._output.close()

    # --- frames ---------------------------------------------------------------------------

    def render_frame(self, final: bool = False) -> None:
        """Print the queued lines in one write and bring the bars up to date."""
        batch, self._queue = self._queue, []
        self.layout = self._layout()
        out: list[RenderableType | str] = []
        folded: Counter[str] = Counter()
        ending = self._streams_ended_since_last_frame()
        for event, request in batch:
            self._render_event(self._shown(event), request, out, folded)
            for stats in ending.pop(id(event), ()):
                self._finish_stream(stats, out)  # the summary goes right below its cause
        for rest in ending.values():  # ended by events this view never queued
            for stats in rest:
                self._finish_stream(stats, out)
        if folded:
            counts = ", ".join(f"{n} {method}" for method, n in folded.most_common(4))
            more = sum(folded.values())
            out.append(self._text([(f"  … {more} more messages this frame ({counts})", "dim")]))
        if self.live and self.tracker is not None and not final:
            self.bars.show([s for s in self.tracker.active_streams() if self._stream_wanted(s)])
        self.bars.refresh()  # before printing, so the lines land above the fresh bars
        self._print(out)
        if self.bars and not final:
            self._pacer.poke()  # keep indeterminate bars pulsing while streams run

    def _shown(self, event: TapEvent) -> TapEvent:
        """The event redacted where the view reads it. No line shows headers, so a response
        head and an exchange's end (nothing else in them is secret) go as they are."""
        if isinstance(event, ResponseStarted | ExchangeClosed):
            return event
        return self.redact(event)

    def _layout(self) -> Layout:
        """Columns for this frame: a terminal's current width (None for a pipe or a file)."""
        width = self.console.width if self.console.is_terminal else None
        epoch = self._epoch if self.options.clock else None
        return Layout(width, epoch, self.options.session_width)

    def _streams_ended_since_last_frame(self) -> dict[int, list[ProgressStats]]:
        if self.tracker is None:
            return {}
        ended = self.tracker.ended
        ending: dict[int, list[ProgressStats]] = {}
        while ended:
            event, stats = ended.popleft()
            ending.setdefault(id(event), []).append(stats)
        return ending

    def _render_event(
        self,
        event: TapEvent,
        request: TrackedRequest | None,
        out: list[RenderableType | str],
        folded: Counter[str],
    ) -> None:
        if isinstance(event, MessageSeen):
            if request is not None and request.progress is not None:
                self._note_peak(event, request.progress)
            if self._wanted(event, request):
                self._message(event, request, out, folded)
        elif isinstance(event, Finding):
            self.tally.findings.append(event)
            out.append(self._text(finding_line(event, self.ascii, self.layout)))
        elif isinstance(event, Fault):
            self.tally.faults.append(event)
            out.append(self._text(fault_line(event, self.ascii, self.layout)))
        elif isinstance(event, FaultInjected):
            self.tally.injected.append(event)
            out.append(self._text(injected_line(event, self.ascii, self.layout)))
        elif isinstance(event, ExchangeOpened):
            self._exchanges[event.exchange_id] = event
            if self.options.verbose:
                out.append(self._text(exchange_line(event, self.ascii, self.layout)))
        elif isinstance(event, ResponseStarted):
            opened = self._exchanges.get(event.exchange_id)
            interesting = (
                event.status >= 400
                and not declined_stream(event, opened)  # a normal answer: -v shows it
                and not self.options.quiet
                and not self.options.filters
            )
            if interesting or self.options.verbose:
                out.append(self._text(http_line(event, opened, self.ascii, self.layout)))
        elif isinstance(event, ExchangeClosed):
            self._exchanges.pop(event.exchange_id, None)
            if self.options.verbose:
                out.append(self._text(exchange_line(event, self.ascii, self.layout)))

    def _message(
        self,
        event: MessageSeen,
        request: TrackedRequest | None,
        out: list[RenderableType | str],
        folded: Counter[str],
    ) -> None:
        is_progress = event.message.method == "notifications/progress"
        if is_progress and not self.options.progress_lines:
            return
        # quiet: progress is the bars, or each stream's one line when it ends (no bars)
        if self.options.quiet:
            return
        if self.live and len(out) >= MAX_MESSAGE_LINES_PER_FRAME:
            folded[event.message.method or event.message.kind.value] += 1
            return
        out.append(self._text(message_line(event, request, self.ascii, self.layout)))
        if self.options.verbose:
            out.append(self._json(event))

    def _wanted(self, event: MessageSeen, request: TrackedRequest | None) -> bool:
        globs = self.options.filters
        if not globs:
            return True
        methods = [m for m in (event.message.method, request.method if request else None) if m]
        return any(fnmatch.fnmatchcase(m, glob) for m in methods for glob in globs)

    # --- progress streams -----------------------------------------------------------------

    def _note_peak(self, event: MessageSeen, stats: ProgressStats) -> None:
        if event.message.method != "notifications/progress":
            return
        if stats.ended_at is not None and event.time > stats.ended_at:
            return  # late: the tracker did not count it either
        params = event.message.payload.get("params") if event.message.payload else None
        value = params.get("progress") if isinstance(params, dict) else None
        if is_number(value) and value > self.peaks.get(stats, float("-inf")):
            self.peaks[stats] = value

    def _stream_wanted(self, stats: ProgressStats) -> bool:
        globs = self.options.filters
        return not globs or any(fnmatch.fnmatchcase(stats.method, g) for g in globs)

    def _finish_stream(self, stats: ProgressStats, out: list[RenderableType | str]) -> None:
        self.bars.remove(stats)
        if stats in self._summarized or not self._stream_wanted(stats):
            return
        self._summarized.add(stats)
        out.append(self._text(stream_line(stats, self.ascii, self.layout, self.peaks.get(stats))))

    # --- output ---------------------------------------------------------------------------

    def _text(self, line: Line) -> RenderableType | str:
        # the wire's words, control characters shown, before the line is fitted to the width
        if not self.live:  # a terminal without colors still gets lines that fit it
            if self.layout.width is None:
                return visible(plain(line))  # one scan of the joined words: the same text
            return plain(fit([(visible(text), style) for text, style in line], self.layout.width))
        line = [(visible(text), style) for text, style in line]
        return Text.assemble(*fit(line, self.layout.width), no_wrap=True, overflow="ellipsis")

    def _json(self, event: MessageSeen) -> RenderableType | str:
        message = event.message
        if message.raw is not None:
            raw = visible_block(message.raw)
            return raw if not self.live else Text(raw)  # Text: never read as rich markup
        if not self.live:
            return json_block(message.payload)
        return json_text(message.payload)

    def _print(self, items: Sequence[RenderableType | str]) -> None:
        if not items or self._broken:
            return
        try:
            self._write(items)
        except BrokenPipeError:  # `mcp-tap proxy | head`: the reader left, the proxy goes on
            self._broken = True

    def _write(self, items: Sequence[RenderableType | str]) -> None:
        if self._output is None:
            self.console.print(Group(*items))  # one print: the live display redraws once
            return
        texts: list[str] = []
        for item in items:
            if isinstance(item, str):
                texts.append(item + "\n")
            else:  # the summary: rich tables, without color
                width = self.console.width if self.console.is_terminal else PLAIN_WIDTH
                text = io.StringIO()
                Console(file=text, color_system=None, width=width, highlight=False).print(item)
                texts.append(text.getvalue())
        self._output.write("".join(texts))

    def print_summary(self) -> None:
        """Print the end-of-run tables."""
        self._print([self.summary()])

    def summary(self) -> RenderableType:
        """The end-of-run tables."""
        tracker = self.tracker
        if tracker is None:
            return summary(Counter(), Counter(), {}, Counter(), [], 0, self.tally)
        open_requests = Counter(r.method for r in tracker.unanswered())
        return summary(
            tracker.requests,
            tracker.errors,
            tracker.latencies,
            open_requests,
            tracker.streams,
            tracker.stream_count,
            self.tally,
            self.peaks,
            tracker.tool_errors,
        )


def build_view(
    publish: Callable[[TapEvent], None],
    options: ViewOptions | None = None,
    *,
    jsonl: TextIO | None = None,
    console: Console | None = None,
    summary_console: Console | None = None,
    emit_findings: bool = True,
    judge: bool = True,
    judge_memory: int = DEFAULT_JUDGE_MEMORY,
    pins: Pins | None = None,
) -> list[Subscriber]:
    """The checkers and the view for a command, in bus order (the checkers first).

    `jsonl`: write JSON lines there instead of the console view (the summary then goes to
    `summary_console`, e.g. stderr, so the JSON stream stays clean). `emit_findings=False`
    when the events come from a recording that already holds its findings. `judge=False`
    (`--no-check`) leaves out the schema, tool, lifecycle, id and 2026-07-28 checkers, and
    `judge_memory` (`--judge-memory`) bounds what they remember. `pins`:
    the definitions the server is held to (`--pins`).
    """
    tracker = ProgressTracker(
        publish, emit_findings=emit_findings, keep_endings=True, keep_matches=jsonl is None
    )  # only the console view asks it what each event answered
    checkers: list[Subscriber] = [tracker]
    if emit_findings:
        checkers.append(WireChecker(publish))
        checkers.append(OAuthFlow(publish))
    if emit_findings and judge:
        checkers.append(SchemaChecker(publish, judge_memory))
        checkers.extend(conformance_checkers(publish, pins, judge_memory))
    if jsonl is not None:
        fps = options.fps if options is not None else DEFAULT_FPS
        redaction = options.redaction if options is not None else RedactionRules()
        subscribers = [*checkers, JsonLinesView(jsonl, fps, Redactor(redaction, sessions=False))]
        if summary_console is not None:
            subscribers.append(_SummaryOnly(ConsoleView(tracker, options, summary_console)))
        return subscribers
    return [*checkers, ConsoleView(tracker, options, console)]


class _SummaryOnly:
    """Feeds a console view the events it tallies, but prints nothing until `close`."""

    def __init__(self, view: ConsoleView) -> None:
        self.view = view

    def handle(self, event: TapEvent) -> None:
        if isinstance(event, Finding):
            self.view.tally.findings.append(self.view.redact(event))
        elif isinstance(event, Fault):
            self.view.tally.faults.append(self.view.redact(event))
        elif isinstance(event, FaultInjected):
            self.view.tally.injected.append(self.view.redact(event))

    def close(self) -> None:
        self.view.close()  # the summary, and its output flushed (a pipe's writer thread)
