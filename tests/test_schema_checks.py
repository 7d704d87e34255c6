"""Every message judged by its revision's schema, and tools by their own: silent on the real
`mcp` SDK's traffic in its three modes (and so are the lifecycle, id and 2026-07-28 checks),
firing exactly where a violation is planted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.client.sse import sse_client

from demo_server.runner import running_demo_server
from mcp_tap.analysis.check_run import CheckOptions, check_events
from mcp_tap.analysis.conformance import conformance_checkers
from mcp_tap.analysis.schema_catalog import KNOWN_REVISIONS, load_revision
from mcp_tap.analysis.schema_checks import SchemaChecker
from mcp_tap.analysis.tool_checks import ToolContracts
from mcp_tap.cli.proxy import running_proxy
from mcp_tap.protocol.events import Finding, MessageKind, StreamKind, TapEvent
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.recording.reader import load_recording
from mcp_tap.tap.bus import TapBus
from tests.samples import SAMPLES
from tests.tap_script import C2S, MODERN, S2C, TapScript, error, request, result

SCHEMA_RULES = {
    "schema-violation",
    "schema-revision-unknown",
    "tool-schema-invalid",
    "tool-arguments-invalid",
    "tool-structured-content-missing",
    "tool-structured-content-invalid",
}


class Checked:
    """A schema checker fed by a script; what it publishes is kept."""

    def __init__(self, session: str | None = "sess-1") -> None:
        self.published: list[TapEvent] = []
        self.events: list[TapEvent] = []  # the script's and the findings, as a bus orders them
        self.checker = SchemaChecker(self._found)
        self.script = TapScript(session, sink=self._feed)

    def _feed(self, event: TapEvent) -> None:
        self.events.append(event)
        self.checker.handle(event)

    def _found(self, event: TapEvent) -> None:
        self.published.append(event)
        self.events.append(event)

    @property
    def findings(self) -> list[Finding]:
        return [e for e in self.published if isinstance(e, Finding)]

    def handshake(self, version: str, session: str | None) -> None:
        """initialize and its result, negotiating `version`."""
        init = {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "c", "version": "1"},
        }
        ex = self.script.post(request(0, "initialize", **init), session=None)
        self.script.respond(ex, StreamKind.JSON_RESPONSE)
        answer = {"protocolVersion": version, "capabilities": {"tools": {}}}
        answer["serverInfo"] = {"name": "s", "version": "1"}
        self.script.send(ex, result(0, answer), StreamKind.JSON_RESPONSE, session=session)

    def exchange(self, body: dict[str, Any], answer: dict[str, Any], **post: Any) -> int:
        """A POST and its JSON answer."""
        ex = self.script.post(body, **post)
        self.script.respond(ex, StreamKind.JSON_RESPONSE)
        self.script.send(ex, answer, StreamKind.JSON_RESPONSE, session=post.get("session", ...))
        return ex


def modern(id: int, version: str = MODERN) -> dict[str, Any]:
    """A tools/call with the 2026-07-28 envelope its revision requires."""
    body = request(id, name="x", version=version)
    body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] = {}
    return body


def text(value: Any) -> dict[str, Any]:
    return {"type": "text", "text": value}


# --- the catalogue --------------------------------------------------------------------------


def test_every_revision_maps_its_methods_from_the_schema_itself() -> None:
    for revision in KNOWN_REVISIONS:
        schema = load_revision(revision)
        assert schema.message_definition(MessageKind.REQUEST, C2S, "tools/call") == (
            "CallToolRequest"
        )
        assert schema.result_definition("tools/call", {}, {}) == "CallToolResult"
        notification = MessageKind.NOTIFICATION
        progress = schema.message_definition(notification, S2C, "notifications/progress")
        assert progress == "ProgressNotification"
    assert (
        load_revision("2026-07-28").result_definition(
            "tools/call", {}, {"resultType": "input_required"}
        )
        == "InputRequiredResult"
    )
    assert load_revision("2024-11-05").envelope(MessageKind.ERROR) == "JSONRPCError"
    assert load_revision("2025-11-25").envelope(MessageKind.ERROR) == "JSONRPCErrorResponse"


# --- no false positive ----------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_committed_sdk_samples_have_no_findings_and_every_message_is_judged(path: Any) -> None:
    checked = check_events(load_recording(path).events, CheckOptions())
    assert [f.detail for _, f in checked.findings] == []
    assert checked.judged == checked.messages > 0 and checked.unjudged == 0


def legacy(url: str) -> AbstractAsyncContextManager[Client]:
    return Client(url, mode="legacy")


@asynccontextmanager
async def pinned_2024_11_05(url: str) -> AsyncIterator[Client]:
    """HTTP+SSE with the handshake offering 2024-11-05 (as recordings/make_samples.py does)."""
    import mcp.client.session as session_module

    latest = session_module.LATEST_HANDSHAKE_VERSION
    session_module.LATEST_HANDSHAKE_VERSION = "2024-11-05"  # type: ignore[misc]
    try:
        async with Client(sse_client(url), mode="legacy") as client:
            yield client
    finally:
        session_module.LATEST_HANDSHAKE_VERSION = latest  # type: ignore[misc]


MODES: dict[str, tuple[str, Callable[[str], AbstractAsyncContextManager[Client]], str]] = {
    "2026-07-28": ("/mcp", Client, "2026-07-28"),
    "handshake": ("/mcp", legacy, "2025-11-25"),
    "sse-2024-11-05": ("/sse", pinned_2024_11_05, "2024-11-05"),
}


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore:ping is removed")
@pytest.mark.parametrize("mode", list(MODES))
def test_live_sdk_traffic_through_the_proxy_has_no_findings(mode: str) -> None:
    endpoint, connect, revision = MODES[mode]
    published: list[TapEvent] = []

    async def run() -> SchemaChecker:
        bus = TapBus()
        checker = SchemaChecker(bus.publish)
        bus.subscribe(checker)
        for lifecycle_checker in conformance_checkers(bus.publish):
            bus.subscribe(lifecycle_checker)
        bus.subscribe(_Keep(published))
        async with running_demo_server(step_delay=0.0, event_store=True) as base_url:
            async with running_proxy(base_url + endpoint, bus) as proxy_url:
                async with connect(proxy_url + endpoint) as client:
                    tools = await client.list_tools()
                    assert {t.name for t in tools.tools} >= {"download_file"}
                    await client.call_tool("download_file", {"filename": "a", "size_mb": 2})
                    await client.call_tool("process_data", {"records": 3})
                    if revision != "2026-07-28":
                        await client.send_ping()  # 2026-07-28 has no ping
        bus.close()
        return checker

    checker = asyncio.run(asyncio.wait_for(run(), 45))
    assert [f.detail for f in published if isinstance(f, Finding)] == []
    assert checker.judged >= 6 and checker.unjudged == 0
    assert revision in {r for r in _revisions(checker)}


class _Keep:
    def __init__(self, into: list[TapEvent]) -> None:
        self.into = into

    def handle(self, event: TapEvent) -> None:
        self.into.append(event)

    def close(self) -> None:
        pass


def _revisions(checker: SchemaChecker) -> set[str]:
    return set(checker.index._negotiated.values()) | set(checker.index._headers.values())


# --- planted violations ---------------------------------------------------------------------

TOOLS = [
    {
        "name": "add",
        "inputSchema": {
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "required": ["a"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {"sum": {"type": "integer"}},
            "required": ["sum"],
        },
    },
    {"name": "broken", "inputSchema": {"type": "object", "properties": {"a": {"type": "int"}}}},
]


def test_each_rule_fires_exactly_where_it_is_planted() -> None:
    c = Checked()
    c.handshake("2025-11-25", session="sess-1")
    c.exchange(request(1, "tools/list"), result(1, {"tools": TOOLS}))  # tool-schema-invalid
    good = {"content": [text("3")], "structuredContent": {"sum": 3}}
    c.exchange(request(2, name="add", arguments={"a": 1}), result(2, good))  # clean
    c.exchange(request(3, name="add", arguments={"a": "1"}), result(3, good))  # arguments
    c.exchange(request(4, name="add", arguments={"a": 1}), result(4, {"content": []}))
    bad = {"content": [text("3")], "structuredContent": {"sum": "3"}}
    c.exchange(request(5, name="add", arguments={"a": 1}), result(5, bad))
    wrong = {"content": [text(42)], "structuredContent": {"sum": 3}}
    c.exchange(request(6, name="add", arguments={"a": 1}), result(6, wrong))  # schema
    error_content = {"content": [text("no")], "isError": True}
    c.exchange(request(7, name="add", arguments={"a": 1}), result(7, error_content))  # clean
    assert [(f.rule, f.request_id) for f in c.findings] == [
        ("tool-schema-invalid", 1),
        ("tool-arguments-invalid", 3),
        ("tool-structured-content-missing", 4),
        ("tool-structured-content-invalid", 5),
        ("schema-violation", 6),
    ]
    violation = c.findings[-1]
    assert violation.detail == (
        "server->client response id 6 (tools/call): $.result.content[0].text: expected string, "
        "found 42 (2025-11-25 CallToolResult.content[0].text)"
    )
    assert violation.extra["definition"] == "CallToolResult.content[0].text"
    assert violation.extra["revision"] == "2025-11-25"
    assert "broken" in c.findings[0].detail and "2020-12" in c.findings[0].detail
    assert "$.params.arguments.a: expected integer" in c.findings[1].detail


def test_a_list_given_again_is_judged_as_the_first_time() -> None:
    # The same list is not checked and compiled again, but it is reported again; a changed
    # list is judged anew.
    c = Checked()
    c.handshake("2025-11-25", session="sess-1")
    c.exchange(request(1, "tools/list"), result(1, {"tools": TOOLS}))
    c.exchange(request(2, "tools/list"), result(2, {"tools": [dict(t) for t in TOOLS]}))
    c.exchange(request(3, name="add", arguments={"a": "1"}), result(3, {"content": []}))
    c.exchange(request(4, "tools/list"), result(4, {"tools": TOOLS[:1]}))
    assert [(f.rule, f.request_id) for f in c.findings] == [
        ("tool-schema-invalid", 1),
        ("tool-schema-invalid", 2),
        ("tool-arguments-invalid", 3),
        ("tool-structured-content-missing", 3),
    ]


def test_a_list_is_compared_by_its_json_only_when_orjson_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same list again is not compiled again. A list orjson read is compared with the
    last by its JSON text; one that json read is compared by value: with a NaN, which orjson
    writes as null, it must not pass for the list with a null."""
    compiled: list[str] = []
    original = ToolContracts._compiled

    def counting(self: ToolContracts, name: str, *rest: Any) -> Any:
        compiled.append(name)
        return original(self, name, *rest)

    monkeypatch.setattr(ToolContracts, "_compiled", counting)
    contracts = ToolContracts(sessions=4)

    def listed(number: int, default: str) -> int:
        tool = f'{{"name":"t","inputSchema":{{"type":"object","default":{default}}}}}'
        text = f'{{"jsonrpc":"2.0","id":{number},"result":{{"tools":[{tool}]}}}}'
        (message,) = classify_text(text)
        assert message.json_exact == (default != "NaN")
        contracts.listed(None, message.payload["result"], "2025-11-25", message.json_exact)
        return len(compiled) // 2  # an inputSchema and an outputSchema each time

    assert [listed(1, "null"), listed(2, "null"), listed(3, "NaN"), listed(4, "null")] == [
        1,
        1,  # the same JSON: reused
        2,  # the same JSON, but read by json: compared by value, and NaN is no null
        3,  # after a list json read, the next is compared by value too
    ]


