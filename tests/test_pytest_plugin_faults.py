"""The pytest plugin's faults: `@pytest.mark.mcp_faults(...)` and `mcp_server.inject(...)`,
run by pytest on example test files (pytester, in a subprocess each) against a sample
recording served by the mock."""

from __future__ import annotations

import shutil

import pytest

from tests.procs import ROOT
from tests.test_pytest_plugin import run

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.timeout(240)

SAMPLE = ROOT / "recordings" / "download_file-2026-07-28.yaml"
EXAMPLE = '''
import asyncio

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

ARGS = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.05}


def call(url):
    """The tool's text, or the JSON-RPC error the client raised."""
    async def main():
        async with Client(url) as client:
            try:
                result = await client.call_tool("download_file", ARGS)
            except MCPError as error:
                return f"error {error.error.code}: {error.error.message}"
            return result.content[0].text

    return asyncio.run(asyncio.wait_for(main(), 30))


@pytest.mark.mcp_recording("sample.yaml", speed=100)
@pytest.mark.mcp_faults('error tool=download_file code=-32001 message="disk full"')
def test_marker(mcp_server):
    assert call(mcp_server.url) == "error -32001: disk full"


@pytest.mark.mcp_recording("sample.yaml", speed=100)
def test_inject(mcp_server):
    assert call(mcp_server.url) == "Downloaded report.pdf (5 MB)"
    mcp_server.inject("error tool=download_file code=-32002 message='now broken' times=1")
    assert call(mcp_server.url) == "error -32002: now broken"
    assert call(mcp_server.url) == "Downloaded report.pdf (5 MB)"


@pytest.mark.mcp_recording("sample.yaml", speed=100)
def test_bad_rule(mcp_server):
    mcp_server.inject("explode tool=x")
'''


def test_marker_and_inject_break_the_mock_as_asked(pytester: pytest.Pytester) -> None:
    shutil.copy(SAMPLE, pytester.path / "sample.yaml")
    pytester.makepyfile(test_faults=EXAMPLE)
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*mcp-tap: fault rule 'explode tool=x': unknown action*"])
