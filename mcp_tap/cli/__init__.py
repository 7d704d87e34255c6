"""The commands: one module a command (its subparser, flags and run function), the flag
groups and helpers they share (`options`, `subscribers`, `common`), and `app`, which
assembles them. Thin: each calls the library functions that tests call directly. The top
layer: it may import everything; nothing imports it.
"""

from mcp_tap.cli.app import main

__all__ = ["main"]
