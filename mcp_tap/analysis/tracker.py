"""The progress tracker: per-token statistics and the progress and cancellation rules.

`ProgressTracker` is a tap subscriber with no I/O. It correlates every message with its
request (through `correlation.RequestIndex`), keeps per-token `ProgressStats` and per-method
latencies, and publishes a `Finding` through the `publish` callable it was given when a
message breaks a rule of the spec's progress and cancellation utilities (slugs in
`rules/traffic.py`). The view reads its statistics; the recorder keeps its findings.

Revisions matter: in 2026-07-28 a client closing the response stream cancels the request;
in 2025-11-25 a task-augmented request's token outlives its response until the task ends.
"""

from __future__ import annotations

from array import array
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from mcp_tap.analysis import rules
from mcp_tap.analysis.answers import RecentAnswers
from mcp_tap.analysis.correlation import OWN_STREAMS, RequestIndex, opposite, token_key
from mcp_tap.analysis.era_probe import PROBE_METHOD, ProbeWatch
from mcp_tap.analysis.progress_stats import (
    ProgressStats,
    RequestState,
    TrackedRequest,
    is_number,
    is_valid_token,
    request_label,
    request_params,
    typed_key,
)
from mcp_tap.analysis.rules import Rule
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    FaultInjected,
    Finding,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    Severity,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import is_tool_error

__all__ = ["ProgressStats", "ProgressTracker", "RequestState", "TrackedRequest"]

TASK_TERMINAL = frozenset({"completed", "failed", "cancelled"})
RELATED_TASK = "io.modelcontextprotocol/related-task"
MAX_FINDINGS_PER_SUBJECT = 10  # a server flooding one broken stream yields a few findings, not 10k


KEPT_STREAMS = 1000  # progress streams kept for the summary, which shows the last few
KEPT_ENDINGS = 10_000  # ended streams a view has not yet taken (it takes them every frame)


