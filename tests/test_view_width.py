"""The console view at 60, 80, 120 and 200 columns: what the screen shows, line by line.

The view writes to a terminal-like console; `Screen` replays what it wrote the way a terminal
would (the live bars move the cursor up and erase lines to redraw themselves), so the tests
read the screen a person would see, and check that no line is longer than the terminal is
wide and that each bar stays on its one line.
"""

from __future__ import annotations

import io
import re
import time

import pytest
from rich.cells import cell_len
from rich.console import Console

from mcp_tap.protocol.events import Fault
from mcp_tap.view.console import ViewOptions
from mcp_tap.view.layout import Layout, crop
from tests.tap_script import error, progress, request, result
from tests.test_view import Viewed

WIDTHS = [60, 80, 120, 200]
CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
SESSION = "4f1c2a9e-6d3b-4c8e-9a51-0b7d2e3f4a6c"
LONG_FILE = "quarterly-financial-report-2026-with-appendices.pdf"
BAR_ROW = re.compile(r"^ ⟳ (\d+) .* +\d+% \d+/\d+")


class Screen:
    """A terminal as far as the view uses one: text, newlines, CR, cursor up, erase line."""

    def __init__(self, raw: str) -> None:
        self.lines = [""]
        row = col = 0
        at = 0
        while at < len(raw):
            control = CSI.match(raw, at)
            if control:
                argument, command = control.groups()
                if command == "A":
                    row = max(0, row - int(argument or 1))
                elif command == "K":
                    self.lines[row] = ""
                at = control.end()
                continue
            char = raw[at]
            at += 1
            if char == "\n":
                row, col = row + 1, 0
                if row == len(self.lines):
                    self.lines.append("")
            elif char == "\r":
                col = 0
            else:
                line = self.lines[row].ljust(col)
                self.lines[row] = line[:col] + char + line[col + 1 :]
                col += 1

    def text(self) -> str:
        return "\n".join(self.lines)

    def line_with(self, needle: str) -> str:
        return next(line for line in self.lines if needle in line)

    def bar(self, token: int) -> str:
        return next(line for line in self.lines if line.startswith(f" ⟳ {token} "))


def terminal(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=width, color_system=None), out


def assert_fits(screen: Screen, width: int) -> None:
    too_long = [line for line in screen.lines if cell_len(line) > width]
    assert not too_long, f"lines wider than {width}:\n" + "\n".join(too_long)


def busy_session(width: int, options: ViewOptions | None = None) -> tuple[Viewed, io.StringIO]:
    """Two downloads under way (one with a long name and message), a finding, a fault,
    an HTTP error and an error response: one frame drawn, the streams still running."""
    console, out = terminal(width)
    v = Viewed(console, options)
    v.script.session = SESSION
    s = v.script
    short = s.at(0.5).call(2, token=2, arguments={"filename": "a.bin", "size_mb": 4})
    for i in (1, 2, 3):
        s.at(0.5 + i * 0.2).send(short, progress(2, i, total=4, message=f"a.bin: {i}/4 MB"))
    long = s.at(0.6).post(request(7, token=7, name="download_file_with_a_rather_long_tool_name"))
    s.respond(long)
    for i in (1, 2):
        message = f"{LONG_FILE}: {i * 10}/100 MB fetched from the archive server"
        s.at(0.6 + i * 0.3).send(long, progress(7, i * 10, total=100, message=message))
    s.send(long, progress(7, 5, total=100))  # down: a finding
    listing = s.at(1.3).post(request(9, method="tools/list"))
    s.respond(listing, None, status=404)
    failing = s.at(1.4).call(3)
    s.at(1.45).send(failing, error(3, -32602, "no such file: " + LONG_FILE))
    v.bus.publish(Fault(1.5, 1, "upstream-reset", "upstream broke off the response"))
    v.frame()
    return v, out


