"""Fault rules: their text and file forms, and which message each one picks."""

from __future__ import annotations

import pytest

from mcp_tap.faults import ActionKind, FaultPlan, MessageContext, RuleError, parse_rule
from mcp_tap.faults.calls import CallBook
from mcp_tap.faults.rules import rules_from_data
from mcp_tap.protocol.events import Direction
from mcp_tap.protocol.jsonrpc import classify_value

C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT


def call(tool: str, request_id: int = 1, token: object = None) -> object:
    params: dict[str, object] = {"name": tool, "arguments": {}}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return classify_value(
        {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    )


def progress(token: object, value: int) -> object:
    params = {"progressToken": token, "progress": value}
    return classify_value({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})


def test_text_form_reads_action_positional_and_keys() -> None:
    rule = parse_rule('error tool=echo code=-32001 message="echo is broken"')
    assert (rule.action, rule.tool, rule.code, rule.message) == (
        ActionKind.ERROR, "echo", -32001, "echo is broken",
    )  # fmt: skip
    assert rule.direction is C2S
    status = parse_rule("status 429 retry-after=1 times=1")
    assert (status.status, status.retry_after, status.times) == (429, "1", 1)
    delay = parse_rule("delay 500ms jitter=1s method=tools/*")
    assert (delay.delay, delay.jitter) == (0.5, 1.0)
    assert parse_rule("drop-stream after-progress=2").direction is S2C
    slow = parse_rule("slow bytes=8 every=2ms")
    assert (slow.slow_bytes, slow.slow_every, slow.direction) == (8, 0.002, S2C)
    assert (parse_rule("slow").slow_bytes, parse_rule("slow").slow_every) == (16, 0.05)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("explode tool=x", "unknown action 'explode'"),
        ("hang tool", "expected key=value"),
        ("error colour=red", "unknown key 'colour'"),
        ("status", "status needs a code"),
        ("status 999", "HTTP status"),
        ("delay soon", "duration"),
        ("error probability=2", "between 0 and 1"),
        ("error times=0", "at least 1"),
        ("slow bytes=0", "bytes must be at least 1"),
        ("slow every=often", "duration"),
        ("error direction=server", "answers requests only"),
        ("error message='open", "No closing quotation"),
        ("", "empty"),
    ],
)
def test_bad_rules_say_why_in_one_line(text: str, says: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_file_form_takes_strings_and_mappings() -> None:
    rules = rules_from_data(
        {"faults": ["hang tool=slow", {"action": "status", "status": 503, "times": 2}]}, "f.yaml"
    )
    assert [r.action for r in rules] == [ActionKind.HANG, ActionKind.STATUS]
    assert rules[1].status == 503 and rules[1].times == 2
    with pytest.raises(RuleError, match="f.yaml: rule 1"):
        rules_from_data([{"tool": "x"}], "f.yaml")


def test_carrier_refuses_actions_it_cannot_perform() -> None:
    with pytest.raises(RuleError, match="is for stdio"):
        FaultPlan([parse_rule("kill")], carrier="http")
    with pytest.raises(RuleError, match="is for HTTP"):
        FaultPlan([parse_rule("drop-stream")], carrier="stdio")
    with pytest.raises(RuleError, match="slow is not for serve"):
        FaultPlan([parse_rule("slow")], carrier="serve")


def test_error_picks_one_tool_and_times_limits_it() -> None:
    plan = FaultPlan([parse_rule("error tool=echo times=1")])
    echo, other = call("echo"), call("add", 2)
    assert plan.decide(other, MessageContext(C2S, call=other)) is None  # type: ignore[arg-type]
    action = plan.decide(echo, MessageContext(C2S, call=echo))  # type: ignore[arg-type]
    assert action is not None and action.kind is ActionKind.ERROR
    assert plan.decide(echo, MessageContext(C2S, call=echo)) is None  # type: ignore[arg-type]


def test_nth_and_probability_with_a_seed_repeat() -> None:
    plan = FaultPlan([parse_rule("swallow method=notifications/progress nth=3")])
    picked = [plan.decide(progress("t", i), MessageContext(S2C)) is not None for i in range(5)]  # type: ignore[arg-type]
    assert picked == [False, False, True, False, False]

    def draws(seed: int) -> list[bool]:
        plan = FaultPlan([parse_rule("delay 1ms probability=0.5 direction=server")], seed=seed)
        return [plan.decide(progress("t", i), MessageContext(S2C)) is not None for i in range(40)]  # type: ignore[arg-type]

    assert draws(7) == draws(7) and any(draws(7)) and not all(draws(7))


def test_after_progress_counts_the_calls_notifications() -> None:
    plan = FaultPlan([parse_rule("kill tool=long after-progress=2")], carrier="stdio")
    book = CallBook()
    request = call("long", 5, token="tok")
    other = call("short", 6, token="other")
    for message in (request, other):
        assert plan.decide(message, book.context(message, C2S)) is None  # type: ignore[arg-type]
    decided = []
    for message in (
        progress("tok", 1),
        progress("other", 1),
        progress("tok", 2),
        progress("tok", 3),
    ):
        decided.append(plan.decide(message, book.context(message, S2C)))  # type: ignore[arg-type]
    assert [d is not None for d in decided] == [False, False, False, True]
