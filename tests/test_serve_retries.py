"""`mcp-tap serve` and 2026-07-28's `input_required`: a call and the client's retry are one call.

The asking server's `ask_city` answers a 2026-07-28 call with an `input_required` result (an
elicitation); the `mcp` client answers it and retries the call with `inputResponses` and the
`requestState`. Recorded through `mcp-tap proxy`, then served: the retry is matched with the
recorded retry, and answers that differ from the recorded ones are a finding (a miss under
`strict`), not an unmatched request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequestParams, ElicitResult, TextContent

from mcp_tap.protocol.events import Finding
from mcp_tap.serve import serving_recording
from mcp_tap.tap.bus import TapBus
from tests.inproc import Collector
from tests.procs import ROOT, running, tap_proxy
from tests.test_serve_asks import SERVER

pytestmark = pytest.mark.timeout(120)
DIFFERS = 'content.city: recorded "Paris", received "Rome"'


def answering(city: str) -> Any:
    """An elicitation callback that names `city`."""

    async def elicitation(
        context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        return ElicitResult(action="accept", content={"city": city})

    return elicitation


async def ask_city(url: str, city: str) -> str:
    """A 2026-07-28 client's `ask_city` call, answering `city`: the result's text, or the
    error the call got."""
    with anyio.fail_after(60):
        async with Client(url, elicitation_callback=answering(city)) as client:
            try:
                result = await client.call_tool("ask_city", {"country": "France"})
            except MCPError as error:
                return f"error: {error}"
    content = result.content[0]
    assert isinstance(content, TextContent)
    return content.text


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    recording = tmp_path_factory.mktemp("retries") / "ask-city.yaml"
    with running([*SERVER], cwd=ROOT) as server:
        url = server.wait_for_line(r"(http://\S+/mcp)").group(1)
        with tap_proxy(url, ROOT, "--record", str(recording), "-q") as (proxy_url, proxy):
            assert anyio.run(ask_city, proxy_url, "Paris") == "Paris, France"
            proxy.stop()
    text = recording.read_text()
    assert "resultType: input_required" in text and "inputResponses" in text
    yield recording


def test_the_retry_gets_the_recorded_result(recording: Path) -> None:
    seen = Collector()

    async def main() -> tuple[str, str, Any]:
        async with serving_recording(recording, fast=True, bus=TapBus([seen])) as mock:
            first = await ask_city(mock.url, "Paris")
            again = await ask_city(mock.url, "Paris")  # the call and its retry, once more
            return first, again, mock.report

    first, again, report = anyio.run(main)
    assert first == again == "Paris, France"
    assert not report.misses and not report.unused
    assert not [rule for rule in seen.rules if rule.startswith("serve-")]


def test_a_different_answer_is_a_finding_field_by_field(recording: Path) -> None:
    seen = Collector()

    async def main() -> tuple[str, Any]:
        async with serving_recording(recording, fast=True, bus=TapBus([seen])) as mock:
            return await ask_city(mock.url, "Rome"), mock.report

    text, report = anyio.run(main)
    assert text == "Paris, France"  # the recorded result, still
    assert not report.misses
    (finding,) = [
        e for e in seen.events if isinstance(e, Finding) and e.rule == "serve-answer-differs"
    ]
    assert "input requests of tools/call ask_city" in finding.detail
    assert DIFFERS in finding.detail and "params.inputResponses." in finding.detail


def test_strict_makes_a_different_answer_a_miss(recording: Path) -> None:
    async def main() -> tuple[str, Any]:
        async with serving_recording(recording, fast=True, strict=True) as mock:
            return await ask_city(mock.url, "Rome"), mock.report

    error, report = anyio.run(main)
    assert error.startswith("error: ") and DIFFERS in error  # the miss, not the recorded result
    (miss,) = report.misses
    assert DIFFERS in miss.message
