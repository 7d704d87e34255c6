"""The demo server over stdio, copying every byte it reads to a file (what a test counts).

`python tests/counting_stdio_demo.py LOG PIDFILE`: fd 0 becomes a pipe fed by a thread that
first appends what arrives to LOG; PIDFILE gets this process's pid.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo_server.__main__ import main  # noqa: E402


def tee_stdin(log: str) -> None:
    read_end, write_end = os.pipe()
    real = os.dup(0)
    os.dup2(read_end, 0)
    os.close(read_end)

    def pump() -> None:
        with open(log, "ab", buffering=0) as out:
            while data := os.read(real, 65536):
                out.write(data)
                os.write(write_end, data)
        os.close(write_end)

    threading.Thread(target=pump, daemon=True).start()


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(str(os.getpid()))
    tee_stdin(sys.argv[1])
    sys.exit(main(["--stdio", "--step-delay", "0.01"]))