@pytest.mark.parametrize("width", WIDTHS)
def test_live_lines_and_bars_fit_the_terminal(width: int) -> None:
    v, out = busy_session(width)
    screen = Screen(out.getvalue())
    assert_fits(screen, width)
    bars = [line for line in screen.lines if BAR_ROW.search(line)]
    assert [BAR_ROW.search(line)[1] for line in bars] == ["2", "7"]  # type: ignore[index]
    assert "75% 3/4" in bars[0] and "5% 5/100" in bars[1]  # each bar whole on its own line
    assert screen.lines[-2:] == bars  # the bars below the lines
    assert "progress-not-increasing" in screen.text()
    assert "FAULT upstream-reset" in screen.text()
    assert "HTTP 404" in screen.text()


@pytest.mark.parametrize("width", WIDTHS)
def test_finished_streams_and_the_summary_fit_the_terminal(width: int) -> None:
    v, out = busy_session(width)
    v.script.at(2.0).send(2, progress(2, 4, total=4))
    v.finish(2, at=2.1)
    v.script.at(2.2).send(4, result(7))
    v.script.close(4)
    v.view.close()
    screen = Screen(out.getvalue())
    assert_fits(screen, width)
    done = screen.line_with("✔  ⟳ 2")
    assert re.search(r"━+ 100%  4 updates in 1\.60 s", done)
    down = screen.line_with("✔  ⟳ 7")
    assert re.search(r"━*─+   5% 5/100 completed, down from 20", down)
    summary = screen.text()[screen.text().index("mcp-tap summary") :].splitlines()
    headers = [line for line in summary if re.match("  (method|token|sev|severity) ", line)]
    assert len(headers) == 3 and not any("…" in line for line in headers)  # no header is cut
    # each stream's row is one line: nothing wraps onto a second one
    assert re.search(r"^  2 .*download_file .*4/4 .*completed\s*$", screen.line_with("  2   "))
    assert re.search(r"^  7 .* 5/100 .*completed, went down\s*$", screen.line_with("  7   "))
    assert not any(re.fullmatch(r"\s*s\s*", line) for line in summary)  # no `0.258` / `s`
    requests = next(line for line in summary if line.startswith("  tools/call "))
    assert re.match(r"  tools/call +3 +1 +0 +\d\.\d+ s", requests)


def test_at_80_columns_the_fixed_columns_leave_room_for_the_message() -> None:
    v, out = busy_session(80)
    assert re.search(r"download_file a\.bin: 3/4 MB +━", Screen(out.getvalue()).bar(2))
    v.finish(2, at=2.1)
    v.frame()
    screen = Screen(out.getvalue())
    assert "in 1.60 s Downloaded a.bin" in screen.line_with("result  tools/call")


def test_at_200_columns_names_and_messages_use_the_room() -> None:
    v, out = busy_session(200)
    screen = Screen(out.getvalue())
    bar = screen.bar(7)
    assert f"download_file_with_a_rather_long_tool_name {LONG_FILE}: 20/100 MB fetched" in bar
    assert "upd" in bar and "ETA" not in bar  # all the extras (no ETA: progress went down)
    line = screen.line_with("error   tools/call")
    assert f"-32602 no such file: {LONG_FILE}" in line
    assert (
        screen.line_with("#7 ").rstrip().endswith("download_file_with_a_rather_long_tool_name {}")
    )


def test_narrow_terminals_drop_the_least_useful_parts_first() -> None:
    screen = Screen(busy_session(60)[1].getvalue())
    bar = screen.bar(2)
    assert "75% 3/4" in bar and "upd" not in bar  # the update count goes before the amount
    assert SESSION[:3] not in screen.line_with("request tools/call")  # and the session column
    wide = Screen(busy_session(120)[1].getvalue())
    assert "4f1c2a9e…" in wide.line_with("request tools/call")


def test_bars_are_laid_out_again_when_the_terminal_is_resized() -> None:
    v, out = busy_session(200)
    v.console.width = 60  # what rich reads from a resized terminal
    out.truncate(0)
    out.seek(0)
    v.frame()
    redrawn = Screen(out.getvalue())
    bars = [line for line in redrawn.lines if BAR_ROW.search(line)]
    assert len(bars) == 2 and all(cell_len(line) <= 60 for line in bars)


