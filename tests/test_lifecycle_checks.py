"""The lifecycle, capability, id and 2026-07-28 rules, each where it is planted and nowhere else.

The stdio corpus: `tests/misbehaving_stdio_server.py` answers a scripted host through
`mcp-tap stdio`, planting one violation a rule; the findings the live run recorded and those
`check` makes again from the recording must be exactly the planted ones, each pointing at
the message that broke its rule. The HTTP-only rules (mirrored headers, session ids, the
version header, logging by request) are planted in scripted exchanges. Silence on real
traffic is asserted beside the schema checks (tests/test_schema_checks.py) and the SDK
clients (tests/test_proxy_clients.py, tests/test_stdio_ts.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mcp_tap.analysis.check_run import CheckOptions, check_events
from mcp_tap.analysis.conformance import CONFORMANCE_RULES, conformance_checkers
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    Finding,
    MessageSeen,
    Severity,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import classify_value
from mcp_tap.recording.reader import load_recording
from tests.misbehaving_stdio_server import HOST, expected
from tests.tap_script import MODERN, S2C, TapScript, request, result
from tests.test_stdio import ROOT, LineReader, spawned, tap

SERVER = [sys.executable, str(ROOT / "tests" / "misbehaving_stdio_server.py")]
LIFECYCLE = frozenset(rule.slug for rule in CONFORMANCE_RULES)

# (rule, the message it points at: who sent it, its method or "answer", its id)
PLANTED = [
    ("request-before-initialized", ("client", "tools/list", 1)),
    ("request-before-initialized", ("server", "notifications/tools/list_changed", None)),
    ("version-not-offered", ("client", "notifications/initialized", None)),
    ("server-capability-undeclared", ("client", "prompts/list", 3)),
    ("resource-not-subscribed", ("server", "notifications/resources/updated", None)),
    ("client-capability-undeclared", ("server", "elicitation/create", "e1")),
    ("response-duplicate", ("server", "answer", 7)),
    ("response-unknown-id", ("server", "answer", 99)),
    ("request-id-reused", ("client", "tools/list", 7)),
    ("cache-scope-inconsistent", ("server", "answer", 101)),
    ("result-type-unknown", ("server", "answer", 102)),
    ("input-required-invalid", ("server", "answer", 103)),
    ("input-retry-invalid", ("client", "tools/call", 104)),
    ("client-capability-undeclared", ("server", "answer", 106)),
]


def pointed(event: TapEvent) -> tuple[str, str | None, Any]:
    assert isinstance(event, MessageSeen)
    side = "client" if event.direction is Direction.CLIENT_TO_SERVER else "server"
    return (side, event.message.method or "answer", event.message.id)


def finished(record: Path) -> list[TapEvent]:
    deadline = time.monotonic() + 20
    while True:
        events = load_recording(record).events
        if any(isinstance(e, ExchangeClosed) for e in events):
            return events
        assert time.monotonic() < deadline, "the recording never got its end"
        time.sleep(0.05)


def converse(record: Path, *extra: str, status: int = 0) -> list[TapEvent]:
    """The planted conversation through `mcp-tap stdio`, which exits with `status`; the
    recording's events."""
    with spawned(tap(record, *SERVER, extra=extra)) as host:
        assert host.stdin is not None and host.stderr is not None
        lines = LineReader(host.stdout)
        seen: set[Any] = set()
        for message, _planted in HOST:
            host.stdin.write(json.dumps(message).encode() + b"\n")
            host.stdin.flush()
            for answer in expected(message, seen):  # in order: the next line waits for them
                assert json.loads(lines.next()) == answer
        host.stdin.close()
        assert host.wait(timeout=20) == status, host.stderr.read()
    return finished(record)


