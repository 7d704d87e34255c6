"""The live progress bars: one per active progress token, drawn by rich below the lines.

`ProgressBars` owns a rich `Live` display with no refresh thread of its own: the console view
calls `show` and `refresh` from its frames, on the event loop, so the tracker's statistics
are never read while they change.

Each bar is one line laid out when it is drawn, from the width rich gives the drawing then
(`options.max_width`): a resized terminal gets bars laid out for its new size. What does not
fit is dropped, least useful first (the update count, the rate, the ETA, the message), and
the bar narrows; a bar never wraps.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.segment import Segment
from rich.text import Text

from mcp_tap.analysis.progress_stats import ProgressStats
from mcp_tap.view.format import number, seconds, token_badge
from mcp_tap.view.layout import Layout, crop
from mcp_tap.view.visible import visible

MAX_BARS = 8  # more active streams than this share one "… N more" row
MIN_BAR = 6  # a bar narrower than this says nothing
MIN_HEAD = 12  # cells kept for the token and the tool's name before the bar narrows
WANTED_MESSAGE = 16  # cells of a stream's message worth more than the rate and the counts
MAX_WANTED_HEAD = 48  # beyond this a long name or message gives way to the extras


@dataclass
class _Numbers:
    """What follows a bar: the amount (always shown) and extras, in the order of the line."""

    amount: Text
    rate: str | None
    eta: str | None
    updates: str

    def render(self, keep: int) -> Text:
        """The amount and the first `keep` extras by usefulness (ETA, rate, updates)."""
        text = self.amount.copy()
        kept = [("eta", 0), ("rate", 1), ("updates", 2)][:keep]
        names = {name for name, _ in kept}
        if self.rate and "rate" in names:
            text.append(f"  {self.rate}", style="cyan")
        if self.eta and "eta" in names:
            text.append(f"  {self.eta}", style="cyan")
        if "updates" in names:
            text.append(f"  {self.updates}", style="dim")
        return text


def _numbers(stats: ProgressStats) -> _Numbers:
    amount = Text()
    if stats.fraction is not None:
        amount.append(f"{stats.fraction:>4.0%} ", style="bold")
        amount.append(f"{number(stats.last_progress)}/{number(stats.total)}")
    else:
        amount.append(number(stats.last_progress) if stats.count else "waiting", style="bold")
    rate = stats.rate
    return _Numbers(
        amount,
        f"{rate:.3g}/s" if rate and rate > 0 else None,  # progress that went down has no pace
        f"ETA {seconds(stats.eta)}" if stats.eta is not None else None,
        f"{stats.count} upd",
    )


def _head(stats: ProgressStats, width: int) -> Text:
    """Token, tool and message in `width` cells (padded): the message gives way first."""
    head = Text.assemble(token_badge(stats.token, False), " ")
    room = width - head.cell_len
    label = visible(stats.label or stats.method)
    message = visible(" ".join((stats.message or "").split()))
    if message and cell_len(label) + 1 + cell_len(message) > room:  # the name keeps half
        label = crop(label, max(room - cell_len(message) - 1, min(cell_len(label), room // 2)))
    label = crop(label, max(room, 0))
    head.append(label, style="bold")
    room -= cell_len(label)
    if message and room > 4:
        head.append(" " + crop(message, room - 1), style="italic")
    head.truncate(width, overflow="ellipsis", pad=True)
    return head


def _natural_head(stats: ProgressStats, message_cells: int | None = None) -> int:
    """Cells of token, name and message (the message cut to `message_cells`)."""
    badge = cell_len(token_badge(stats.token, False)[0])
    label = cell_len(visible(stats.label or stats.method))
    message = cell_len(visible(" ".join((stats.message or "").split())))
    if message_cells is not None:
        message = min(message, message_cells)
    return badge + 1 + label + (1 + message if message else 0)


def bar_rows(
    console: Console, options: ConsoleOptions, streams: list[ProgressStats], hidden: int
) -> list[Text]:
    """The bar lines of `streams` (and a row counting the `hidden` ones), one line each, laid
    out in the width rich gives this drawing."""
    width = options.max_width
    if not streams and hidden <= 0:
        return []
    numbers = [_numbers(s) for s in streams]
    bar = Layout(width).bar_width
    keep = 3

    def widest_numbers() -> int:
        return max((n.render(keep).cell_len for n in numbers), default=0)

    # the token and name whole (up to a point) and some of the message come before the extras
    want = max((_natural_head(s, WANTED_MESSAGE) for s in streams), default=0)
    want = min(want, MAX_WANTED_HEAD)
    widest = widest_numbers()
    while keep and want + 1 + bar + 1 + widest > width:
        keep -= 1
        widest = widest_numbers()
    bar = max(MIN_BAR, min(bar, width - min(want, MIN_HEAD) - 2 - widest))
    natural = max((_natural_head(s) for s in streams), default=0)
    head = max(1, min(natural, width - bar - 2 - widest))
    rows: list[Text] = []
    for stats, after in zip(streams, numbers, strict=True):
        row = _head(stats, head)
        row.append(" ")
        row.append_text(_bar(console, options, stats, bar))
        row.append(" ")
        row.append_text(after.render(keep))
        rows.append(row)
    if hidden > 0:
        more = f"… {hidden} more active progress stream{'s' if hidden > 1 else ''}"
        rows.append(Text(more, style="dim"))
    for row in rows:
        row.no_wrap, row.overflow = True, "ellipsis"
        row.truncate(width, overflow="ellipsis")
    return rows


def _bar(console: Console, options: ConsoleOptions, stats: ProgressStats, width: int) -> Text:
    """rich's bar (a pulse when there is no total) as `width` cells of text."""
    total = stats.total if stats.total is not None and stats.total > 0 else None
    done = stats.last_progress or 0.0
    done = min(max(done, 0.0), total) if total is not None else done
    bar = ProgressBar(total=total, completed=done, width=width, animation_time=console.get_time())
    text = Text()
    for segment in console.render(bar, options.update(width=width, height=1)):
        if not segment.control:
            text.append(segment.text, style=segment.style)
    text.truncate(width, pad=True)  # without colors rich leaves the rest of the bar out
    return text


