"""Templates: Jinja2 in a sandbox, for subjects, bodies, URLs, headers, fields, paths and ``set``
values. Variables are ``customer``, ``data``, ``now``, ``today``, ``flow``, ``object`` and
``records`` (each collection of the customer's datamodel records, newest first); the filter
``date(FORMAT)`` formats dates with strftime. A missing field renders as nothing."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import TemplateError
from engine.model.expressions.parser import Reference

TEMPLATE_NAMES: frozenset[str] = frozenset(
    {"customer", "data", "now", "today", "flow", "object", "records"}
)


def date_filter(value: Any, fmt: str = "%Y-%m-%d") -> str:
    """Format a date, a datetime or ISO text with strftime; nothing for a missing value."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                value = date.fromisoformat(value)
            except ValueError:
                return str(value)
    if isinstance(value, date):
        return value.strftime(fmt)
    return str(value)


def local_today(now: datetime, timezone: str) -> date:
    """``today`` for templates and expressions: the date of ``now`` in ``timezone`` (the flow's,
    or the project's for commands run outside a flow). One rule for flows and commands, so the
    same template gives the same file name from both (DESIGN section 7)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def make_environment(
    *, loader: jinja2.BaseLoader | None = None, autoescape: bool = False
) -> SandboxedEnvironment:
    """A sandboxed Jinja2 environment with sluis's filters; objects that render files (mail
    bodies) pass a loader and turn on autoescaping for HTML."""
    env = SandboxedEnvironment(
        loader=loader,
        autoescape=autoescape,
        undefined=jinja2.ChainableUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
    )
    env.filters["date"] = date_filter
    return env


_ENV = make_environment()


def fill(compiled: jinja2.Template, scope: Mapping[str, Any]) -> str:
    """``compiled.render(scope)`` without copying Jinja's globals for every call (Jinja keeps
    them in a ChainMap it reads in full per render; nothing changes them after loading, so
    they are read once per template) and without its traceback rewriting (the error raised
    is the same)."""
    env = compiled.environment
    shared = _globals(compiled)
    context = env.context_class(env, {**shared, **scope}, compiled.name, compiled.blocks, shared)
    return env.concat(compiled.root_render_func(context))


@lru_cache(maxsize=1024)
def _globals(compiled: jinja2.Template) -> dict[str, Any]:
    return dict(compiled.globals)


class Template:
    """A template parsed once; ``render`` fills it in for one customer."""

    __slots__ = ("_compiled", "is_static", "names", "record_names", "source")

    def __init__(
        self,
        source: str,
        compiled: jinja2.Template,
        names: frozenset[str],
        record_names: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self.source = source
        self._compiled = compiled
        self.names = names
        # ("records", COLLECTION) and ("records", COLLECTION, FIELD) as written
        # (``records.orders[0].total``), for validation against the datamodel
        self.record_names = record_names
        # True when the template has no ``{{`` or ``{%``: rendering returns the text itself
        self.is_static = "{" not in source

    @classmethod
    def parse(cls, source: str, allowed: Iterable[str] = TEMPLATE_NAMES) -> Template:
        """Parse ``source``; unknown variables and syntax errors raise ``TemplateError``."""
        return _parse(str(source), frozenset(allowed))

    def render(self, scope: Mapping[str, Any]) -> str:
        if self.is_static:
            return self.source
        try:
            return fill(self._compiled, scope)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template '{self.source}' failed: {exc}") from exc
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise TemplateError(f"template '{self.source}' failed: {exc}") from exc

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


@lru_cache(maxsize=4096)
def _parse(source: str, allowed: frozenset[str]) -> Template:
    try:
        tree = _ENV.parse(source)
        compiled = _ENV.from_string(tree)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", exc.lineno or 1) from None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        index = getattr(node, "arg", None)
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(index, "value", None)
        if isinstance(attr, str) and attr.startswith("_"):
            raise TemplateError(
                f"template uses '{attr}': names starting with '_' are internal and not allowed",
                node.lineno,
            )
    names = frozenset(meta.find_undeclared_variables(tree))
    for name in sorted(names - allowed):
        hint = difflib.get_close_matches(name, sorted(allowed), n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"use one of {', '.join(sorted(allowed))}"
        raise TemplateError(f"unknown template variable '{name}'; {fix}")
    return Template(source, compiled, names, _record_names(tree) if "records" in names else ())


def _record_names(tree: nodes.Template) -> tuple[tuple[str, ...], ...]:
    """``records.C`` (or ``records['C']``), ``records.C[i].FIELD`` and ``o.FIELD`` in the body
    of ``{% for o in records.C %}`` in the tree."""
    found: dict[tuple[str, ...], None] = {}
    for loop in tree.find_all(nodes.For):
        iterated: nodes.Node | None = loop.iter  # records.C, or a slice or filter of it
        while (collection := _collection(iterated)) is None and isinstance(
            iterated, nodes.Getitem | nodes.Filter
        ):
            iterated = iterated.node
        if collection is not None and isinstance(loop.target, nodes.Name):
            for field in _fields_of(loop.target.name, loop.body):
                found[("records", collection, field)] = None
    for node in tree.find_all(nodes.Getattr):
        collection = _collection(node)
        if collection is not None:
            found[("records", collection)] = None
            continue
        inner = node.node
        if isinstance(inner, nodes.Getitem) and (collection := _collection(inner.node)):
            found[("records", collection, node.attr)] = None
    for item in tree.find_all(nodes.Getitem):
        collection = _collection(item)
        if collection is not None:
            found[("records", collection)] = None
    return tuple(found)


def _fields_of(name: str, body: list[nodes.Node]) -> Iterator[str]:
    """The fields read of loop variable ``name`` (``name.F``, ``name['F']``) in ``body``, but
    not inside an inner loop that takes the name for its own."""
    for node in body:
        if isinstance(node, nodes.For) and getattr(node.target, "name", None) == name:
            yield from _fields_of(name, [node.iter])
            continue
        if isinstance(node, nodes.Getattr | nodes.Getitem) and isinstance(node.node, nodes.Name):
            field = node.attr if isinstance(node, nodes.Getattr) else _constant(node.arg)
            if node.node.name == name and isinstance(field, str):
                yield field
        yield from _fields_of(name, list(node.iter_child_nodes()))


def _constant(node: nodes.Node) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


def _collection(node: nodes.Node | None) -> str | None:
    """The collection ``node`` names when it is ``records.C`` or ``records['C']``."""
    if isinstance(node, nodes.Getattr):
        attr: Any = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        attr = node.arg.value
    else:
        return None
    inner = node.node
    if isinstance(inner, nodes.Name) and inner.name == "records" and isinstance(attr, str):
        return attr
    return None


def references_in(source: str) -> tuple[Reference, ...]:
    """The ``customer.X`` (and ``customer['X']``) a template reads, as the expressions'
    references, each with the offset of ``customer`` in ``source`` where it is found there
    (-1 when not, e.g. written with brackets); nothing for a template that does not parse."""
    try:
        tree = _ENV.parse(source)
    except jinja2.TemplateSyntaxError:
        return ()
    found = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        inner = node.node  # type: ignore[attr-defined]  # both node types have it
        if not (isinstance(inner, nodes.Name) and inner.name == "customer"):
            continue
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
            if not isinstance(name, str):
                continue
        else:
            continue
        match = re.search(rf"\bcustomer\s*\.\s*{re.escape(name)}\b", source)
        found.append(Reference(("customer", name), match.start() if match else -1))
    return tuple(found)


@dataclass(frozen=True)
class FieldPiece:
    """``{{ customer.NAME }}`` in a template, perhaps through ``|lower`` or ``|upper``."""

    name: str
    case: str | None = None


def field_pieces(template: Template) -> tuple[str | FieldPiece, ...] | None:
    """The template as literal text and customer fields, in order, when that is all it is
    (what the database can render too); None when it does more."""
    pieces: list[str | FieldPiece] = []
    for output in _ENV.parse(template.source).body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            piece = _piece(node)
            if piece is None:
                return None
            pieces.append(piece)
    return tuple(pieces)


def _piece(node: nodes.Node) -> str | FieldPiece | None:
    if isinstance(node, nodes.TemplateData):
        return str(node.data)
    case = None
    field: nodes.Node | None = node
    if isinstance(node, nodes.Filter) and node.name in ("lower", "upper"):
        if node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
            return None
        case, field = node.name, node.node
    if not isinstance(field, nodes.Getattr):
        return None
    inner = field.node
    if isinstance(inner, nodes.Name) and inner.name == "customer":
        return FieldPiece(field.attr, case)
    return None


def render_value(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render templates inside a value (text, or lists and mappings of it); other values as is."""
    if isinstance(value, Template):
        return value.render(scope)
    if isinstance(value, Mapping):
        return {k: render_value(v, scope) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_value(v, scope) for v in value]
    return value
