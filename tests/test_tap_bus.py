"""The bus delivers every event in order, never while it is published, and not all at once:
a gathering bus waits for more (up to `GATHER_LIMIT`, or until `GATHER_MAX` come back to back),
a flood is delivered as it comes, a
long queue goes out a slice at a time with the loop's other work between, and each
subscriber handles a batch in turn (the view still learns from the tracker, which is then a
batch ahead, what each event answered)."""

from __future__ import annotations

import asyncio

import pytest

import mcp_tap.tap.bus as bus_module
from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.protocol.events import Fault, TapEvent
from mcp_tap.recording.reader import load_recording
from mcp_tap.tap.bus import BATCH, GATHER_LIMIT, GATHER_MAX, TapBus
from tests.samples import sample

pytestmark = pytest.mark.timeout(30)

FOREVER = 3600.0  # seconds: longer than any test, however slow the machine


class Seen:
    def __init__(self) -> None:
        self.events: list[TapEvent] = []
        self.closed = False

    def handle(self, event: TapEvent) -> None:
        self.events.append(event)

    def close(self) -> None:
        self.closed = True

    def numbers(self) -> list[int]:
        return [int(e.detail) for e in self.events if isinstance(e, Fault)]


def fault(number: int) -> Fault:
    return Fault(0.0, None, "test", str(number))


async def turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def test_events_that_are_no_flood_wait_for_a_gathering_delivery_up_to_gather_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_module, "QUIET", 0.0)  # never a flood: every event may wait

    async def run() -> tuple[list[int], list[int], list[int]]:
        seen = Seen()
        bus = TapBus([seen], gather=FOREVER)
        for number in range(GATHER_LIMIT - 1):
            bus.publish(fault(number))
        await turns()
        waiting = seen.numbers()  # not yet: the gathering is not over
        bus.publish(fault(GATHER_LIMIT - 1))
        await turns()
        gathered = seen.numbers()
        bus.publish(fault(GATHER_LIMIT))
        bus.close()  # delivers what waits, at once
        return waiting, gathered, seen.numbers()

    waiting, gathered, closed = asyncio.run(run())
    assert waiting == []
    assert gathered == list(range(GATHER_LIMIT))
    assert closed == list(range(GATHER_LIMIT + 1))


def test_gather_max_events_back_to_back_end_a_gathering_delivery_s_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exchanges one after another gather for the bus's time; a flood does not wait for it."""

    async def run() -> tuple[list[int], list[int]]:
        seen = Seen()
        bus = TapBus([seen], gather=FOREVER)
        monkeypatch.setattr(bus_module, "QUIET", 0.0)  # apart: none of these is a flood
        for number in range(GATHER_MAX):
            bus.publish(fault(number))
        await turns()
        apart = seen.numbers()
        # from here on, each right after the one before: a run that the last one began
        monkeypatch.setattr(bus_module, "QUIET", FOREVER)
        last = 2 * GATHER_MAX - 2  # the run's GATHER_MAX-th event
        for number in range(GATHER_MAX, last):
            bus.publish(fault(number))
        await turns()
        if seen.numbers():
            return apart, seen.numbers()  # too early: the run is one short of GATHER_MAX
        bus.publish(fault(last))
        await turns()
        return apart, seen.numbers()

    apart, flood = asyncio.run(run())
    assert apart == []
    assert flood == list(range(2 * GATHER_MAX - 1))


def test_a_flood_is_delivered_as_it_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "QUIET", FOREVER)  # every event comes right after the last

    async def run() -> list[int]:
        seen = Seen()
        bus = TapBus([seen], gather=FOREVER)
        bus.publish(fault(0))  # the first: nothing came before it, so it waits
        bus.drain()
        for number in range(1, 4):
            bus.publish(fault(number))
            await turns(1)
        return seen.numbers()

    assert asyncio.run(run()) == [0, 1, 2, 3]


def test_a_gathered_batch_goes_out_a_slice_at_a_time_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_module, "SLICE", 0.0)  # one event a turn

    async def run() -> tuple[list[int], list[int]]:
        seen = Seen()
        bus = TapBus([seen], gather=FOREVER)  # delivered once GATHER_MAX wait
        loop = asyncio.get_running_loop()
        between: list[int] = []  # how many were delivered whenever the loop did other work

        def other_work() -> None:
            between.append(len(seen.events))
            if len(seen.events) < GATHER_MAX:
                loop.call_soon(other_work)

        for number in range(GATHER_MAX):
            bus.publish(fault(number))
        loop.call_soon(other_work)
        while len(seen.events) < GATHER_MAX:
            await asyncio.sleep(0)
        return seen.numbers(), between

    numbers, between = asyncio.run(run())
    assert numbers == list(range(GATHER_MAX))
    assert len(set(between)) > 2  # the other work ran between the slices, not after them all


def test_a_bus_that_does_not_gather_delivers_a_turn_s_events_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_module, "SLICE", 0.0)  # it would be one event a turn, if sliced

    async def run() -> list[int]:
        seen = Seen()
        bus = TapBus([seen])
        for number in range(10):
            bus.publish(fault(number))
        await asyncio.sleep(0)  # one turn
        return seen.numbers()

    assert asyncio.run(run()) == list(range(10))


