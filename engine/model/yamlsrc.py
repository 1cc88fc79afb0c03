"""Safe YAML loading that remembers where every key and value stood.

Plain YAML loaders forget positions and silently keep the last of two equal keys. Validation
messages need ``FILE:LINE:COL`` for anything a marketer wrote, so this loader walks the composed
node tree itself (with PyYAML's *safe* loader only), builds plain Python values, and records the
position of every key and value by its path (a tuple of keys and list indexes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.errors import Problem

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass
class Document:
    """A loaded YAML document: its value and the positions of everything in it."""

    file: str
    value: Any
    keys: dict[Path, Pos] = field(default_factory=dict)
    values: dict[Path, Pos] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    quoted: dict[Path, bool] = field(default_factory=dict)

    def pos(self, path: Path, *, key: bool = False) -> Pos:
        """Where ``path`` is written: its key when ``key``, else its value; the nearest parent
        that has a position when the path itself has none (for example a missing setting)."""
        table = (self.keys, self.values) if key else (self.values, self.keys)
        probe = tuple(path)
        while True:
            for positions in table:
                if probe in positions:
                    return positions[probe]
            if not probe:
                return Pos(1, 1)
            probe = probe[:-1]

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        where = self.pos(path, key=key)
        return Problem(self.file, where.line, where.column, message)


class _Loader(yaml.SafeLoader):
    """The safe loader with YAML 1.2's plain scalars: only true/false are booleans (so the
    outputs ``yes`` and ``no`` stay text) and ``09:30`` is text, not a base-60 number."""


_REPLACED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


# PyYAML built without libyaml (no wheel for the platform) parses in Python alone
_LIBYAML: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FastLoader(_LIBYAML):  # type: ignore[valid-type,misc]
    """``_Loader`` parsed by libyaml: the same nodes, marks and plain scalars, several times
    faster; its error messages are worded differently, so a text it refuses is read again by
    ``_Loader`` for PyYAML's words."""


_FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _pos(mark: yaml.Mark) -> Pos:
    return Pos(mark.line + 1, mark.column + 1)


class _Walker:
    def __init__(self, doc: Document, loader: _Loader | _FastLoader) -> None:
        self.doc = doc
        self.loader = loader

    def value(self, node: yaml.Node, path: Path) -> Any:
        self.doc.values[path] = _pos(node.start_mark)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
            raise yaml.constructor.ConstructorError(
                None, None, f"the tag {node.tag} is not allowed", node.start_mark
            )
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        if getattr(node, "style", None) in ("'", '"'):
            self.doc.quoted[path] = True
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = self.value(value_node, path)
                for item in merged if isinstance(merged, list) else [merged]:
                    if isinstance(item, dict):
                        for k, v in item.items():
                            result.setdefault(k, v)
                continue
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                self.doc.problems.append(
                    Problem(
                        self.doc.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        "a key must be plain text, not a list or mapping",
                    )
                )
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                first = self.doc.keys[(*path, key)]
                self.doc.problems.append(
                    Problem(
                        self.doc.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        f"duplicate key '{key}' (first written at line {first.line}); "
                        "YAML would silently keep only the last one: rename or remove one",
                    )
                )
                continue
            self.doc.keys[(*path, key)] = _pos(key_node.start_mark)
            result[key] = self.value(value_node, (*path, key))
        return result


def load(text: str, file: str = "<string>") -> Document:
    """Parse ``text`` safely. Syntax errors and duplicate keys land in ``Document.problems``;
    the value is ``None`` when the text does not parse at all."""
    doc = Document(file=file, value=None)
    try:
        _compose(doc, _FastLoader(text))
        return doc
    except yaml.YAMLError:
        doc = Document(file=file, value=None)  # read again, for PyYAML's words
    try:
        _compose(doc, _Loader(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "not valid YAML"
        hint = f" ({exc.context})" if exc.context else ""
        doc.problems.append(
            Problem(
                file,
                line,
                column,
                f"YAML syntax error: {what}{hint}; check the indentation "
                "and quoting on this line and the one before",
            )
        )
        doc.value = None
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(file, 1, 1, f"YAML error: {exc}"))
        doc.value = None
    return doc


def _compose(doc: Document, loader: _Loader | _FastLoader) -> None:
    """The document's value and positions, read through ``loader``."""
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.value = _Walker(doc, loader).value(node, ())
    finally:
        loader.dispose()
