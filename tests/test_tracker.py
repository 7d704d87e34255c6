"""The progress tracker, rule by rule, on hand-built tap event sequences."""

from __future__ import annotations

import asyncio

import anyio
import pytest
from mcp import Client

from demo_server.runner import running_demo_server
from mcp_tap.analysis.progress_stats import RequestState, percentile
from mcp_tap.analysis.rules import BY_SLUG
from mcp_tap.analysis.tracker import MAX_FINDINGS_PER_SUBJECT, ProgressTracker
from mcp_tap.cli.proxy import running_proxy
from mcp_tap.protocol.events import Finding, Severity, StreamKind, TapEvent
from mcp_tap.tap.bus import TapBus
from tests.inproc import Collector
from tests.misbehaving_server import UNKNOWN_TOKEN, running_misbehaving_server
from tests.tap_script import (
    MODERN,
    TapScript,
    cancelled,
    error,
    progress,
    request,
    result,
)


class Tap:
    """A tracker fed by a script; findings it publishes are collected, as a bus would."""

    def __init__(self, session: str | None = "sess-1") -> None:
        self.published: list[TapEvent] = []
        self.tracker = ProgressTracker(self.published.append)
        self.script = TapScript(session, sink=self.tracker.handle)

    @property
    def rules(self) -> list[str]:
        return [f.rule for f in self.published if isinstance(f, Finding)]

    def finding(self, rule: str) -> Finding:
        return next(f for f in self.published if isinstance(f, Finding) and f.rule == rule)


@pytest.fixture
def tap() -> Tap:
    return Tap()


def test_a_well_behaved_call_has_no_findings_and_full_stats(tap: Tap) -> None:
    s = tap.script
    ex = s.at(1.0).call(7, token=7)
    for step, t in enumerate((1.5, 2.0, 2.8), start=1):
        s.at(t).send(ex, progress(7, step * 10, total=30, message=f"step {step}"))
    stats = tap.tracker.active_streams()[0]
    assert (stats.rate, stats.eta) == (pytest.approx(20 / 1.3), pytest.approx(0))
    s.at(3.0).send(ex, result(7))
    s.close(ex)
    assert tap.rules == []
    assert tap.tracker.active_streams() == []
    assert (stats.token, stats.label, stats.count) == (7, "download_file", 3)
    assert (stats.first_progress, stats.last_progress, stats.total) == (10, 30, 30)
    assert stats.message == "step 3"
    assert stats.time_to_first == pytest.approx(0.5)
    assert stats.longest_gap == pytest.approx(0.8)
    assert stats.duration == pytest.approx(2.0)
    assert stats.outcome is RequestState.COMPLETED
    assert {m: list(times) for m, times in tap.tracker.latencies.items()} == {
        "tools/call": [pytest.approx(2.0)]
    }


def test_progress_that_does_not_increase_is_an_error(tap: Tap) -> None:
    ex = tap.script.call(1, token="t")
    for value in (5, 3, 3, 4):
        tap.script.send(ex, progress("t", value))
    assert tap.rules == ["progress-not-increasing", "progress-not-increasing"]
    found = tap.finding("progress-not-increasing")
    assert found.severity is Severity.ERROR
    assert (found.progress_token, found.request_id, found.session_id) == ("t", 1, "sess-1")
    assert found.extra == {"previous": 5, "progress": 3}


def test_progress_after_the_response(tap: Tap) -> None:
    ex = tap.script.call(1, token=1)
    tap.script.send(ex, progress(1, 1))
    tap.script.send(ex, result(1))
    tap.script.send(ex, progress(1, 2))
    assert tap.rules == ["progress-after-completion"]
    assert tap.tracker.streams[0].late == 1


def test_progress_after_an_error_response_on_another_stream(tap: Tap) -> None:
    ex = tap.script.call(1, token=1)
    tap.script.send(ex, error(1))
    standalone = tap.script.get()
    tap.script.send(standalone, progress(1, 2), stream=StreamKind.GET_SSE)
    assert tap.rules == ["progress-never-sent", "progress-after-completion"]
    assert tap.tracker.errors["tools/call"] == 1


def test_progress_for_a_token_nobody_holds(tap: Tap) -> None:
    ex = tap.script.call(1, token=1)
    tap.script.send(ex, progress("nobody", 1))
    assert tap.rules == ["progress-unknown-token"]
    assert tap.finding("progress-unknown-token").progress_token == "nobody"


