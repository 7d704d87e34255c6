"""Compare a replayed call with its recording: the result, and the progress stream.

Results are compared field by field (`analysis.diff`), so a divergence names the path that
changed and the two values; volatile fields (server version, `_meta`, and any `--ignore`
path) are skipped, so a replay diverges only where the server's behaviour changed.
Progress is compared value by value: which updates are missing or extra, out of order or
going down, and which messages changed.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mcp_tap.analysis.calls import VOLATILE_OUTCOME, Call, outcome
from mcp_tap.analysis.diff import MISSING, field_paths, json_diff, names_a_field

DEFAULT_IGNORES = VOLATILE_OUTCOME
TOLERANCE_FLAG = "--progress-tolerance"  # a hint that is this flag, not an ignore path


@dataclass
class Divergence:
    """One way a replayed call differs from its recording.

    `what` is a field's path, or a sentence about the progress stream; `ignore` is the
    `--ignore` path (or the flag) that would silence it.
    """

    what: str
    recorded: Any = MISSING
    received: Any = MISSING
    ignore: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"what": self.what}
        if self.recorded is not MISSING:
            data["recorded"] = self.recorded
        if self.received is not MISSING:
            data["received"] = self.received
        if self.ignore is not None:
            data["ignore"] = self.ignore
        return data


@dataclass(slots=True)
class CallVerdict:
    """A recorded call and how its replay went."""

    call: Call
    divergences: list[Divergence] = field(default_factory=list)
    replayed: Call | None = None  # what the server did this time; None: not replayed
    # the fields of both outcomes, for a verdict that holds neither (`Judge`)
    paths: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.divergences


def compare_progress(recorded: Call, received: Call, tolerance: int) -> list[Divergence]:
    """Missing and extra values, order, values going down, the final total, messages."""
    want = [p.get("progress") for p in recorded.progress]
    got = [p.get("progress") for p in received.progress]
    found: list[Divergence] = []
    start = received.sent_at
    for index, (a, b) in enumerate(zip(got, got[1:], strict=False)):
        if not _less(a, b):
            at = received.progress_times[index + 1] - start
            verb = "went down" if _less(b, a) else "did not increase"
            found.append(
                Divergence(f"progress {verb}: {_n(a)} then {_n(b)} at {at:.3f} s", want, got)
            )
    if abs(len(want) - len(got)) > tolerance or (
        not found and want != got and len(want) == len(got)
    ):
        missing = _minus(want, got)
        extra = _minus(got, want)
        if missing:
            times = ", ".join(
                f"{recorded.progress_times[i] - recorded.sent_at:.3f} s"
                for i, v in enumerate(want)
                if v in missing
            )
            what = f"progress missing {', '.join(_n(v) for v in missing)} (recorded at {times})"
            found.append(Divergence(what, want, got, _tolerance_hint(want, got)))
        if extra:
            what = f"progress extra {', '.join(_n(v) for v in extra)}"
            found.append(Divergence(what, want, got, _tolerance_hint(want, got)))
        if not missing and not extra and want != got:
            found.append(Divergence("progress out of order", want, got))
    last = recorded.progress[-1] if recorded.progress else None
    if last is not None and last.get("total") is not None and last.get("progress") == last["total"]:
        final = received.progress[-1] if received.progress else {}
        if received.progress and final.get("progress") != final.get("total"):
            found.append(
                Divergence("final progress did not reach total", _pair(last), _pair(final))
            )
    found.extend(_messages(recorded, received, tolerance))
    return found


def _messages(recorded: Call, received: Call, tolerance: int) -> list[Divergence]:
    """Messages that changed, matched by progress value (positions move when one is missing)."""
    if tolerance:
        return []
    theirs = {p.get("progress"): p.get("message") for p in received.progress}
    return [
        Divergence(f"progress message at {_n(p.get('progress'))}", p.get("message"), theirs[key])
        for p in recorded.progress
        if (key := p.get("progress")) in theirs and theirs[key] != p.get("message")
    ]


def _minus(a: list[Any], b: list[Any]) -> list[Any]:
    rest = Counter(json.dumps(v) for v in b)
    out = []
    for value in a:
        key = json.dumps(value)
        if rest[key]:
            rest[key] -= 1
        else:
            out.append(value)
    return out


def _tolerance_hint(want: list[Any], got: list[Any]) -> str:
    return f"{TOLERANCE_FLAG} {abs(len(want) - len(got))}"


def _pair(params: dict[str, Any]) -> str:
    return f"{_n(params.get('progress'))}/{_n(params.get('total'))}"


def _n(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)


def _less(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        return False


def compare_calls(
    recorded: Sequence[Call],
    replayed_of: Callable[[Call], Call | None],
    ignore: Sequence[str] = (),
    progress_tolerance: int = 0,
    timeout: float = 30.0,
) -> list[CallVerdict]:
    """A verdict for every recorded request."""
    ignores = [*DEFAULT_IGNORES, *ignore]
    verdicts = []
    for call in recorded:
        twin = replayed_of(call)
        verdict = CallVerdict(call, replayed=twin)
        if twin is None:
            verdict.divergences.append(Divergence("request was not replayed"))
        elif call.response is not None and twin.response is None:
            verdict.divergences.append(
                Divergence(f"no response within {timeout:g} s", _brief(call), None)
            )
        else:
            for change in json_diff(outcome(call), outcome(twin), ignores):
                verdict.divergences.append(
                    Divergence(change.path, change.recorded, change.received, change.path)
                )
            verdict.divergences.extend(compare_progress(call, twin, progress_tolerance))
        verdicts.append(verdict)
    return verdicts


class Judge:
    """Compares each call as soon as both sides of it are complete and hands the verdict on
    (`give`), holding neither call: a verdict keeps its divergences (which carry their own
    values), the fields both outcomes had, and a light copy of the recorded call."""

    def __init__(
        self,
        give: Callable[[int, CallVerdict], None],
        ignore: Sequence[str] = (),
        progress_tolerance: int = 0,
        timeout: float = 30.0,
    ) -> None:
        self.give = give  # (the request's place among the recorded ones, its verdict)
        self.ignore = ignore
        self.progress_tolerance = progress_tolerance
        self.timeout = timeout
        self._paths: dict[tuple[str, ...], tuple[str, ...]] = {}  # one copy of each

    def judge(self, place: int, recorded: Call, replayed: Call | None) -> CallVerdict:
        """The verdict on `recorded`, given on; it holds no payload of either call."""
        verdict = compare_calls(
            [recorded], lambda _: replayed, self.ignore, self.progress_tolerance, self.timeout
        )[0]
        found = [*field_paths(outcome(recorded))]
        if replayed is not None:
            found.extend(field_paths(outcome(replayed)))
        paths = tuple(dict.fromkeys(found))
        if len(self._paths) > MAX_SHAPES:
            self._paths.clear()  # shapes that vary without end: stop sharing them
        verdict.paths = self._paths.setdefault(paths, paths)
        verdict.call, verdict.replayed = light(recorded), None
        self.give(place, verdict)
        return verdict


MAX_SHAPES = 1024  # distinct outcome shapes whose field lists are shared
_LABELS: dict[str, dict[str, Any]] = {}


def light(call: Call) -> Call:
    """`call` with what a verdict names it by (label, number, ids, times), no payloads."""
    request = call.request
    params = request.payload.get("params") if isinstance(request.payload, dict) else None
    name = params.get("name") if isinstance(params, dict) else None
    if isinstance(name, str):  # one payload per tool name, shared by its calls (never changed)
        if len(_LABELS) > MAX_SHAPES:
            _LABELS.clear()
        payload: dict[str, Any] | None = _LABELS.setdefault(name, {"params": {"name": name}})
    else:
        payload = None
    response = call.response
    return Call(
        call.exchange_id,
        call.session_id,
        replace(request, payload=payload),
        call.sent_at,
        response=None if response is None else replace(response, payload=None),
        answered_at=call.answered_at,
        number=call.number,
    )


def unmatched_ignores(
    ignore: Sequence[str], verdicts: Sequence[CallVerdict]
) -> list[tuple[str, str | None]]:
    """The `ignore` paths that name no field of any result or error, recorded or replayed
    (a typo silences nothing), each with the real path closest to it, if one is close."""
    paths: list[str] = []
    for verdict in verdicts:
        paths.extend(verdict.paths)
        for call in (verdict.call, verdict.replayed):
            if call is not None:
                paths.extend(field_paths(outcome(call)))
    known = list(dict.fromkeys(paths))
    unmatched = []
    for pattern in ignore:
        if not any(names_a_field(pattern, path) for path in known):
            close = difflib.get_close_matches(pattern.removeprefix("$."), known, n=1, cutoff=0.6)
            unmatched.append((pattern, close[0] if close else None))
    return unmatched


def _brief(call: Call) -> str:
    text = json.dumps(call.response.payload if call.response else None)
    return text if len(text) < 200 else text[:197] + "..."