def test_a_variant_of_a_union_is_named_when_no_branch_is_meant() -> None:
    c = Checked()
    c.handshake("2025-11-25", session="sess-1")
    odd = {"content": [{"type": "txt", "text": "a"}]}
    c.exchange(request(1, name="x"), result(1, odd))
    (finding,) = c.findings
    assert finding.extra["path"] == "$.result.content[0]"
    assert finding.extra["definition"] == "CallToolResult.content[0]"
    assert finding.extra["expected"].startswith("one of TextContent, ImageContent")


def test_an_unknown_revision_is_judged_by_the_newest_and_said_once() -> None:
    c = Checked(session=None)
    for n in (1, 2):
        c.exchange(modern(n, "2099-01-01"), result(n, {"content": []}))
    rules = [f.rule for f in c.findings]
    assert rules == ["schema-revision-unknown", "schema-violation", "schema-violation"]
    assert "2026-07-28" in c.findings[0].detail
    assert all("resultType" in f.detail for f in c.findings[1:])  # what 2026-07-28 requires


def test_a_session_joined_after_its_handshake_is_not_guessed_at() -> None:
    c = Checked()
    c.exchange(request(1, name="x"), result(1, {"content": "not a list"}))
    assert c.findings == [] and c.checker.unjudged == 2 and c.checker.judged == 0


