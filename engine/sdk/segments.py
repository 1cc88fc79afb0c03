"""``SegmentText``: an expression that chooses customers in the database (a selection's
``where``). Besides the checks of ``ExpressionText`` it must compile to SQL: a construct the
database cannot run is a validation error naming it, not a slow path found in production.
``Segment``: what a start object that fires on such an expression lets in (see
``CampaignObject.segment``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, ValidationInfo
from pydantic.functional_validators import PlainValidator

from engine.errors import ExpressionError
from engine.model.expressions import Expression
from engine.model.settings import _expression, _fail, _text_schema, project_of


def _segment(value: Any, info: ValidationInfo) -> Expression:
    from engine.store.sqlexpr import check, fields_of

    expr = _expression(value, info)
    project = project_of(info)
    try:
        if project is not None:
            check(expr, *fields_of(project))
        elif not any(ref.path[0] == "records" for ref in expr.references):
            check(expr, {})
    except ExpressionError as exc:
        raise _fail(f"cannot run in the database: {exc}", exc.offset) from None
    return expr


SegmentText = Annotated[
    Expression,
    PlainValidator(_segment),
    PlainSerializer(str),
    _text_schema('an expression run in the database, e.g. customer.country == "NL"'),
]


@dataclass(frozen=True)
class Segment:
    """The customers (of ``group``, when given) for whom ``where`` holds (all, when None),
    chosen in the database."""

    where: Expression | None = None
    group: str | None = None
