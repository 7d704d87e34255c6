"""The pytest plugin, run by pytest on example test files (pytester, in a subprocess each).

The example tests are MCP clients (`mcp.Client`) of the `mcp_server` fixture: they record
against the bundled demo server, pass offline once it is stopped, fail readably when the
recording or the test changes, and follow VCR.py's record modes; a run against a server
that is up but broken never replaces a good recording. `mcp_replay` is checked against a
demo server started by the example test itself.

Each example run is a pytest process of its own, the cost of these tests: the servers and
the recording most of them start from are made once per module, and the example runs leave
out the plugins they do not use (their temporary directory has no ini file, so the
project's `-n auto` does not apply there).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.procs import ROOT, demo_server, running

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.timeout(240)

RUN_TIMEOUT = 90  # seconds for one example pytest run
RECORDING = Path("recordings") / "test_client" / "test_download.yaml"
SAMPLE = ROOT / "recordings" / "download_file-2026-07-28.yaml"
# The example runs need the mcp_tap plugin only; importing the others costs each run seconds.
LEAN = [
    "-p",
    "no:cacheprovider",
    *("-p", "no:hypothesispytest", "-p", "no:anyio", "-p", "no:timeout"),
    *("-p", "no:xdist", "-p", "no:xdist.looponfail"),
]
XDIST = [
    arg for pair in zip(LEAN[::2], LEAN[1::2], strict=True) if pair[1] != "no:xdist" for arg in pair
]
CLIENT_TEST = '''
import asyncio

import pytest
from mcp import Client

ARGUMENTS = {arguments}


def call(url, calls):
    """Call each (tool, arguments); the texts, and the progress values seen."""
    seen = []

    async def on_progress(progress, total, message):
        seen.append(progress)

    async def main():
        texts = []
        async with Client(url) as client:
            for tool, arguments in calls:
                result = await client.call_tool(tool, arguments, progress_callback=on_progress)
                texts.append(result.content[0].text)
        return texts

    return asyncio.run(asyncio.wait_for(main(), 30)), seen


def test_download(mcp_server):
    texts, seen = call(mcp_server.url, [("download_file", ARGUMENTS)])
    assert texts == [{expected!r}]
    assert seen == list(range(1, ARGUMENTS["size_mb"] + 1))
'''

DOWNLOAD = {"filename": "report.pdf", "size_mb": 3, "step_delay": 0.01}


def client_test(arguments: dict[str, object] = DOWNLOAD, expected: str | None = None) -> str:
    text = expected or f"Downloaded {arguments['filename']} ({arguments['size_mb']} MB)"
    return CLIENT_TEST.format(arguments=repr(arguments), expected=text)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*LEAN, *args, timeout=RUN_TIMEOUT)


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    """The bundled demo server, as a process of its own: its /mcp URL."""
    with demo_server(step_delay=0.01) as base_url:
        yield base_url + "/mcp"


@pytest.fixture(scope="module")
def broken() -> Iterator[str]:
    """A server that is up but answers every request 501 Not Implemented: its /mcp URL."""
    server = [sys.executable, str(ROOT / "tests" / "misbehaving_server.py"), "--port", "0"]
    with running([*server, "--fail-with", "501"], cwd=ROOT) as proc:
        yield proc.wait_for_line(r"misbehaving server: (\S+)").group(1)


@dataclass(frozen=True)
class Recorded:
    """`test_client.py`'s recording, made once by `--mcp-record-mode=once`, and that run."""

    text: str
    output: str  # the recording run's stdout and stderr
    path: Path  # where it was recorded
    target: str


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, demo: str) -> Recorded:
    """One recording of the example test against the demo server, for every test to start
    from: recording it again in each is what made these tests slow."""
    directory = tmp_path_factory.mktemp("recorded")
    (directory / "test_client.py").write_text(client_test())
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    args = [sys.executable, "-m", "pytest", *LEAN, "-rA", "--mcp-record-mode=once"]
    done = subprocess.run(
        [*args, f"--mcp-target={demo}"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    path = directory / RECORDING
    return Recorded(path.read_text(), output, path, demo)


def with_recording(pytester: pytest.Pytester, recorded: Recorded) -> Path:
    """`test_client.py` and its recording, in the example's directory."""
    pytester.makepyfile(test_client=client_test())
    recording = pytester.path / RECORDING
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.write_text(recorded.text)
    return recording


def aside(recording: Path) -> Path:
    return recording.with_name(recording.name + ".new")


def test_without_a_recording_none_names_the_path_and_the_command(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_client=client_test())
    recording = pytester.path / RECORDING
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*no recording at {recording}*--mcp-record-mode=once --mcp-target URL*"]
    )
    assert not recording.exists()


def test_once_records_through_the_proxy_redacted(recorded: Recorded) -> None:
    assert f"recorded {recorded.path} from {recorded.target}" in recorded.output
    assert "1 passed" in recorded.output
    assert "builtin: true" in recorded.text  # redacted, as `mcp-tap proxy` records
    assert "Downloaded report.pdf (3 MB)" in recorded.text
    assert not recorded.path.with_name(recorded.path.name + ".part").exists()
    assert not aside(recorded.path).exists()


def test_a_recording_answers_offline_progress_and_all(
    pytester: pytest.Pytester, recorded: Recorded
) -> None:
    with_recording(pytester, recorded)
    run(pytester).assert_outcomes(passed=1)


def test_once_replays_an_existing_recording(pytester: pytest.Pytester, recorded: Recorded) -> None:
    with_recording(pytester, recorded)
    # No target: had it tried to record, the test would fail asking for one.
    run(pytester, "--mcp-record-mode=once").assert_outcomes(passed=1)


def test_a_changed_answer_fails_with_the_tests_own_assertion(
    pytester: pytest.Pytester, recorded: Recorded
) -> None:
    recording = with_recording(pytester, recorded)
    recording.write_text(recorded.text.replace("report.pdf (3 MB)", "report.pdf (4 MB)"))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: assert ?'Downloaded *(4 MB)'? == ?'Downloaded *(3 MB)'?",
            "*At index 0 diff: 'Downloaded report.pdf (4 MB)' != 'Downloaded report.pdf (3 MB)'",
        ]
    )


