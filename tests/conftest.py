"""Suite-wide set-up: the TypeScript SDK client's packages, installed once from the lock file."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.procs import TS_DIR


@pytest.fixture(scope="session", autouse=True)
def typescript_client_packages() -> None:
    """`npm ci` the pinned @modelcontextprotocol/sdk when node is present and it is missing."""
    if shutil.which("npm") is None or (TS_DIR / "node_modules").is_dir():
        return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=TS_DIR,
        check=False,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