def test_string_and_integer_tokens_are_different(tap: Tap) -> None:
    ex = tap.script.call(1, token=1)
    tap.script.send(ex, progress("1", 1))
    assert tap.rules == ["progress-unknown-token"]
    assert "holds 1" in tap.finding("progress-unknown-token").detail
    assert tap.tracker.streams[0].count == 0  # the integer token's stream got nothing
    tap.script.call(2, token="1")  # "1" while 1 is active: legal, but SDKs coerce them
    assert tap.rules[-1] == "progress-token-ambiguous"


def test_token_reused_while_its_request_is_active(tap: Tap) -> None:
    first = tap.script.call(1, token="shared")
    tap.script.call(2, token="shared")
    assert tap.rules == ["progress-token-reused"]
    assert tap.finding("progress-token-reused").severity is Severity.WARNING
    tap.script.send(first, result(1))
    tap.script.call(3, token="x")
    tap.script.send(tap.script.call(4, token="x"), result(4))
    assert tap.rules.count("progress-token-reused") == 2


def test_token_reused_after_completion_is_fine(tap: Tap) -> None:
    ex = tap.script.call(1, token="t")
    tap.script.send(ex, progress("t", 1))
    tap.script.send(ex, result(1))
    ex2 = tap.script.call(2, token="t")
    tap.script.send(ex2, progress("t", 1))
    assert tap.rules == []
    assert [s.count for s in tap.tracker.streams] == [1, 1]


@pytest.mark.parametrize("token", [1.5, True, None, ["list"]])
def test_tokens_must_be_strings_or_integers(tap: Tap, token: object) -> None:
    tap.script.post(request(1, token=None) | {"params": {"_meta": {"progressToken": token}}})
    assert tap.rules == ["progress-token-invalid-type"]
    tap.script.send(tap.script.call(2, token=2), progress(token, 1))
    assert tap.rules == ["progress-token-invalid-type"] * 2


def test_progress_above_total_and_a_changing_total(tap: Tap) -> None:
    ex = tap.script.call(1, token=1)
    tap.script.send(ex, progress(1, 5, total=10))
    tap.script.send(ex, progress(1, 12, total=10))
    tap.script.send(ex, progress(1, 13, total=20))
    assert tap.rules == ["progress-exceeds-total", "progress-total-changed"]
    assert tap.finding("progress-total-changed").severity is Severity.WARNING
    assert tap.tracker.streams[0].total == 20


def test_non_numeric_progress(tap: Tap) -> None:
    ex = tap.script.call(1, token=1)
    tap.script.send(ex, progress(1, "half"))
    assert tap.rules == ["progress-value-invalid"]


def test_asked_for_progress_and_got_none_is_information(tap: Tap) -> None:
    ex = tap.script.call(1, token=1)
    tap.script.send(ex, result(1))
    assert tap.rules == ["progress-never-sent"]
    assert tap.finding("progress-never-sent").severity is Severity.INFO


def test_notifications_cancelled_then_anything_from_the_server(tap: Tap) -> None:
    s = tap.script
    ex = s.call(1, token=1)
    s.send(ex, progress(1, 1))
    s.post(cancelled(1, "user pressed stop"))
    assert tap.rules == ["request-cancelled"]
    assert "user pressed stop" in tap.finding("request-cancelled").detail
    s.send(ex, progress(1, 2))
    s.send(ex, error(1, -32800, "Request cancelled"))  # what the SDK server really does
    assert tap.rules[1:] == ["message-after-cancellation"] * 2
    # before 2026-07-28 the SDK answers a cancelled request anyway: a warning, not an error
    assert tap.published[-1].severity is Severity.WARNING  # type: ignore[union-attr]
    assert tap.tracker.streams[0].outcome is RequestState.CANCELLED


def test_a_cancel_racing_the_response_is_legal(tap: Tap) -> None:
    ex = tap.script.call(1, token=1)
    tap.script.send(ex, progress(1, 1))
    tap.script.send(ex, result(1))
    tap.script.post(cancelled(1))
    assert tap.rules == []


def test_2026_closing_the_stream_is_cancellation() -> None:
    tap = Tap(session=None)
    s = tap.script
    ex = s.post(request(2, token=2, version=MODERN), version_header=MODERN)
    s.respond(ex)
    s.send(ex, progress(2, 1, total=4))
    s.close(ex, "client-disconnected")
    assert tap.rules == ["request-cancelled"]
    assert "closed the response stream" in tap.finding("request-cancelled").detail
    # anything for it afterwards (say, in a recording) breaks the MUST: an error
    s.send(ex, progress(2, 2, total=4))
    assert tap.rules[-1] == "message-after-cancellation"
    assert tap.published[-1].severity is Severity.ERROR  # type: ignore[union-attr]