def failure_section(output: str) -> list[str]:
    """The lines pytest prints for the one failing test, after its `___ name ___` header."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "= FAILURES =" in line) + 1
    if lines[start].startswith("_"):
        start += 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("="))
    return lines[start:end]


def test_a_changed_request_fails_leading_with_the_closest_recorded_one(
    pytester: pytest.Pytester, recorded: Recorded
) -> None:
    # The client raises on the mock's JSON-RPC error, inside an ExceptionGroup that pytest
    # prints natively: mcp-tap's explanation comes first, the traceback after it.
    recording = with_recording(pytester, recorded)
    pytester.makepyfile(test_client=client_test({**DOWNLOAD, "size_mb": 2}))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    section = failure_section(result.stdout.str())
    assert section[0] == f"mcp-tap: {recording} could not answer every request of this test"
    assert section[1].startswith(
        "  tools/call download_file: no recorded request matches it; the closest is "
        "tools/call download_file (call 2 of test_download.yaml, t="
    )
    assert section[2] == "    params.arguments.size_mb: recorded 3, received 2"
    text = "\n".join(section)
    assert "ExceptionGroup" in text  # the test's own traceback is still there, below
    first_traceback = min(
        text.find(word) for word in ("ExceptionGroup", "Traceback") if word in text
    )
    assert text.index("params.arguments.size_mb: recorded 3, received 2") < first_traceback
    result.stdout.fnmatch_lines(
        [
            "*Captured mcp-tap call*",
            "*unused recorded interaction: tools/call download_file*",
            "FAILED test_client.py::test_download - mcp-tap: tools/call*",
        ]
    )

    # Terse, and through xdist (whose workers send the report over): the same first line.
    result = pytester.runpytest_subprocess(*XDIST, "-n", "1", "--tb=line", timeout=RUN_TIMEOUT)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"{pytester.path / 'test_client.py'}:*: mcp-tap: tools/call download_file matches "
            "no recorded request: params.arguments.size_mb: recorded 3, received 2",
            "FAILED test_client.py::test_download - mcp-tap: tools/call*",
        ]
    )


def stale_sample(pytester: pytest.Pytester) -> tuple[Path, str]:
    """An older recording of the example test, marked so that a new one shows."""
    pytester.makepyfile(test_client=client_test())
    recording = pytester.path / RECORDING
    recording.parent.mkdir(parents=True)
    edited = "stale: an older server's answer"
    recording.write_text(SAMPLE.read_text() + f"# {edited}\n")
    return recording, edited


def test_record_mode_all_without_a_target_names_what_is_missing(
    pytester: pytest.Pytester,
) -> None:
    recording, edited = stale_sample(pytester)
    result = run(pytester, "--mcp-record-mode=all")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*record mode 'all' needs the real MCP server*--mcp-target*"])
    assert edited in recording.read_text()


def test_an_unreachable_target_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_client=client_test())
    with socket.socket() as closed:  # a free port nothing listens on
        closed.bind(("127.0.0.1", 0))
        target = f"http://127.0.0.1:{closed.getsockname()[1]}/mcp"
    result = run(pytester, "--mcp-record-mode=once", f"--mcp-target={target}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"mcp-tap: cannot record {pytester.path / RECORDING}: "
            f"cannot reach the MCP target {target}: *Connection refused"
        ]
    )
    assert "During handling" not in result.stdout.str()


def test_record_mode_all_records_again(pytester: pytest.Pytester, demo: str) -> None:
    recording, edited = stale_sample(pytester)
    aside(recording).write_text("an earlier failed run's recording")
    result = run(pytester, "--mcp-record-mode=all", f"--mcp-target={demo}")
    result.assert_outcomes(passed=1)
    text = recording.read_text()
    assert edited not in text
    assert f'target: "{demo}"' in text
    assert not aside(recording).exists()  # out of date once a passing run recorded


def test_record_mode_all_against_a_broken_server_keeps_the_recording(
    pytester: pytest.Pytester, recorded: Recorded, broken: str
) -> None:
    recording = with_recording(pytester, recorded)
    before = recording.read_bytes()
    result = run(pytester, "--mcp-record-mode=all", f"--mcp-target={broken}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*MCPRecordingWarning: mcp-tap: the test did not pass, so this run's recording "
            f"was kept at {aside(recording)}; {recording} is unchanged"
        ]
    )
    assert recording.read_bytes() == before
    assert "status: 501" in aside(recording).read_text()  # what the broken server said
    assert not recording.with_name(recording.name + ".part").exists()


def test_record_mode_once_against_a_broken_server_writes_no_recording(
    pytester: pytest.Pytester, broken: str, demo: str
) -> None:
    pytester.makepyfile(test_client=client_test())
    recording = pytester.path / RECORDING
    result = run(pytester, "--mcp-record-mode=once", f"--mcp-target={broken}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*recording was kept at {aside(recording)}; nothing was written at {recording} "
            "(the next recording run records it again)"
        ]
    )
    assert not recording.exists()
    assert aside(recording).exists()

    # Once the server is fixed, `once` records (there is still nothing to replay).
    run(pytester, "--mcp-record-mode=once", f"--mcp-target={demo}").assert_outcomes(passed=1)
    assert "Downloaded report.pdf (3 MB)" in recording.read_text()
    assert not aside(recording).exists()


def test_new_episodes_against_a_broken_server_keeps_the_recording(
    pytester: pytest.Pytester, recorded: Recorded, broken: str
) -> None:
    recording = with_recording(pytester, recorded)
    before = recording.read_bytes()
    result = run(pytester, "--mcp-record-mode=new_episodes", f"--mcp-target={broken}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*kept at {aside(recording)}; {recording} is unchanged"])
    assert recording.read_bytes() == before


def test_a_file_where_the_recordings_directory_goes_is_one_line(
    pytester: pytest.Pytester, broken: str
) -> None:
    # A file in the way stops root too, unlike a directory's permissions.
    pytester.makepyfile(test_client=client_test())
    (pytester.path / "recordings").write_text("not a directory")
    result = run(pytester, "--mcp-record-mode=once", f"--mcp-target={broken}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"mcp-tap: cannot record {pytester.path / RECORDING}: "
            f"{pytester.path / 'recordings'} is a file, not a directory"
        ]
    )
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    assert "NotADirectoryError" not in output


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes to read-only directories"
)
def test_a_read_only_recordings_directory_is_one_line(
    pytester: pytest.Pytester, broken: str
) -> None:
    pytester.makepyfile(test_client=client_test())
    directory = (pytester.path / RECORDING).parent
    directory.mkdir(parents=True)
    directory.chmod(0o555)
    try:
        result = run(pytester, "--mcp-record-mode=once", f"--mcp-target={broken}")
    finally:
        directory.chmod(0o755)
    result.assert_outcomes(errors=1)
    part = pytester.path / RECORDING.with_name(RECORDING.name + ".part")
    result.stdout.fnmatch_lines(
        [
            f"mcp-tap: cannot record {pytester.path / RECORDING}: "
            f"cannot write {part}: Permission denied"
        ]
    )
    assert "Traceback" not in result.stdout.str()


NEW_EPISODES_TEST = """
from test_client import call