def test_two_sessions_in_one_recording_are_each_judged_by_their_own_revision() -> None:
    c = Checked()
    # resource_link content arrived in 2025-06-18: fine in one session, not in the other
    link = {"type": "resource_link", "uri": "file:///a", "name": "a"}
    c.script.session = "new"
    c.handshake("2025-11-25", session="new")
    c.exchange(request(1, name="x"), result(1, {"content": [link]}))
    c.script.session = "old"
    c.handshake("2024-11-05", session="old")
    c.exchange(request(1, name="x"), result(1, {"content": [link]}))
    c.script.session = None  # and a 2026-07-28 POST: its result must say resultType
    c.exchange(modern(1), result(1, {"content": [link]}))
    assert [(f.session_id, f.extra["revision"]) for f in c.findings] == [
        ("old", "2024-11-05"),
        (None, "2026-07-28"),
    ]
    assert c.findings[1].extra["expected"] == "property 'resultType'"


def test_an_error_for_an_unreadable_id_may_carry_id_null() -> None:
    # JSON-RPC 2.0's `"id": null` (what every SDK sends when it cannot read the id) is clean;
    # an id of another type is not.
    c = Checked()
    c.handshake("2025-11-25", session="sess-1")
    c.exchange(request(1, "tools/list"), error(None, -32600, "Invalid Request"))
    assert c.findings == []
    c.exchange(request(2, "tools/list"), error({"not": "an id"}, -32600, "Invalid Request"))
    assert [f.rule for f in c.findings] == ["schema-violation"]