class _Rows:
    """What the live display draws: laid out anew at every drawing, at its width then."""

    def __init__(self, bars: ProgressBars) -> None:
        self.bars = bars

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for row in bar_rows(console, options, self.bars.streams, self.bars.hidden):
            yield from row.render(console, end="")
            yield Segment.line()


class ProgressBars:
    """The bars of the active progress streams, started on first use."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None
        self.streams: list[ProgressStats] = []  # the ones drawn, oldest first
        self.hidden = 0  # active streams beyond MAX_BARS, counted on one row

    def __bool__(self) -> bool:
        return bool(self.streams)

    def show(self, streams: list[ProgressStats]) -> None:
        """Draw the bars of `streams` (the active ones, oldest first) from the next refresh."""
        self.streams = streams[:MAX_BARS]
        self.hidden = max(0, len(streams) - MAX_BARS)
        if self.streams and self._live is None:
            self._live = Live(
                _Rows(self),
                console=self.console,
                auto_refresh=False,  # the view's frames refresh it: no render thread
                redirect_stdout=False,  # no global side effects; everything goes via the console
                redirect_stderr=False,
            )
            self._live.start()

    def remove(self, stats: ProgressStats) -> None:
        """Take a finished stream's bar away (its summary line replaces it)."""
        self.streams = [s for s in self.streams if s is not stats]

    def refresh(self) -> None:
        """Redraw the bars (printing lines through the console redraws them too)."""
        if self._live is not None:
            self._live.refresh()

    def stop(self) -> None:
        """Remove every bar and give the terminal back."""
        self.streams, self.hidden = [], 0
        if self._live is None:
            return
        self._live.stop()
        self._live = None