def test_download(mcp_server):
    texts, _ = call(mcp_server.url, CALLS)
    assert len(texts) == len(CALLS)
    if mcp_server.recording:
        return  # new_episodes: the live server answered; the recording says what it kept
    assert texts == EXPECTED
"""


def test_record_mode_new_episodes_adds_new_requests_and_keeps_recorded_ones(
    pytester: pytest.Pytester, recorded: Recorded, demo: str
) -> None:
    # What was recorded stays as recorded: an edit shows that it is never re-recorded.
    with_recording(pytester, recorded)
    edited = recorded.text.replace("(3 MB)", "(3 MB, edited)")
    calls = [("download_file", DOWNLOAD), ("echo", {"text": "a new episode"})]
    expected = ["Downloaded report.pdf (3 MB, edited)", "a new episode"]
    pytester.makepyfile(
        test_episodes=f"CALLS = {calls!r}\nEXPECTED = {expected!r}\n" + NEW_EPISODES_TEST
    )
    episodes = pytester.path / "recordings" / "test_episodes" / "test_download.yaml"
    episodes.parent.mkdir(parents=True)
    episodes.write_text(edited)
    target = f"--mcp-target={demo}"

    result = run(pytester, "test_episodes.py", "--mcp-record-mode=new_episodes", target, "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*new episodes in {episodes}: tools/call echo*"])
    text = episodes.read_text()
    assert text.startswith(edited)  # appended: what was there is untouched
    assert text.count("download_file") == edited.count("download_file")

    # Nothing new the second time: the recording stays as it is.
    run(pytester, "test_episodes.py", "--mcp-record-mode=new_episodes", target)
    assert episodes.read_text() == text

    # Offline, both are served: the old one as recorded (edited), the new one as recorded now.
    result = run(pytester, "test_episodes.py", "--mcp-strict")
    result.assert_outcomes(passed=1)


STRICT_TEST = """
import pytest

