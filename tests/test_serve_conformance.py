"""The official conformance suite's asking scenarios pass against `mcp-tap serve` of a recording.

npm `@modelcontextprotocol/conformance` checks a server's sampling and elicitation with four
scenarios whose tools its own reference server has (not published to npm); tests/asking_server.py
has them too (`conformance_tools.py`). The suite runs the four through `mcp-tap proxy`, which
records them, then against `mcp-tap serve --strict` of that recording: the mock must send the
same requests to the suite's client, take its answers, and give the recorded results.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_tap.protocol.events import Finding, MessageSeen
from mcp_tap.recording.reader import load_recording
from tests.procs import ROOT, TS_DIR, Proc, running, tap_proxy

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("typescript_client")]

SCENARIOS = (
    "tools-call-sampling",
    "tools-call-elicitation",
    "elicitation-sep1034-defaults",
    "elicitation-sep1330-enums",
)
CHECKS = {  # how many checks each scenario makes
    "tools-call-sampling": 1,
    "tools-call-elicitation": 1,
    "elicitation-sep1034-defaults": 5,
    "elicitation-sep1330-enums": 5,
}


def run_scenarios(url: str, cwd: Path) -> list[str]:
    """The suite's four scenarios against `url` (one Node.js process); the lines it printed."""
    suite = Proc(["node", str(TS_DIR / "conformance.mjs"), url, *SCENARIOS], cwd=cwd)
    code = suite.finish(60)
    assert code == 0, "\n".join(suite.lines) + suite.stderr
    return suite.lines


def assert_passed(lines: list[str]) -> None:
    """Every scenario exited 0 with all its checks passed."""
    totals = [line for line in lines if line.startswith("Passed: ")]
    assert totals == [f"Passed: {n}/{n}, 0 failed, 0 warnings" for n in CHECKS.values()]
    assert [line for line in lines if line.startswith("scenario ")] == [
        f"scenario {name} exited 0" for name in SCENARIOS
    ]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """The four scenarios through `mcp-tap proxy` to the asking server: the recording, and
    what the suite printed."""
    folder = tmp_path_factory.mktemp("conformance")
    recording = folder / "conformance.yaml"
    with running([sys.executable, "-m", "tests.asking_server"], cwd=ROOT) as server:
        url = server.wait_for_line(r"(http://\S+/mcp)").group(1)
        with tap_proxy(url, ROOT, "--record", str(recording), "-q") as (proxy_url, proxy):
            lines = run_scenarios(proxy_url, folder)
            proxy.stop()
    yield recording, lines


def test_the_scenarios_pass_through_the_proxy(recorded: tuple[Path, list[str]]) -> None:
    recording, lines = recorded
    assert_passed(lines)
    methods = [
        e.message.method
        for e in load_recording(recording).events
        if isinstance(e, MessageSeen)
        and e.message.method in ("sampling/createMessage", "elicitation/create")
    ]
    assert methods == ["sampling/createMessage", *["elicitation/create"] * 3]


def test_the_scenarios_pass_against_the_mock(
    recorded: tuple[Path, list[str]], tmp_path: Path
) -> None:
    recording, _ = recorded
    mock_record = tmp_path / "mock.yaml"
    args = [sys.executable, "-m", "mcp_tap", "serve", str(recording), "--port", "0", "-q"]
    with running([*args, "--fast", "--strict", "--record", str(mock_record)], cwd=ROOT) as mock:
        url = mock.wait_for_line(r"point your client at (\S+)").group(1)
        assert_passed(run_scenarios(url, tmp_path))
        mock.stop()
        assert mock.finish(10) == 0, mock.stderr  # --strict: no miss, nothing unused
    events = load_recording(mock_record).events
    asked = [
        e.message
        for e in events
        if isinstance(e, MessageSeen)
        and e.message.method in ("sampling/createMessage", "elicitation/create")
    ]
    assert [m.method for m in asked] == ["sampling/createMessage", *["elicitation/create"] * 3]
    assert [m.id for m in asked] == [1, 2, 3, 4]  # the mock's own ids, one series for all
    assert not [e for e in events if isinstance(e, Finding) and e.rule.startswith("serve-")]
