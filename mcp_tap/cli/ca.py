"""`mcp-tap ca`: show or renew the local CA that `proxy --forward` signs certificates with."""

from __future__ import annotations

import argparse

from mcp_tap.cli.options import Commands, add_ca_dir, add_command, ca_dir
from mcp_tap.http.ca import load_or_create_ca


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
    add_ca_dir(ca)


def run(args: argparse.Namespace) -> int:
    """Print the CA's files, fingerprint and how to trust it (or only its path)."""
    ca, created = load_or_create_ca(ca_dir(args), regenerate=args.regenerate)
    if args.path:
        print(ca.cert_path)
        return 0
    bundle = ca.write_bundle()
    state = "made now" if created else "made earlier"
    print(
        f"mcp-tap CA ({state}): {ca.cert_path}\n"
        f"  key:         {ca.key_path} (mode 0600; it can sign for any host: keep it private)\n"
        f"  bundle:      {bundle} (this machine's CAs plus mcp-tap's, for SSL_CERT_FILE)\n"
        f"  fingerprint: SHA256 {ca.fingerprint}\n"
        f"Trust it per process: SSL_CERT_FILE={bundle} NODE_EXTRA_CA_CERTS={ca.cert_path}\n"
        f"                     curl --cacert {ca.cert_path}\n"
        f"Remove it: delete {ca.directory} (and undo any system-wide trust you added)"
    )
    return 0
