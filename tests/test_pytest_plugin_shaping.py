"""The plugin's marker shapes recordings from Python: `match_on`, `before_playback` and
`before_record`, run by pytest on example test files (pytester, a subprocess each).

The demo server and the recording the replays start from are `test_pytest_plugin.py`'s
module fixtures, made once for this module too.
"""

from __future__ import annotations

import pytest

from mcp_tap.recording.reader import load_recording
from mcp_tap.serve.interactions import recorded_server
from tests.test_pytest_plugin import RECORDING, Recorded, demo, recorded, run, with_recording

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.timeout(240)
__all__ = ["demo", "recorded"]  # module fixtures, shared

SHAPED_TEST = """
import asyncio

import pytest
from mcp import Client


def same_file(received, recorded):
    def filename(request):
        return request.get("params", {}).get("arguments", {}).get("filename")

    return filename(received) == filename(recorded)


def scrub(interaction):
    if interaction.method == "tools/call":
        interaction.response["result"]["content"][0]["text"] = "Downloaded <scrubbed>"
    return interaction


def drop_calls(interaction):
    return None if interaction.method == "tools/call" else interaction


def text_of(url, arguments):
    async def main():
        async with Client(url) as client:
            result = await client.call_tool("download_file", arguments)
            return result.content[0].text

    return asyncio.run(asyncio.wait_for(main(), 30))


@pytest.mark.mcp_recording("RECORDING_PATH", match_on=[same_file], before_playback=scrub)
def test_shaped(mcp_server):
    other_size = {"filename": "report.pdf", "size_mb": 7, "step_delay": 0}
    assert text_of(mcp_server.url, other_size) == "Downloaded <scrubbed>"


@pytest.mark.mcp_recording("RECORDING_PATH", before_playback=drop_calls)
def test_dropped(mcp_server):
    text_of(mcp_server.url, {"filename": "report.pdf", "size_mb": 3, "step_delay": 0.01})
"""

RECORDED_TEST = """
import asyncio
import json

import pytest
from mcp import Client


def scrub(interaction):
    arguments = interaction.request.get("params", {}).get("arguments")
    if arguments is not None:
        arguments["filename"] = "<file>"  # edited in place
        said = json.dumps(interaction.response).replace("secret-plan.pdf (2 MB)", "<file>")
        interaction.response = json.loads(said)  # or replaced
    return interaction


@pytest.mark.mcp_recording(before_record=scrub)
def test_download(mcp_server):
    async def main():
        async with Client(mcp_server.url) as client:
            arguments = {"filename": "secret-plan.pdf", "size_mb": 2, "step_delay": 0.01}
            result = await client.call_tool("download_file", arguments)
            return result.content[0].text

    assert asyncio.run(asyncio.wait_for(main(), 30)) == "Downloaded secret-plan.pdf (2 MB)"
"""


def test_match_on_and_before_playback_shape_what_a_recording_answers(
    pytester: pytest.Pytester, recorded: Recorded
) -> None:
    with_recording(pytester, recorded)
    pytester.makepyfile(test_client=SHAPED_TEST.replace("RECORDING_PATH", RECORDING.as_posix()))
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_dropped*",
            "mcp-tap: * could not answer every request of this test",
            "*the recordings have no tools/call request*",
        ]
    )
    assert "PASSED test_client.py::test_shaped" in result.stdout.str()


def test_before_record_scrubs_the_recording_it_writes(pytester: pytest.Pytester, demo: str) -> None:
    pytester.makepyfile(test_client=RECORDED_TEST)
    run(pytester, "--mcp-record-mode=once", f"--mcp-target={demo}").assert_outcomes(passed=1)
    recording = pytester.path / "recordings" / "test_client" / "test_download.yaml"
    text = recording.read_text()
    assert "secret-plan" not in text
    calls = [
        i
        for i in recorded_server([("r", load_recording(recording).events)]).interactions
        if i.method == "tools/call"
    ]
    assert len(calls) == 1
    assert calls[0].request["params"]["arguments"]["filename"] == "<file>"
    assert calls[0].response is not None
    assert calls[0].response["result"]["content"][0]["text"] == "Downloaded <file>"
