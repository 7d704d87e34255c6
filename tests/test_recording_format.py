"""The recording format without a network: writer and reader round trips, cuts, redaction."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    Finding,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    RpcMessage,
    Severity,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import classify_text, classify_value
from mcp_tap.protocol.redaction import RedactionRules, Redactor, parse_field_path
from mcp_tap.recording.reader import RecordingError, load_recording, parse_recording
from mcp_tap.recording.records import decode_records, encode, split_frames
from mcp_tap.recording.sink import DocumentSink
from mcp_tap.recording.writer import RecordingWriter, default_recording_path
from tests.samples import ROOT, SAMPLE_NAMES

pytestmark = pytest.mark.timeout(60)

SESSION = "3f2c9d0e8a7b4c1d"
CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {
        "name": "login",
        "arguments": {"user": "ann", "password": "pw-1", "keys": [{"secret": "k1"}, {"x": 1}]},
        "_meta": {"progressToken": 2},
    },
}


def sample_events() -> list[TapEvent]:
    """One of every event type, with the awkward parts: batches, raw text, unicode."""
    headers = (("authorization", "Bearer abc"), ("mcp-session-id", SESSION), ("x-a", "1, 2"))
    return [
        ExchangeOpened(1, 0.001, "POST", f"/messages/?session_id={SESSION}", headers, SESSION),
        MessageSeen(
            1, 0.002, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY, SESSION,
            classify_value(CALL),
        ),
        ResponseStarted(1, 0.01, 200, (("content-type", "text/event-stream"),),
                        StreamKind.POST_SSE, SESSION),
        MessageSeen(
            1, 0.02, Direction.SERVER_TO_CLIENT, StreamKind.POST_SSE, SESSION,
            classify_value({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
                "progressToken": 2, "progress": 0.5, "message": "žluťoučký ✓"}}),
            sse_id="7-1",
        ),
        *[MessageSeen(1, 0.03, Direction.SERVER_TO_CLIENT, StreamKind.POST_SSE, SESSION, m)
          for m in classify_text(b'[{"jsonrpc":"2.0","id":2,"result":{}}, 3]')],
        MessageSeen(1, 0.04, Direction.SERVER_TO_CLIENT, StreamKind.POST_SSE, SESSION,
                    classify_text("{not json\n---\n...")[0]),
        MessageSeen(2, 0.05, Direction.SERVER_TO_CLIENT, StreamKind.LEGACY_SSE, SESSION,
                    RpcMessage(MessageKind.ENDPOINT, raw=f"/messages/?session_id={SESSION}"),
                    sse_event="endpoint"),
        ExchangeClosed(1, 0.06, "complete", 1234),
        Fault(0.07, None, "upstream-reset", f"session {SESSION} broke off"),
        Finding(0.08, Severity.WARNING, "progress-not-increasing", "0.5 after 0.5",
                exchange_id=1, session_id=SESSION, request_id=2, progress_token=2,
                extra={"previous": 0.5}),
    ]  # fmt: skip


STARTED = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)


def write(
    path: Path, events: list[TapEvent], rules: RedactionRules | None = None, process: bool = False
) -> Path:
    target = "http://127.0.0.1:8000/mcp"
    writer = RecordingWriter(path, target, rules, STARTED, separate_process=process)
    for event in events:
        writer.handle(event)
    writer.close()
    return path


def test_round_trip_without_redaction_is_exact(tmp_path: Path) -> None:
    events = sample_events()
    recording = load_recording(write(tmp_path / "r.yaml", events))
    assert recording.events == events and recording.warnings == []
    assert recording.header["format"] == "mcp-tap-recording"
    assert recording.header["started"].endswith("Z")


@pytest.mark.parametrize("rules", [None, RedactionRules.from_options(fields=["params.arguments"])])
def test_a_writer_process_writes_the_same_bytes_as_a_thread(
    tmp_path: Path, rules: RedactionRules | None
) -> None:
    odd = Finding(0.09, Severity.INFO, "odd", "an extra only pickle carries", extra={"s": {1, 2}})
    events = [*sample_events(), odd]
    in_thread = write(tmp_path / "thread.yaml", events, rules).read_bytes()
    in_process = write(tmp_path / "process.yaml", events, rules, process=True).read_bytes()
    assert in_process == in_thread
    assert b"not recorded: cannot write set in a recording" in in_process  # as in a thread


def test_file_is_yaml_documents_with_markers(tmp_path: Path) -> None:
    text = write(tmp_path / "r.yaml", sample_events()).read_text()
    assert text.count("\n---\n") == len(sample_events()) + 1  # the header, then one per event
    assert text.count("\n...\n") == len(sample_events()) + 1
    assert '- [x-a, "1, 2"]' in text  # a header pair is one diffable line
    assert "žluťoučký ✓" in text  # unicode as is, not escaped


def test_never_overwrites(tmp_path: Path) -> None:
    path = write(tmp_path / "r.yaml", [])
    with pytest.raises(FileExistsError):
        RecordingWriter(path, None)


def test_default_path_is_unique_per_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = RecordingWriter(None, "http://example.test:9000/mcp")
    second = RecordingWriter(None, "http://example.test:9000/mcp")
    first.close()
    second.close()
    assert first.path.parent == Path("recordings") and first.path.name.endswith(
        "-example.test.yaml"
    )
    assert first.path != second.path
    started = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    assert default_recording_path(None, started).name == "20261126T101500Z-demo.yaml"


def test_every_cut_loads_a_prefix_with_at_most_one_warning(tmp_path: Path) -> None:
    text = write(tmp_path / "r.yaml", sample_events()).read_text()
    full = parse_recording(text).events
    header_end = text.index("\n...\n") + 5
    for cut in range(header_end, len(text) + 1):
        recording = parse_recording(text[:cut])
        assert recording.events == full[: len(recording.events)], cut
        assert len(recording.warnings) <= 1
        if recording.warnings:
            assert "cut short" in recording.warnings[0]
    with pytest.raises(RecordingError, match="no `version`"):
        parse_recording(text[: text.index("version:")])  # a header cut before its version


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("{{{: [", "not YAML"),
        ("just: a mapping\n", "not an mcp-tap recording"),
        ("---\nformat: mcp-tap-recording\nversion: 3\n...\n", "version 3 is not supported"),
        (
            "---\nformat: mcp-tap-recording\nversion: 1\n...\n"
            "--- !!python/object/apply:os.system ['true']\n...\n",
            "unsupported YAML tag !!python/object/apply:os.system",
        ),
        (
            "---\nformat: mcp-tap-recording\nversion: 1\n...\n---\ntype: nonsense\n...\n"
            "---\ntype: fault\ntime: 1\nkind: x\ndetail: y\n...\n",
            "line 5: unknown event type 'nonsense'",
        ),
    ],
)
def test_bad_input_is_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(RecordingError) as raised:
        parse_recording(text, "f.yaml")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_python_tag_in_last_document_is_still_refused() -> None:
    text = "---\nformat: mcp-tap-recording\nversion: 1\n...\n--- !!python/name:os.system\n...\n"
    with pytest.raises(RecordingError, match="unsupported YAML tag"):
        parse_recording(text)


def test_hand_written_file_without_end_markers_loads() -> None:
    text = (
        "format: mcp-tap-recording\nversion: 1\n---\ntype: fault\ntime: 1.5\nkind: k\ndetail: d\n"
    )
    recording = parse_recording(text)
    assert recording.events == [Fault(1.5, None, "k", "d")] and recording.warnings == []
    cut = parse_recording(text + "---\ntype: fault\ntime: [1,\n")
    assert len(cut.events) == 1 and len(cut.warnings) == 1


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such file"):
        load_recording(tmp_path / "absent.yaml")
    with pytest.raises(RecordingError, match="directory"):
        load_recording(tmp_path)
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(RecordingError, match="not a text file"):
        load_recording(tmp_path / "bin.yaml")


# JSON values as json.loads produces them; no lone surrogates (not storable), no NaN (!= NaN).
texts = st.text(st.characters(exclude_categories=["Cs"]))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=json_values, raw=texts)
def test_any_json_and_any_text_survive(payload: Any, raw: str) -> None:
    events: list[TapEvent] = [
        MessageSeen(1, 0.1, Direction.SERVER_TO_CLIENT, StreamKind.JSON_RESPONSE, None,
                    classify_value({"jsonrpc": "2.0", "id": 1, "result": {"v": payload}})),
        MessageSeen(1, 0.2, Direction.SERVER_TO_CLIENT, StreamKind.JSON_RESPONSE, None,
                    RpcMessage(MessageKind.INVALID, raw=raw, problem="not JSON")),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        loaded = load_recording(write(Path(directory) / "r.yaml", events)).events
    assert loaded == events


messages = st.builds(
    lambda value, method, kind: classify_value(
        {"jsonrpc": "2.0", "method": method, "params": {"progressToken": 1, "v": value}}
        if kind == "notification"
        else {"jsonrpc": "2.0", "id": value if kind == "odd id" else 3, "result": value}
    ),
    json_values,
    st.sampled_from(["notifications/progress", "tools/call"]),
    st.sampled_from(["notification", "response", "odd id"]),
) | st.builds(lambda raw, kind: RpcMessage(kind, raw=raw, problem="p"), texts,
              st.sampled_from([MessageKind.INVALID, MessageKind.ENDPOINT]))  # fmt: skip
# As the tap reads them, from JSON text: orjson's reading where it can (`json_exact`),
# json's where there is a NaN, an infinity, a long integer or a lone surrogate.
any_floats = st.floats(allow_nan=True, allow_infinity=True)
odd_values = st.recursive(
    st.none() | any_floats | st.integers(-(2**70), 2**70) | st.sampled_from(["a\ud800", "null"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=8,
)
read_messages = (
    st.builds(
        lambda value, key: classify_text(json.dumps({"jsonrpc": "2.0", "id": 1, key: value}))[0],
        st.lists(odd_values, max_size=3) | st.dictionaries(texts, odd_values, max_size=3),
        st.sampled_from(["result", "error"]),
    )
    | st.builds(
        lambda value, method: classify_text(
            json.dumps({"jsonrpc": "2.0", "method": method, "params": {"v": value}})
        )[0],
        odd_values,
        st.sampled_from(["notifications/progress", "tools/call"]),
    )
    | st.builds(  # an element of a batch
        lambda value, index: classify_text(
            json.dumps(
                [{"jsonrpc": "2.0", "id": 1, "result": value}, {"jsonrpc": "2.0", "method": "m"}]
            )
        )[index],
        odd_values,
        st.sampled_from([0, 1]),
    )
)
message_events = st.builds(
    MessageSeen,
    st.none() | st.integers(0, 9),
    st.floats(0, 1e6) | st.integers(0, 9),
    st.sampled_from(list(Direction)),
    st.sampled_from(list(StreamKind)),
    st.none() | st.sampled_from([SESSION, "other"]),
    messages | read_messages,
    st.none() | texts,
    st.none() | texts,
)
header_names = st.sampled_from(
    ["authorization", "mcp-session-id", "location", "x-api-key", "content-type", "x-custom"]
)
header_values = (
    st.sampled_from(
        [SESSION, "other", "Bearer abc", "https://h/cb?code=secret&state=1", "text/plain"]
    )
    | texts
)
headers = st.lists(st.tuples(header_names, header_values), max_size=5).map(tuple)
sessions = st.none() | st.sampled_from([SESSION, "other"])
exchange_ids = st.integers(0, 9)
times = st.floats(0, 1e6) | st.integers(0, 9)
targets = (
    st.sampled_from(
        ["/mcp", f"/messages/?session_id={SESSION}", "/m?token=t0p&x=1", "http://u:pw@h/mcp"]
    )
    | texts
)
exchange_events = (
    st.builds(
        ExchangeOpened, exchange_ids, times, st.sampled_from(["POST", "GET"]), targets,
        headers, sessions, st.none() | st.just("https://h:443"),
    )
    | st.builds(
        ResponseStarted, exchange_ids, times, st.integers(100, 599), headers,
        st.none() | st.sampled_from(list(StreamKind)), sessions,
    )
    | st.builds(ExchangeClosed, exchange_ids, times, texts, st.integers(0, 2**40))
)  # fmt: skip
ANY_RULES = [None, RedactionRules(), RedactionRules.from_options(fields=["params.v", "result"])]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(message_events | exchange_events, max_size=8),
    rules=st.sampled_from(ANY_RULES),
)
def test_the_writer_process_path_writes_what_the_events_path_does(
    events: list[TapEvent], rules: RedactionRules | None
) -> None:
    """A message's or an exchange event's document from its record (as the writer process
    writes it) is the one its event gives (as a writer thread writes it), redaction (session
    pseudonyms numbered in the same order) and odd values included."""
    with tempfile.TemporaryDirectory() as directory:
        texts = []
        for name in ("events", "records"):
            path = Path(directory) / name
            sink = DocumentSink(os.open(path, os.O_WRONLY | os.O_CREAT), path, b"", rules)
            if name == "events":
                sink.write_batch(list(events))
            else:  # across the pipe, as the writer process takes them
                (body,) = split_frames(bytearray(encode(list(events))))
                sink.write_records(decode_records(body))
            os.close(sink.fd)
            texts.append(path.read_bytes())
    assert texts[1] == texts[0]


@settings(max_examples=100, deadline=None)
@given(sets=st.lists(headers, min_size=1, max_size=3), order=st.lists(st.integers(0, 2)))
def test_redacted_headers_kept_for_reuse_are_what_redacting_them_afresh_gives(
    sets: list[tuple[tuple[str, str], ...]], order: list[int]
) -> None:
    """The redactor keeps the redacted form of the header sets it saw (a few: it starts over
    when full); what it hands back is what redacting them again, in the same order, gives."""
    kept, afresh = Redactor(RedactionRules()), Redactor(RedactionRules())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mcp_tap.protocol.redaction.KEPT_HEADER_SETS", 2)
        for index in order:
            chosen = sets[index % len(sets)]
            assert kept.headers(chosen) == afresh._redacted(chosen)


def test_a_null_is_never_taken_for_a_nan_that_was_written_alike(tmp_path: Path) -> None:
    """orjson writes NaN as null: a result holding NaN (read by json) and one holding null
    (read by orjson, and sent to the writer process as its text) have the same JSON, and
    each must still be written as itself, in either order, by either writer."""
    pad = "x" * 300  # large enough for the writer to keep its YAML for reuse
    nan = classify_text(f'{{"jsonrpc":"2.0","id":1,"result":{{"v":NaN,"pad":"{pad}"}}}}')[0]
    null = classify_text(f'{{"jsonrpc":"2.0","id":2,"result":{{"v":null,"pad":"{pad}"}}}}')[0]
    assert not nan.json_exact and null.json_exact
    for process in (False, True):
        for order in ([nan, null, nan], [null, nan, null]):
            events: list[TapEvent] = [
                MessageSeen(1, 0.1, Direction.SERVER_TO_CLIENT, StreamKind.JSON_RESPONSE,
                            None, message)
                for message in order
            ]  # fmt: skip
            path = write(tmp_path / f"{process}-{order[0].id}.yaml", events, process=process)
            loaded = load_recording(path).events
            shown = [e.message.payload["result"]["v"] for e in loaded]  # type: ignore[union-attr]
            expected = [None if m is null else "nan" for m in order]
            assert ["nan" if v != v else v for v in shown] == expected


def test_lone_surrogate_is_stored_as_replacement_character(tmp_path: Path) -> None:
    (message,) = classify_text(b'{"jsonrpc":"2.0","method":"x","params":{"s":"a\\ud800b"}}')
    event = MessageSeen(1, 0.1, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY, None, message)
    (loaded,) = load_recording(write(tmp_path / "r.yaml", [event])).events
    assert isinstance(loaded, MessageSeen) and loaded.message.payload["params"]["s"] == "a\ufffdb"


# --- redaction ----------------------------------------------------------------------------


def test_default_redaction(tmp_path: Path) -> None:
    events = sample_events()
    rules = RedactionRules.from_options(fields=["params.arguments.password"])
    text = write(tmp_path / "r.yaml", events, rules).read_text()
    assert SESSION not in text and "Bearer abc" not in text and "pw-1" not in text
    loaded = load_recording(tmp_path / "r.yaml").events
    opened, call = loaded[0], loaded[1]
    assert isinstance(opened, ExchangeOpened) and isinstance(call, MessageSeen)
    assert opened.target == "/messages/?session_id=session-1"
    assert dict(opened.headers) == {
        "authorization": "<redacted:authorization>",
        "mcp-session-id": "session-1",
        "x-a": "1, 2",
    }
    assert call.message.payload["params"]["arguments"]["password"] == (
        "<redacted:params.arguments.password>"
    )
    assert call.message.method == "tools/call" and call.message.progress_token == 2
    assert {getattr(e, "session_id", "session-1") for e in loaded} <= {"session-1", None}
    assert events == sample_events()  # the originals, shared with other subscribers, untouched


def test_header_names_that_look_secret() -> None:
    rules = RedactionRules.from_options(headers=["X-Tenant"])
    secret = ["cookie", "set-cookie", "x-csrf-token", "x-client-secret", "x-my-apikey",
              "api-key", "proxy-authorization", "x-tenant"]  # fmt: skip
    assert all(rules.header_is_secret(name) for name in secret)
    assert not any(map(rules.header_is_secret, ["accept", "mcp-session-id", "mcp-method"]))
    off = RedactionRules.from_options(enabled=False, headers=["x-tenant"])
    assert off.header_is_secret("x-tenant") and not off.header_is_secret("authorization")


def test_session_pseudonyms_are_stable_and_distinct() -> None:
    redactor = Redactor()
    assert [redactor.session(s) for s in ["a", "b", "a", "c"]] == [
        "session-1", "session-2", "session-1", "session-3",
    ]  # fmt: skip
    assert Redactor(RedactionRules(builtin=False)).session("a") == "a"


def test_queries_and_urls() -> None:
    redactor = Redactor()
    assert redactor.url("http://u:pw@h:1/sse?sessionId=x&access_token=t&k=v") == (
        "http://u:<redacted:password>@h:1/sse?sessionId=session-1"
        "&access_token=<redacted:access_token>&k=v"
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.params.arguments.password", ("params", "arguments", "password")),
        ("params.arguments.keys[*].secret", ("params", "arguments", "keys", "*", "secret")),
        ("$", None),
    ],
)
def test_field_paths(path: str, expected: tuple[str, ...] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_field_path(path)
    else:
        assert parse_field_path(path) == expected


def test_field_wildcards_reach_lists_and_keys() -> None:
    rules = RedactionRules.from_options(fields=["params.arguments.keys.*.secret", "params.*.user"])
    event = sample_events()[1]
    redacted = Redactor(rules)(event)
    assert isinstance(redacted, MessageSeen)
    arguments = redacted.message.payload["params"]["arguments"]
    assert arguments["keys"] == [{"secret": "<redacted:params.arguments.keys.0.secret>"}, {"x": 1}]
    assert arguments["user"] == "<redacted:params.arguments.user>"
    assert arguments["password"] == "pw-1"
    assert CALL["params"]["arguments"]["keys"][0] == {"secret": "k1"}  # type: ignore[index]


def test_version_1_reads_as_http_and_version_2_as_stdio() -> None:
    old = parse_recording("---\nformat: mcp-tap-recording\nversion: 1\ntarget: demo\n...\n")
    assert old.header["transport"] == "http"
    new = parse_recording(
        "---\nformat: mcp-tap-recording\nversion: 2\ntransport: stdio\ncommand: [x]\n...\n"
    )
    assert new.header["transport"] == "stdio" and new.header["command"] == ["x"]


def test_the_suite_reads_exactly_the_committed_samples() -> None:
    """tests/samples.py names every committed recording, and only those: a user's own files
    in recordings/ (git-ignored) never become inputs of the suite."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "recordings/*.yaml"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert sorted(Path(name).stem for name in listed) == sorted(SAMPLE_NAMES)
