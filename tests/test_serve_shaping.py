"""`serving_recording`'s `match_on` and `before_playback`, seen by a real `mcp` client, and
`before_record` rewriting a recording whole (`serve.shaping.rewrite_recording`)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcp_tap.recording.reader import load_recording
from mcp_tap.serve import Interaction, same_params, serving_recording
from mcp_tap.serve.interactions import recorded_server
from mcp_tap.serve.shaping import rewrite_recording
from tests.procs import ROOT

pytestmark = pytest.mark.timeout(60)

STATELESS = ROOT / "recordings" / "download_file-2026-07-28.yaml"
HANDSHAKE = ROOT / "recordings" / "download_file-handshake.yaml"
ARGS = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.05}


def run(coroutine: Coroutine[Any, Any, None], seconds: float = 30) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(seconds):
            await coroutine

    asyncio.run(bounded())


def _filename(request: dict[str, Any]) -> Any:
    return request.get("params", {}).get("arguments", {}).get("filename")


def same_file(received: dict[str, Any], recorded: dict[str, Any]) -> bool:
    """Only the filename decides: size and delay may change from run to run."""
    return bool(_filename(received) == _filename(recorded))


def test_match_on_callables_replace_the_params_comparison() -> None:
    async def main() -> None:
        async with serving_recording(STATELESS, fast=True, match_on=[same_file]) as mock:
            async with Client(mock.url) as client:
                other_size = {**ARGS, "size_mb": 9, "step_delay": 0}
                result = await client.call_tool("download_file", other_size)
                assert result.content[0].text == "Downloaded report.pdf (5 MB)"  # type: ignore[union-attr]
                with pytest.raises(MCPError, match=r"match_on \(same_file\) refused"):
                    await client.call_tool("download_file", {**ARGS, "filename": "notes.txt"})
        assert len(mock.report.misses) == 1
        assert "match_on (same_file) refused every recorded one" in mock.report.misses[0].message

    run(main())


def test_match_on_keeps_the_builtin_comparison_beside_its_own() -> None:
    async def main() -> None:
        async with serving_recording(
            STATELESS, fast=True, match_on=[same_params, same_file]
        ) as mock:
            async with Client(mock.url) as client:
                result = await client.call_tool("download_file", ARGS)
                assert result.content[0].text == "Downloaded report.pdf (5 MB)"  # type: ignore[union-attr]
        assert mock.report.clean

    run(main())


def test_a_match_on_that_raises_is_a_miss_naming_it() -> None:
    def broken(received: dict[str, Any], recorded: dict[str, Any]) -> bool:
        raise KeyError("cart")

    async def main() -> None:
        async with serving_recording(STATELESS, fast=True, match_on=[broken]) as mock:
            async with Client(mock.url) as client:
                with pytest.raises(MCPError, match="match_on broken raised KeyError"):
                    await client.call_tool("download_file", ARGS)
        assert "match_on broken raised KeyError: 'cart'" in mock.report.misses[0].message

    run(main())


def test_before_playback_scrubs_an_answer_and_drops_an_interaction() -> None:
    def scrub(interaction: Interaction) -> Interaction | None:
        if interaction.method == "tools/call":
            return None  # as if it had never been recorded
        if interaction.method == "tools/list" and interaction.response is not None:
            interaction.response["result"]["tools"][0]["description"] = "<scrubbed>"
        return interaction

    async def main() -> None:
        async with serving_recording(HANDSHAKE, fast=True, before_playback=scrub) as mock:
            async with Client(mock.url, mode="legacy") as client:
                listed = await client.list_tools()
                assert listed.tools[0].description == "<scrubbed>"
                with pytest.raises(MCPError, match="the recordings have no tools/call"):
                    await client.call_tool("download_file", ARGS)
        assert [m.method for m in mock.report.misses] == ["tools/call"]

    run(main())


def test_before_playback_must_return_an_interaction_or_none() -> None:
    async def main() -> None:
        async with serving_recording(STATELESS, before_playback=lambda i: "text"):  # type: ignore[arg-type,return-value]
            pass

    with pytest.raises(TypeError, match="before_playback must return the interaction"):
        run(main())


def test_before_record_rewrites_a_recording_and_drops_whole_interactions(tmp_path: Path) -> None:
    path = tmp_path / "rec.yaml"
    shutil.copy(HANDSHAKE, path)
    before = recorded_server([("rec.yaml", load_recording(path).events)]).interactions

    def shape(interaction: Interaction) -> Interaction | None:
        if interaction.method == "tools/list":
            return None
        if interaction.method == "tools/call":
            interaction.request["params"]["arguments"]["filename"] = "<name>"
        return interaction

    rewrite_recording(path, shape)
    after = recorded_server([("rec.yaml", load_recording(path).events)]).interactions
    assert [i.method for i in after] == [i.method for i in before if i.method != "tools/list"]
    call = next(i for i in after if i.method == "tools/call")
    assert call.request["params"]["arguments"]["filename"] == "<name>"
    assert call.response is not None and len(call.notifications) == 5  # its progress kept
