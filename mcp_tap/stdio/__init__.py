"""The stdio carrier: run a stdio MCP server's command, relay the host's pipes to it byte for
byte, and tap a copy of both directions (`relay.py`, over the protocols of `pipes.py`, with
the server's process started and signalled by `child.py`). A sibling of `http/`: it knows
pipes and processes, publishes tap events, and knows nothing of the tracker, the view or the
recorder. `command.py` splits a server's command line and names its program, for replay and
the CLI too.
"""
