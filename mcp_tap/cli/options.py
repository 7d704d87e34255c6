"""The flag groups several commands share, and the subcommand parser they hang on.

Each `add_*` function adds one group of flags to a command's parser; where a group needs
checking or turning into a value (`limits`, `ca_dir`, `check_otlp_options`), that reader
sits beside it, so a flag and its meaning change together.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY
from mcp_tap.analysis.pins import Pins
from mcp_tap.cli.common import UserError, checked_target, name_values
from mcp_tap.http.ca import CA_DIR_ENV, default_ca_dir
from mcp_tap.http.limits import DEFAULT_LIMITS, Limits

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Run: TypeAlias = Callable[[argparse.Namespace], int]
DEFAULT_OTLP_TIMEOUT = 5.0


def examples(*lines: str) -> str:
    """A --help epilog: each line a command after `mcp-tap`."""
    return "examples:\n" + "\n".join(f"  mcp-tap {line}" for line in lines)


def add_command(
    commands: Commands, name: str, run: Run, summary: str, description: str, *lines: str
) -> argparse.ArgumentParser:
    """A subcommand whose --help has a description and examples, as people expect.

    `run` is what `main` calls with the parsed arguments; it returns the exit code.
    """
    parser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=examples(*lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def add_fail_on(parser: argparse.ArgumentParser) -> None:
    """--fail-on: the exit code follows the findings (read by `subscribers.fail_on_gate`)."""
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning"),
        help="exit 1 when findings of this severity or worse (or faults) were seen; "
        "without it the exit code is 0",
    )


def add_judge_options(parser: argparse.ArgumentParser) -> None:
    """--no-check: leave the heavier judges off the live session; --judge-memory: how much
    they remember (both read by the subscribers)."""
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="do not judge messages live by their revision's schema, tools by their own "
        "schemas, nor by the lifecycle, capability, id and 2026-07-28 rules (progress and "
        "wire checks stay on); `mcp-tap check` judges the recording afterwards",
    )
    parser.add_argument(
        "--judge-memory",
        type=int,
        default=DEFAULT_JUDGE_MEMORY,
        metavar="N",
        help="sessions, exchanges and request ids each live judge remembers; past N the "
        f"oldest are forgotten, costing findings, never memory (default {DEFAULT_JUDGE_MEMORY})",
    )


def judge_memory(args: argparse.Namespace) -> int:
    """--judge-memory, checked (the default for a command without it)."""
    memory = getattr(args, "judge_memory", DEFAULT_JUDGE_MEMORY)
    if memory < 1:
        raise UserError(f"--judge-memory must be at least 1, got {memory}")
    return int(memory)


def add_pins_option(parser: argparse._ActionsContainer) -> None:
    """--pins FILE: hold the server's definitions to the pins `mcp-tap pin` wrote."""
    parser.add_argument(
        "--pins",
        metavar="FILE",
        help="a definition that differs from its pin in FILE (written by `mcp-tap pin`), or "
        "has none, is a definition-changed finding",
    )


def pins_from(args: argparse.Namespace) -> Pins | None:
    """The pins --pins names, None without the flag; one line when the file will not do."""
    path = getattr(args, "pins", None)
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read --pins {path}: {error}") from None
    return Pins.from_json(text, path)  # a ValueError is one line too


# Limits field -> (unit, what it bounds); the flag is the field's name, `--max-body` for
# max_body. Each is a line of the README's fault table.
LIMIT_HELP = {
    "max_body": ("BYTES", "answer larger request bodies with 413"),
    "max_header_bytes": ("BYTES", "answer longer request heads with 431"),
    "header_timeout": ("SECONDS", "answer 408 when a request's headers take longer"),
    "body_timeout": ("SECONDS", "answer 408 when a request's body takes longer"),
    "max_connections": ("N", "answer client connections past N with 503"),
    "keep_alive_timeout": ("SECONDS", "close client connections idle this long"),
    "idle_timeout": ("SECONDS", "end an exchange whose upstream is silent this long"),
    "upstream_keep_alive": ("SECONDS", "reuse an idle upstream connection this long"),
    "max_idle_upstream": ("N", "keep at most N idle upstream connections for reuse"),
    "connect_timeout": ("SECONDS", "answer 504 when the upstream is slower to accept a connection"),
    "max_inspect": ("BYTES", "inspect messages up to this size; longer ones pass, recorded cut"),
    "max_certs": ("N", "--forward: keep this many minted host certificates in memory"),
}

# meaningless to a mock
UPSTREAM_LIMITS = frozenset(
    {"idle_timeout", "upstream_keep_alive", "max_idle_upstream", "connect_timeout", "max_certs"}
)


def _limit_flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def add_limit_options(parser: argparse.ArgumentParser, skip: frozenset[str] = frozenset()) -> None:
    """The limits group: a flag for each field of `Limits` but those in `skip`."""
    group = parser.add_argument_group("limits")
    for field, (unit, what) in LIMIT_HELP.items():
        if field in skip:
            continue
        default = getattr(DEFAULT_LIMITS, field)
        group.add_argument(
            _limit_flag(field),
            type=type(default),
            default=default,
            metavar=unit,
            help=f"{what} (default {default})",
        )


def checked_limits(args: argparse.Namespace) -> Limits:
    """The limits the flags ask for (defaults for the flags a command lacks)."""
    values = {field: getattr(args, field, getattr(DEFAULT_LIMITS, field)) for field in LIMIT_HELP}
    for field, value in values.items():
        if not value > 0:  # NaN too
            raise UserError(f"{_limit_flag(field)} must be positive, got {value:g}")
    return Limits(**values)


