"""Recorded or live text made safe for a terminal: control characters shown, never obeyed.

A server's text, a tool's name or a header value can hold terminal control sequences:
`ESC ] 0 ; title BEL` retitles the window, `ESC [ 2 J` clears the screen, `ESC ] 52` writes
the clipboard. Everything the view prints from the wire goes through `visible` first, which
turns every C0 control (U+0000-U+001F), DEL and every C1 control (U+0080-U+009F: U+009B is
CSI by itself) into a visible escape such as `\\x1b`. Applied twice it changes nothing more,
so a layer may apply it again without harm.

It is not markup escaping: text handed to rich is still wrapped in `Text`, never parsed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.highlighter import JSONHighlighter
from rich.text import Text

_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_ESCAPES = {code: f"\\x{code:02x}" for code in _CONTROLS}
_BLOCK_ESCAPES = {code: text for code, text in _ESCAPES.items() if chr(code) not in "\n\t"}
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_BLOCK_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """`text` for one line of a terminal: every control character as a visible escape.

    Line breaks and tabs too, since a line that breaks is a line that lies about its columns.
    """
    if _ANY_CONTROL.search(text) is None:  # the common case costs one scan
        return text
    return text.translate(_ESCAPES)


def visible_block(text: str) -> str:
    """`text` for several lines (a message's JSON, a raw body): as `visible`, but newlines
    and tabs are kept, so the block keeps its shape."""
    if _BLOCK_CONTROL.search(text) is None:
        return text
    return text.translate(_BLOCK_ESCAPES)


def json_block(value: Any) -> str:
    """`value` as indented JSON for reading. JSON escapes C0 controls itself; DEL and C1
    controls it leaves raw (with non-ASCII kept readable), so they are escaped here."""
    return visible_block(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def json_text(value: Any) -> Text:
    """`json_block(value)` highlighted the way rich's `JSON` highlights, for a terminal."""
    text = JSONHighlighter()(Text(json_block(value)))
    text.no_wrap = True
    text.overflow = None
    return text