def test_close_delivers_everything_then_closes_each_subscriber_once() -> None:
    async def run() -> Seen:
        seen = Seen()
        bus = TapBus([seen], gather=FOREVER)
        for number in range(3):
            bus.publish(fault(number))
        bus.close()
        bus.publish(fault(99))  # after close: dropped
        await turns()
        return seen

    seen = asyncio.run(run())
    assert seen.numbers() == [0, 1, 2] and seen.closed


def test_events_made_at_delivery_keep_their_place_and_a_failure_costs_only_them() -> None:
    made_when: list[int] = []  # how many events subscribers had seen when each was made

    async def run() -> Seen:
        seen = Seen()
        bus = TapBus([seen])

        def later(number: int) -> list[TapEvent]:
            made_when.append(len(seen.events))
            return [fault(number), fault(number + 1)]

        def broken() -> list[TapEvent]:
            raise RuntimeError("a publisher's bug")

        bus.publish(fault(0))
        bus.publish_later(lambda: later(1))
        bus.publish_later(broken)
        bus.publish(fault(3))
        assert made_when == []  # nothing is made when it is published
        await turns()
        return seen

    seen = asyncio.run(run())
    assert seen.numbers() == [0, 1, 2, 3]
    assert made_when == [0]  # made with its batch, before any subscriber saw the batch


class Publisher(Seen):
    """A subscriber that publishes a follow-up (as a judge publishes a finding) for some
    events, and notes who handled what, in which order."""

    def __init__(self, name: str, log: list[tuple[str, int]], bus: TapBus | None) -> None:
        super().__init__()
        self.name, self.log, self.bus = name, log, bus

    def handle(self, event: TapEvent) -> None:
        super().handle(event)
        number = int(event.detail) if isinstance(event, Fault) else -1
        self.log.append((self.name, number))
        if self.bus is not None and number < 1000 and number % 3 == 0:
            self.bus.publish(fault(1000 + number))


def test_each_subscriber_handles_a_batch_in_turn_and_follow_ups_come_after_it() -> None:
    count = BATCH + 5  # two batches

    async def run() -> tuple[list[tuple[str, int]], list[int], list[int]]:
        log: list[tuple[str, int]] = []
        bus = TapBus()
        first, second = Publisher("first", log, bus), Publisher("second", log, None)
        bus.subscribe(first)
        bus.subscribe(second)
        for number in range(count):
            bus.publish(fault(number))
        await turns()
        return log, first.numbers(), second.numbers()

    log, first, second = asyncio.run(run())
    published = list(range(count))
    follow_ups = [1000 + n for n in published if n % 3 == 0]
    assert first == second == published + follow_ups  # each in order, follow-ups behind
    # the first subscriber took the whole first batch before the second saw any of it
    assert log[:BATCH] == [("first", n) for n in range(BATCH)]


def test_a_batch_takes_part_of_a_large_made_list_and_the_rest_keeps_its_place() -> None:
    async def run() -> list[int]:
        seen = Seen()
        bus = TapBus([seen])
        bus.publish(fault(0))
        bus.publish_later(lambda: [fault(n) for n in range(1, 2 * BATCH)])
        bus.publish(fault(2 * BATCH))
        await turns()
        return seen.numbers()

    assert asyncio.run(run()) == list(range(2 * BATCH + 1))


class Asker:
    """Asks the tracker, as the view does from its own `handle`, what each event answered."""

    def __init__(self, tracker: ProgressTracker) -> None:
        self.tracker = tracker
        self.answers: list[object] = []

    def handle(self, event: TapEvent) -> None:
        request = self.tracker.match(event)
        self.answers.append(None if request is None else (request.session_id, request.request_id))

    def close(self) -> None:
        pass


def test_the_view_learns_what_each_event_answered_though_the_tracker_is_a_batch_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A whole recorded session published at once: the tracker handles each batch before the
    view asks about its first event. The answers must be those of the tracker asked right
    after each event, one at a time."""
    batch = 8
    monkeypatch.setattr(bus_module, "BATCH", batch)
    events = load_recording(sample("concurrent-downloads-handshake")).events
    assert len(events) > 3 * batch  # several batches

    one_at_a_time = ProgressTracker(lambda _event: None)
    expected = []
    for event in events:
        one_at_a_time.handle(event)
        request = one_at_a_time.match(event)
        expected.append(None if request is None else (request.session_id, request.request_id))

    async def run() -> list[object]:
        bus = TapBus()
        tracker = ProgressTracker(lambda _event: None, keep_matches=True)  # as a view's is
        asker = Asker(tracker)
        bus.subscribe(tracker)
        bus.subscribe(asker)
        for event in events:
            bus.publish(event)
        await turns()
        return asker.answers

    answers = asyncio.run(run())
    assert sum(answer is not None for answer in expected) > batch  # the test has teeth
    assert answers == expected
