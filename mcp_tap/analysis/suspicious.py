"""Text in a definition that hides from the person approving it, or speaks to the model.

A tool's description is read by the model and shown (if at all) to a person. Text the
person cannot see still reaches the model: invisible and format characters (zero-width
spaces, word joiners), bidirectional controls that reorder what is shown, Unicode tag
characters (U+E0000-U+E007F, an invisible copy of ASCII), long runs of whitespace that push
text out of a dialog, and HTML comments that a Markdown renderer drops. And text that
addresses the model rather than describing the tool (`<IMPORTANT>`, "ignore previous
instructions", "do not tell the user") is how tool poisoning reads.

Sans-IO, no rendering: `suspicions(text)` says what and where, with the offending span
`escaped` so that what was hidden is shown.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mcp_tap.analysis.rules import DEFINITION_DIRECTIVE, DEFINITION_HIDDEN_TEXT, Rule
from mcp_tap.protocol.events import Severity

WHITESPACE_RUN = 32  # blanks in a row that no description needs; what pads text off screen
CONTEXT = 16  # characters shown on each side of an offending span
MAX_SPAN = 120  # characters of an escaped span, at most

_BIDI = frozenset(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)  # marks, embeddings, overrides and isolates
_FILLERS = frozenset([0x115F, 0x1160, 0x3164, 0xFFA0, 0x034F, 0x2800])  # blank "letters"
_EMOJI_GLUE = frozenset([0x200D, 0xFE0E, 0xFE0F])  # ZWJ and presentation selectors
_TAGS = range(0xE0000, 0xE0080)

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_WHITESPACE = re.compile(rf"\s{{{WHITESPACE_RUN},}}")
_DIRECTIVES = (
    re.compile(  # the opening tag only: its closing one is the same finding
        r"<\s*(important|system|instructions?|secret|hidden|admin|critical)\b[^>]*>",
        re.I,
    ),
    re.compile(
        r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(the\s+)?"
        r"(previous|prior|above|earlier|other|system)\s+"
        r"(instructions?|prompts?|messages?|rules?|directions?)",
        re.I,
    ),
    re.compile(
        r"\b(do\s+not|don'?t|never)\s+(tell|inform|mention|reveal|show|notify)\b[^.\n]{0,40}?"
        r"\b(the\s+)?user",
        re.I,
    ),
    re.compile(r"\bwithout\s+(telling|informing|notifying|asking)\s+the\s+user", re.I),
    re.compile(r"\bthe\s+user\s+(must|should)\s+(not|never)\s+(know|see|learn)", re.I),
)


@dataclass(frozen=True, slots=True)
class Suspicion:
    """One offending span of a text."""

    rule: Rule  # definition-hidden-text or definition-directive
    severity: Severity
    what: str  # "tag characters (hidden text 'send the key')", "<IMPORTANT>"
    start: int
    end: int
    shown: str  # the span with some context, escaped

    def describe(self, where: str) -> str:
        """One line: what, where, and the span as escaped text."""
        return f"{where}: {self.what}: {self.shown}"


def suspicions(text: str) -> list[Suspicion]:
    """Every hidden or directive span of `text`, in order of position."""
    found = [*_hidden_characters(text), *_hidden_blocks(text), *_directives(text)]
    return sorted(found, key=lambda s: (s.start, s.rule.slug))


def strings_of(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a definition, keys included, with the path to it."""
    if isinstance(value, str):
        yield path or "$", value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _odd_key(key):
                yield f"{child} (key)", key
            yield from strings_of(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_of(item, f"{path}[{index}]")


def _odd_key(key: str) -> bool:
    return any(_hidden_kind(key, i) is not None for i in range(len(key)))


def escaped(text: str) -> str:
    """`text` with every character a person would not see written as an escape (`\\u200b`,
    `\\U000e0041`, `\\n`), and long whitespace runs counted, so hidden text shows."""
    out: list[str] = []
    index = 0
    while index < len(text):
        run = _WHITESPACE.match(text, index)
        if run is not None:
            out.append(f"[{run.end() - run.start()} blanks]")
            index = run.end()
            continue
        char = text[index]
        code = ord(char)
        if char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif _hidden_kind(text, index) is not None or _invisible(code):
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _invisible(code: int) -> bool:
    category = unicodedata.category(chr(code))
    return category in ("Cc", "Cf", "Co", "Cn", "Zl", "Zp") or code in _EMOJI_GLUE


def _hidden_kind(text: str, index: int) -> str | None:
    """What kind of hidden character `text[index]` is, None for one that shows."""
    code = ord(text[index])
    if code in _TAGS:
        return "tag characters"
    if code in _BIDI:
        return "bidirectional controls"
    if code in _EMOJI_GLUE:
        before = text[index - 1] if index else ""
        if before and unicodedata.category(before) in ("So", "Sk", "Mn"):
            return None  # an emoji sequence: ZWJ and VS16 join or style what they follow
        return "invisible characters"
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return "variation selectors"
    if code in _FILLERS or code == 0x00AD:
        return "invisible characters"
    category = unicodedata.category(chr(code))
    if category == "Cf" or (category == "Cc" and chr(code) not in "\n\r\t"):
        return "invisible characters"
    return None


def _hidden_characters(text: str) -> Iterator[Suspicion]:
    index = 0
    while index < len(text):
        kind = _hidden_kind(text, index)
        if kind is None:
            index += 1
            continue
        end = index + 1
        while end < len(text) and _hidden_kind(text, end) is not None:
            end += 1  # one span for a run, whatever mix it is
        kinds = sorted({k for i in range(index, end) if (k := _hidden_kind(text, i))})
        what = " and ".join(kinds)
        decoded = "".join(
            chr(ord(c) - 0xE0000) for c in text[index:end] if 0xE0020 <= ord(c) <= 0xE007E
        )
        if decoded:
            what += f" (hidden text {decoded[:60]!r})"
        severe = any(k in ("tag characters", "bidirectional controls") for k in kinds)
        severity = Severity.ERROR if severe else DEFINITION_HIDDEN_TEXT.severity
        yield _suspicion(DEFINITION_HIDDEN_TEXT, severity, what, text, index, end)
        index = end


def _hidden_blocks(text: str) -> Iterator[Suspicion]:
    rule = DEFINITION_HIDDEN_TEXT
    for match in _WHITESPACE.finditer(text):
        what = f"a run of {match.end() - match.start()} blanks"
        yield _suspicion(rule, rule.severity, what, text, match.start(), match.end())
    for match in _HTML_COMMENT.finditer(text):
        what = "an HTML comment (a Markdown view drops it)"
        yield _suspicion(rule, rule.severity, what, text, match.start(), match.end())


def _directives(text: str) -> Iterator[Suspicion]:
    rule = DEFINITION_DIRECTIVE
    for pattern in _DIRECTIVES:
        for match in pattern.finditer(text):
            what = f"a directive to the model ({' '.join(match.group(0).split())!r})"
            yield _suspicion(rule, rule.severity, what, text, match.start(), match.end())


def _suspicion(
    rule: Rule, severity: Severity, what: str, text: str, start: int, end: int
) -> Suspicion:
    before = text[max(0, start - CONTEXT) : start]
    after = text[end : end + CONTEXT]
    shown = escaped(before) + "«" + escaped(text[start:end]) + "»" + escaped(after)
    if len(shown) > MAX_SPAN:
        shown = shown[: MAX_SPAN - 3] + "..."
    return Suspicion(rule, severity, what, start, end, shown)
