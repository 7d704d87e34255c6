"""Suite-wide set-up: bytecode kept and the project's compiled once, and the TypeScript SDK
client's packages, installed once from the lock file."""

from __future__ import annotations

import compileall
import fcntl
import os
import shutil
import subprocess
import sys

import pytest

from tests.procs import ROOT, TS_DIR, have_ts_client


def pytest_configure(config: pytest.Config) -> None:
    """Let this run and the processes it starts keep bytecode, and compile the project once.

    The suite starts hundreds of Python processes: `python -m mcp_tap`, demo servers, SDK
    clients and the pytest plugin's example runs. Where Python writes no bytecode
    (PYTHONDONTWRITEBYTECODE, as some machines set), each of them compiled every module it
    imports from source again, and every pytest process rewrote the assertions of every
    `mcp_tap` module anew (pytest rewrites the whole package of an installed plugin): about
    0.15 s of CPU a `python -m mcp_tap`, 0.6 s an example run and 3 s a worker's collection.
    """
    sys.dont_write_bytecode = False
    if hasattr(config, "workerinput"):
        return  # pytest-xdist's controller did the rest before starting this worker
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # for every process started from here on
    for package in ("mcp_tap", "demo_server", "tests"):
        compileall.compile_dir(ROOT / package, quiet=2, workers=1)


@pytest.fixture(scope="session")
def typescript_client() -> None:
    """`npm ci` the pinned @modelcontextprotocol/sdk once; skip the test without Node.js."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the TypeScript SDK client")
    # pytest-xdist runs this once a worker: one `npm ci` at a time, the others then see it done
    with (TS_DIR / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _install()


def _install() -> None:
    """`npm ci` from the lock file, unless every pinned package is already there."""
    if not have_ts_client():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=TS_DIR,
            check=False,
            timeout=300,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci in {TS_DIR} failed: {done.stderr.strip()[-500:]}")