def test_before_2026_a_disconnect_is_not_cancellation(tap: Tap) -> None:
    ex = tap.script.post(request(1, token=1), version_header="2025-11-25")
    tap.script.respond(ex)
    tap.script.close(ex, "client-disconnected")
    resumed = tap.script.get(last_event_id="1-3")  # the client resumes the stream
    tap.script.send(resumed, progress(1, 1), stream=StreamKind.GET_SSE)
    tap.script.send(resumed, result(1), stream=StreamKind.GET_SSE)
    assert tap.rules == []
    assert tap.tracker.streams[0].count == 1


def test_2026_ids_repeat_across_independent_posts() -> None:
    tap = Tap(session=None)
    s = tap.script
    for _ in range(2):
        ex = s.post(request(2, token=2, version=MODERN))
        s.respond(ex)
        s.send(ex, progress(2, 1))
        s.send(ex, result(2))
        s.close(ex)
    assert tap.rules == []
    assert [st.outcome for st in tap.tracker.streams] == [RequestState.COMPLETED] * 2


def test_2026_two_clients_with_the_same_token_at_once_are_fine() -> None:
    # no session tells two independent clients apart; each POST's stream is its own
    tap = Tap(session=None)
    a = tap.script.post(request(2, token=2, version=MODERN))
    b = tap.script.post(request(2, token=2, version=MODERN))
    tap.script.respond(a)
    tap.script.respond(b)
    tap.script.send(b, progress(2, 1))
    tap.script.send(a, progress(2, 1))
    tap.script.send(a, progress(2, 2))
    assert tap.rules == []
    assert [st.count for st in tap.tracker.active_streams()] == [2, 1]
    tap.script.send(a, result(2))
    assert [st.count for st in tap.tracker.active_streams()] == [1]


def test_2026_stream_ending_without_a_response() -> None:
    tap = Tap(session=None)
    ex = tap.script.post(request(3, token=3, version=MODERN))
    tap.script.respond(ex)
    tap.script.send(ex, progress(3, 1))
    tap.script.close(ex)
    assert tap.rules == ["stream-closed-without-response"]
    assert tap.tracker.streams[0].outcome is RequestState.ABANDONED


def test_2025_11_25_task_keeps_its_token_until_the_task_ends(tap: Tap) -> None:
    s = tap.script
    ex = s.post(request(1, token="job", task={"ttl": 60000}), version_header="2025-11-25")
    s.respond(ex, StreamKind.JSON_RESPONSE)
    task = {"taskId": "T1", "status": "working", "createdAt": "x", "lastUpdatedAt": "x"}
    s.send(ex, result(1, {"task": task}), stream=StreamKind.JSON_RESPONSE)
    s.close(ex)
    standalone = s.get()
    s.send(standalone, progress("job", 1), stream=StreamKind.GET_SSE)
    assert tap.rules == []
    assert tap.tracker.active_streams()[0].count == 1
    status = {"taskId": "T1", "status": "completed"}
    notify = {"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": status}
    s.send(standalone, notify, stream=StreamKind.GET_SSE)
    assert tap.tracker.streams[0].outcome is RequestState.COMPLETED
    s.send(standalone, progress("job", 2), stream=StreamKind.GET_SSE)
    assert tap.rules == ["progress-after-completion"]


def test_task_ended_by_tasks_get_result(tap: Tap) -> None:
    s = tap.script
    ex = s.call(1, token="job", task={})
    s.send(ex, result(1, {"task": {"taskId": "T9", "status": "working"}}))
    poll = s.post(request(2, method="tasks/get", taskId="T9"))
    s.respond(poll, StreamKind.JSON_RESPONSE)
    s.send(poll, result(2, {"taskId": "T9", "status": "failed"}), stream=StreamKind.JSON_RESPONSE)
    assert tap.tracker.streams[0].outcome is RequestState.FAILED


