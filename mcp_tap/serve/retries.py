"""A 2026-07-28 call answered `input_required`, and the client's retry of it: one call.

In 2026-07-28 a server that needs something from the client before it can answer a
`tools/call`, `prompts/get` or `resources/read` answers with a result whose `resultType` is
`input_required`, carrying `inputRequests` (sampling, elicitation, roots) and an opaque
`requestState`. The client fulfils them and sends the call again, under a new id: the same
params plus `inputResponses` (its answers, by the server's keys) and the `requestState`,
echoed verbatim. The mock serves the recorded `input_required` result, so the client echoes
the recorded state back.

A retry is matched with the recorded retries of its method on the original call's params
(the two keys aside), not with first requests, so an identical retry continues the call it
answers rather than counting as a call of its own, and one whose answers differ is still
that call's retry. Its answers are then compared with the recorded ones field by field, as
the answer to a re-enacted request is (`asks.py`): a difference is a `serve-answer-differs`
finding, and under `--strict` a miss, which the client gets in place of the recorded result.
"""

from __future__ import annotations

from typing import Any

from mcp_tap.protocol.events import Finding, Severity
from mcp_tap.serve.interactions import Interaction, call_params
from mcp_tap.serve.matching import Miss, differences
from mcp_tap.tap.bus import TapBus

VOLATILE = "_meta"  # of each input response: never compared, as an ask's answer's `_meta`


def answers_of(request: dict[str, Any]) -> dict[str, Any]:
    """What of a retry is compared: its input responses (each bar `_meta`) and its state."""
    params = call_params(request)
    out: dict[str, Any] = {}
    responses = params.get("inputResponses")
    if isinstance(responses, dict):
        out["inputResponses"] = {
            key: (
                {k: v for k, v in value.items() if k != VOLATILE}
                if isinstance(value, dict)
                else value
            )
            for key, value in responses.items()
        }
    elif "inputResponses" in params:
        out["inputResponses"] = responses
    if "requestState" in params:
        out["requestState"] = params["requestState"]
    return out


def check_retry(
    bus: TapBus,
    strict: bool,
    interaction: Interaction,
    request: dict[str, Any],
    exchange_id: int | None,
    session: str | None,
) -> Miss | None:
    """Compare a retry's answers with the recorded retry's: a finding when they differ,
    and the Miss the client gets under --strict."""
    found = differences(answers_of(interaction.request), answers_of(request), "params")
    if not found:
        return None
    shown = "; ".join(d.describe() for d in found[:5])
    if len(found) > 5:
        shown += f"; and {len(found) - 5} more"
    text = (
        f"the client answered the input requests of {interaction.label} differently "
        f"from the recording: {shown}"
    )
    bus.publish(
        Finding(
            bus.now(),
            Severity.ERROR if strict else Severity.WARNING,
            "serve-answer-differs",
            f"mcp-tap serve: {text}",
            exchange_id=exchange_id,
            session_id=session,
            request_id=request.get("id"),
        )
    )
    return Miss(request, interaction, found, text) if strict else None
