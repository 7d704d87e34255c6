"""`mcp-tap export --format har`: HAR 1.2 by the schema, bodies the bytes that crossed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mcp_tap.export.har import to_har
from mcp_tap.export.session import analyze
from mcp_tap.protocol.codec import event_to_dict
from mcp_tap.protocol.events import ExchangeClosed, ExchangeOpened, MessageSeen, header
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.protocol.sse import SSEDecoder, SSEEvent
from mcp_tap.recording.reader import load_recording
from tests.export_sample import HOSTILE, write_odd_recording
from tests.har_schema import HAR_SCHEMA
from tests.samples import SAMPLES

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR = jsonschema.Draft7Validator(HAR_SCHEMA)


def export(*args: str) -> subprocess.CompletedProcess[str]:
    """`mcp-tap export` in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mcp_tap", "export", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def odd(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[int, tuple[bytes, bytes | None]]]:
    path = tmp_path_factory.mktemp("odd") / "odd.yaml"
    return path, write_odd_recording(path)


def _messages(text: str) -> list[Any]:
    """What a body's text carries, as `event_to_dict` data: what the recording holds."""
    return [_plain(m) for m in classify_text(text)]


def _plain(message: Any) -> Any:
    return {"kind": message.kind.value, "json": message.payload, "raw": message.raw}


def _sse_messages(text: str) -> list[Any]:
    items = SSEDecoder().feed(text.encode()) + SSEDecoder().close()
    out: list[Any] = []
    for item in items:
        if isinstance(item, SSEEvent) and item.event == "message":
            out.extend(_messages(item.data))
    return out


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_samples_are_valid_har_and_carry_every_recorded_message(sample: Path) -> None:
    recording = load_recording(sample)
    har = to_har(analyze(recording))
    VALIDATOR.validate(har)
    json.loads(json.dumps(har))  # plain JSON all the way down
    entries = har["log"]["entries"]
    opened = [e for e in recording.events if isinstance(e, ExchangeOpened)]
    assert [e["_exchangeId"] for e in entries] == [e.exchange_id for e in opened]
    for entry, event in zip(entries, opened, strict=True):
        sent = [
            _plain(m.message)
            for m in recording.events
            if isinstance(m, MessageSeen)
            and m.exchange_id == event.exchange_id
            and m.direction.value == "client->server"
        ]
        received = [
            _plain(m.message)
            for m in recording.events
            if isinstance(m, MessageSeen)
            and m.exchange_id == event.exchange_id
            and m.direction.value == "server->client"
            and m.message.kind.value != "endpoint"
        ]
        text = entry["request"].get("postData", {}).get("text", "")
        assert (_messages(text) if text else []) == sent
        content = entry["response"]["content"]
        if content["mimeType"].startswith("text/event-stream"):
            assert _sse_messages(content["text"]) == received
            assert [_messages(e["data"]) for e in entry["_events"] if e["event"] == "message"] == [
                [m] for m in received
            ]
        elif received:
            assert _messages(content["text"]) == received
        # the request body has exactly the size the client declared
        length = header(event.headers, "content-length")
        if length is not None and text:
            assert len(text.encode()) == int(length)
        assert entry["time"] >= 0 and entry["timings"]["wait"] >= 0


def test_json_bodies_of_the_samples_round_trip_to_their_declared_sizes() -> None:
    checked = 0
    for sample in SAMPLES:
        har = to_har(analyze(load_recording(sample)))
        for entry in har["log"]["entries"]:
            for side, body in (
                (entry["request"], entry["request"].get("postData", {}).get("text")),
                (entry["response"], entry["response"]["content"].get("text")),
            ):
                names = {h["name"]: h["value"] for h in side["headers"]}
                if body and "content-length" in names:
                    assert len(body.encode()) == int(names["content-length"])
                    checked += 1
    assert checked >= 30


def test_streams_without_priming_events_round_trip_to_the_forwarded_size() -> None:
    """2026-07-28 streams have no priming event: the rebuilt stream is the bytes sent."""
    for sample in SAMPLES:
        if "2026-07-28" not in sample.name:
            continue
        recording = load_recording(sample)
        closed = {e.exchange_id: e for e in recording.events if isinstance(e, ExchangeClosed)}
        for entry in to_har(analyze(recording))["log"]["entries"]:
            content = entry["response"]["content"]
            if content["mimeType"].startswith("text/event-stream") and content["text"]:
                forwarded = closed[entry["_exchangeId"]].bytes_to_client
                assert len(content["text"].encode()) == forwarded
                assert "as recorded" in content["comment"]


def test_bodies_are_the_bytes_that_crossed(odd: tuple[Path, dict[int, Any]]) -> None:
    path, crossed = odd
    result = export(str(path), "--format", "har", "-o", str(path.with_suffix(".har")))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    har = json.loads(path.with_suffix(".har").read_text(encoding="utf-8"))
    VALIDATOR.validate(har)
    entries = {e["_exchangeId"]: e for e in har["log"]["entries"]}
    assert set(entries) == set(crossed)
    for exchange_id, (request, response) in crossed.items():
        entry = entries[exchange_id]
        # a batch in spaced, ASCII-escaped JSON; a body that is not JSON, its newline kept
        assert entry["request"]["postData"]["text"].encode() == request
        if response is None:
            assert entry["response"]["status"] == 0
            assert entry["_faults"][0]["kind"] == "upstream-unreachable"
            assert "text" not in entry["response"]["content"]
        else:
            assert entry["response"]["content"]["text"].encode() == response
            assert entry["response"]["bodySize"] == len(response)
    stream = entries[1]
    assert stream["request"]["queryString"] == [{"name": "tenant", "value": "a b"}]
    assert stream["request"]["url"] == "http://127.0.0.1:8000/mcp?tenant=a%20b"
    assert [e["id"] for e in stream["_events"]] == [str(n) for n in range(1, 9)]
    assert json.loads(stream["_events"][-1]["data"])["result"]["content"][0]["text"] == HOSTILE
    times = [e["time"] for e in stream["_events"]]
    assert times == sorted(times) and times[0] > 1.7e9  # seconds since the epoch
    assert any(f["rule"] == "progress-not-increasing" for f in stream["_findings"])
    assert entries[4]["response"]["content"]["comment"].endswith("as recorded")


def test_export_writes_stdout_without_o(odd: tuple[Path, dict[int, Any]]) -> None:
    result = export(str(odd[0]), "--format", "har")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["log"]["version"] == "1.2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "no such file"),
        (["recordings/sse-2024-11-05.yaml", "--format", "pcap"], "unknown --format 'pcap'"),
        (["recordings/sse-2024-11-05.yaml", "-o", "/nonexistent/dir/x.har"], "cannot write"),
        (["corrupt"], "not an mcp-tap recording"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    if args == ["corrupt"]:
        corrupt = tmp_path / "corrupt.yaml"
        corrupt.write_text("just: [a, mapping]\n")
        args = [str(corrupt)]
    result = export(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("mcp-tap: ")
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_har_entry_keeps_recorded_findings_as_event_data(odd: tuple[Path, Any]) -> None:
    recording = load_recording(odd[0])
    har = to_har(analyze(recording))
    findings = [f for e in har["log"]["entries"] for f in e.get("_findings", [])]
    recorded = [event_to_dict(e) for e in recording.events if type(e).__name__ == "Finding"]
    assert findings and all(f in recorded for f in findings)