@pytest.mark.timeout(60)
def test_every_rule_fires_where_the_stdio_server_plants_it(tmp_path: Path) -> None:
    events = converse(tmp_path / "planted.yaml")
    checked = check_events(events, CheckOptions(rules=LIFECYCLE))
    assert [(f.rule, pointed(events[i])) for i, f in checked.findings] == PLANTED
    live = [e for e in events if isinstance(e, Finding) and e.rule in LIFECYCLE]
    assert [(f.rule, f.detail) for f in live] == [(f.rule, f.detail) for _, f in checked.findings]
    details = {f.rule: f.detail for _, f in reversed(checked.findings)}  # each rule's first
    assert details["request-before-initialized"] == "client request tools/list before initialize"
    assert details["version-not-offered"] == (
        "the client offered 2025-06-18, the server answered 2025-11-25, and the client went on "
        "with notifications/initialized"
    )
    assert details["client-capability-undeclared"] == (
        "server sent elicitation/create, but the client did not declare `elicitation`"
    )
    assert details["input-retry-invalid"] == (
        "retry of tools/call id 104 as id 104: it keeps the id 104 of the request it retries; "
        "no inputResponses for who"
    )
    assert "'file:///b'" in details["resource-not-subscribed"]
    capability = [f for _, f in checked.findings if f.rule == "client-capability-undeclared"]
    assert "`sampling`" in capability[1].detail and capability[1].extra == {}

    # The schema of each message is judged live on stdio too, as `check` judges it again.
    schema = frozenset({"schema-violation", "schema-revision-unknown"})
    again = check_events(events, CheckOptions(rules=schema)).findings
    live_schema = [f for f in events if isinstance(f, Finding) and f.rule in schema]
    assert [(f.rule, f.detail) for f in live_schema] == [(f.rule, f.detail) for _, f in again]
    assert live_schema, "the planted corpus breaks the schema too"


@pytest.mark.timeout(60)
def test_stdio_fail_on_turns_a_clean_exit_into_1_when_findings_were_seen(tmp_path: Path) -> None:
    events = converse(tmp_path / "gated.yaml", "--fail-on", "error", status=1)
    assert any(isinstance(e, Finding) and e.severity is Severity.ERROR for e in events)


def test_no_check_leaves_the_judging_to_check(tmp_path: Path) -> None:
    events = converse(tmp_path / "unjudged.yaml", "--no-check")
    judged = LIFECYCLE | {"schema-violation", "schema-revision-unknown"}
    assert [e.rule for e in events if isinstance(e, Finding) and e.rule in judged] == []
    checked = check_events(events, CheckOptions(rules=LIFECYCLE))  # nothing was lost
    assert [(f.rule, pointed(events[i])) for i, f in checked.findings] == PLANTED


# --- the HTTP-only rules, in scripted exchanges ----------------------------------------------


class Judged:
    """The conformance checkers fed by a script; the findings they publish are kept."""

    def __init__(self, session: str | None = None) -> None:
        self.findings: list[Finding] = []
        self.checkers = conformance_checkers(self._found)
        self.script = TapScript(session, sink=self._feed)

    def _feed(self, event: TapEvent) -> None:
        for checker in self.checkers:
            checker.handle(event)

    def _found(self, event: TapEvent) -> None:
        assert isinstance(event, Finding)
        self.findings.append(event)

    def post(self, body: dict[str, Any], answer: dict[str, Any], **post: Any) -> int:
        ex = self.script.post(body, **post)
        self.script.respond(ex, StreamKind.JSON_RESPONSE)
        self.script.send(ex, answer, StreamKind.JSON_RESPONSE)
        return ex


def modern(id: int, method: str = "tools/call", **params: Any) -> dict[str, Any]:
    body = request(id, method, version=MODERN, **params)
    body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] = {}
    return body


def mirrored(method: str, name: str | None = None, **extra: str) -> tuple[tuple[str, str], ...]:
    headers = [("mcp-protocol-version", MODERN), ("mcp-method", method)]
    if name is not None:
        headers.append(("mcp-name", name))
    return (*headers, *extra.items())


DONE = {"resultType": "complete", "content": []}
TOOL = {
    "name": "sql",
    "inputSchema": {
        "type": "object",
        "properties": {"region": {"type": "string", "x-mcp-header": "Region"}, "n": {}},
    },
}
LISTED = {"resultType": "complete", "ttlMs": 0, "cacheScope": "public", "tools": [TOOL]}


