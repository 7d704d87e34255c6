"""The recorder's writer process: the YAML written beside the forwarding, not inside it.

Redacting and writing an event as YAML costs 25-40 us of Python; in the forwarding process
that work holds the GIL the relay needs, and a flood of notifications then crosses at half
its speed or less. So `mcp-tap stdio` and `mcp-tap proxy` fork a writer process when they
open a recording: the forwarding process's event loop hands it each batch of events as
compact records (`records.py`, a few microseconds an event) through a pipe (`feed.py`), and
the writer process writes them through the same `DocumentSink` the writer thread uses (its
`write_records`), so the file is the same byte for byte.

It is forked, not started afresh: it has every module loaded already and starts in a few
milliseconds, and it runs nothing of its parent's but the sink (no event loop, no thread).
Its life is tied to the pipe:

- it ignores SIGINT and SIGTERM (a Ctrl-C reaches a terminal's whole process group): mcp-tap
  handles them, and a signal must not cost the events still in the pipe;
- it exits when the pipe ends, once it has written everything that was sent: when mcp-tap
  closes the recording, and just as well when mcp-tap dies (even of SIGKILL), since the
  kernel closes the pipe then. It holds no other descriptor of its parent's (stdin and stdout
  become /dev/null), so no pipe or socket of the session outlives mcp-tap through it;
- it runs at a lower priority (`NICE`): the forwarding comes first, and on a busy machine
  the writer catches up after a burst rather than during it;
- a write error (a full disk) ends the writing, not the process: it reads the pipe to its
  end, so mcp-tap never blocks on it, and reports the error when mcp-tap closes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import pickle
import signal
import warnings

from mcp_tap.recording.records import decode_records, split_frames
from mcp_tap.recording.sink import DocumentSink

log = logging.getLogger(__name__)

NICE = 10  # added to the writer process's niceness: the forwarding process goes first
PIPE_SIZE = 1024 * 1024  # room for a burst's records (Linux's unprivileged maximum)
READ_SIZE = 1024 * 1024
MAX_BATCH = 1024  # events per write: bounds the text held at once during a burst


class WriterProcess:
    """A forked process writing, through `sink`, the frames sent to it; see the docstring."""

    def __init__(self, sink: DocumentSink) -> None:
        """Fork it; raises OSError when the system cannot."""
        records_in, records_out = os.pipe()
        status_in, status_out = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # not Linux, or over the maximum
            fcntl.fcntl(records_out, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        try:
            with warnings.catch_warnings():  # 3.12+ warns of forking with threads: the
                warnings.simplefilter("ignore", DeprecationWarning)  # child runs none of theirs
                pid = os.fork()
        except OSError:
            for fd in (records_in, records_out, status_in, status_out):
                os.close(fd)
            raise
        if pid == 0:  # the writer process
            status = 1
            try:
                _serve(records_in, status_out, sink)
                status = 0
            finally:
                os._exit(status)  # never the parent's atexit handlers, buffers or loop
        os.close(records_in)
        os.close(status_out)
        self.pid = pid
        self._out = records_out
        self._status = status_in

    @property
    def records_fd(self) -> int:
        """The pipe's end that frames are written to (`records.encode`); `finish` closes it."""
        return self._out

    def finish(self) -> OSError | None:
        """End the pipe, wait until everything sent is written; the write error, if any."""
        os.close(self._out)
        report = b""
        while chunk := os.read(self._status, 65536):  # the end: the process has exited
            report += chunk
        os.close(self._status)
        status = 0
        with contextlib.suppress(ChildProcessError):
            status = os.waitpid(self.pid, 0)[1]
        if not report:
            if status == 0:
                return None
            # killed (OOM, a signal to the group) or failed: what it had not written is lost
            return OSError(f"the writer process ended early ({_ended(status)})")
        error = pickle.loads(report)
        return error if isinstance(error, OSError) else OSError(str(error))


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _serve(records: int, status: int, sink: DocumentSink) -> None:
    """The writer process's whole life: frames in, documents out, until the pipe ends."""
    _detach(keep=(records, status, sink.fd))
    buffer = bytearray()
    while chunk := os.read(records, READ_SIZE):
        buffer += chunk
        for body in split_frames(buffer):
            try:
                batch = decode_records(body)
            except Exception as error:  # a bug, not a disk: say so and go on
                log.error("recording: a batch of events could not be read: %s", error)
                continue
            for start in range(0, len(batch), MAX_BATCH):
                sink.write_records(batch[start : start + MAX_BATCH])
    if sink.error is not None:
        os.write(status, pickle.dumps(sink.error))


def _detach(keep: tuple[int, ...]) -> None:
    """Only what the writer needs: its descriptors, stderr; signals left to mcp-tap."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)  # the parent's event loop's, which is not ours
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    start = 3
    for fd in sorted(keep):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))
    gc.freeze()  # the parent's objects: never scanned, so their pages stay shared
    with contextlib.suppress(OSError):
        os.nice(NICE)
