"""Fault injection in tests: `@pytest.mark.mcp_faults(...)` and `mcp_server.inject(...)`.

The rules are the `--fault` rules of the CLI (the README's fault table); the mock serving a
test's recording performs them, so a test can check what its client does when one tool
answers with an error, a stream ends early or an answer never comes. The marker's rules
hold from the test's first request; `inject` adds rules from that moment on, on the mock's
own loop (its plan is that loop's alone). Faults apply to a mock only: a test that records
from the real server gets a clear failure rather than a recording with faults in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mcp_tap.pytest_plugin.background import BackgroundContext
    from mcp_tap.serve.run import RunningMock

FAULTS_MARKER = "mcp_faults"
MARKER_HELP = (
    f"{FAULTS_MARKER}(*rules, seed=None): --fault rules the mcp_server mock performs, e.g. "
    "'error tool=echo code=-32001'; the README's fault table lists them"
)


def marker_faults(item: pytest.Item) -> tuple[list[str], int | None]:
    """The rules of every `mcp_faults` marker on the test (closest first), and its seed."""
    rules: list[str] = []
    seed: int | None = None
    for marker in item.iter_markers(FAULTS_MARKER):
        unknown = set(marker.kwargs) - {"seed"}
        if unknown or not all(isinstance(rule, str) for rule in marker.args):
            raise pytest.UsageError(
                f"@pytest.mark.{FAULTS_MARKER} takes rules as strings and seed=N; "
                f"got {marker.args!r} {sorted(unknown)}"
            )
        rules.extend(marker.args)
        if seed is None and marker.kwargs.get("seed") is not None:
            seed = int(marker.kwargs["seed"])
    return rules, seed


def injector(
    background: BackgroundContext[RunningMock], running: RunningMock, seed: int | None
) -> Callable[[Sequence[str]], None]:
    """`mcp_server.inject`: parse the rules here (a bad one fails the test), add them there."""
    from mcp_tap.faults import FaultPlan, RuleError, parse_rule

    def inject(texts: Sequence[str]) -> None:
        problem = None
        try:
            rules = [parse_rule(text) for text in texts]
            FaultPlan(rules, carrier="serve")  # checked before the mock sees them
        except RuleError as error:
            problem = str(error)
        if problem is not None:  # failed outside the except block: no chained traceback
            pytest.fail(f"mcp-tap: {problem}", pytrace=False)

        def on_loop() -> None:
            server = running.report.mock
            assert server is not None
            if server.faults is None:
                server.faults = FaultPlan(rules, seed, "serve")
            else:
                server.faults.extend(rules)

        background.call(on_loop)

    return inject


def not_when_recording(rules: Sequence[str]) -> None:
    """Faults while recording from the real server would end up in the recording."""
    if rules:
        pytest.fail(
            f"mcp-tap: @pytest.mark.{FAULTS_MARKER} and inject() break the mock's answers; "
            "this test records from the real server (record the recording first, then "
            "inject faults into its replay)",
            pytrace=False,
        )
