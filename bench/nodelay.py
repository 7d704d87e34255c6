"""Diagnostic shim: run a module with `mcp_tap.serving.bind_socket` setting TCP_NODELAY.

    python bench/nodelay.py MODULE [ARGS...]    e.g. python bench/nodelay.py mcp_tap proxy ...

`mcp_tap.serving.bind_socket` makes its listening socket with `socket.socket(family,
SOCK_STREAM)`, whose `proto` is 0. asyncio only turns Nagle's algorithm off on sockets whose
`proto` is `IPPROTO_TCP` (`asyncio.base_events._set_nodelay`), so every connection accepted
by the demo server and by the proxy keeps Nagle on. A response written in two pieces (the
head, then the body) then waits for the client's delayed ACK: ~40 ms on Linux.

This shim builds the socket the same way but with `IPPROTO_TCP` (the one-argument fix), then
runs MODULE as `python -m MODULE` would. `bench/run.py --nodelay` uses it to show what the
figures would be with that fix; it is never used by default.
"""

from __future__ import annotations

import runpy
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mcp_tap.serving as serving  # noqa: E402

_original_bind = serving.bind_socket


def bind_socket_nodelay(host: str, port: int) -> socket.socket:
    """`serving.bind_socket`, but asyncio will set TCP_NODELAY on every accepted socket."""
    sock = _original_bind(host, port)
    fixed = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    fixed.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    fixed.setblocking(False)
    return fixed


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python bench/nodelay.py MODULE [ARGS...]")
    serving.bind_socket = bind_socket_nodelay
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
