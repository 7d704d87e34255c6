"""What validating one message against its MCP schema definition costs, for three validators.

`uv run --group bench python bench/schema_validation.py [--rounds N]`

The messages are those of the committed sample recordings (2026-07-28, the 2025-11-25
handshake, 2024-11-05 SSE), each checked as `SchemaChecker` checks it: its JSON-RPC envelope,
then the definition for its method and direction (`CallToolRequest`, `ProgressNotification`,
...; a result by its request's method). Every validator is compiled once per revision and
definition before timing. Prints microseconds per message by message type and library, the
compile time, and whether each library got every verdict right (all samples are valid, and
one broken `CallToolResult` a revision must reject).

`fastjsonschema` implements draft-04/06/07 only: the 2025-11-25 and 2026-07-28 schemas are
2020-12, so it runs them with draft-07 semantics (their `$defs` references still resolve).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing

from mcp_tap.analysis.schema_catalog import RevisionSchema, load_revision  # noqa: E402
from mcp_tap.protocol.events import MessageKind, MessageSeen  # noqa: E402
from mcp_tap.recording.reader import load_recording  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {  # sample -> the revision its session negotiated
    "download_file-2026-07-28": "2026-07-28",
    "process_data-2026-07-28": "2026-07-28",
    "download_file-handshake": "2025-11-25",
    "concurrent-downloads-handshake": "2025-11-25",
    "sse-2024-11-05": "2024-11-05",
}
KINDS = (MessageKind.REQUEST, MessageKind.NOTIFICATION, MessageKind.RESPONSE, MessageKind.ERROR)
Check = Callable[[Any], bool]
Compiler = Callable[[RevisionSchema, str], Check]


def wrapped(schema: RevisionSchema, name: str) -> dict[str, Any]:
    """One definition as a schema of its own: a reference into the revision's definitions."""
    return {
        "$schema": schema.dialect,
        "$ref": schema.ref(name),
        schema.defs_key: schema.definitions,
    }


def compile_rs(schema: RevisionSchema, name: str) -> Check:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(wrapped(schema, name), offline=True)
    return validator.is_valid  # type: ignore[no-any-return]


def compile_fast(schema: RevisionSchema, name: str) -> Check:
    import fastjsonschema

    document = wrapped(schema, name)
    document["$schema"] = "http://json-schema.org/draft-07/schema#"
    validate = fastjsonschema.compile(document)

    def check(instance: Any) -> bool:
        try:
            validate(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return check


def compile_jsonschema(schema: RevisionSchema, name: str) -> Check:
    import jsonschema

    document = wrapped(schema, name)
    cls = jsonschema.validators.validator_for(document)
    return cls(document).is_valid  # type: ignore[no-any-return]


LIBRARIES: dict[str, Compiler] = {
    "jsonschema-rs": compile_rs,
    "fastjsonschema": compile_fast,
    "jsonschema": compile_jsonschema,
}

Case = tuple[str, str, list[tuple[str, Any]]]  # (type, revision, [(definition, instance)])


def cases() -> list[Case]:
    """(type, revision, what to validate) for each sample message."""
    found: list[Case] = []
    for sample, revision in SAMPLES.items():
        schema = load_revision(revision)
        methods: dict[Any, tuple[str, Any]] = {}
        for event in load_recording(ROOT / "recordings" / f"{sample}.yaml").events:
            if not isinstance(event, MessageSeen) or event.message.kind not in KINDS:
                continue
            message = event.message
            payload = message.payload
            envelope = schema.envelope(message.kind)
            if message.kind in (MessageKind.REQUEST, MessageKind.NOTIFICATION):
                assert message.method is not None
                if message.kind is MessageKind.REQUEST:
                    methods[message.id] = (message.method, payload.get("params"))
                name = schema.message_definition(message.kind, event.direction, message.method)
                if name is not None:
                    found.append((name, revision, [(envelope, payload), (name, payload)]))
            elif message.kind is MessageKind.RESPONSE and message.id in methods:
                method, params = methods[message.id]
                name = schema.result_definition(method, params, payload["result"])
                parts = [(envelope, payload), (name, payload["result"])]
                found.append((name, revision, parts))
            elif message.kind is MessageKind.ERROR:
                found.append((envelope, revision, [(envelope, payload)]))
    return found


BROKEN_RESULT = {"content": [{"type": "txt", "text": "x"}], "resultType": "complete"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="passes over the messages")
    args = parser.parse_args()
    corpus = cases()
    types = sorted({case[0] for case in corpus})
    tally = {kind: sum(1 for case in corpus if case[0] == kind) for kind in types}
    print(f"{len(corpus)} messages from {len(SAMPLES)} samples, {args.rounds} rounds")
    table: dict[str, dict[str, float]] = {}
    for library, compiler in LIBRARIES.items():
        started = time.perf_counter()
        checks: dict[tuple[str, str], Check] = {}
        for _, revision, parts in corpus:
            for name, _ in parts:
                if (revision, name) not in checks:
                    checks[(revision, name)] = compiler(load_revision(revision), name)
        for revision in ("2025-11-25", "2026-07-28"):
            checks.setdefault(
                (revision, "CallToolResult"), compiler(load_revision(revision), "CallToolResult")
            )
        compile_ms = (time.perf_counter() - started) * 1000
        right = all(checks[(r, n)](i) for _, r, parts in corpus for n, i in parts)
        right = right and not checks[("2025-11-25", "CallToolResult")](BROKEN_RESULT)
        right = right and not checks[("2026-07-28", "CallToolResult")](BROKEN_RESULT)
        per_type: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.rounds):
            for kind, revision, parts in corpus:
                bound = [(checks[(revision, name)], instance) for name, instance in parts]
                t0 = time.perf_counter()
                for check, instance in bound:
                    check(instance)
                per_type[kind].append(time.perf_counter() - t0)
        row = {kind: statistics.median(times) * 1e6 for kind, times in per_type.items()}
        row["compile ms"] = compile_ms
        row["all verdicts right"] = float(right)
        table[library] = row
    width = max(len(t) for t in types) + 8
    print(f"\n{'µs per message':<{width}}" + "".join(f"{lib:>16}" for lib in LIBRARIES))
    for kind in [*types, "compile ms", "all verdicts right"]:
        cells = "".join(f"{table[lib].get(kind, 0.0):>16.1f}" for lib in LIBRARIES)
        label = f"{kind} ({tally[kind]})" if kind in tally else kind
        print(f"{label:<{width}}{cells}")


if __name__ == "__main__":
    main()
