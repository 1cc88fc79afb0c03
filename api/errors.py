"""How errors become answers: a JSON body that says what is wrong and how to fix it, never a
traceback. Field problems answer 422 in FastAPI's shape (``detail``: a list of ``loc``,
``msg``, ``type``; at most ``MAX_PROBLEMS`` of them, without echoing the input, so a large bad
body never draws a larger answer); everything else answers ``{"detail": "..."}``.

Database errors arrive as the store's ``StoreError``s (``engine/store/db.py`` judges them): a
transient one (``StoreUnavailable``: the server unreachable or shutting down, too many
connections, a deadlock, SQLite busy) answers 503 with ``Retry-After``; a permanent one never
does, since senders would retry it forever: a taken unique value is 409, a value the database
cannot hold 422, anything else 500 saying a retry will not help.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from inspect import isawaitable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

from api.answers import JSONResponse
from api.models import Message
from api.services import Exists, Invalid, NotFound
from engine.errors import (
    AccessError,
    DatabaseError,
    FlowError,
    InputError,
    SluisError,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    StoreValueRejected,
)
from engine.runtime.deploys import DeployRefused
from engine.webhooks.payload import PayloadError, PayloadProblem
from engine.webhooks.receive import FlowNotStarted

log = logging.getLogger("sluis.api")

# the error answers every route may give, for the OpenAPI document
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no token, or a token that does not work (the reason says why)"},
    403: {"description": "a webhook token used outside its webhook"},
    400: {"model": Message, "description": "the body is nested deeper than api.max_json_depth"},
    413: {"model": Message, "description": "the body is larger than api.max_body_bytes"},
    415: {"model": Message, "description": "a body that is not sent as application/json"},
    431: {"model": Message, "description": "headers larger than api.max_header_bytes"},
}
MAX_PROBLEMS = 20


class BodyRefused(Exception):
    """A body refused as a whole, before its fields are looked at (400, 413 or 415)."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


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
    return _listed([(loc, msg, kind) for loc, msg, kind in exc.problems])


def _listed(problems: Sequence[tuple[Sequence[Any], str, str]]) -> JSONResponse:
    detail: list[dict[str, Any]] = [
        {"loc": [_short(part) for part in loc], "msg": msg, "type": kind}
        for loc, msg, kind in problems[:MAX_PROBLEMS]
    ]
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        detail.append(
            {"loc": ["body"], "msg": f"and {more} more problems not listed", "type": "more"}
        )
    return JSONResponse({"detail": detail}, status_code=422)


def _short(part: Any) -> Any:
    return part[:100] + "..." if isinstance(part, str) and len(part) > 100 else part


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _listed([(e["loc"], e["msg"], e["type"]) for e in exc.errors()])


def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyRefused)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


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
    if isinstance(exc, (FlowNotStarted, DeployRefused, FlowError)):
        status = 409  # the flow's state (or its file) stands in the way, not the request
    elif isinstance(exc, InputError):
        return _problems(_, FieldProblems([(("body",), str(exc), "value_error")]))
    elif isinstance(exc, StoreError):
        return _database(_, exc)
    else:
        status = 400
    return JSONResponse({"detail": str(exc)}, status_code=status)


def lost_race(exc: BaseException) -> bool:
    """Whether a write failed on a unique value another writer stored first (a retry sees
    the winner's row)."""
    return isinstance(exc, StoreConflict)


def _integrity(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreConflict)
    if "external_id" in exc.detail.lower():
        message = "another customer has this external_id; external_ids are unique"
    else:
        message = "this conflicts with data stored meanwhile (a unique value is taken); retry"
    return JSONResponse({"detail": message}, status_code=409)


def _data(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreValueRejected)
    message = f"a value cannot be stored: {exc.detail}"  # a data exception or program limit
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
    """A database error that a retry does not mend: never 503, since senders would retry it
    forever."""
    assert isinstance(exc, DatabaseError)
    log.error("database refused a request: %s", exc.detail)
    return JSONResponse(
        {
            "detail": "the database refused this request, and would again: "
            f"{exc.detail}; retrying will not help, report it to the operator"
        },
        status_code=500,
    )


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _methods(request)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _route_methods(app: Any) -> list[tuple[re.Pattern[str], set[str]]]:
    """Each route's path pattern with its methods, made once per app."""
    found: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "methods", None)
    if found is None:
        found = [
            (compile_path(context.path)[0], set(context.methods))
            for context in iter_route_contexts(app.routes)
            if context.path and context.methods
        ]
        app.state.methods = found
    return found


def _methods(request: Request) -> Response:
    """405 naming every method of the path (Starlette's names those of the first route that
    matched it), or to OPTIONS, 204 with the same ``Allow``."""
    allowed = {"OPTIONS"}
    for pattern, methods in _route_methods(request.app):
        if pattern.match(request.url.path):
            allowed.update(methods)
    allow = ", ".join(sorted(allowed))
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": allow})
    detail = f"{request.method} is not a method of {request.url.path}; use one of: {allow}"
    return JSONResponse({"detail": detail}, status_code=405, headers={"Allow": allow})


async def send_error(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer ``exc``, raised by plain ASGI in front of FastAPI's routing, as the app's
    exception handlers answer it (the nearest class, as Starlette looks them up); raises it
    again where none does."""
    handlers: dict[Any, Callable[..., Any]] = scope["app"].exception_handlers
    handler = next((handlers[k] for k in type(exc).__mro__ if k in handlers), None)
    if handler is None:
        raise exc
    request = Request(scope, receive)
    response = handler(request, exc)
    if isawaitable(response):
        response = await response
    await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(FieldProblems, _problems)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(BodyRefused, _refused)
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
