"""Setting types that object settings models are built from.

Each type parses what the marketer wrote once, at validation, into the value the runtime uses
(an ``Expression``, a ``Template``, a ``timedelta``, a ``Location``), reports problems with the
offset inside the value where it can, and shows up as plain text in the JSON Schema. Checks that
need the project (profile fields, connections) read it from the validation context.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from engine.errors import ExpressionError, LocationError, TemplateError
from engine.model.durations import parse_duration
from engine.model.expressions import Expression
from engine.model.locations import Location, parse_location
from engine.model.recordnames import record_name_problem
from engine.model.schedule import check_cron
from engine.model.templates import Template
from engine.model.validation import did_you_mean

if TYPE_CHECKING:
    from engine.model.project import Project


def _fail(message: str, offset: int = -1) -> PydanticCustomError:
    return PydanticCustomError("sluis", "{message}", {"message": message, "offset": offset})


def project_of(info: ValidationInfo) -> Project | None:
    context = info.context or {}
    project: Project | None = context.get("project")
    return project


def _as_text(value: Any, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _fail(f"{what} must be text, not a {type(value).__name__}")


def check_customer_fields(expr: Expression, info: ValidationInfo) -> None:
    project = project_of(info)
    if project is None:
        return
    fields = project.customer_fields
    for ref in expr.references:
        if ref.path[0] == "customer" and len(ref.path) > 1 and ref.path[1] not in fields:
            name = ref.path[1]
            hint = did_you_mean(name, fields)
            raise _fail(
                f"unknown customer field '{name}'{hint}"
                + ("" if hint else "; add it to profile in sluis.yaml"),
                ref.offset + len("customer."),
            )


def check_record_names(expr: Expression, info: ValidationInfo) -> None:
    """``records.C`` and record fields against the datamodel (a bare field inside ``where``
    is reported at the name itself)."""
    project = project_of(info)
    if project is None:
        return
    for ref in expr.references:
        if ref.path[0] == "records" and len(ref.path) > 1:
            problem = record_name_problem(project, ref.path)
            if problem is not None:
                message, start = problem
                bare = not expr.source.startswith("records", ref.offset)
                raise _fail(message, ref.offset if bare else ref.offset + start)


def _expression(value: Any, info: ValidationInfo) -> Expression:
    if isinstance(value, Expression):
        return value
    try:
        expr = Expression.parse(_as_text(value, "an expression"))
    except ExpressionError as exc:
        raise _fail(f"expression error: {exc}", exc.offset) from None
    check_customer_fields(expr, info)
    check_record_names(expr, info)
    return expr


def _template(value: Any) -> Template:
    if isinstance(value, Template):
        return value
    try:
        return Template.parse(_as_text(value, "a template"))
    except TemplateError as exc:
        raise _fail(str(exc)) from None


def _checked_template(value: Any, info: ValidationInfo) -> Template:
    template = _template(value)
    check_template_records(template, info)
    return template


def check_template_records(template: Template, info: ValidationInfo) -> None:
    """``records.C`` and ``records.C[i].FIELD`` in a template against the datamodel."""
    project = project_of(info)
    if project is None:
        return
    for path in template.record_names:
        problem = record_name_problem(project, path)
        if problem is not None:
            raise _fail(f"template {template.source!r}: {problem[0]}")


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _cron(value: Any) -> str:
    try:
        return check_cron(_as_text(value, "a schedule"))
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _location(value: Any, info: ValidationInfo) -> Location:
    if isinstance(value, Location):
        return value
    project = project_of(info)
    connections = project.settings.connections if project else None
    try:
        location = parse_location(_as_text(value, "a location"), connections)
    except LocationError as exc:
        raise _fail(str(exc)) from None
    _template(location.path)
    return location


_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _customer_field(value: Any, info: ValidationInfo) -> str:
    name = _as_text(value, "a field name")
    project = project_of(info)
    if project is not None and name not in project.customer_fields:
        hint = did_you_mean(name, project.customer_fields)
        raise _fail(
            f"unknown customer field '{name}'{hint}"
            + ("" if hint else "; add it to profile in sluis.yaml")
        )
    return name


def _text_schema(description: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "description": description})


ExpressionText = Annotated[
    Expression,
    PlainValidator(_expression),
    PlainSerializer(str),
    _text_schema('an expression, e.g. customer.country == "NL"'),
]
TemplateText = Annotated[
    Template,
    PlainValidator(_checked_template),
    PlainSerializer(str),
    _text_schema("text with {{ ... }} templates"),
]


def _column_value(value: Any, info: ValidationInfo) -> Template | Expression:
    """An export column's ``value``: a template, or ``{{ EXPRESSION }}`` (a record aggregate
    such as ``{{ count(records.orders) }}``) checked like an expression."""
    from engine.files.exports import column_value

    if isinstance(value, Template | Expression):
        return value
    try:
        found = column_value(_as_text(value, "a column value"))
    except TemplateError as exc:
        raise _fail(str(exc)) from None
    if isinstance(found, Expression):
        check_customer_fields(found, info)
        check_record_names(found, info)
    else:
        check_template_records(found, info)
    return found


ColumnValueText = Annotated[
    Template | Expression,
    PlainValidator(_column_value),
    PlainSerializer(str),
    _text_schema(
        "text with {{ ... }} templates, or {{ EXPRESSION }} such as {{ count(records.orders) }}"
    ),
]
Duration = Annotated[
    timedelta,
    PlainValidator(_duration),
    PlainSerializer(lambda d: f"{int(d.total_seconds())}s"),
    _text_schema("a duration: 30s, 15m, 2h, 3d, 1w, 1d12h or ISO 8601 (P3D)"),
]
Cron = Annotated[str, BeforeValidator(_cron), _text_schema("a cron schedule, e.g. '0 9 * * 1'")]
LocationText = Annotated[
    Location,
    PlainValidator(_location),
    PlainSerializer(str),
    _text_schema("a path in the project, file:///abs/path or sftp://CONNECTION/path"),
]
CustomerField = Annotated[
    str, BeforeValidator(_customer_field), _text_schema("a customer field name")
]


class Settings(BaseModel):
    """Base of nested settings models (not objects): strict, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
