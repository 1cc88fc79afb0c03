"""Customer lookups by key (``GET /api/v1/customers?email=...`` or ``?external_id=...``), the
call a shop's code makes on every order, served by plain ASGI in front of FastAPI, as webhook
calls are (``api.routes.webhooks.Receiver``): FastAPI's routing, dependency injection and
parameter validation cost more CPU than the lookup itself, and its thread pool hand-off more
than the loop's own executor's.

``Lookups`` answers only a call it can answer exactly as the FastAPI route would: one query
parameter, ``email`` or ``external_id``, within its length, and a token allowed to read
customers. Every other call (more parameters, a bad or refused token) goes on to the route
(``api.routes.customers.list_customers``), which answers it and documents this one in the
OpenAPI document. Both check the token with ``api.deps.rest_access`` and look up with
``find_customers``.
"""

from __future__ import annotations

from functools import partial

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from api.answers import model_answer
from api.deps import rest_access
from api.errors import send_error
from api.routes.customers import MAX_EMAIL, MAX_EXTERNAL_ID, find_customers
from api.state import AppState
from engine.errors import AccessError

PATH = "/api/v1/customers"
KEYS = {"email": MAX_EMAIL, "external_id": MAX_EXTERNAL_ID}


def _key(scope: Scope) -> tuple[str, str] | None:
    """The (name, value) of a lookup ``Lookups`` serves, else None."""
    if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != PATH:
        return None
    given = QueryParams(scope["query_string"]).multi_items()
    if len(given) != 1:
        return None
    name, value = given[0]
    if name not in KEYS or len(value) > KEYS[name]:
        return None
    return name, value


class Lookups:
    """ASGI middleware that serves customer lookups by key and passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        state: AppState = scope["app"].state.sluis
        try:
            await rest_access(state, scope)
        except AccessError:
            await self.app(scope, receive, send)  # the route answers why not
            return
        name, value = key
        lookup = partial(
            find_customers,
            state,
            email=value if name == "email" else None,
            external_id=value if name == "external_id" else None,
        )
        try:
            found = await state.read(lookup)
        except Exception as exc:
            await send_error(scope, receive, send, exc)
            return
        await model_answer(found)(scope, receive, send)
