"""The console view, rendered to recording consoles: what a person would read."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import threading
from functools import partial

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from mcp_tap.analysis.definition_checks import DefinitionChecker
from mcp_tap.analysis.id_checks import IdChecker
from mcp_tap.analysis.lifecycle import LifecycleChecker
from mcp_tap.analysis.modern_checks import ModernChecker
from mcp_tap.analysis.oauth import OAuthFlow
from mcp_tap.analysis.schema_checks import SchemaChecker
from mcp_tap.analysis.tracker import KEPT_STREAMS, ProgressTracker
from mcp_tap.analysis.wire_checks import WireChecker
from mcp_tap.cli.app import build_parser
from mcp_tap.cli.subscribers import view_subscribers
from mcp_tap.protocol.codec import event_from_dict
from mcp_tap.protocol.events import Fault, StreamKind, TapEvent
from mcp_tap.tap.bus import TapBus
from mcp_tap.view.console import ConsoleView, ViewOptions, build_view
from mcp_tap.view.jsonl import JsonLinesView
from mcp_tap.view.output import ViewOutput
from tests.tap_script import MODERN, TapScript, error, progress, request, result

ANSI = re.compile(r"\x1b\[")


def terminal() -> Console:
    return Console(record=True, force_terminal=True, width=120, file=io.StringIO())


class Viewed:
    """A bus with the tracker and a console view on it, fed by a script."""

    def __init__(self, console: Console, options: ViewOptions | None = None) -> None:
        self.console = console
        self.bus = TapBus()
        tracker, *_checkers, view = build_view(self.bus.publish, options, console=console)
        assert isinstance(view, ConsoleView)
        self.tracker, self.view = tracker, view
        self.bus.subscribe(tracker)
        self.bus.subscribe(view)
        self.script = TapScript(sink=self.bus.publish)

    def frame(self) -> None:
        self.view.render_frame()

    def text(self) -> str:
        return self.console.export_text(clear=False)

    def download(self, steps: int = 3, total: int = 4) -> int:
        """A tools/call with token 2 and `steps` progress notifications, still running."""
        s = self.script
        ex = s.at(0.5).call(2, token=2, arguments={"filename": "a.bin", "size_mb": total})
        for i in range(1, steps + 1):
            s.at(0.5 + i * 0.2).send(
                ex, progress(2, i, total=total, message=f"a.bin: {i}/{total} MB")
            )
        return ex

    def finish(self, ex: int, at: float = 1.5) -> None:
        text = {"content": [{"type": "text", "text": "Downloaded a.bin"}]}
        self.script.at(at).send(ex, result(2, text))
        self.script.close(ex)


def line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


def test_a_long_session_keeps_the_latest_streams_and_counts_them_all() -> None:
    """Hours of tool calls: every stream still gets its line and is counted in the summary,
    while the tracker keeps only the latest streams (memory stays bounded)."""
    v = Viewed(Console(file=io.StringIO(), width=120))  # a file: one line per event
    calls = KEPT_STREAMS + 200
    for n in range(calls):
        ex = v.script.at(n).call(n, token=n)
        v.script.send(ex, progress(n, 1, total=1))
        v.script.at(n + 0.5).send(ex, result(n))
        v.script.close(ex)
        if n % 100 == 99:
            v.frame()
    v.view.close()
    text = v.console.file.getvalue()  # type: ignore[attr-defined]
    assert text.count("1 update in 0.500 s") == calls  # each stream's end line, printed once
    assert f"{calls - 15} earlier streams not shown" in text
    assert len(v.tracker.streams) == KEPT_STREAMS and v.tracker.stream_count == calls
    assert not v.tracker.ended  # the view took every ending it printed
    assert len(v.tracker.latencies["tools/call"]) == calls


def test_request_line_highlights_its_progress_token() -> None:
    v = Viewed(terminal())
    v.download(steps=0)
    v.frame()
    line = line_with(v.text(), "tools/call")
    assert re.search(r"0\.500s → sess-1 +request tools/call +#2 +⟳ 2 +download_file", line)
    assert '"filename": "a.bin"' in line
    # the token is drawn as a badge: bold black on magenta
    assert "\x1b[1;30;45m ⟳ 2 \x1b[0m" in v.console.file.getvalue()  # type: ignore[attr-defined]


def test_live_bar_then_its_completion_line() -> None:
    v = Viewed(terminal())
    ex = v.download(steps=3)
    v.frame()
    bar = line_with(v.text(), "ETA")
    assert "⟳ 2  download_file a.bin: 3/4 MB" in bar
    assert re.search(r"75% 3/4 +5/s +ETA 0\.200 s +3 upd", bar)
    v.script.at(1.3).send(ex, progress(2, 4, total=4))
    v.finish(ex)
    v.frame()
    text = v.text()
    done = line_with(text, "✔")
    assert re.search(r"✔  ⟳ 2  download_file ━+ 100%  4 updates in 1\.00 s", done)
    assert "first after 0.200 s · longest gap 0.200 s" in done
    # the summary comes right below the response that ended the stream
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert "result  tools/call" in lines[lines.index(done) - 1]
    assert not v.view.bars  # the bar gave way to its summary line


def test_indeterminate_progress_shows_a_pulse_and_its_value() -> None:
    v = Viewed(terminal())
    ex = v.script.call(4, token="p")
    v.script.at(1.0).send(ex, progress("p", 10, message="processed 10 records"))
    v.frame()
    bar = line_with(v.text(), "processed 10 records ━")
    assert re.search(r"━+ 10 +10/s +1 upd", bar) and "%" not in bar and "ETA" not in bar


def test_summary_table_at_close() -> None:
    v = Viewed(terminal())
    ex = v.download(steps=3)
    v.script.send(ex, progress(2, 2, total=4))  # going down: a finding
    v.finish(ex)
    failing = v.script.at(2.0).call(3)
    v.script.at(2.5).send(failing, error(3))
    v.view.close()
    text = v.text()
    summary = text[text.index("mcp-tap summary") :]
    assert re.search(r"tools/call +2 +1 +0 +0\.500 s +1\.00 s +1\.00 s", summary)
    assert re.search(r"2 +download_file +4 +2/4 +1\.00 s +0\.200 s +0\.200 s +completed", summary)
    assert re.search(
        r"error +progress-not-increasing +1 +token 2: progress went from 3 to 2", summary
    )


def test_findings_errors_and_faults_stand_out() -> None:
    v = Viewed(terminal())
    ex = v.download(steps=1)
    v.script.send(ex, progress(2, 1))
    v.script.send(ex, error(2, -32602, "no such file"))
    v.bus.publish(Fault(2.0, 1, "upstream-reset", "upstream broke off the response"))
    v.frame()
    raw = v.console.file.getvalue()  # type: ignore[attr-defined]
    text = v.text()
    # one icon, where a message has its arrow, then the rule: both bold red
    assert "✖ sess-1    progress-not-increasing token 2: progress went from 1 to 1" in text
    assert "\x1b[1;31m✖\x1b[0m" in raw and "\x1b[1;31mprogress-not-increasing" in raw
    assert re.search(r"error +tools/call +#2 -32602 no such file", text)
    assert "FAULT upstream-reset upstream broke off the response" in text
    assert "\x1b[1;31mFAULT upstream-reset" in raw
    assert "✖  ⟳ 2  download_file" in text and "failed" in text


def test_not_a_terminal_means_plain_lines_and_no_bars() -> None:
    out = io.StringIO()
    v = Viewed(Console(file=out, width=120))
    ex = v.download(steps=2)
    v.frame()
    v.finish(ex)
    v.view.close()
    text = out.getvalue()
    assert not ANSI.search(text)
    assert (
        "    0.500s -> sess-1    request tools/call               #2 [token 2] download_file"
        in text
    )
    assert '[token 2] 2/4 (50%) "a.bin: 2/4 MB"' in text
    assert (
        "ok [token 2] download_file ############------------  50% 2/4 completed"
        "  2 updates in 1.00 s" in text
    )
    assert "ETA" not in text  # no bars
    assert "mcp-tap summary" in text


def test_no_color_on_a_terminal_is_plain_too() -> None:
    out = io.StringIO()
    v = Viewed(Console(file=out, width=120, force_terminal=True, no_color=True))
    v.finish(v.download(steps=1))
    v.view.close()
    assert not ANSI.search(out.getvalue())
    assert "ok [token 2] download_file" in out.getvalue()


def test_quiet_shows_progress_and_findings_only() -> None:
    v = Viewed(terminal(), ViewOptions(quiet=True))
    ex = v.download(steps=2)
    v.script.send(ex, progress("other", 1))
    v.frame()
    text = v.text()
    assert "request tools/call" not in text and "notifications/progress" not in text
    assert "progress-unknown-token" in text
    assert "ETA" in text  # the bar
    v.finish(ex)
    v.frame()
    assert "✔  ⟳ 2  download_file" in v.text() and "result" not in v.text()


def test_filter_keeps_matching_requests_with_their_progress_and_response() -> None:
    v = Viewed(terminal(), ViewOptions(filters=("tools/*",)))
    discover = v.script.post(request(1, method="server/discover", version=MODERN))
    v.script.send(discover, result(1, {"supportedVersions": [MODERN]}), StreamKind.JSON_RESPONSE)
    v.finish(v.download(steps=1))
    v.frame()
    text = v.text()
    assert "server/discover" not in text
    assert "request tools/call" in text and "notifications/progress" in text
    assert "result  tools/call" in text


def test_verbose_prints_whole_messages_as_json() -> None:
    v = Viewed(terminal(), ViewOptions(verbose=True))
    v.download(steps=0)
    v.frame()
    text = v.text()
    assert '"progressToken": 2' in text and '"size_mb": 4' in text
    assert "HTTP POST /mcp" in text and "HTTP 200 /mcp" not in text


def test_a_flood_is_folded_into_one_line_per_frame() -> None:
    # frames only when asked: a loaded machine must not split the flood into several frames
    v = Viewed(terminal(), ViewOptions(fps=1e-9))
    ex = v.script.call(2, token=2)
    for i in range(1, 501):
        v.script.send(ex, progress(2, i, total=1000))
    assert v.text() == ""  # handle() only queued: nothing is rendered between frames
    v.frame()
    text = v.text()
    assert "… 461 more messages this frame (461 notifications/progress)" in text
    assert "50% 500/1000" in text  # the bar shows the latest anyway


def test_frames_run_from_the_event_loop_at_a_bounded_rate() -> None:
    async def run() -> tuple[str, str]:
        v = Viewed(terminal(), ViewOptions(fps=20))
        v.download(steps=1)
        await asyncio.sleep(0)  # the bus delivers on the next loop turn
        before = v.text()
        await asyncio.sleep(0.2)
        return before, v.text()

    before, after = asyncio.run(run())
    assert before == ""
    assert "request tools/call" in after


def test_2026_client_closing_the_stream_shows_a_cancelled_bar() -> None:
    v = Viewed(terminal())
    v.script.session = None
    ex = v.script.post(request(2, token=2, version=MODERN, name="download_file"))
    v.script.respond(ex)
    v.script.at(0.4).send(ex, progress(2, 1, total=4))
    v.script.at(0.6).close(ex, "client-disconnected")
    v.frame()
    text = v.text()
    assert (
        "ℹ -         request-cancelled tools/call id 2 cancelled (the client closed the response"
        " stream)" in text
    )
    assert re.search(r"⊘  ⟳ 2  download_file ━+─+  25% 1/4 cancelled  1 update in 0\.600 s", text)


def test_http_errors_get_a_line() -> None:
    v = Viewed(terminal())
    ex = v.script.post(request(1, method="tools/list"))
    v.script.respond(ex, None, status=406)
    v.frame()
    assert re.search(r"← sess-1 +HTTP 406 POST /mcp", v.text())


def test_jsonl_view_writes_one_decodable_object_per_event() -> None:
    out = io.StringIO()
    bus = TapBus()
    tracker = ProgressTracker(bus.publish)
    view = JsonLinesView(out)
    bus.subscribe(tracker)
    bus.subscribe(view)
    script = TapScript(sink=bus.publish)
    ex = script.call(1, token=1)
    script.send(ex, progress(2, 1))
    bus.close()
    lines = out.getvalue().splitlines()
    events = [event_from_dict(json.loads(line)) for line in lines]
    assert [json.loads(line)["type"] for line in lines] == [
        "exchange-opened", "message", "response-started", "message", "finding",
    ]  # fmt: skip
    assert events[1] == script.events[1]


def test_the_cli_builds_checkers_then_view_for_every_command() -> None:
    args = build_parser().parse_args(["proxy", "-q", "--filter", "tools/*", "--no-record"])
    bus = TapBus()
    subscribers = view_subscribers(args, bus)
    tracker, checker, oauth, schema, lifecycle, ids, modern, definitions, view = subscribers
    assert isinstance(tracker, ProgressTracker) and isinstance(checker, WireChecker)
    assert isinstance(oauth, OAuthFlow) and isinstance(schema, SchemaChecker)
    assert isinstance(lifecycle, LifecycleChecker) and isinstance(ids, IdChecker)
    assert isinstance(modern, ModernChecker) and isinstance(definitions, DefinitionChecker)
    assert isinstance(view, ConsoleView)
    assert view.options == ViewOptions(quiet=True, filters=("tools/*",))
    args = build_parser().parse_args(["proxy", "--jsonl", "--no-record"])
    assert isinstance(view_subscribers(args, bus)[8], JsonLinesView)
    args = build_parser().parse_args(["show", "recording.yaml"])
    tracker, view = view_subscribers(args, bus, recorded=True)  # its findings are recorded
    assert isinstance(view, ConsoleView)


def test_many_streams_share_one_overflow_row() -> None:
    # Frames only when asked: the recording console keeps no cursor moves, so the rows of a
    # frame drawn in between (a loaded machine) would run into the last one's.
    v = Viewed(terminal(), ViewOptions(fps=0.001))
    for n in range(1, 13):
        v.script.send(v.script.call(n, token=n), progress(n, 1, total=2))
    v.frame()
    last = v.text().rstrip().splitlines()[-9:]  # the last drawing of the bars
    assert last[-1].startswith("… 4 more active progress streams")
    assert [line.split()[1] for line in last[:-1]] == [str(n) for n in range(1, 9)]


def test_a_closed_pipe_stops_the_output_not_the_proxy() -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    v = Viewed(Console(file=ClosedPipe(), width=120))
    v.download(steps=1)
    v.frame()  # no exception
    v.view.close()
    jsonl = JsonLinesView(ClosedPipe())
    jsonl.handle(v.script.events[0])
    jsonl.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
methods = st.sampled_from(
    ["tools/call", "notifications/progress", "notifications/cancelled", "initialize", "x"]
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["request", "notify", "result", "error", "close"]),
            methods,
            json_values,
            json_values,
        ),
        max_size=12,
    )
)
def test_any_message_sequence_renders_without_errors(
    steps: list[tuple[str, str, object, object]],
) -> None:
    tracker = ProgressTracker(lambda finding: None, keep_endings=True)
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    view = ConsoleView(tracker, ViewOptions(verbose=True), console)
    seen: list[TapEvent] = []

    def deliver(event: TapEvent) -> None:  # directly, not via a bus: errors must surface
        tracker.handle(event)
        view.handle(event)
        while tracker.findings[len(seen) :]:
            seen.append(tracker.findings[len(seen)])
            view.handle(seen[-1])

    script = TapScript(sink=deliver)
    exchange = script.call(1, token=1)
    for kind, method, value, other in steps:
        params = {"progressToken": value, "progress": other, "total": value, "requestId": other}
        if kind == "request":
            exchange = script.post(
                {
                    "jsonrpc": "2.0",
                    "id": value,
                    "method": method,
                    "params": {"_meta": {"progressToken": other}},
                }
            )
        elif kind == "notify":
            script.send(exchange, {"jsonrpc": "2.0", "method": method, "params": params})
        elif kind == "result":
            script.send(exchange, {"jsonrpc": "2.0", "id": value, "result": other})
        elif kind == "error":
            script.send(exchange, {"jsonrpc": "2.0", "id": value, "error": other})
        else:
            script.close(exchange, "client-disconnected")
        view.render_frame()
    view.close()


def test_output_for_a_reader_that_stopped_waits_then_drops_and_says_how_much() -> None:
    """Writes never block on a full pipe; past the backlog, lines are dropped and counted."""
    read_end, write_end = os.pipe()
    output = ViewOutput(os.fdopen(write_end, "w"), max_backlog=20_000)
    lines = [f"{number:04d} {'x' * 995}\n" for number in range(300)]  # 300 KB: 4x a pipe
    for line in lines:
        output.write(line)  # nobody reads yet: this loop would hang if a write blocked
    received: list[bytes] = []
    chunks = iter(partial(os.read, read_end, 65536), b"")  # until the write end closes
    reader = threading.Thread(target=lambda: received.extend(chunks))
    reader.start()
    output.close()
    output.file.close()
    reader.join(10)
    os.close(read_end)
    text = b"".join(received).decode().splitlines(keepends=True)
    shown, notice = text[:-1], text[-1]
    assert shown == lines[: len(shown)] and 0 < len(shown) < 300  # in order, a prefix
    assert notice == f"… {300 - len(shown)} lines not shown: the output was not being read\n"


def test_a_frame_slower_than_the_interval_does_not_draw_the_next_inline() -> None:
    """Reading a file (no event loop), a frame that outlasts the frame interval, as on a loaded
    machine, used to draw the next frame from inside itself, without end."""
    v = Viewed(terminal(), ViewOptions(fps=1e9))  # every frame outlasts the interval
    for n in range(1, 4):
        v.script.send(v.script.call(n, token=n), progress(n, 1, total=2))
    v.frame()
    assert "… " not in v.text() and "⟳ 3" in v.text()
