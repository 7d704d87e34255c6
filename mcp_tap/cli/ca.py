"""`mcp-tap ca`: show or renew the local CA that `proxy --forward` signs certificates with."""

from __future__ import annotations

import argparse
import sys

from mcp_tap.cli.common import UserError
from mcp_tap.cli.options import (
    Commands,
    add_ca_dir,
    add_ca_name_constraints,
    add_command,
    ca_dir,
)
from mcp_tap.http.ca import LocalCA, OpenedCA, load_or_create_ca
from mcp_tap.http.ca_names import permitted_names
from mcp_tap.http.limits import DEFAULT_MAX_CERTS


def register(commands: Commands) -> None:
    """Add `mcp-tap ca` and its flags."""
    ca = add_command(
        commands,
        "ca",
        run,
        "show or renew the CA that `proxy --forward` signs HTTPS certificates with",
        "Show where mcp-tap's local certificate authority is (made on first use), its "
        "fingerprint, and how to trust or remove it.",
        "ca",
        "ca --path",
        "ca --regenerate",
    )
    ca.add_argument("--path", action="store_true", help="print only the CA certificate's path")
    ca.add_argument(
        "--regenerate",
        action="store_true",
        help="make a new CA (clients that trusted the old one must be given the new one)",
    )
    ca.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="with --ca-name-constraints: a host name (or '*.domain') the CA may sign for "
        "(repeatable)",
    )
    add_ca_name_constraints(ca)
    add_ca_dir(ca)


def ca_names(args: argparse.Namespace) -> tuple[str, ...] | None:
    """The names `--ca-name-constraints` limits the CA to; None when it is not given."""
    if not args.ca_name_constraints:
        if args.command == "ca" and args.allow_host:
            raise UserError("`mcp-tap ca --allow-host` goes with --ca-name-constraints")
        return None
    return permitted_names(args.allow_host)


def open_ca(
    args: argparse.Namespace, max_certs: int = DEFAULT_MAX_CERTS, regenerate: bool = False
) -> OpenedCA:
    """The CA the command uses, with a line on stderr when one on disk had to be replaced."""
    opened = load_or_create_ca(
        ca_dir(args), regenerate=regenerate, max_certs=max_certs, names=ca_names(args)
    )
    if opened.replaced is not None:
        print(
            f"mcp-tap: {opened.replaced}: made a new one (fingerprint SHA256 "
            f"{opened.ca.fingerprint}); clients that trusted the old certificate need this one",
            file=sys.stderr,
        )
    return opened


def forward_ca(args: argparse.Namespace, max_certs: int) -> LocalCA:
    """The CA `proxy --forward` signs with; a limited one is not used for every host unasked."""
    ca = open_ca(args, max_certs).ca
    if ca.names is not None and not args.ca_name_constraints:
        raise UserError(
            f"the CA in {ca.directory} signs only for {', '.join(ca.names)} (it was made with "
            "--ca-name-constraints): give those --allow-host names and --ca-name-constraints, "
            "or run `mcp-tap ca --regenerate` for a CA that signs for any host"
        )
    return ca


def run(args: argparse.Namespace) -> int:
    """Print the CA's files, fingerprint and how to trust it (or only its path)."""
    opened = open_ca(args, regenerate=args.regenerate)
    ca = opened.ca
    if args.path:
        print(ca.cert_path)
        return 0
    bundle = ca.write_bundle()
    state = "made now" if opened.created else "made earlier"
    hosts = ", ".join(ca.names) + " and their subdomains" if ca.names else "any host"
    print(
        f"mcp-tap CA ({state}): {ca.cert_path}\n"
        f"  key:         {ca.key_path} (mode 0600; it can sign for {hosts}: keep it private)\n"
        f"  signs:       server certificates only, for {hosts}\n"
        f"  bundle:      {bundle} (this machine's CAs plus mcp-tap's, for SSL_CERT_FILE)\n"
        f"  fingerprint: SHA256 {ca.fingerprint}\n"
        f"Trust it per process: SSL_CERT_FILE={bundle} NODE_EXTRA_CA_CERTS={ca.cert_path}\n"
        f"                     curl --cacert {ca.cert_path}\n"
        f"Remove it: delete {ca.directory} (and undo any system-wide trust you added)"
    )
    return 0
