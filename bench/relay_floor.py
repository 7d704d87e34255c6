"""The floor under test 1: what any proxy in its own process adds to a round trip here.

    uv run python bench/relay_floor.py [--rounds 3]

Runs test 1 of run.py (2,000 tools/list calls in 40 alternating blocks, direct vs through
a middlebox) against three middleboxes in turn: a bare byte relay (an asyncio Protocol on
uvloop that copies bytes both ways and parses nothing), `mcp-tap proxy --no-record`, and
`mcp-tap proxy` as run.py runs it (recording, tracker and view on). The relay's figure is the
cost of two extra loopback hops and process wake-ups on this machine, which no proxy can go
below; the differences are what mcp-tap's forwarding and tap, and then its recorder, cost.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from children import Child, demo_server, running, tap_proxy
from run import FULL, latency


def relay_main(host: str, port: int) -> None:
    """Serve a byte relay to host:port on a free loopback port; print its URL."""
    import uvloop

    class Upstream(asyncio.Protocol):
        def __init__(self, client: asyncio.Transport) -> None:
            self.client = client

        def data_received(self, data: bytes) -> None:
            self.client.write(data)

        def connection_lost(self, exc: Exception | None) -> None:
            self.client.close()

    class Client(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.upstream: asyncio.Transport | None = None
            self.early: list[bytes] = []
            asyncio.ensure_future(self.connect())

        async def connect(self) -> None:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_connection(
                lambda: Upstream(self.transport), host, port
            )
            self.upstream = transport
            for data in self.early:
                transport.write(data)

        def data_received(self, data: bytes) -> None:
            if self.upstream is None:
                self.early.append(data)
            else:
                self.upstream.write(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self.upstream is not None:
                self.upstream.close()

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Client, "127.0.0.1", 0)
        bound = server.sockets[0].getsockname()[1]
        print(f"point your client at http://127.0.0.1:{bound}/mcp", flush=True)
        await asyncio.Event().wait()

    uvloop.run(serve())


def measure(direct: str, middlebox: Child) -> float:
    url = middlebox.wait_for(r"point your client at (\S+)").group(1)
    result = asyncio.run(latency(direct, url, FULL))
    return float(result["added_p50_ms"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--relay", nargs=2, metavar=("HOST", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        relay_main(args.relay[0], int(args.relay[1]))
        return
    added: dict[str, list[float]] = {"byte relay": [], "--no-record": [], "mcp-tap proxy": []}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with demo_server(directory) as (direct, _server):
            upstream = urlsplit(direct)
            relay_args = [sys.executable, __file__, "--relay", str(upstream.hostname)]
            for round_number in range(args.rounds):
                with running("relay", [*relay_args, str(upstream.port)], directory) as relay:
                    added["byte relay"].append(measure(direct, relay))
                with tap_proxy("proxy", direct, directory, None) as (_, proxy):
                    added["--no-record"].append(measure(direct, proxy))
                record = directory / f"round-{round_number}.yaml"
                with tap_proxy("proxy", direct, directory, record) as (_, proxy):
                    added["mcp-tap proxy"].append(measure(direct, proxy))
                record.unlink(missing_ok=True)
    print("tools/list, added p50 over a direct connection (ms), per round and median:")
    for name, values in added.items():
        rounds = ", ".join(f"{value:+.3f}" for value in values)
        print(f"  {name:14} {rounds}   median {statistics.median(values):+.3f}")


if __name__ == "__main__":
    main()
