"""The bus delivers every event in order, never while it is published, and not all at once:
a gathering bus waits for more (up to `GATHER_MAX`), a flood is delivered as it comes, and a
long queue goes out a slice at a time with the loop's other work between."""

from __future__ import annotations

import asyncio

import pytest

import mcp_tap.tap.bus as bus_module
from mcp_tap.protocol.events import Fault, TapEvent
from mcp_tap.tap.bus import GATHER_MAX, TapBus

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


def test_events_wait_for_a_gathering_delivery_until_there_are_gather_max(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_module, "QUIET", 0.0)  # never a flood: every event may wait

    async def run() -> tuple[list[int], list[int], list[int]]:
        seen = Seen()
        bus = TapBus([seen], gather=FOREVER)
        for number in range(GATHER_MAX - 1):
            bus.publish(fault(number))
        await turns()
        waiting = seen.numbers()  # not yet: the gathering is not over
        bus.publish(fault(GATHER_MAX - 1))
        await turns()
        gathered = seen.numbers()
        bus.publish(fault(GATHER_MAX))
        bus.close()  # delivers what waits, at once
        return waiting, gathered, seen.numbers()

    waiting, gathered, closed = asyncio.run(run())
    assert waiting == []
    assert gathered == list(range(GATHER_MAX))
    assert closed == list(range(GATHER_MAX + 1))


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
    assert made_when == [1]  # made in its place: after the event before it was delivered
