"""A recording's YAML stream cut into documents and loaded a batch at a time, safely.

A recording may come from anyone, so the loader is PyYAML's safe one (the C one when it is
built) with three things taken away:

- aliases: `*name` makes a document refer to a node again, and nested aliases turn a
  kilobyte into gigabytes once anything walks the data ("billion laughs"). mcp-tap's emitter
  never writes one, so one is refused at once, before anything is expanded;
- tags that build something other than JSON values (`!!binary`, `!!set`, `!!timestamp`...);
- implicit timestamps: an unquoted `2026-11-26` stays a string, as in JSON.

Documents are cut at their `---` and `...` lines before any parsing (`split_documents`), so
the file is read line by line and only a batch of documents is ever held as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from sys import intern
from typing import Any

import yaml

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
BATCH_DOCUMENTS = 256  # documents parsed in one call: fewer calls, and still little text held


class AliasError(yaml.constructor.ConstructorError):
    """A document uses a YAML alias (`*name`), which a recording never holds."""


class TagError(yaml.constructor.ConstructorError):
    """A document uses a tag that builds something other than plain JSON-like data."""


_SHARED = 40  # strings up to this long are interned, and their tag remembered
_RESOLVED: dict[str, str] = {}  # plain scalar -> its tag
_RESOLVED_MAX = 50_000
_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{name}" for name in ("str", "seq", "map"))
_SCALARS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null"))


class RecordingLoader(_BASE):  # type: ignore[misc]
    """The safe loader, without aliases, timestamps or any tag beyond JSON's values.

    Documents are built by `_Builder`, a direct walk over the composed nodes: a recording
    holds only mappings, sequences and scalars, and the safe constructor's general
    machinery (state generators, a table of constructors per node) costs twice the parse.
    """

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        """The tag of an untagged node: PyYAML's answer, remembered for short plain scalars
        (the same keys and words come in every document, and each costs a few regexes)."""
        if kind is not yaml.ScalarNode:
            return _SEQ if kind is yaml.SequenceNode else _MAP
        if not implicit[0]:
            return _STR  # quoted: always a string
        if len(value) > _SHARED:
            return str(super().resolve(kind, value, implicit))
        tag = _RESOLVED.get(value)
        if tag is None:
            tag = str(super().resolve(kind, value, implicit))
            if len(_RESOLVED) < _RESOLVED_MAX:
                _RESOLVED[value] = tag
        return tag

    def construct_document(self, node: yaml.Node) -> Any:
        """The plain data of one document."""
        try:
            return _Builder(self).build(node)
        except RecursionError:
            raise TagError(None, None, "nested too deeply", node.start_mark) from None


class _Builder:
    """Nodes to Python values, each node once: a node met again is an alias, refused."""

    def __init__(self, loader: RecordingLoader) -> None:
        self._loader = loader
        self._seen: set[int] = set()

    def build(self, node: yaml.Node) -> Any:
        if id(node) in self._seen:
            raise AliasError(None, None, "a YAML alias", node.start_mark)
        self._seen.add(id(node))
        tag = node.tag
        if tag == _STR:
            value = node.value
            # Keys and short values repeat in every document ("jsonrpc", "progressToken"):
            # one shared copy each, for whoever keeps many events.
            return intern(value) if len(value) <= _SHARED else value
        if tag in _SCALARS:
            return self._loader.yaml_constructors[tag](self._loader, node)
        if tag == _MAP:
            data: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node)
                try:
                    data[key] = self.build(value_node)
                except TypeError:
                    raise TagError(
                        None, None, "a mapping key that is not a scalar", key_node.start_mark
                    ) from None
            return data
        if tag == _SEQ:
            return [self.build(item) for item in node.value]
        shown = tag.replace("tag:yaml.org,2002:", "!!")
        raise TagError(None, None, f"unsupported YAML tag {shown}", node.start_mark)


@dataclass
class Chunk:
    """The text of one document, and where it sits in the file."""

    text: str
    line: int  # 1-based line of the document's first content (its `---`)
    terminated: bool  # ends with a `...` line
    offset: int  # lines before `text` starts (comments before a document are part of it)


def split_documents(rows: Iterable[str]) -> Iterator[Chunk]:
    """The documents of a stream of lines (with or without their newline), before parsing.

    A document starts at a `---` line and ends after a `...` line; anything after the last
    end marker (a cut `---`, say) is a document of its own, unterminated. An emitter never
    starts a content line with either marker (YAML would read it as one), so this is exact.
    """
    lines: list[str] = []
    first, offset, content = 1, 0, False
    for number, row in enumerate(rows, start=1):
        row = row.rstrip("\n")
        bare = row.rstrip()
        if content and (bare == "---" or row.startswith(("--- ", "---\t"))):
            yield Chunk("\n".join(lines) + "\n", first, False, offset)
            lines, content = [], False
        if not lines:
            offset = number - 1
        lines.append(row)
        if not content and bare and bare[0] not in "#%":  # comments, directives
            first, content = number, True
        if content and bare == "...":
            yield Chunk("\n".join(lines) + "\n", first, True, offset)
            lines, content = [], False
    if content:
        yield Chunk("\n".join(lines) + "\n", first, False, offset)


def load_one(chunk: Chunk) -> Any:
    """One document's data; raises yaml.YAMLError (AliasError, TagError included)."""
    return yaml.load(chunk.text, Loader=RecordingLoader)


def load_batch(chunks: list[Chunk]) -> list[Any]:
    """Each chunk's data, or the YAMLError it raised: one parse when the batch is sound."""
    try:
        documents = list(yaml.load_all("".join(c.text for c in chunks), Loader=RecordingLoader))
        if len(documents) == len(chunks):
            return documents
    except yaml.YAMLError:
        pass  # find out which document it was, below
    results: list[Any] = []
    for chunk in chunks:
        try:
            results.append(load_one(chunk))
        except yaml.YAMLError as error:
            results.append(error)
    return results


def is_refusal(error: yaml.YAMLError) -> bool:
    """An error that no cut could explain: an alias or a tag the reader does not build."""
    return isinstance(error, AliasError | TagError) or _unknown_tag(error) is not None


def _unknown_tag(error: yaml.YAMLError) -> str | None:
    """The tag a safe loader has no constructor for (`!!python/object`...), if that is it."""
    if not isinstance(error, yaml.constructor.ConstructorError):
        return None
    found = re.search(r"constructor for the tag '(?:tag:yaml\.org,2002:)?([^']+)'", str(error))
    return f"!!{found.group(1)}" if found else None


def describe(error: Exception, chunk: Chunk) -> str:
    """One line from a YAML or decode error (PyYAML's own messages span several lines)."""
    if not isinstance(error, yaml.MarkedYAMLError):
        return " ".join(str(error).split())
    mark = error.problem_mark
    where = f" at line {chunk.offset + mark.line + 1}" if mark is not None else ""
    problem = str(error.problem or error.context or "invalid YAML")
    tag = _unknown_tag(error)
    if isinstance(error, AliasError):
        return f"a YAML alias (*name) of the node{where}; recordings never hold one"
    if tag is not None:
        problem = f"unsupported YAML tag {tag} (only plain data is read)"
    elif isinstance(error, TagError) and problem.startswith("unsupported"):
        problem += " (only plain data is read)"
    return f"{problem}{where}"