from test_client import ARGUMENTS, call


@pytest.mark.mcp_recording("recordings/test_client/test_download.yaml")
def test_lists_tools_only(mcp_server):
    texts, _ = call(mcp_server.url, [])
    assert texts == []
"""


def test_unused_interactions_are_a_warning(pytester: pytest.Pytester, recorded: Recorded) -> None:
    with_recording(pytester, recorded)
    pytester.makepyfile(test_strict=STRICT_TEST)
    result = run(pytester, "test_strict.py")
    result.assert_outcomes(passed=1, warnings=2)  # the download, and the tools/list after it
    result.stdout.fnmatch_lines(
        ["*MCPRecordingWarning*unused recorded interaction: tools/call download_file*"]
    )


def test_unused_interactions_fail_under_strict(
    pytester: pytest.Pytester, recorded: Recorded
) -> None:
    with_recording(pytester, recorded)
    pytester.makepyfile(test_strict=STRICT_TEST)
    result = run(pytester, "test_strict.py", "--mcp-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_download.yaml was not used as recorded (--mcp-strict)*",
            "*unused recorded interaction: tools/call download_file*",
        ]
    )


SERVER_AUTHOR_TEST = """
import pytest

from demo_server.runner import demo_server_thread


@pytest.mark.mcp_recording("recordings/download.yaml")
def test_still_behaves_as_recorded(mcp_replay):
    with demo_server_thread(step_delay=0.01) as base_url:
        verdicts = mcp_replay(base_url + "/mcp")
    assert verdicts and all(v.ok for v in verdicts)