def test_a_stream_that_ended_without_a_response_is_not_a_clean_completion() -> None:
    console, out = terminal(100)
    v = Viewed(console)
    v.script.session = None
    ex = v.script.post(request(2, token=2, version="2026-07-28", name="download_file"))
    v.script.respond(ex)
    v.script.at(0.4).send(ex, progress(2, 1, total=4))
    v.script.at(0.6).close(ex)  # the server closed the stream without answering
    v.view.close()
    screen = Screen(out.getvalue())
    line = screen.line_with("⟳ 2  download_file ━")
    assert re.search(r"^✖  ⟳ 2  download_file ━+─+  25% 1/4 no response", line)
    assert re.search(r"^  2 .*download_file .*1/4 .*no response\s*$", screen.line_with("  2   "))


def test_a_call_without_progress_ends_in_words_not_a_bar() -> None:
    console, out = terminal(100)
    v = Viewed(console)
    ex = v.script.call(6, token=6)
    v.script.at(0.1).send(ex, result(6))
    v.view.close()
    screen = Screen(out.getvalue())
    line = screen.line_with("•  ⟳ 6")
    assert line.startswith("•  ⟳ 6  download_file no progress · completed in 0.100 s")
    assert "━" not in line and "done" not in line
    assert "completed, no progress" in screen.line_with("  6   ")


def test_finding_lines_carry_one_icon() -> None:
    v, out = busy_session(120)
    line = Screen(out.getvalue()).line_with("progress-not-increasing")
    assert re.match(r"^ +1\.200s ✖ 4f1c2a9e… progress-not-increasing token 7", line)
    assert not re.search("[‼⚠ℹ]", line) and line.count("✖") == 1


def test_clock_shows_the_time_of_day() -> None:
    started = time.mktime((2026, 3, 4, 14, 3, 7, 0, 0, -1)) + 0.25
    console, out = terminal(120)
    v = Viewed(console, ViewOptions(clock=True, started_at=started))
    v.download(steps=1)
    v.frame()
    screen = Screen(out.getvalue())
    assert screen.line_with("request tools/call").startswith("14:03:07.750 → ")
    assert screen.line_with("notifications/progress").startswith("14:03:07.950 ← ")
    assert Layout(80, started).time(1.0) == "14:03:08.250"


def test_clock_without_a_start_time_takes_it_from_the_first_event() -> None:
    console, out = terminal(120)
    v = Viewed(console, ViewOptions(clock=True))
    before = time.time()
    v.download(steps=0)
    v.frame()
    shown = Screen(out.getvalue()).line_with("request tools/call")[:12]
    expected = {time.strftime("%H:%M:%S", time.localtime(t)) for t in (before, time.time())}
    assert shown[:8] in expected and re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", shown)


def test_progress_lines_can_be_left_to_the_bars() -> None:
    for options, lines in ((ViewOptions(), 3), (ViewOptions(progress_lines=False), 0)):
        console, out = terminal(120)
        v = Viewed(console, options)
        v.download(steps=3)
        v.frame()
        screen = Screen(out.getvalue())
        assert screen.text().count("notifications/progress") == lines
        assert BAR_ROW.search(screen.lines[-1])  # the bar is there either way
        assert "request tools/call" in screen.text()


def test_without_a_terminal_progress_lines_can_be_left_out_too() -> None:
    out = io.StringIO()
    v = Viewed(Console(file=out, width=120), ViewOptions(progress_lines=False))
    v.finish(v.download(steps=2))
    v.view.close()
    text = out.getvalue()
    assert "notifications/progress" not in text
    assert "ok [token 2] download_file" in text  # the stream's end line still says it all


def test_crop_counts_cells() -> None:
    assert crop("abcdef", 4) == "abc…" and crop("abc", 4) == "abc"
    assert cell_len(crop("日本語のテキスト", 7)) <= 7