def test_progress_on_the_standalone_get_stream_is_flagged_in_2025(tap: Tap) -> None:
    ex = tap.script.post(request(1, token=1), version_header="2025-06-18")
    tap.script.respond(ex)
    standalone = tap.script.get()
    tap.script.send(standalone, progress(1, 1), stream=StreamKind.GET_SSE)
    assert tap.rules == ["progress-on-standalone-stream"]
    assert tap.tracker.streams[0].count == 1  # flagged, and still counted


def test_legacy_sse_progress_and_response_arrive_on_the_get_stream(tap: Tap) -> None:
    s = tap.script
    stream = s.get(legacy=True)
    init = s.post(request(0, method="initialize", protocolVersion="2024-11-05"))
    s.respond(init, None, status=202)
    s.close(init)
    s.send(stream, result(0, {"protocolVersion": "2024-11-05"}), stream=StreamKind.LEGACY_SSE)
    ex = s.post(request(1, token=1))
    s.respond(ex, None, status=202)
    s.close(ex)
    s.send(stream, progress(1, 1, total=2), stream=StreamKind.LEGACY_SSE)
    s.send(stream, result(1), stream=StreamKind.LEGACY_SSE)
    assert tap.rules == []
    assert tap.tracker.streams[0].outcome is RequestState.COMPLETED
    assert set(tap.tracker.latencies) == {"initialize", "tools/call"}


def test_a_flood_of_the_same_violation_is_capped(tap: Tap) -> None:
    ex = tap.script.call(1, token=1)
    tap.script.send(ex, result(1))
    for value in range(50):
        tap.script.send(ex, progress(1, value))
    assert tap.rules.count("progress-after-completion") == MAX_FINDINGS_PER_SUBJECT


def test_findings_can_be_kept_without_publishing() -> None:
    published: list[TapEvent] = []
    tracker = ProgressTracker(published.append, emit_findings=False)
    script = TapScript(sink=tracker.handle)
    script.send(script.call(1, token=1), progress(2, 1))
    assert published == []
    assert [f.rule for f in tracker.findings] == ["progress-unknown-token"]


def test_match_names_the_request_an_event_belongs_to(tap: Tap) -> None:
    ex = tap.script.call(5, token=5)
    event = tap.script.send(ex, progress(5, 1))
    matched = tap.tracker.match(event)
    assert matched is not None and matched.request_id == 5
    response = tap.script.send(ex, result(5))
    assert tap.tracker.match(response) is matched
    assert tap.tracker.match(event) is None  # only the most recent event


def test_every_rule_slug_is_catalogued(tap: Tap) -> None:
    assert all(rule.slug == slug for slug, rule in BY_SLUG.items())
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.95) == 4.0
    assert percentile([], 0.5) is None


def test_server_to_client_requests_are_tracked_the_other_way(tap: Tap) -> None:
    stream = tap.script.get()
    sampling = request(9, method="sampling/createMessage", token="s9")
    tap.script.send(stream, sampling, stream=StreamKind.GET_SSE)
    tap.script.post(progress("s9", 1), headers=())
    tap.script.post(result(9))
    assert tap.rules == []
    assert tap.tracker.streams[0].count == 1
    assert tap.tracker.streams[0].outcome is RequestState.COMPLETED
    assert tap.tracker.latencies["sampling/createMessage"]


# --- end to end: a real client, the real proxy, a real (misbehaving) server ---------------


async def _call_through_proxy(
    upstream: str, tool: str, arguments: dict[str, object], deadline: float | None = None
) -> tuple[Collector, object]:
    bus = TapBus()
    collector = Collector()
    bus.subscribe(ProgressTracker(bus.publish))
    bus.subscribe(collector)
    outcome: object = None
    async with running_proxy(upstream, bus) as proxy_url:
        async with Client(proxy_url + "/mcp") as client:
            with anyio.move_on_after(deadline or 10):
                outcome = await client.call_tool(tool, arguments, progress_callback=_ignore)
        await asyncio.sleep(0.1)  # let the proxy see the exchange close
    bus.close()
    return collector, outcome


async def _ignore(progress: float, total: float | None, message: str | None) -> None:
    pass


@pytest.mark.timeout(30)
def test_misbehaving_server_through_the_real_proxy_gives_exactly_its_findings() -> None:
    async def run() -> tuple[Collector, object]:
        async with running_misbehaving_server() as base_url:
            return await _call_through_proxy(base_url + "/mcp", "bad_progress", {})

    collector, outcome = asyncio.run(run())
    assert collector.rules == [
        "progress-not-increasing",
        "progress-unknown-token",
        "progress-after-completion",
    ]
    assert getattr(outcome, "is_error", None) is False  # the SDK client shrugged it off
    found = [e for e in collector.events if isinstance(e, Finding)]
    assert found[1].progress_token == UNKNOWN_TOKEN
    assert {f.request_id for f in (found[0], found[2])} == {2}  # the SDK: token = request id


