"""Per-customer values of HTTP objects, compiled once for speed.

An ``http-request`` with ``batch: 1000`` renders its fields for every customer of every call,
and most of them are plain lookups such as ``{{ customer.email }}`` or
``/crm/{{ customer.external_id }}``. Those are read straight from the customer (or the entry
data) with the result Jinja would give: ``None`` and missing fields as nothing, other values
as ``str()``. Anything else (filters, expressions, blocks) is rendered by the sandboxed Jinja
template as usual, with the full scope built only then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import SluisError
from engine.model.templates import Template

Scope = Callable[[], Mapping[str, Any]]
Render = Callable[[Mapping[str, Any], Mapping[str, Any], Scope], Any]
ResponseRender = Callable[[Any, int | None, Scope], str]  # (answer JSON, status, scope)

_LOOKUP = re.compile(r"\{\{\s*(customer|data)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*\}\}")
_RESPONSE = re.compile(r"\{\{\s*response\.(json(?:\.[A-Za-z_][A-Za-z0-9_]*)*|status)\s*\}\}")
_DELIMITERS = ("{{", "{%", "{#")
_DICT_NAMES = frozenset(dir(dict))  # Jinja would find these methods before the items
_JINJA = object()  # a lookup met something that is not a mapping: let Jinja decide


def compile_value(value: Any) -> Render:
    """A renderer for a settings value: a template, a literal, or lists and mappings of them.
    It takes the customer, the entry data and a function giving the full template scope."""
    if isinstance(value, Template):
        return _compile_template(value)
    if isinstance(value, Mapping):
        lookups = [(key, plain_lookup(item)) for key, item in value.items()]
        if all(lookup is not None for _, lookup in lookups):
            return _lookups_only([(key, *lookup) for key, lookup in lookups if lookup])
        parts = [(key, compile_value(item)) for key, item in value.items()]
        return lambda c, d, s: {key: render(c, d, s) for key, render in parts}
    if isinstance(value, list | tuple):
        items = [compile_value(item) for item in value]
        return lambda c, d, s: [render(c, d, s) for render in items]
    return lambda c, d, s: value


def rendered_once(render: Render, scope: Scope) -> Render:
    """``render`` of a value that reads neither ``customer`` nor ``data``, done once for a
    batch: every call gives that value again, or raises again the error it met."""
    try:
        value = render({}, {}, scope)
    except SluisError as exc:
        error = exc

        def fail(customer: Mapping[str, Any], data: Mapping[str, Any], scope: Scope) -> Any:
            raise error.with_traceback(None)  # one error for many journeys: no growing trace

        return fail
    return lambda c, d, s: value


def plain_lookup(value: Any) -> tuple[bool, str] | None:
    """(of the customer?, key) when ``value`` is exactly ``{{ customer.KEY }}`` or
    ``{{ data.KEY }}``."""
    if not isinstance(value, Template):
        return None
    match = _LOOKUP.fullmatch(value.source.strip())
    if match is None or value.source != value.source.strip():
        return None
    key = match.group(2)[1:]
    if "." in key or key in _DICT_NAMES:
        return None
    return match.group(1) == "customer", key


def compile_response(template: Template) -> ResponseRender:
    """A renderer of a ``save`` template over ``response``: ``{{ response.json.PATH }}`` and
    ``{{ response.status }}`` are read straight from the answer (per item of a batch of
    100,000 that is most of the work otherwise); anything else renders with Jinja, the full
    scope built only then."""
    match = _RESPONSE.fullmatch(template.source)
    path = tuple(match.group(1).split(".")[1:]) if match else ()
    if match is None or any(key in _DICT_NAMES for key in path):
        return lambda answer, status, scope: template.render(scope())
    if match.group(1) == "status":
        return lambda answer, status, scope: "" if status is None else str(status)

    def render(answer: Any, status: int | None, scope: Scope) -> str:
        found = _get(answer, path) if path else answer
        if found is _JINJA or isinstance(found, dict | list):
            return template.render(scope())
        return "" if found is None else found if type(found) is str else str(found)

    return render


def _lookups_only(fields: list[tuple[str, bool, str]]) -> Render:
    """Fields that are all plain lookups (the common case of batched calls), in one loop."""

    def render(customer: Mapping[str, Any], data: Mapping[str, Any], scope: Scope) -> Any:
        out = {}
        for name, of_customer, key in fields:
            found = (customer if of_customer else data).get(key)
            out[name] = "" if found is None else found if type(found) is str else str(found)
        return out

    return render


def _compile_template(template: Template) -> Render:
    if template.is_static:
        source = template.source
        return lambda c, d, s: source
    pieces = _LOOKUP.split(template.source)
    texts, roots, paths = pieces[0::3], pieces[1::3], pieces[2::3]
    names = [tuple(path.split(".")[1:]) for path in paths]
    if any(mark in text for text in texts for mark in _DELIMITERS) or any(
        key in _DICT_NAMES for path in names for key in path
    ):
        return lambda c, d, s: template.render(s())
    lookups = [(root == "customer", path) for root, path in zip(roots, names, strict=True)]
    if len(lookups) == 1 and texts == ["", ""]:
        [(of_customer, path)] = lookups

        def render_one(customer: Mapping[str, Any], data: Mapping[str, Any], scope: Scope) -> str:
            found = _get(customer if of_customer else data, path)
            if found is _JINJA:
                return template.render(scope())
            return "" if found is None else found if type(found) is str else str(found)

        return render_one

    def render(customer: Mapping[str, Any], data: Mapping[str, Any], scope: Scope) -> str:
        out = [texts[0]]
        for (of_customer, path), text in zip(lookups, texts[1:], strict=True):
            found = _get(customer if of_customer else data, path)
            if found is _JINJA:
                return template.render(scope())
            out.append("" if found is None else str(found))
            out.append(text)
        return "".join(out)

    return render


def _get(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if type(value) is not dict and not isinstance(value, Mapping):
            return _JINJA
        value = value.get(key)
        if value is None:
            return None
    return value
