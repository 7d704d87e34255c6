"""The commands: argument parsing (`app`) and one module a command that needs its own
(`proxy`, `demo`). Thin: each calls the library functions that tests call directly. The top
layer: it may import everything; nothing imports it.
"""

from mcp_tap.cli.app import main

__all__ = ["main"]