def add_ca_dir(parser: argparse.ArgumentParser) -> None:
    """--ca-dir: where mcp-tap's CA lives."""
    parser.add_argument(
        "--ca-dir",
        metavar="DIR",
        help=f"where mcp-tap's CA is kept (default ${CA_DIR_ENV}, else "
        "$XDG_CONFIG_HOME/mcp-tap or ~/.config/mcp-tap)",
    )


def ca_dir(args: argparse.Namespace) -> Path:
    """The CA's folder: --ca-dir, else the default."""
    return Path(args.ca_dir).expanduser() if args.ca_dir else default_ca_dir()


def add_ca_name_constraints(parser: argparse.ArgumentParser) -> None:
    """--ca-name-constraints: the CA signs only for the --allow-host names."""
    parser.add_argument(
        "--ca-name-constraints",
        action="store_true",
        help="limit mcp-tap's CA to the --allow-host names and their subdomains (X.509 name "
        "constraints); a CA on disk limited otherwise, or not at all, is replaced",
    )


def add_pace(parser: argparse.ArgumentParser, fast_help: str) -> None:
    """--speed or --fast: how fast recorded messages are sent again."""
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="scale the recorded gaps (2 = twice as fast; default 1)",
    )
    pace.add_argument("--fast", action="store_true", help=fast_help)


def add_record_path(parser: argparse.ArgumentParser, what: str) -> None:
    """--record PATH (no recording without it) and --force."""
    parser.add_argument("--record", metavar="PATH", help=what)
    _add_force(parser)


def _add_force(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--force", action="store_true", help="replace the --record file if it already exists"
    )


RECORDING_SOURCES = "from proxy, stdio, serve --record, replay --record or the pytest plugin"
"""Every way mcp-tap writes a recording, for the help of the commands that read one."""
RECORDING_FILE = f"an mcp-tap recording ({RECORDING_SOURCES})"


def add_recording_options(
    command: argparse.ArgumentParser,
    record_help: str = "write the recording here "
    "(default: recordings/<UTC time>-<target host>.yaml under the current directory)",
    headers: bool = True,
) -> None:
    """The recording group of a command that records by default, with its redaction.

    `headers=False` (stdio: no HTTP, so no headers) leaves out `--redact-header` and speaks of
    what a stdio recording holds instead.
    """
    parser = command.add_argument_group("recording")
    record = parser.add_mutually_exclusive_group()
    record.add_argument("--record", metavar="PATH", help=record_help)
    record.add_argument("--no-record", action="store_true", help="do not write a recording")
    _add_force(parser)
    if headers:
        parser.add_argument(
            "--redact-header",
            action="append",
            default=[],
            metavar="NAME",
            help="also redact this header's value in the recording and the views (repeatable)",
        )
    parser.add_argument(
        "--redact-field",
        action="append",
        default=[],
        metavar="JSONPATH",
        help="redact this field of every message, e.g. params.arguments.password; "
        "`*` matches any key or index (repeatable)",
    )
    kept = (
        "credential headers, secret query values and command-line arguments and session ids"
        if headers
        else "secret command-line arguments and URL query values"
    )
    also = (
        "--redact-header/--redact-field still apply" if headers else "--redact-field still applies"
    )
    parser.add_argument(
        "--no-redact",
        action="store_true",
        help=f"keep {kept} as they were ({also})",
    )


def add_otlp_options(command: argparse.ArgumentParser) -> None:
    """The OpenTelemetry group: live spans to a collector."""
    parser = command.add_argument_group("OpenTelemetry")
    parser.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="also send a span per request to this OTLP/HTTP collector as it ends, e.g. "
        "http://127.0.0.1:4318 (a URL without a path gets /v1/traces)",
    )
    parser.add_argument(
        "--otlp-header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="send this header to the collector, e.g. x-honeycomb-team=KEY (repeatable)",
    )
    parser.add_argument(
        "--otlp-timeout",
        type=float,
        default=DEFAULT_OTLP_TIMEOUT,
        metavar="SECONDS",
        help="wait this long for the collector on each batch and at exit "
        f"(default {DEFAULT_OTLP_TIMEOUT:g})",
    )


def check_otlp_options(args: argparse.Namespace) -> None:
    """Refuse a bad --otlp-* option before anything starts."""
    if getattr(args, "otlp_endpoint", None) is None:
        return
    checked_target(args.otlp_endpoint, "--otlp-endpoint")
    name_values(args.otlp_header, "--otlp-header")
    if not args.otlp_timeout > 0:
        raise UserError(f"--otlp-timeout must be positive, got {args.otlp_timeout:g}")


def add_view_options(command: argparse.ArgumentParser) -> None:
    """The view group: how much to show, and where (read by `subscribers.view_subscribers`)."""
    parser = command.add_argument_group("view")
    detail = parser.add_mutually_exclusive_group()
    detail.add_argument(
        "-v", "--verbose", action="store_true", help="also print every message as JSON"
    )
    detail.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="only progress (bars; in a pipe or file one line per stream as it ends), "
        "findings and faults",
    )
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="METHOD_GLOB",
        help="only messages whose method matches (fnmatch), with their responses and "
        "progress; repeatable",
    )
    parser.add_argument(
        "--jsonl", action="store_true", help="one JSON object per event on stdout, no view"
    )
    parser.add_argument(
        "--clock",
        action="store_true",
        help="show the wall-clock time (HH:MM:SS.mmm) instead of seconds since the start",
    )
    parser.add_argument(
        "--progress-lines",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a line for each progress notification as well as its bar (default: on)",
    )