@pytest.mark.timeout(30)
def test_2026_client_giving_up_through_the_real_proxy_is_a_cancellation() -> None:
    async def run() -> tuple[Collector, object]:
        async with running_demo_server() as base_url:
            arguments = {"filename": "big.iso", "size_mb": 50, "step_delay": 0.05}
            return await _call_through_proxy(base_url + "/mcp", "download_file", arguments, 0.4)

    collector, outcome = asyncio.run(run())
    assert outcome is None  # the client gave up
    assert collector.rules == ["request-cancelled"]
    cancel = next(e for e in collector.events if isinstance(e, Finding))
    assert "closed the response stream" in cancel.detail


def test_a_request_answered_http_404_is_an_error_not_an_open_request(tap: Tap) -> None:
    ex = tap.script.post(request(3, token=None, name="download_file"))
    tap.script.respond(ex, stream=None, status=404)
    tap.script.close(ex)
    assert tap.rules == ["http-error"]
    assert "HTTP 404" in tap.finding("http-error").detail
    assert tap.tracker.errors["tools/call"] == 1
    assert tap.tracker.unanswered() == []


def test_a_json_response_with_no_response_in_it_is_flagged_in_any_era() -> None:
    tap = Tap()
    ex = tap.script.post(request(4, token=None, name="download_file"))
    tap.script.respond(ex, stream=StreamKind.JSON_RESPONSE)
    tap.script.close(ex)
    assert tap.rules == ["stream-closed-without-response"]
    assert tap.tracker.unanswered() == []


def _probe(tap: Tap, status: int, body: dict[str, object] | None) -> None:
    """A session-less server/discover, answered `status` with `body` (None: no JSON)."""
    ex = tap.script.post(request(1, method="server/discover", version=MODERN), session=None)
    stream = StreamKind.JSON_RESPONSE if body is not None else None
    tap.script.respond(ex, stream=stream, status=status)
    if body is not None:
        tap.script.send(ex, body, stream=StreamKind.JSON_RESPONSE, session=None)
    tap.script.close(ex)


@pytest.mark.parametrize("body", [error(1, -32601), error(None, -32601), None])
def test_a_refused_probe_then_initialize_is_one_info_finding(
    body: dict[str, object] | None,
) -> None:
    tap = Tap(session=None)
    _probe(tap, 400 if body is not None else 404, body)
    assert tap.rules == []  # not yet: only the fallback says what the refusal meant
    tap.script.post(request(2, method="initialize"), session=None)
    assert tap.rules == ["era-fallback"]
    finding = tap.finding("era-fallback")
    assert finding.severity is Severity.INFO and finding.request_id == 1
    assert "fell back to initialize id 2" in finding.detail
    assert tap.tracker.errors["server/discover"] == 0
    assert [r.method for r in tap.tracker.unanswered()] == ["initialize"]


def test_a_json_rpc_error_in_a_4xx_body_is_an_answer_not_an_http_error(tap: Tap) -> None:
    ex = tap.script.post(request(5, token=None, name="download_file"))
    tap.script.respond(ex, stream=StreamKind.JSON_RESPONSE, status=400)
    tap.script.send(ex, error(None, -32600, "Bad Request"), stream=StreamKind.JSON_RESPONSE)
    tap.script.close(ex)
    assert tap.rules == []
    assert tap.tracker.errors["tools/call"] == 1
    assert tap.tracker.unanswered() == []


def test_a_probe_answered_5xx_is_still_an_http_error() -> None:
    tap = Tap(session=None)
    _probe(tap, 502, None)
    tap.script.post(request(2, method="initialize"), session=None)
    assert tap.rules == ["http-error"]


def test_a_result_with_is_error_is_a_tool_error_not_an_error(tap: Tap) -> None:
    ex = tap.script.call(9, token=9)
    tap.script.send(ex, result(9, {"content": [], "isError": True}))
    tap.script.close(ex)
    assert (tap.tracker.errors["tools/call"], tap.tracker.tool_errors["tools/call"]) == (0, 1)
    stats = tap.tracker.streams[-1]
    assert stats.outcome is RequestState.COMPLETED and stats.tool_error
