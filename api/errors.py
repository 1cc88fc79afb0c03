"""How errors become answers: a JSON body that says what is wrong and how to fix it, never a
traceback. Field problems answer 422 in FastAPI's shape (``detail``: a list of ``loc``,
``msg``, ``type``); everything else answers ``{"detail": "..."}``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.services import Exists, Invalid, NotFound
from engine.errors import (
    AccessError,
    DatabaseError,
    InputError,
    SluisError,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    StoreValueRejected,
)
from engine.webhooks.payload import PayloadError, PayloadProblem
from engine.webhooks.receive import FlowNotStarted

log = logging.getLogger("sluis.api")

# the error answers every route may give, for the OpenAPI document
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no token, or a token that does not work (the reason says why)"},
    403: {"description": "a webhook token used outside its webhook"},
    413: {"description": "the body is larger than api.max_body_bytes"},
}


class FieldProblems(Exception):
    """Problems with named fields of a request, answered as 422."""

    def __init__(self, problems: Sequence[tuple[tuple[str | int, ...], str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(p[1] for p in self.problems))


def field_problem(loc: tuple[str | int, ...], message: str, kind: str = "value_error") -> Exception:
    """One 422 problem at ``loc`` (such as ``("body", "email")``)."""
    return FieldProblems([(loc, message, kind)])


def from_payload(exc: PayloadError, where: str = "body") -> FieldProblems:
    """A payload's problems as 422 problems located in the request's ``where``."""
    problems: list[PayloadProblem] = exc.problems
    return FieldProblems([((where, *p.loc), p.message, p.kind) for p in problems])


def _problems(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FieldProblems)
    detail = [{"loc": list(loc), "msg": msg, "type": kind} for loc, msg, kind in exc.problems]
    return JSONResponse({"detail": detail}, status_code=422)


def _payload(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayloadError)
    return _problems(request, from_payload(exc))


def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Invalid)
    return _problems(request, field_problem(("body", exc.field), str(exc), exc.kind))


def _not_found(_: Request, exc: Exception) -> JSONResponse:
    status = 404 if isinstance(exc, NotFound) else 409
    return JSONResponse({"detail": str(exc)}, status_code=status)


def _access(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccessError)
    headers = {"WWW-Authenticate": 'Bearer realm="sluis"'} if exc.status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)


def _sluis(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, FlowNotStarted):
        status = 409
    elif isinstance(exc, InputError):
        return _problems(_, FieldProblems([(("body",), str(exc), "value_error")]))
    elif isinstance(exc, StoreError):
        log.error("store error: %s", exc)
        status = 503
    else:
        status = 400
    return JSONResponse({"detail": str(exc)}, status_code=status)


def _integrity(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreConflict)
    text = exc.detail.lower()
    if "external_id" in text:
        message = "another customer has this external_id; external_ids are unique"
    else:
        message = "this conflicts with data stored meanwhile (a unique value is taken); retry"
    return JSONResponse({"detail": message}, status_code=409)


def _data(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreValueRejected)
    message = f"a value cannot be stored: {exc.detail}"
    return _problems(request, FieldProblems([(("body",), message, "value_error")]))


def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreUnavailable)
    log.error("database unavailable: %s", exc.detail)
    return JSONResponse(
        {"detail": "the database is unavailable or busy; retry shortly"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def _database(_: Request, exc: Exception) -> JSONResponse:
    # a fault a retry does not mend (a schema that does not match, a bug): not a
    # StoreError's 503 but the server error it is, answered and logged by the server
    raise exc


def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(FieldProblems, _problems)
    app.add_exception_handler(PayloadError, _payload)
    app.add_exception_handler(AccessError, _access)
    app.add_exception_handler(Invalid, _invalid)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Exists, _not_found)
    app.add_exception_handler(SluisError, _sluis)
    app.add_exception_handler(DatabaseError, _database)
    app.add_exception_handler(StoreConflict, _integrity)
    app.add_exception_handler(StoreValueRejected, _data)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(HTTPException, _http)
