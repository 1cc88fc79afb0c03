"""What differs between SQLite (JSON1) and PostgreSQL (jsonb/json) when an expression becomes
SQL: how a profile field is read, how parameters are typed, time arithmetic.

A profile field is read from its typed column (``typed_column``: a generated column the store
keeps per field of ``sluis.yaml``, see ``engine.store.profile_columns``) where the customers
table has one, else from the JSON by the very expression that column is generated from
(``json_field``), so both give the same answers."""

from __future__ import annotations

import re
from dataclasses import dataclass

# customer fields stored in columns of their own, with their expression kinds
COLUMNS: dict[str, str] = {
    "system_id": "num",
    "external_id": "text",
    "email": "text",
    "timezone": "text",
    "unsubscribed": "bool",
    "bounced": "text",
    "created_at": "datetime",
    "updated_at": "datetime",
}
# profile field types (sluis.yaml) as expression kinds
KINDS: dict[str, str] = {
    "str": "text",
    "int": "num",
    "float": "num",
    "decimal": "num",
    "bool": "bool",
    "date": "date",
    "datetime": "datetime",
}


# the numbers JSON and Python's decimals write (exponents PostgreSQL's numeric holds)
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]{1,4})?$"
# SQL types of typed profile columns on PostgreSQL (SQLite columns take the JSON's values)
PG_TYPES: dict[str, str] = {"num": "numeric", "bool": "boolean"}


# a bound value as ``param`` gives it for text (dates and date-times travel as text)
_BOUND_TEXT = re.compile(r"CAST\((:x\d+) AS text\)")


def typed_column(field: str, kind: str) -> str:
    """The name of a profile field's typed column (its type in the name: a changed type is
    a new column)."""
    return f"profile_{field}_{kind}"


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite" or "postgresql"

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def profile_field(self, field: str, kind: str, alias: str = "c", typed: bool = False) -> str:
        """A profile field's value, from its typed column when ``typed`` (the customers table
        has it); datetimes stay ISO text (see ``instant``)."""
        prefix = f"{alias}." if alias else ""
        if typed:
            return prefix + typed_column(field, kind)
        return self.json_field(prefix + "profile", field, kind, total=True)

    def json_field(self, column: str, field: str, kind: str, total: bool = False) -> str:
        """A typed field of a JSON column (profile, a record's data). ``total``: on PostgreSQL
        it never fails, as a generated column's expression must not (a value that is not of
        the field's type, left from before a type change, reads as null); profile fields are
        read so, from the JSON as from their typed columns."""
        if not self.postgres:
            extract = f"json_extract({column}, '$.{field}')"
            return f"CAST({extract} AS REAL)" if kind == "decimal" else extract
        value = f"({column} ->> '{field}')"
        if kind in ("int", "float", "decimal"):
            if total:
                return f"(CASE WHEN {value} ~ '{_NUMBER}' THEN CAST({value} AS numeric) END)"
            return f"CAST({value} AS numeric)"
        if kind == "bool":
            if total:
                return f"(CASE {value} WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END)"
            return f"CAST({value} AS boolean)"
        return value

    def param(self, placeholder: str, kind: str) -> str:
        """A bound value; PostgreSQL is told its type (dates and date-times travel as text)."""
        if not self.postgres:
            return placeholder
        sql_type = {"num": "numeric", "bool": "boolean"}.get(kind, "text")
        return f"CAST({placeholder} AS {sql_type})"

    def json_has(self, column: str, field: str) -> str:
        """Whether a JSON object has the key (its value may be null)."""
        if self.postgres:
            return f"(json_typeof({column} -> '{field}') IS NOT NULL)"
        return f"(json_type({column}, '$.{field}') IS NOT NULL)"

    def column_text(self, column: str, kind: str) -> str:
        """A column as the ISO text JSON holds (for a field that may come from either)."""
        if kind != "datetime" or not self.postgres:
            return column
        return f"(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00')"

    def binary(self, text: str) -> str:
        """Text that orders by code point, as Python does."""
        return f'({text} COLLATE "C")' if self.postgres else text

    def true(self) -> str:
        return "TRUE"

    def false(self) -> str:
        return "FALSE"

    def instant(self, value: str, text: bool) -> str:
        """A date-time made comparable: text in UTC on SQLite, timestamptz on PostgreSQL.
        ``text`` says whether the value is ISO text (profile fields, parameters) or a column."""
        if not self.postgres:
            return f"strftime('%Y-%m-%dT%H:%M:%f+00:00', {value})"
        if not text:
            return value
        bound = _BOUND_TEXT.fullmatch(value)
        if bound is not None:  # a parameter read as timestamptz once, not cast on every row
            return f"CAST({bound[1]} AS timestamptz)"
        return f"CAST({value} AS timestamptz)"

    def epoch(self, value: str, text: bool) -> str:
        """Seconds since 1970 of a date-time (whole seconds on SQLite)."""
        if not self.postgres:
            return f"CAST(strftime('%s', {value}) AS INTEGER)"
        return f"extract(epoch from {self.instant(value, text)})"

    def floor_div(self, value: str, by: int) -> str:
        if self.postgres:
            return f"CAST(floor(({value}) / {by}) AS bigint)"
        # SQLite's integer division truncates: step down for negative remainders
        return f"((({value}) - (((({value}) % {by}) + {by}) % {by})) / {by})"

    def day_number(self, value: str) -> str:
        """Days since a fixed day, of ISO date text."""
        if self.postgres:
            return f"(CAST({value} AS date) - DATE '2000-01-01')"
        return f"CAST(julianday({value}) - 2451544.5 AS INTEGER)"

    def midnight(self, day: str, like: str, like_text: bool) -> str:
        """Midnight of ISO date text ``day`` in the time zone of date-time ``like``."""
        if not self.postgres:
            return f"({day} || 'T00:00:00' || substr({like}, -6))"
        if like_text:
            return f"({day} || 'T00:00:00' || right({like}, 6))"
        return f"to_char(CAST({day} AS date), 'YYYY-MM-DD') || 'T00:00:00+00:00'"

    def date_of(self, value: str, text: bool) -> str:
        """The date (ISO text) of a date-time, in its own time zone."""
        if text or not self.postgres:
            return f"substr({value}, 1, 10)"
        return f"to_char({value} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

    def divide(self, a: str, b: str) -> str:
        if self.postgres:
            return f"(CAST({a} AS numeric) / NULLIF({b}, 0))"
        return f"(CAST({a} AS REAL) / {b})"

    def contains_text(self, haystack: str, needle: str) -> str:
        function = "strpos" if self.postgres else "instr"
        return f"{function}({haystack}, {needle})"

    def order(self, op: str, a: str, b: str, kind: str) -> str:
        if kind == "text" and self.postgres and op != "=" and op != "<>":
            return f'({a} {op} {b} COLLATE "C")'
        return f"({a} {op} {b})"

    def case_fold(self, function: str, value: str) -> str:
        # SQLite's own lower()/upper() fold ASCII only; the store registers Python's
        return f"{function}({value})" if self.postgres else f"sluis_{function}({value})"