def test_mirrored_headers_are_held_to_the_body() -> None:
    j = Judged()
    j.post(modern(1, "tools/list"), result(1, LISTED), headers=mirrored("tools/list"))
    clean = modern(2, name="sql", arguments={"region": "eu", "n": 1})
    encoded = "=?base64?ZXU=?="  # "eu"
    j.post(
        clean,
        result(2, DONE),
        headers=mirrored("tools/call", "sql", **{"mcp-param-region": encoded}),
    )
    j.post(
        modern(3, name="sql"), result(3, DONE), headers=mirrored("tools/call", "=?base64?c3Fs?=")
    )
    wrong = modern(4, name="sql", arguments={"region": "us"})
    j.post(
        wrong, result(4, DONE), headers=mirrored("tools/list", "sql", **{"mcp-param-region": "eu"})
    )
    j.post(
        modern(5, name="sql", arguments={"region": "eu"}),
        result(5, DONE),
        headers=mirrored("tools/call"),
    )
    assert [(f.rule, f.request_id) for f in j.findings] == [
        ("header-mismatch", 4),
        ("header-mismatch", 5),
    ]
    assert j.findings[0].detail == (
        "tools/call id 4: Mcp-Method says 'tools/list', the body 'tools/call'; "
        "Mcp-Param-Region says 'eu', the body 'us'"
    )
    assert j.findings[1].detail == (
        "tools/call id 5: no Mcp-Name header (the body says 'sql'); "
        "no Mcp-Param-Region header (the body says 'eu')"
    )


def test_marks_follow_the_latest_tools_list_and_a_routing_header_sent_twice_is_said() -> None:
    j = Judged()
    zoned = {**TOOL, "inputSchema": {"properties": {"zone": {"x-mcp-header": "Zone"}}}}
    rezoned = {**LISTED, "tools": [zoned]}
    call = modern(0, name="sql", arguments={"region": "eu", "zone": "z1"})
    region, zone = {"mcp-param-region": "eu"}, {"mcp-param-zone": "z1"}
    for number, (listed, sent) in enumerate(
        [(LISTED, region), (LISTED, region), (rezoned, region), (LISTED, zone)]
    ):
        j.post(modern(10 * number + 1, "tools/list"), result(10 * number + 1, listed),
               headers=mirrored("tools/list"))  # fmt: skip
        j.post({**call, "id": 10 * number + 2}, result(10 * number + 2, DONE),
               headers=mirrored("tools/call", "sql", **sent))  # fmt: skip
    twice = (*mirrored("tools/list"), ("mcp-method", "tools/list"))
    j.post(modern(41, "tools/list"), result(41, LISTED), headers=twice)
    mismatches = [f for f in j.findings if f.rule == "header-mismatch"]
    assert [(f.request_id, f.detail.split(": ", 1)[1]) for f in mismatches] == [
        (22, "no Mcp-Param-Zone header (the body says 'z1')"),
        (32, "no Mcp-Param-Region header (the body says 'eu')"),
        (41, "Mcp-Method appears 2 times"),
    ]