class ProgressTracker:
    """Tap subscriber: correlation, per-token stats, latencies and findings.

    `emit_findings=False` keeps findings in `self.findings` without publishing them; `show`
    uses it when the recording already carries the findings of the session it shows.
    `keep_endings=True` keeps the streams that ended in `self.ended` for a view to take and
    print; without a view nothing takes them, so nothing is kept. `keep_matches=True` keeps
    a batch of `match`'s answers for a view to take (`answers.RecentAnswers`).
    """

    def __init__(
        self,
        publish: Callable[[TapEvent], None],
        emit_findings: bool = True,
        keep_endings: bool = False,
        keep_matches: bool = False,
    ) -> None:
        self._publish = publish
        self._emit = emit_findings
        self.index = RequestIndex()
        # bounded, or a few bytes a request: a proxy runs for hours
        self.streams: deque[ProgressStats] = deque(maxlen=KEPT_STREAMS)  # the latest, in order
        self.stream_count = 0  # every token seen
        self.ended: deque[tuple[TapEvent, ProgressStats]] = deque(
            maxlen=KEPT_ENDINGS if keep_endings else 0
        )  # to print
        self.latencies: dict[str, array[float]] = {}  # method -> request-to-response seconds
        self.requests: Counter[str] = Counter()  # method -> requests seen
        self.errors: Counter[str] = Counter()  # method -> error responses seen
        self.tool_errors: Counter[str] = Counter()  # method -> results with isError: true
        self.findings: list[Finding] = []
        self._flag_counts: Counter[tuple[str, Any]] = Counter()
        self._last: tuple[TapEvent | None, TrackedRequest | None] = (None, None)
        self._answers = RecentAnswers(for_a_view=keep_matches)  # what `match` answers
        self._probes = ProbeWatch()

    # --- public ---------------------------------------------------------------------------

    def handle(self, event: TapEvent) -> None:
        """Update state from one tap event; may publish findings."""
        self._last = (event, None)  # the request it belongs to, once correlated
        if isinstance(event, MessageSeen):
            self._on_message(event)
        elif isinstance(event, ExchangeOpened):
            self.index.opened(event)
        elif isinstance(event, ResponseStarted):
            info = self.index.exchange(event.exchange_id, event.session_id)
            info.status, info.stream = event.status, event.stream
        elif isinstance(event, ExchangeClosed):
            self._on_closed(event)
        elif isinstance(event, FaultInjected) and event.action in ("error", "status"):
            # answered in the server's place: the request failed, and waits for nothing more
            if request := self.index.injected(event.exchange_id, event.request_id):
                self.errors[request.method] += 1
                self._finish(event, request, RequestState.FAILED)
        self._answers.give(*self._last)

    def close(self) -> None:
        """Nothing to release: the tracker holds no resources."""

    def match(self, event: TapEvent) -> TrackedRequest | None:
        """The request a recently handled `event` was correlated with, if any: asked in the
        order the events were handled (the view asks from its own `handle`, so it never
        repeats the correlation)."""
        return self._answers.take(event)

    def active_streams(self) -> list[ProgressStats]:
        """Progress streams whose request is still running, oldest first."""
        return self.index.live_streams()

    def unanswered(self) -> list[TrackedRequest]:
        """Requests still waiting for a response."""
        return self.index.unanswered()

    # --- messages -------------------------------------------------------------------------

    def _on_message(self, event: MessageSeen) -> None:
        kind, method = event.message.kind, event.message.method
        if kind is MessageKind.REQUEST:
            self._on_request(event)
        elif kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            self._on_response(event)
        elif method == "notifications/progress":
            self._on_progress(event)
        elif method == "notifications/cancelled":
            self._on_cancelled(event)
        elif method == "notifications/tasks/status":
            self._on_task_update(event, request_params(event))

    def _on_request(self, event: MessageSeen) -> None:
        message, session = event.message, event.session_id
        info = self.index.exchange(event.exchange_id, session)
        revision = message.protocol_version or info.version_header
        if revision is None and session is not None:
            revision = self.index.revisions.get(session)
        method = message.method or "?"
        label = request_label(method, request_params(event))
        request = TrackedRequest(
            session, message.id, method, label, event.direction,
            event.exchange_id, event.time, revision, message.progress_token,
            message.has_progress_token,
        )  # fmt: skip
        self._last = (event, request)
        self.requests[method] += 1
        self.index.add(request)
        if message.has_progress_token:
            self._take_token(event, request)
        probe = self._probes.fallback(request)
        if probe is not None:
            self.errors[PROBE_METHOD] -= 1  # its refusal was the era's answer, not a failure
            detail = f"{PROBE_METHOD} id {probe.request.request_id!r} was refused ({probe.how}); "
            detail += f"the client fell back to {method} id {request.request_id!r}"
            self._flag(event, rules.ERA_FALLBACK, detail, probe.request)

    def _take_token(self, event: MessageSeen, request: TrackedRequest) -> None:
        token, where = request.token, f"{request.method} id {request.request_id!r}"
        if not is_valid_token(token):
            kind = type(token).__name__
            detail = f"{where} carries progressToken {token!r} ({kind}), not a string or integer"
            self._flag(event, rules.PROGRESS_TOKEN_INVALID_TYPE, detail, request)
            return
        key = token_key(request)
        holder = self.index.holder(key)
        # Without a session nothing tells two independent 2026-07-28 clients apart, and their
        # progress is correlated by POST anyway: only a reuse within a session is a finding.
        if holder is not None and request.session_id is not None:
            detail = f"{where} reuses progressToken {token!r} of active id {holder.request_id!r}"
            self._flag(event, rules.PROGRESS_TOKEN_REUSED, detail, request)
        twin = self.index.twin(key, token)
        if twin is not None:
            detail = f"{where}: progressToken {token!r} and active {twin.token!r} differ by type"
            self._flag(event, rules.PROGRESS_TOKEN_AMBIGUOUS, detail, request)
        request.progress = ProgressStats(
            token, request.session_id, request.request_id, request.method, request.label,
            request.sent_at, request.exchange_id,
        )  # fmt: skip
        self.streams.append(request.progress)
        self.stream_count += 1
        self.index.take_token(request)

    def _on_response(self, event: MessageSeen) -> None:
        message = event.message
        error = message.kind is MessageKind.ERROR
        if error and event.stream in OWN_STREAMS:
            self.index.exchange(event.exchange_id, event.session_id).jsonrpc_error = True
        request = self.index.answered(event) if message.id is not None else None
        if request is None and error:  # "id": null, or an id of the server's own
            request = self.index.refused(event)
        if request is None or request.answered_at is not None:
            return  # sent before the tap started, or answered twice (a resumed stream replays)
        self._last = (event, request)
        request.answered_at = event.time
        if request.state is RequestState.CANCELLED:
            self._after_cancel(event, request, "a response")
            return
        times = self.latencies.get(request.method)
        if times is None:
            times = self.latencies[request.method] = array("d")  # 8 bytes a request
        times.append(event.time - request.sent_at)
        if error:
            self.errors[request.method] += 1
            status = self.index.exchange(event.exchange_id, event.session_id).status
            self._probes.error(request, status, message.payload)
        elif is_tool_error(message):
            self.tool_errors[request.method] += 1
            request.tool_error = True
        if message.protocol_version and event.session_id is not None:
            self.index.revisions[event.session_id] = message.protocol_version  # initialize
        result = message.payload.get("result")
        task = result.get("task") if isinstance(result, dict) else None
        if isinstance(task, dict) and isinstance(task.get("taskId"), str):
            if task.get("status") not in TASK_TERMINAL:  # 25c: the token outlives the response
                self.index.start_task(request, task["taskId"])
                return
        ok = message.kind is MessageKind.RESPONSE
        self._finish(event, request, RequestState.COMPLETED if ok else RequestState.FAILED)
        if isinstance(result, dict):  # tasks/get, tasks/cancel, tasks/result describe a task
            self._on_task_update(event, result)

    def _on_progress(self, event: MessageSeen) -> None:
        params = request_params(event)
        token = params.get("progressToken")
        if not is_valid_token(token):
            detail = f"notifications/progress names progressToken {token!r}"
            detail += ", not a string or integer"
            subject = ("progress", event.exchange_id)
            self._flag(event, rules.PROGRESS_TOKEN_INVALID_TYPE, detail, subject=subject)
            return
        request = self.index.reporting(event, token)
        if request is None or request.progress is None:
            key = (event.session_id, opposite(event.direction), typed_key(token))
            twin = self.index.twin(key, token)
            hint = f" (active request id {twin.request_id!r} holds {twin.token!r})" if twin else ""
            detail = f"progress for token {token!r}, which no active request carries{hint}"
            self._flag(event, rules.PROGRESS_UNKNOWN_TOKEN, detail, subject=key, token=token)
            return
        self._last = (event, request)
        if request.live:
            self._check_stream(event, request)
            self._update(event, request, request.progress, params)
            return
        request.progress.late += 1
        if request.state is RequestState.CANCELLED:
            self._after_cancel(event, request, "progress")
        else:
            detail = f"progress {params.get('progress')!r} for token {token!r} after "
            detail += f"{request.method} id {request.request_id!r} {request.state.value}"
            self._flag(event, rules.PROGRESS_AFTER_COMPLETION, detail, request)

    def _update(
        self,
        event: MessageSeen,
        request: TrackedRequest,
        stats: ProgressStats,
        params: dict[str, Any],
    ) -> None:
        progress, total = params.get("progress"), params.get("total")
        if not is_number(progress) or not (total is None or is_number(total)):
            detail = f"token {stats.token!r}: progress {progress!r} and total {total!r}"
            detail += " must be numbers"
            self._flag(event, rules.PROGRESS_VALUE_INVALID, detail, request)
            return
        last = stats.last_progress
        if last is not None and progress <= last:
            detail = f"token {stats.token!r}: progress went from {last:g} to {progress:g}"
            extra = {"previous": last, "progress": progress}
            self._flag(event, rules.PROGRESS_NOT_INCREASING, detail, request, extra=extra)
        if total is not None and stats.total is not None and total != stats.total:
            detail = f"token {stats.token!r}: total changed from {stats.total:g} to {total:g}"
            self._flag(event, rules.PROGRESS_TOTAL_CHANGED, detail, request)
        if total is not None and progress > total:
            detail = f"token {stats.token!r}: progress {progress:g} is above total {total:g}"
            self._flag(event, rules.PROGRESS_EXCEEDS_TOTAL, detail, request)
        if stats.last_at is None:
            stats.first_progress, stats.first_at = progress, event.time
        else:
            stats.longest_gap = max(stats.longest_gap, event.time - stats.last_at)
        stats.count += 1
        stats.last_progress, stats.last_at = progress, event.time
        stats.total = total if total is not None else stats.total
        if isinstance(params.get("message"), str):
            stats.message = params["message"]

    def _check_stream(self, event: MessageSeen, request: TrackedRequest) -> None:
        # 25a-25c: progress belongs on the request's own stream, or on a GET resuming it;
        # a task's own POST has ended, so its progress may come on any stream
        if event.stream is not StreamKind.GET_SSE or request.revision is None or request.task_id:
            return
        info = self.index.exchanges.get(event.exchange_id)
        if request.stateless or request.revision < "2025-03-26" or (info and info.resumed):
            return
        detail = f"progress for token {request.token!r} of {request.method} id "
        detail += f"{request.request_id!r} came on the standalone GET stream"
        subject = ("standalone", id(request))
        self._flag(event, rules.PROGRESS_ON_STANDALONE_STREAM, detail, request, subject=subject)

    # --- cancellation, tasks, stream ends -------------------------------------------------

    def _on_cancelled(self, event: MessageSeen) -> None:
        params = request_params(event)
        request_id = params.get("requestId")
        if not is_valid_token(request_id):
            return  # 25c tasks may omit it; they are cancelled with tasks/cancel instead
        request = self.index.active(event.session_id, event.direction, request_id)
        if request is None or not request.live:
            return  # a cancel racing the response is legal
        self._last = (event, request)
        reason = params.get("reason")
        self._cancel(event, request, "notifications/cancelled" + (f": {reason}" if reason else ""))

    def _cancel(self, event: TapEvent, request: TrackedRequest, how: str) -> None:
        self._finish(event, request, RequestState.CANCELLED)
        detail = f"{request.method} id {request.request_id!r} cancelled ({how})"
        self._flag(event, rules.REQUEST_CANCELLED, detail, request)

    def _after_cancel(self, event: MessageSeen, request: TrackedRequest, what: str) -> None:
        detail = f"{what} for {request.method} id {request.request_id!r} after its cancellation"
        # 2026-07-28: the server MUST send nothing more; before, SDKs answer -32800 anyway
        severity = Severity.ERROR if request.stateless else None
        self._flag(event, rules.MESSAGE_AFTER_CANCELLATION, detail, request, severity=severity)

    def _on_task_update(self, event: MessageSeen, task: dict[str, Any]) -> None:
        task_id, status = task.get("taskId"), task.get("status")
        meta = task.get("_meta")
        related = meta.get(RELATED_TASK) if isinstance(meta, dict) else None
        if task_id is None and isinstance(related, dict):  # a tasks/result payload
            task_id, status = related.get("taskId"), "completed"
        if not isinstance(task_id, str) or status not in TASK_TERMINAL:
            return
        request = self.index.pop_task(event.session_id, task_id)
        if request is None:
            return
        if status == "cancelled":
            self._cancel(event, request, f"task {task_id} cancelled")
        else:
            ok = status == "completed"
            self._finish(event, request, RequestState.COMPLETED if ok else RequestState.FAILED)

    def _on_closed(self, event: ExchangeClosed) -> None:
        info = self.index.exchanges.pop(event.exchange_id, None)
        if info is None:
            return
        http_error = info.status is not None and info.status >= 400
        # A 202 (legacy SSE) is answered on another stream: its end says nothing of the request.
        own = info.status is None or info.stream in (StreamKind.POST_SSE, StreamKind.JSON_RESPONSE)
        for request in info.requests:
            if request.state is not RequestState.ACTIVE:
                continue
            if request.direction is not Direction.CLIENT_TO_SERVER:
                continue
            if http_error and event.reason == "complete":
                # Refused at the HTTP level (404, 400, 500...): no JSON-RPC answer will come.
                self.errors[request.method] += 1
                self._finish(event, request, RequestState.FAILED)
                if info.jsonrpc_error:
                    continue  # the body said why, as a JSON-RPC error: an answer like any other
                if info.status is not None and self._probes.bare_refusal(request, info.status):
                    continue  # a bare 4xx refuses a probe too (2026-07-28 version discovery)
                detail = f"{request.method} id {request.request_id!r} was answered HTTP "
                detail += f"{info.status}, with no JSON-RPC response"
                self._flag(event, rules.HTTP_ERROR, detail, request)
                continue
            # A JSON body holds its response, so does a 2026-07-28 stream; a handshake-era SSE
            # stream may be resumed and answered on another (Last-Event-ID)
            must_answer = request.stateless or info.stream is StreamKind.JSON_RESPONSE
            if not own or not must_answer:
                continue
            if event.reason == "client-disconnected":
                self._cancel(event, request, "the client closed the response stream")
                continue
            self._finish(event, request, RequestState.ABANDONED)
            self.errors[request.method] += 1  # a request that lost its answer failed
            if event.reason == "complete" and not http_error:
                detail = f"the response stream of {request.method} id {request.request_id!r} "
                detail += "ended without the response"
                self._flag(event, rules.STREAM_CLOSED_WITHOUT_RESPONSE, detail, request)
            # else: an upstream fault, already shown as such

    def _finish(self, event: TapEvent, request: TrackedRequest, state: RequestState) -> None:
        request.state, request.ended_at = state, event.time
        self.index.finish(request)
        stats = request.progress
        if stats is None:
            return
        stats.outcome, stats.ended_at = state, event.time
        stats.tool_error = request.tool_error
        self.ended.append((event, stats))
        if stats.count == 0 and state in (RequestState.COMPLETED, RequestState.FAILED):
            detail = f"{request.method} id {request.request_id!r} asked for progress "
            detail += f"(token {stats.token!r}) and got none"
            self._flag(event, rules.PROGRESS_NEVER_SENT, detail, request)

    # --- findings -------------------------------------------------------------------------

    def _flag(
        self,
        event: TapEvent,
        rule: Rule,
        detail: str,
        request: TrackedRequest | None = None,
        *,
        severity: Severity | None = None,
        subject: Any = None,
        token: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if subject is None and request is not None:
            # not id(request): Python reuses ids of forgotten requests, which would inherit counts
            subject = (request.direction, request.exchange_id, request.request_id)
        count_key = (rule.slug, subject)
        self._flag_counts[count_key] += 1
        seen = self._flag_counts[count_key]
        if seen > MAX_FINDINGS_PER_SUBJECT:
            return
        if seen == MAX_FINDINGS_PER_SUBJECT:
            detail += " (further ones like it are not reported)"
        finding = Finding(
            time=event.time,
            severity=severity or rule.severity,
            rule=rule.slug,
            detail=detail,
            exchange_id=getattr(event, "exchange_id", None),
            session_id=request.session_id if request else getattr(event, "session_id", None),
            request_id=request.request_id if request else None,
            progress_token=request.token if request and request.has_token else token,
            extra=extra or {},
        )
        self.findings.append(finding)
        if self._emit:
            self._publish(finding)
