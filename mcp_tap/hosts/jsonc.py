"""A JSON and JSONC reader that keeps where each value is in the text.

`parse(text)` returns the document as `Node`s whose `start:end` is the value's span in
`text` (a `str`; offsets are characters), so an edit can replace one value and leave every
other character of the file, its comments, spacing and key order, as it was. It accepts what
VS Code's JSONC accepts beside plain JSON: `//` and `/* */` comments and trailing commas.
A JSON document without them reads the same, and no edit here adds either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 256  # a config file nests a few levels; deeper is not one


class JsonSyntaxError(ValueError):
    """The text is not JSON (nor JSONC); the message says where, as `line L column C`."""


@dataclass
class Member:
    """One `"key": value` of an object, with the key's span (quotes included)."""

    key: str
    key_start: int
    key_end: int
    value: Node


@dataclass
class Node:
    """A value and its span; `members` for an object, `items` for an array."""

    kind: str  # object, array, string, number, true, false, null
    start: int
    end: int
    members: list[Member] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    scalar: Any = None  # the Python value of a string, number, true, false or null

    def get(self, key: str) -> Node | None:
        """The value of `key` in an object (the last one, as JSON.parse keeps), else None."""
        found = None
        for member in self.members:
            if member.key == key:
                found = member.value
        return found

    def member(self, key: str) -> Member | None:
        """The last member named `key`, else None."""
        found = None
        for member in self.members:
            if member.key == key:
                found = member
        return found

    def value(self) -> Any:
        """The plain Python value of this node and everything in it."""
        if self.kind == "object":
            return {m.key: m.value.value() for m in self.members}
        if self.kind == "array":
            return [item.value() for item in self.items]
        return self.scalar


def parse(text: str) -> Node:
    """The document's root value; JsonSyntaxError when `text` is not JSON or JSONC."""
    reader = _Reader(text)
    reader.skip()
    if reader.at_end():
        reader.fail("the file is empty")
    root = reader.value(0)
    reader.skip()
    if not reader.at_end():
        reader.fail("text after the end of the document")
    return root


def skip_blank(text: str, position: int) -> int:
    """The first position at or after `position` that is not whitespace or a comment."""
    reader = _Reader(text, position)
    reader.skip()
    return reader.position


_LITERALS = {"true": True, "false": False, "null": None}
_NUMBER_CHARS = frozenset("0123456789+-.eE")


class _Reader:
    def __init__(self, text: str, position: int = 0) -> None:
        self.text = text
        # a byte order mark is not part of the document (and stays in the file)
        self.position = 1 if position == 0 and text.startswith("\ufeff") else position

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def fail(self, what: str, at: int | None = None) -> None:
        at = self.position if at is None else at
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        raise JsonSyntaxError(f"{what} at line {line} column {column}")

    def skip(self) -> None:
        text, end = self.text, len(self.text)
        while self.position < end:
            char = text[self.position]
            if char in " \t\r\n":
                self.position += 1
            elif text.startswith("//", self.position):
                newline = text.find("\n", self.position)
                self.position = end if newline < 0 else newline + 1
            elif text.startswith("/*", self.position):
                close = text.find("*/", self.position + 2)
                if close < 0:
                    self.fail("a /* comment that never ends")
                self.position = close + 2
            else:
                return

    def value(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            self.fail(f"nesting deeper than {MAX_DEPTH}")
        if self.at_end():
            self.fail("the document ends where a value was expected")
        char = self.text[self.position]
        if char == "{":
            return self.object(depth)
        if char == "[":
            return self.array(depth)
        if char == '"':
            start = self.position
            return Node("string", start, self.string_end(), scalar=self.string(start))
        for word, scalar in _LITERALS.items():
            if self.text.startswith(word, self.position):
                start = self.position
                self.position += len(word)
                return Node(word, start, self.position, scalar=scalar)
        if char == "-" or char.isdigit():
            return self.number()
        self.fail(f"unexpected {char!r}")
        raise AssertionError  # fail raised

    def string_end(self) -> int:
        """Move past the string at the position (its opening quote) and return its end."""
        text, position = self.text, self.position + 1
        while True:
            if position >= len(text):
                self.fail("a string that never ends", self.position)
            char = text[position]
            if char == '"':
                self.position = position + 1
                return self.position
            if char == "\\":
                position += 2
            elif char == "\n":
                self.fail("a line break inside a string", position)
            else:
                position += 1

    def string(self, start: int) -> str:
        try:
            decoded: str = json.loads(self.text[start : self.position])
        except json.JSONDecodeError as error:
            self.fail(f"a bad string ({error.msg})", start)
            raise AssertionError from None  # fail raised
        return decoded

    def number(self) -> Node:
        start = self.position
        while self.position < len(self.text) and self.text[self.position] in _NUMBER_CHARS:
            self.position += 1
        try:
            scalar = json.loads(self.text[start : self.position])
        except json.JSONDecodeError:
            self.fail("a bad number", start)
        return Node("number", start, self.position, scalar=scalar)

    def object(self, depth: int) -> Node:
        node = Node("object", self.position, -1)
        self.position += 1
        while True:
            self.skip()
            if self.at_end():
                self.fail("an object that never ends", node.start)
            if self.text[self.position] == "}":
                break
            if self.text[self.position] != '"':
                self.fail("expected a key in quotes")
            key_start = self.position
            key_end = self.string_end()
            key = self.string(key_start)
            self.skip()
            if self.at_end() or self.text[self.position] != ":":
                self.fail("expected ':' after a key")
            self.position += 1
            self.skip()
            node.members.append(Member(key, key_start, key_end, self.value(depth + 1)))
            if not self.separator("}"):
                break
        self.position += 1
        node.end = self.position
        return node

    def array(self, depth: int) -> Node:
        node = Node("array", self.position, -1)
        self.position += 1
        while True:
            self.skip()
            if self.at_end():
                self.fail("an array that never ends", node.start)
            if self.text[self.position] == "]":
                break
            node.items.append(self.value(depth + 1))
            if not self.separator("]"):
                break
        self.position += 1
        node.end = self.position
        return node

    def separator(self, close: str) -> bool:
        """After a member or an item: True past a comma, False at `close` (left to read)."""
        self.skip()
        if self.at_end():
            self.fail(f"expected ',' or '{close}'")
        char = self.text[self.position]
        if char == ",":
            self.position += 1
            return True
        if char != close:
            self.fail(f"expected ',' or '{close}'")
        return False