@pytest.mark.mcp_recording("recordings/edited.yaml")
def test_diverges_from_an_edited_recording(mcp_replay):
    with demo_server_thread(step_delay=0.01) as base_url:
        mcp_replay(base_url + "/mcp")
"""


def test_mcp_replay_passes_against_the_server_and_fails_with_the_diff(
    pytester: pytest.Pytester,
) -> None:
    sample = SAMPLE.read_text()
    assert "Downloaded report.pdf (5 MB)" in sample
    (pytester.path / "recordings").mkdir()
    (pytester.path / "recordings" / "download.yaml").write_text(sample)
    edited = sample.replace("Downloaded report.pdf (5 MB)", "Downloaded report.pdf (6 MB)")
    (pytester.path / "recordings" / "edited.yaml").write_text(edited)
    pytester.makepyfile(test_server=SERVER_AUTHOR_TEST)

    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no longer behaves as*edited.yaml recorded",
            "DIVERGED tools/call download_file*",
            "  result.content[0].text",
            '    - "Downloaded report.pdf (6 MB)"',
            '    + "Downloaded report.pdf (5 MB)"',
            "  result.structuredContent.result",
            '    - "Downloaded report.pdf (6 MB)"',
            '    + "Downloaded report.pdf (5 MB)"',
            "  silence with: ignore=['result.content[0].text', 'result.structuredContent.result']",
            "replay diverged: 1 of * requests differ",
        ]
    )
    assert "--ignore" not in result.stdout.str()  # the fixture's argument, not replay's flag


WRONG_IGNORE_TEST = """
import pytest

from demo_server.runner import demo_server_thread


@pytest.mark.mcp_recording("recordings/edited.yaml")
def test_ignores_by_a_wrong_path(mcp_replay):
    with demo_server_thread(step_delay=0.01) as base_url:
        mcp_replay(base_url + "/mcp", ignore=["result.structuredContent", "result.content.text"])
"""


def test_mcp_replay_warns_of_an_ignore_path_that_names_no_field(
    pytester: pytest.Pytester,
) -> None:
    # `result.content.text` is not where the text is (`result.content[0].text`): it silences
    # nothing, so the replay diverges, and a warning says why.
    (pytester.path / "recordings").mkdir()
    edited = SAMPLE.read_text().replace("report.pdf (5 MB)", "report.pdf (6 MB)")
    (pytester.path / "recordings" / "edited.yaml").write_text(edited)
    pytester.makepyfile(test_server=WRONG_IGNORE_TEST)

    result = run(pytester)
    result.assert_outcomes(failed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "  result.content[0].text",  # lines without a wildcard match exactly
            "  silence with: ignore=['result.content[0].text']",
            "silence every difference above with: "
            "mcp_replay(url, ignore=['result.structuredContent', 'result.content[0].text'])",
            "*MCPRecordingWarning: mcp-tap: ignore path 'result.content.text' names no field of "
            "any result or error in *edited.yaml or in the server's answers, so it silences "
            "nothing; did you mean 'result.content[[]0[]].text'?",
        ]
    )
