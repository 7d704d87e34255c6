"""The server's process: started in a group of its own, waited for, signalled, described.

The server runs in a process group of its own, so a Ctrl-C in a terminal reaches it once,
through mcp-tap, and a signal mcp-tap sends reaches what it started too, as in a shell. Its
exit is waited for by a thread, which works under any event loop and needs no child watcher.

It dies with mcp-tap, even when mcp-tap is killed outright (`kill -9`, which a host sends
when SIGTERM was not enough): on Linux the kernel sends it SIGKILL when mcp-tap's thread
that started it ends (`PR_SET_PDEATHSIG`, set between fork and exec). Only the server's own
process is reached that way; processes it started itself (`uvx`, `npx` start the real
server) die only if it takes them along. Other systems have no such call: there a server
outlives an mcp-tap killed with SIGKILL (SIGTERM and SIGINT still reach it, and it gets EOF).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence

from mcp_tap.stdio.pipes import widen


def spawn(command: Sequence[str]) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start `command` on two new pipes; the process, and our ends: its stdin, its stdout.

    Its stderr is ours: the server's messages pass through untouched. Raises what `Popen`
    raises when the command cannot start.
    """
    child_stdin, to_child = os.pipe()
    from_child, child_stdout = os.pipe()
    for fd in (to_child, from_child):
        widen(fd)
    try:
        process = subprocess.Popen(
            list(command),
            stdin=child_stdin,
            stdout=child_stdout,
            stderr=None,
            process_group=0,  # see the module docstring: signals reach it through us
            preexec_fn=_die_with(os.getpid()),
        )
    except BaseException:
        os.close(to_child)
        os.close(from_child)
        raise
    finally:
        os.close(child_stdin)
        os.close(child_stdout)
    return process, to_child, from_child


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with(parent: int) -> Callable[[], None] | None:
    """What the child runs between fork and exec so that it dies with `parent`; None where
    the system has no such call (see the module docstring).

    `prctl` is looked up here, in the parent: the child only makes the call, and touches no
    lock another thread could hold. A parent that died before the call made its child an
    orphan whose death signal will never come: the child checks and goes at once.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None).prctl  # libc's, linked into the interpreter
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    kill = int(signal.SIGKILL)

    def die_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), kill)

    return die_with_parent


def watch_exit(
    loop: asyncio.AbstractEventLoop, process: subprocess.Popen[bytes], exited: asyncio.Future[int]
) -> None:
    """Resolve `exited` with the process's return code, from a thread that waits for it."""

    def wait() -> None:
        returncode = process.wait()
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            loop.call_soon_threadsafe(_settle, exited, returncode)

    threading.Thread(target=wait, name="mcp-tap-child-wait", daemon=True).start()


def signal_group(process: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    """Send `sig` to the process's group, unless it has already exited."""
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # its group: what it started goes too, as in a shell


def exit_status(returncode: int) -> int:
    """A shell's view of a child's end: its status, or 128 + the signal that killed it."""
    return returncode if returncode >= 0 else 128 - returncode


def describe_end(returncode: int) -> str:
    """`exited with status 3`, `was killed by SIGKILL`."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"was killed by {name}"


def _settle(future: asyncio.Future[int], value: int) -> None:
    if not future.done():
        future.set_result(value)
