"""Function calls in SQL: ``days_since``, ``days_until``, ``hours_since``, ``lower``,
``upper``, ``len``, ``exists``, ``date``, with Python's answers (whole days and hours rounded
down; null in, null out)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.model.expressions import tree
from engine.store.sqlexpr.compiler import KIND_NAMES, NotCompilable, Sql, groups_of

if TYPE_CHECKING:
    from engine.store.sqlexpr.compiler import Compiler

_DAY, _HOUR = 86_400, 3_600


def call(c: Compiler, node: tree.Call) -> Sql:
    name = node.name
    argument = _argument(c, node)
    if name == "exists":
        return _exists(c, argument)
    if argument.kind == "null":
        return Sql("NULL", "null")
    if name in ("days_since", "days_until", "hours_since"):
        return _clock(c, name, argument, node)
    if name in ("lower", "upper"):
        _need(argument, ("text",), name, node)
        return Sql(c.dialect.case_fold(name, argument.text), "text")
    if name == "len":
        if argument.kind == "groups":
            return Sql(f"(SELECT count(*) FROM ({groups_of()}) AS mine)", "num")
        _need(argument, ("text",), name, node)
        return Sql(f"length({argument.text})", "num")
    if name == "date":
        _need(argument, ("date", "datetime"), name, node)
        if argument.kind == "date":
            return argument
        return Sql(c.dialect.date_of(argument.text, argument.iso), "date")
    raise NotCompilable(f"{name}() cannot run in the database", node.offset)


def _argument(c: Compiler, node: tree.Call) -> Sql:
    """The argument; constant text given to a time function is read as ISO 8601."""
    argument = node.argument
    clock = node.name in ("days_since", "days_until", "hours_since")
    if clock and isinstance(argument, tree.Const) and isinstance(argument.value, str):
        moment = _iso(argument.value)
        if moment is None:
            raise NotCompilable(f"{node.name}() needs a date, not text", node.offset)
        return c.constant(moment, argument)
    return c.value(argument)


def _iso(text: str) -> date | None:
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    return None


def _epoch(moment: datetime, *, whole: bool) -> int | Decimal:
    """Seconds since 1970, exact (whole seconds, rounded down, when ``whole``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    since = moment - datetime(1970, 1, 1, tzinfo=UTC)
    seconds = since.days * _DAY + since.seconds
    return seconds if whole else seconds + Decimal(since.microseconds) / 1_000_000


def _need(argument: Sql, kinds: tuple[str, ...], name: str, node: tree.Node) -> None:
    if argument.kind not in kinds:
        wanted = " or ".join(KIND_NAMES[kind] for kind in kinds)
        raise NotCompilable(
            f"{name}() needs {wanted}, not {KIND_NAMES[argument.kind]}", node.offset
        )


def _exists(c: Compiler, argument: Sql) -> Sql:
    if argument.kind == "null":
        return Sql(c.dialect.false(), "bool")
    if argument.kind == "groups":
        return Sql(c.dialect.true(), "bool")
    if argument.kind == "text":
        return Sql(f"({argument.text} IS NOT NULL AND {argument.text} <> '')", "bool")
    return Sql(f"({argument.text} IS NOT NULL)", "bool")


def _clock(c: Compiler, name: str, argument: Sql, node: tree.Node) -> Sql:
    _need(argument, ("date", "datetime"), name, node)
    dialect = c.dialect
    if name != "hours_since" and argument.kind == "date":
        today = dialect.day_number(c.bind(c.today, "date").text)
        moment = dialect.day_number(argument.text)
        days = f"({today} - {moment})" if name == "days_since" else f"({moment} - {today})"
        return Sql(days, "num")
    if argument.kind == "date":  # hours since midnight in the time zone of now
        now = c.bind(c.now, "datetime")
        argument = Sql(dialect.midnight(argument.text, now.text, True), "datetime")
    now_seconds = c.bind(_epoch(c.now, whole=not dialect.postgres), "num").text
    seconds = dialect.epoch(argument.text, argument.iso)
    if name == "days_until":
        return Sql(dialect.floor_div(f"{seconds} - {now_seconds}", _DAY), "num")
    step = _DAY if name == "days_since" else _HOUR
    return Sql(dialect.floor_div(f"{now_seconds} - {seconds}", step), "num")
