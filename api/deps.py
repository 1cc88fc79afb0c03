"""Dependencies of the routes, as ``Annotated`` types: the app state, and the access of a
general API token (``AccessDep``), which also records the user's activity."""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import Scope

from api.errors import FieldProblems
from api.security import token_from
from api.state import TOKEN_TTL, AppState
from engine.errors import AccessError
from engine.store.scopes import refusal
from engine.store.tokens import Access, check_token, token_hash, touch_user

MISSING_TOKEN = (
    "missing token: send 'Authorization: Bearer TOKEN'; an operator makes one with "
    "'sluis token create --user NAME'"
)


async def get_state(request: Request) -> AppState:
    # async, as every dependency of the API's routes that needs no thread: FastAPI runs a
    # plain def in the thread pool, a hand-off that costs more than most of a call does
    state: AppState = request.app.state.sluis
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def authenticate(state: AppState, token: str) -> Access:
    """Check a token in the store and record its user's activity (at most once a minute);
    the access is trusted for ``TOKEN_TTL`` seconds from now."""
    now = state.runtime.clock.now()
    with state.store.db.read() as conn:
        access = check_token(conn, token, now)
    if access.stale:
        with state.write() as conn:
            touch_user(conn, access.user_id, now, access.token_id)
    if len(state.tokens) > 10_000:
        state.tokens.clear()
    state.tokens[token_hash(token)] = (monotonic(), access)
    return access


def _checking(state: AppState, token: str, key: str) -> asyncio.Future[Access]:
    """The check of ``token`` (hashed: ``key``) in the thread pool: the one in flight, or a
    new one."""
    pending = state.checking.get(key)
    if pending is None:
        pending = asyncio.ensure_future(run_in_threadpool(authenticate, state, token))
        state.checking[key] = pending

        def done(check: asyncio.Future[Access]) -> None:
            state.checking.pop(key, None)
            if not check.cancelled():
                check.exception()  # retrieved, also when every caller went away

        pending.add_done_callback(done)
    return pending


async def check_once(state: AppState, token: str) -> Access:
    """``authenticate`` from the event loop: concurrent calls with one token wait for one
    check in the thread pool instead of each making their own. A token in use is checked
    again when half its ``TOKEN_TTL`` has passed, while calls go on with the check they
    have, so a busy caller never waits for one (each wait held up every call in flight
    with that token: the p99 of lookups); a revocation still takes effect within
    ``TOKEN_TTL``."""
    key = token_hash(token)
    seen = state.tokens.get(key)
    if seen is not None:
        age = monotonic() - seen[0]
        if age <= TOKEN_TTL:
            if age > TOKEN_TTL / 2:
                _checking(state, token, key)
            return seen[1]
    # shielded: a caller that goes away does not cancel the check the others wait for
    return await asyncio.shield(_checking(state, token, key))


async def rest_access(state: AppState, scope: Scope) -> Access:
    """The access of a REST call (an ASGI ``scope``): a general token (webhook tokens reach
    only their webhook) with the scope its path and method need. Names the token's user in
    ``scope["state"]`` for the access log."""
    token = token_from(Headers(scope=scope).get("authorization"))
    if token is None:
        raise AccessError(MISSING_TOKEN)
    access = await check_once(state, token)
    scope.setdefault("state", {})["user"] = access.user
    if access.webhook is not None:
        raise AccessError(
            f"token {access.token_id} is for webhook '{access.webhook}' only; the REST API "
            "needs a general token ('sluis token create --user NAME' without --webhook)",
            status=403,
        )
    resource = resource_of(scope["path"])
    write = scope["method"] not in ("GET", "HEAD", "OPTIONS")
    if not access.allows(resource, write):
        raise AccessError(refusal(resource, write), status=403)
    return access


async def api_access(request: Request, state: StateDep) -> Access:
    """The REST routes' check of their caller (``rest_access``)."""
    return await rest_access(state, request.scope)


# the first part of a path under /api/v1 -> the resource a token's scopes name
RESOURCE_OF = {"events": "flows", "users": "admin", "tokens": "admin"}


def resource_of(path: str) -> str:
    """The resource of a REST path (``/api/v1/customers/7`` -> ``customers``)."""
    part = path.removeprefix("/api/v1/").split("/", 1)[0]
    return RESOURCE_OF.get(part, part)


AccessDep = Annotated[Access, Depends(api_access)]


async def strict_query(request: Request) -> None:
    """Refuse query parameters the route does not know (``?customr=1`` would otherwise be
    ignored and the call answer for everything), naming the known ones."""
    route = request.scope.get("route")
    if route is None or not request.query_params:
        return
    known = known_query(route)
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        shown = ", ".join(sorted(known)) or "none"
        raise FieldProblems(
            [
                (
                    ("query", name),
                    f"unknown query parameter '{name}'; known: {shown}",
                    "extra_forbidden",
                )
                for name in unknown
            ]
        )


def known_query(route: Any) -> frozenset[str]:
    found: frozenset[str] | None = getattr(route, "_sluis_query", None)
    if found is None:
        found = frozenset(_query_names(route.dependant))
        route._sluis_query = found
    return found


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias or p.name for p in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return names
