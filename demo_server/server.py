"""The "progress-demo" MCP server: a handful of tools that emit progress notifications.

Each tool exercises a different shape of `notifications/progress` so that a proxy or
inspector can be tested against all of them:

* `download_file`   - progress with a `total` and a message (a classic progress bar),
* `process_data`    - progress with no `total` (an indeterminate spinner),
* `install_package` - named steps: a message per step, no `total`,
* `stream_progress` - a burst of notifications, for throughput benchmarks,
* `echo`            - no progress at all, for byte-exactness tests.

Every result is deterministic (no clocks, no randomness), so recordings of two runs
can be compared byte for byte.
"""

from __future__ import annotations

import anyio
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer

SERVER_NAME = "progress-demo"

INSTALL_STEPS: tuple[str, ...] = ("resolving", "downloading", "building", "installing", "verifying")
"""The steps `install_package` reports, in order; each one is the message of one notification."""

RECORDS_PER_BATCH = 10
"""`process_data` reports progress once per batch of this many records."""


def build_server(
    step_delay: float = 0.2,
    auth: AuthSettings | None = None,
    token_verifier: TokenVerifier | None = None,
) -> MCPServer:
    """Build the progress-demo server.

    `step_delay` is the default pause (in seconds) between two progress steps. Each slow
    tool also takes a `step_delay` argument that overrides it for one call, so tests can
    run fast against a server whose default is slow enough to watch by eye.

    `auth` and `token_verifier` make it an OAuth-protected resource server (the SDK's bearer
    check and protected-resource metadata), for the forward-proxy OAuth tests.
    """
    # WARNING keeps the SDK from logging every session it creates; MCPServer also calls
    # logging.basicConfig with this level, so a lower one would make a CLI run chatty.
    server = MCPServer(SERVER_NAME, log_level="WARNING", auth=auth, token_verifier=token_verifier)

    # The tools' own `step_delay` parameters shadow this one, so keep it under another name.
    default_delay = step_delay

    def delay(override: float | None) -> float:
        return default_delay if override is None else override

    @server.tool()
    async def download_file(
        filename: str, ctx: Context, size_mb: int = 10, step_delay: float | None = None
    ) -> str:
        """Pretend to download a file, reporting one progress notification per megabyte."""
        pause = delay(step_delay)
        for done in range(1, size_mb + 1):
            await anyio.sleep(pause)
            await ctx.report_progress(done, size_mb, f"{filename}: {done}/{size_mb} MB")
        return f"Downloaded {filename} ({size_mb} MB)"

    @server.tool()
    async def process_data(ctx: Context, records: int = 50, step_delay: float | None = None) -> str:
        """Pretend to process records in batches, reporting progress without a total."""
        pause = delay(step_delay)
        processed = 0
        while processed < records:
            await anyio.sleep(pause)
            processed = min(processed + RECORDS_PER_BATCH, records)
            # No total on purpose: this is the "indeterminate progress" case.
            await ctx.report_progress(processed, None, f"processed {processed} records")
        return f"Processed {records} records"

    @server.tool()
    async def install_package(name: str, ctx: Context, step_delay: float | None = None) -> str:
        """Pretend to install a package, reporting each named step as a message."""
        pause = delay(step_delay)
        # Progress must still increase (the spec requires it), so number the steps 1, 2, 3...
        for number, step in enumerate(INSTALL_STEPS, start=1):
            await anyio.sleep(pause)
            await ctx.report_progress(number, None, step)
        return f"Installed {name}"

    @server.tool()
    async def stream_progress(ctx: Context, count: int = 100, interval: float = 0.0) -> str:
        """Send `count` progress notifications, back to back or every `interval` seconds."""
        for sent in range(1, count + 1):
            if interval > 0:
                await anyio.sleep(interval)
            await ctx.report_progress(sent, count)
        return f"Sent {count} progress notifications"

    @server.tool()
    def echo(text: str) -> str:
        """Return `text` unchanged."""
        return text

    return server