def test_a_2026_exchange_with_a_session_id_and_a_log_without_a_level() -> None:
    j = Judged()
    headers = (*mirrored("tools/list"), ("mcp-session-id", "abc"))
    j.post(modern(1, "tools/list"), result(1, LISTED), headers=headers)
    asked = modern(2, name="sql")
    asked["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = "info"
    for body in (asked, modern(3, name="sql")):
        ex = j.script.post(body, headers=mirrored("tools/call", "sql"))
        j.script.respond(ex)
        j.script.send(ex, {"jsonrpc": "2.0", "method": "notifications/message", "params": {}})
        j.script.send(ex, result(body["id"], DONE))
    assert [(f.rule, f.request_id) for f in j.findings] == [
        ("session-id-stateless", 1),
        ("log-without-level", None),
    ]
    assert j.findings[1].detail == "notifications/message for tools/call id 3"


def handshake(j: Judged, offered: str, answered: str, session: str = "s1") -> None:
    init = request(0, "initialize", protocolVersion=offered, capabilities={}, clientInfo={})
    ex = j.script.post(init, session=None)
    j.script.respond(ex)
    capabilities = {"tools": {}}
    answer = result(0, {"protocolVersion": answered, "capabilities": capabilities})
    j.script.send(ex, answer, session=session)
    j.script.post(
        {"jsonrpc": "2.0", "method": "notifications/initialized"}, version_header=answered
    )


def test_the_version_header_against_the_negotiated_one_and_2024_severities() -> None:
    j = Judged("s1")
    handshake(j, "2025-11-25", "2025-06-18")  # an older answer is what negotiation is for
    j.post(request(1, "tools/list"), result(1, {"tools": []}), version_header="2025-06-18")
    j.post(request(2, "tools/list"), result(2, {"tools": []}), version_header="2025-11-25")
    j.script.session = "s2"
    handshake(j, "2024-11-05", "2024-11-05", "s2")
    j.post(request(1, "prompts/list"), result(1, {"prompts": []}))
    assert [(f.rule, f.session_id, f.severity) for f in j.findings] == [
        ("protocol-version-mismatch", "s1", Severity.WARNING),
        ("server-capability-undeclared", "s2", Severity.WARNING),  # 2024-11-05 says SHOULD
    ]


def test_a_session_joined_late_and_a_resumed_stream_are_not_faults() -> None:
    j = Judged("late")
    ex = j.script.post(request(5, "tools/list"))
    j.script.respond(ex)
    j.script.send(ex, result(4, {"tools": []}))  # its request came before the tap started
    answer = classify_value(result(5, {"tools": []}))
    j.script.emit(MessageSeen(ex, 0.0, S2C, StreamKind.POST_SSE, "late", answer, sse_id="9"))
    resumed = j.script.get(last_event_id="8")  # the same event again, after a broken stream
    j.script.emit(MessageSeen(resumed, 0.0, S2C, StreamKind.GET_SSE, "late", answer, sse_id="9"))
    assert j.findings == []
    j.script.emit(MessageSeen(resumed, 0.0, S2C, StreamKind.GET_SSE, "late", answer, sse_id="10"))
    assert [f.rule for f in j.findings] == ["response-duplicate"]


def reused_id_findings(tmp_path: Path, *flags: str) -> list[str]:
    """A host that sends id 2 again after id 3, through `mcp-tap stdio FLAGS`: the
    request-id-reused findings its recording holds."""
    recording = tmp_path / f"reused{len(list(tmp_path.iterdir()))}.yaml"
    lines = [
        request(1, "initialize", protocolVersion="2025-11-25", capabilities={}),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        request(2, "tools/list"),
        request(3, "tools/list"),
        request(2, "tools/list"),
    ]
    child = [sys.executable, str(ROOT / "tests" / "stdio_child.py"), "answer", "ok"]
    command = [sys.executable, "-m", "mcp_tap", "stdio", "--record", str(recording), *flags]
    with subprocess.Popen(
        [*command, "--", *child], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=ROOT,
    ) as proc:  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        for line in lines:  # each request answered before the next: none is pending
            proc.stdin.write(json.dumps(line).encode() + b"\n")
            proc.stdin.flush()
            if "id" in line:
                assert json.loads(proc.stdout.readline())["id"] == line["id"]
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    events = load_recording(recording).events
    return [e.rule for e in events if isinstance(e, Finding) and e.rule == "request-id-reused"]


def test_judge_memory_bounds_what_the_id_judge_remembers(tmp_path: Path) -> None:
    assert reused_id_findings(tmp_path) == ["request-id-reused"]
    # Remembering one id, the judge has forgotten id 2 by the time it comes again.
    assert reused_id_findings(tmp_path, "--judge-memory", "1") == []


def test_judge_memory_below_one_is_one_line_and_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "stdio", "--judge-memory", "0", "--", "true"],
        capture_output=True, text=True, timeout=30, cwd=ROOT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "mcp-tap: --judge-memory must be at least 1, got 0"
