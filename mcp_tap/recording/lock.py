"""The writer's advisory lock: held while a recording is written, gone when it is not.

`flock` locks end with the file descriptor, or with the process, so a writer that crashed
or was killed releases it too: a follower never waits for a session that is over.
"""

from __future__ import annotations

import fcntl


def writer_finished(fd: int) -> bool:
    """Whether no writer holds the file any more (it closed it, or its process ended)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


def hold_while_writing(fd: int) -> None:
    """The writer's side: a lock that ends with the file descriptor (or the process)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pass  # a file system without locks: followers then stop at Ctrl-C only
