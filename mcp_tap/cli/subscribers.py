"""What a command's flags put on the bus: the view, the recorder, the live OTLP exporter
and the --fail-on gate. The one place to change what a session subscribes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console

from mcp_tap.analysis.gate import SeverityGate
from mcp_tap.analysis.pins import Pins
from mcp_tap.cli.common import UserError, name_values
from mcp_tap.cli.options import judge_memory
from mcp_tap.protocol.events import Severity, Subscriber
from mcp_tap.protocol.redaction import RedactionRules, Redactor
from mcp_tap.recording.writer import RecordingWriter, StdioOrigin, mcp_tap_version
from mcp_tap.tap.bus import TapBus
from mcp_tap.view.console import DEFAULT_FPS, ViewOptions, build_view
from mcp_tap.view.layout import SESSION


def view_subscribers(
    args: argparse.Namespace,
    bus: TapBus,
    *,
    recorded: bool = False,
    fps: float = DEFAULT_FPS,
    started_at: float | None = None,
    redaction: RedactionRules | None = None,
    session_width: int = SESSION,
    pins: Pins | None = None,
) -> list[Subscriber]:
    """What shows events to the user, live or from a recording: the one place to change it.

    The progress tracker (publishing its findings on `bus`) and then the view, in that
    order. `recorded`: the events come from a recording that already holds its findings.
    `redaction`: what the view hides (default: the rules the flags give a recording).
    `session_width`: cells of the session column (`show --follow DIR` names servers there).
    `pins`: the definitions the server is held to (`--pins`).
    """
    options = ViewOptions(
        verbose=getattr(args, "verbose", False),
        quiet=getattr(args, "quiet", False),
        filters=tuple(getattr(args, "filter", None) or ()),
        fps=fps,
        clock=getattr(args, "clock", False),
        started_at=started_at,
        progress_lines=getattr(args, "progress_lines", True),
        redaction=redaction or redaction_rules(args),
        session_width=session_width,
    )
    jsonl = getattr(args, "jsonl", False)
    machine_stdout = getattr(args, "format", None) == "json"  # replay --format json owns stdout
    return build_view(
        bus.publish,
        options,
        jsonl=sys.stdout if jsonl else None,
        console=Console(stderr=True) if machine_stdout else None,
        summary_console=Console(stderr=True) if jsonl else None,
        emit_findings=not recorded,
        judge=not getattr(args, "no_check", False),
        judge_memory=judge_memory(args),
        pins=pins,
    )


def recorder_for(args: argparse.Namespace, target: str | None = None) -> RecordingWriter | None:
    """The recording subscriber the recording flags ask for, or None with --no-record."""
    if args.no_record:
        return None
    rules = redaction_rules(args)
    return open_recorder(args.record, target or args.target, rules, args.force, process=True)


def redaction_rules(args: argparse.Namespace) -> RedactionRules:
    """The rules `--no-redact`, `--redact-header` and `--redact-field` give (the built-in
    rules for a command without them): for the recording, the view and the live export."""
    return RedactionRules.from_options(
        enabled=not getattr(args, "no_redact", False),
        headers=getattr(args, "redact_header", None) or (),
        fields=getattr(args, "redact_field", None) or (),
    )


def open_recorder(
    path: str | None,
    target: str | None,
    rules: RedactionRules,
    force: bool = False,
    stdio: StdioOrigin | None = None,
    process: bool = False,
) -> RecordingWriter:
    """A recording writer, or one line saying why the file cannot be made.

    `process`: written by a writer process of its own, off the forwarding process's GIL.
    """
    try:
        return RecordingWriter(
            path, target, rules, overwrite=force, stdio=stdio, separate_process=process
        )
    except FileExistsError as error:
        if path is not None and error.filename in (path, str(Path(path))):
            raise UserError(f"{path} already exists; use --force to replace it") from None
        # a folder on the way is a file (the default `recordings/`, say)
        raise UserError(f"cannot create the recording: {error.filename} is not a folder") from None
    except OSError as error:
        raise UserError(f"cannot create the recording: {error}") from None


def otlp_subscriber(args: argparse.Namespace, bus: TapBus, target: str) -> Subscriber | None:
    """The live OTLP exporter --otlp-endpoint asks for, or None; warnings go to stderr."""
    endpoint = getattr(args, "otlp_endpoint", None)
    if endpoint is None:
        return None
    from mcp_tap.export.live_otlp import live_traces  # only an export pays for the SDK

    def warn(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    redact = Redactor(redaction_rules(args), sessions=False)  # spans as the recording has them
    return live_traces(
        endpoint,
        name_values(args.otlp_header, "--otlp-header"),
        args.otlp_timeout,
        epoch0=time.time() - bus.now(),
        target=redact.url(target),
        version=mcp_tap_version(),
        warn=warn,
        redact=redact,
    )


def fail_on_gate(args: argparse.Namespace, bus: TapBus) -> SeverityGate | None:
    """The --fail-on gate, subscribed to `bus`, or None without the flag."""
    if not args.fail_on:
        return None
    gate = SeverityGate(Severity(args.fail_on))
    bus.subscribe(gate)
    return gate


def fail_on_exit(gate: SeverityGate | None) -> int:
    """The exit code --fail-on gives: 1 (and a line saying why) once the gate tripped."""
    if gate is None or not gate.tripped:
        return 0
    print(
        f"mcp-tap: {gate.tripped} findings or faults at --fail-on {gate.threshold.value} or worse",
        file=sys.stderr,
    )
    return 1
