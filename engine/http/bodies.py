"""JSON bodies of ``fields``, written for a whole batch at once.

``http-request`` sends each customer's ``fields`` as a JSON object: one per call, or arrays of
up to 1,000 of them with ``batch``. Building a dict per customer and handing the list to
``json.dumps`` costs more than the HTTP call that carries it, so the fields are compiled once
into a format string in which the keys and the literal values are already JSON, and the values
are filled in column by column: a plain lookup such as ``{{ customer.email }}`` is one pass over
the batch through the json module's own string encoder. Other templates render per customer
(``lookups`` decides how). The text is exactly ``json_body`` of the rendered fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses for text
from typing import Any

from engine.errors import SluisError
from engine.http.lookups import Scope, compile_value, plain_lookup
from engine.http.render import json_body
from engine.model.templates import Template
from engine.sdk.batch import Journey

ScopeOf = Callable[[Journey], Scope]
Failures = dict[int, SluisError]  # position in the batch -> why its value could not be made
Column = Callable[[Sequence[Journey], ScopeOf, Failures], list[str]]


class JsonFields:
    """An object's ``fields`` (as ``render.templated`` holds them), compiled to JSON text."""

    def __init__(self, fields: Any) -> None:
        self._constant, self._column = _compile(fields)

    def texts(self, journeys: Sequence[Journey], scope_of: ScopeOf) -> tuple[list[str], Failures]:
        """The JSON text of every journey's fields, and by position the journeys whose text
        could not be made (a template failed for that customer; its text is empty)."""
        failures: Failures = {}
        if self._column is None:
            return [self._constant] * len(journeys), failures
        return self._column(journeys, scope_of, failures), failures


def _compile(value: Any) -> tuple[str, Column | None]:
    """(the JSON text, None) for a value that is the same for everyone, else ("", a column)."""
    if isinstance(value, Template):
        if value.is_static:
            return encode_basestring(value.source), None
        lookup = plain_lookup(value)
        return "", _lookup(*lookup) if lookup else _rendered(value)
    if isinstance(value, Mapping) and all(type(key) is str for key in value):
        parts = [(encode_basestring(key) + ":", value[key]) for key in value]
        return _format("{", parts, "}")
    if isinstance(value, list | tuple):
        return _format("[", [("", item) for item in value], "]")
    if isinstance(value, Mapping):  # keys json.dumps turns into text itself
        return "", _rendered(value)
    try:
        return json_body(value).decode(), None
    except (TypeError, ValueError):  # fails as it did before: per customer, when sent
        return "", _rendered(value)


def _format(opening: str, parts: list[tuple[str, Any]], closing: str) -> tuple[str, Column | None]:
    """A mapping or a list: its constant parts written into a format string once."""
    pieces, columns = [], []
    for index, (label, item) in enumerate(parts):
        constant, column = _compile(item)
        pieces.append(("," if index else "") + label.replace("%", "%%"))
        if column is None:
            pieces.append(constant.replace("%", "%%"))
        else:
            pieces.append("%s")
            columns.append(column)
    template = opening + "".join(pieces) + closing
    if not columns:
        return template % (), None
    if len(columns) == 1:
        [single] = columns

        def one(journeys: Sequence[Journey], scope_of: ScopeOf, failures: Failures) -> list[str]:
            return [template % text for text in single(journeys, scope_of, failures)]

        return "", one

    def many(journeys: Sequence[Journey], scope_of: ScopeOf, failures: Failures) -> list[str]:
        filled = [column(journeys, scope_of, failures) for column in columns]
        return [template % row for row in zip(*filled, strict=True)]

    return "", many


def _lookup(of_customer: bool, key: str) -> Column:
    """``{{ customer.KEY }}`` or ``{{ data.KEY }}``: what Jinja prints (nothing for a missing
    or null value, else ``str()``), as JSON text."""

    def column(journeys: Sequence[Journey], scope_of: ScopeOf, failures: Failures) -> list[str]:
        if of_customer:
            values = [journey.customer.get(key) for journey in journeys]
        else:
            values = [journey.data.get(key) for journey in journeys]
        return [
            encode_basestring(v if type(v) is str else "" if v is None else str(v)) for v in values
        ]

    return column


def _rendered(value: Any) -> Column:
    """Any other value: rendered per customer, then written as JSON."""
    render = compile_value(value)
    to_text = encode_basestring if isinstance(value, Template) else _json_text

    def column(journeys: Sequence[Journey], scope_of: ScopeOf, failures: Failures) -> list[str]:
        texts = []
        for position, journey in enumerate(journeys):
            try:
                texts.append(to_text(render(journey.customer, journey.data, scope_of(journey))))
            except SluisError as exc:
                failures.setdefault(position, exc)
                texts.append("")
        return texts

    return column


def _json_text(value: Any) -> str:
    return json_body(value).decode()
