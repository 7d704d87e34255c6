"""The MCP hosts' config files: where each host keeps them, what they hold, and the edits that
make a server run through `mcp-tap stdio` and back.

Pure code over text: `jsonc` finds each value's span in a JSON or JSONC document, `formats`
reads each host's servers from it, `locations` says where the files are on each OS,
`wrapping` turns an entry into the edits that wrap or unwrap it, `config` applies them to a
file's text, `files` reads, backs up and writes atomically. It imports nothing of mcp-tap:
the command on top is `cli/hosts.py`.
"""
