"""The one exception tree of sluis.

Everything a user can cause raises a ``SluisError`` whose message names the problem and the fix;
the CLI prints it as one line (no traceback) and exits non-zero. Errors from libraries (httpx,
paramiko, smtplib, SQLAlchemy) are translated at the boundary with ``raise ... from exc``.

    SluisError
    ├── ProjectError        sluis.yaml missing or wrong
    ├── FlowError           a flow file is invalid (carries every Problem found)
    ├── ExpressionError     an expression does not parse or cannot be evaluated
    ├── TemplateError       a template does not parse or cannot be rendered
    ├── LocationError       a location is malformed, unknown or escapes its folder
    ├── InputError          bad input data: a CSV, a payload, a command-line value
    ├── StoreError          the database refused or is unreachable
    │   └── DatabaseError   a statement failed in the database (translated from SQLAlchemy
    │       │               at the store's boundary, ``engine.store.db``); as such: a fault
    │       ├── StoreUnavailable    connection lost, database locked or busy: try again
    │       ├── StoreConflict       a unique or foreign key constraint: data stored meanwhile
    │       └── StoreValueRejected  a value the column does not take (too long, out of range)
    ├── AccessError         an API token or signature is missing, wrong, revoked or expired
    └── EffectError         an outside effect failed (mail, HTTP, files)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SluisError(Exception):
    """Base of every error a user can cause; its message is meant to be read by a person."""

    exit_code = 1


class ProjectError(SluisError):
    """The project file is missing or invalid."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One validation problem at a place in a file."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class FlowError(SluisError):
    """A flow file is invalid; ``problems`` holds every problem found, in file order, and
    ``warnings`` what else would fail at run time (an unset ``${VAR}``), as a valid flow's."""

    exit_code = 2

    def __init__(self, problems: list[Problem], warnings: Sequence[Problem] = ()) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column))
        self.warnings = list(warnings)
        super().__init__("\n".join(str(p) for p in self.problems))


class ExpressionError(SluisError):
    """An expression is malformed; ``offset`` is the 0-based position in its source."""

    def __init__(self, message: str, offset: int = 0) -> None:
        self.offset = offset
        super().__init__(message)


class TemplateError(SluisError):
    """A template is malformed or failed to render."""

    def __init__(self, message: str, line: int = 1) -> None:
        self.line = line
        super().__init__(message)


class LocationError(SluisError):
    """A location is malformed, names an unknown connection, or escapes its folder."""


class InputError(SluisError):
    """Input data (CSV, payload, option) is wrong."""

    exit_code = 2


class StoreError(SluisError):
    """The database could not do what was asked."""


class DatabaseError(StoreError):
    """A statement failed in the database. Raised as such for faults a retry does not mend
    (a schema that does not match, a bug); ``engine.store.db`` translates SQLAlchemy's errors
    into it and its subclasses, so no module outside ``engine.store`` names them. ``detail``
    is the database's own first line."""

    def __init__(self, message: str, detail: str = "") -> None:
        self.detail = detail or message
        super().__init__(message)


class StoreUnavailable(DatabaseError):
    """The database cannot be reached, or is locked or busy: the same work may succeed in a
    moment."""


class StoreConflict(DatabaseError):
    """A unique or foreign key constraint refused a row (another writer got there first)."""


class StoreValueRejected(DatabaseError):
    """The database refused a value for its column (too long, out of range, wrong type)."""


class AccessError(SluisError):
    """A request's credentials were refused; ``status`` is 401 (who are you?) or 403 (not
    for this)."""

    def __init__(self, message: str, status: int = 401) -> None:
        self.status = status
        super().__init__(message)


class EffectError(SluisError):
    """An outside effect (mail, HTTP, files) failed."""


class TransientError(EffectError):
    """An outside effect failed in a way that may pass (a connection lost or not made): an
    object with ``retries`` / ``backoff`` settings tries again later (DESIGN.md 8).
    ``later``: the seconds to wait at least (a ``Retry-After`` the other side gave)."""

    def __init__(self, message: str, *, later: float | None = None) -> None:
        super().__init__(message)
        self.later = later
