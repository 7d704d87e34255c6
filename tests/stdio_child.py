"""Small stdio servers that misbehave on purpose, for `mcp-tap stdio` tests.

    python tests/stdio_child.py MODE

cat          copy stdin to stdout byte for byte until EOF, then exit 0
ignore-term  copy like cat, ignore SIGTERM, and keep running after stdin ends
crash N      copy the first line, then exit with status N
garbage      write bytes that are not JSON to stdout, then copy like cat
term-exit    copy like cat; on SIGTERM say so on stderr and exit 42
stderr       write a line to stderr, then copy like cat
stall N      read N bytes, all NUL, say `read N` on stdout, then read nothing more
answer TEXT  a server that answers every request: a tool call with two progress
             notifications (when it asks for progress) and TEXT, anything else with {}
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time


def copy(until_line: bool = False) -> None:
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            return
        view = memoryview(chunk)
        while view:
            view = view[os.write(1, view) :]
        if until_line and b"\n" in chunk:
            return


def answer(text: str) -> None:
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or "id" not in message or "method" not in message:
            continue
        out = []
        params = message.get("params") or {}
        result: dict[str, object] = {}
        if message["method"] == "tools/call":
            token = (params.get("_meta") or {}).get("progressToken")
            for step in (1, 2) if token is not None else ():
                progress = {"progressToken": token, "progress": step, "total": 2}
                notification = {"method": "notifications/progress", "params": progress}
                out.append({"jsonrpc": "2.0", **notification})
            result = {"content": [{"type": "text", "text": text}], "isError": False}
        out.append({"jsonrpc": "2.0", "id": message["id"], "result": result})
        sys.stdout.write("".join(json.dumps(m) + "\n" for m in out))
        sys.stdout.flush()


def main() -> int:
    mode = sys.argv[1]
    if mode == "answer":
        answer(sys.argv[2])
        return 0
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        copy()
        while True:
            time.sleep(1)
    if mode == "stall":
        wanted, seen = int(sys.argv[2]), 0
        while seen < wanted:
            chunk = os.read(0, min(1 << 16, wanted - seen))
            if not chunk or chunk.count(0) != len(chunk):
                return 1
            seen += len(chunk)
        os.write(1, f"read {seen}\n".encode())
        while True:
            time.sleep(1)
    if mode == "crash":
        copy(until_line=True)
        return int(sys.argv[2])
    if mode == "garbage":
        os.write(1, b"garbage \x00\xff not json\n")
    if mode == "term-exit":

        def on_term(signum: int, frame: object) -> None:
            os.write(2, b"child: got SIGTERM\n")
            os._exit(42)

        signal.signal(signal.SIGTERM, on_term)
    if mode == "stderr":
        os.write(2, b"child: hello on stderr \xe2\x9c\x93\n")
    copy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
