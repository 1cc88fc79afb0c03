"""``/soap``: the WSDL (``GET /soap?wsdl``) and the operations (``POST /soap``, SOAP 1.1,
document/literal).

Why no SOAP library: spyne, the one Python SOAP server on the package lists, generates its
WSDL from Python classes, so it cannot serve Deployteq's WSDL with its names and order as
they are, and it is barely maintained. The WSDL is served as a file; requests are read with
lxml by that WSDL's schema (``envelope.py``), which checks each element and type.

``POST /soap`` is answered by plain ASGI in front of FastAPI (``SoapCalls``), as customer
lookups by key are (``api.lookups``): FastAPI's routing and request handling cost more CPU than
a lookup through SOAP does otherwise; the route stays for the WSDL.

The token is the ``uuid`` element of every request; its scopes name the resource of the
operation (``customer_*``: customers, ``group_*``: groups, ``campaign_*``: flows,
``email_*``: mails). Every other operation of the WSDL answers a fault saying sluis does not
support it.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api import services
from api.deps import check_once
from api.errors import send_error
from api.soap import groups as _groups  # noqa: F401  (registers the group operations)
from api.soap.envelope import Fault, answer, fault, read_request
from api.soap.operations import OPERATIONS
from api.soap.wsdl import served_wsdl
from api.state import AppState
from engine.errors import AccessError, InputError, SluisError, StoreConflict, StoreError
from engine.store.scopes import refusal
from engine.webhooks.payload import PayloadError

log = logging.getLogger("sluis.api")
router = APIRouter(include_in_schema=False)
XML = "text/xml; charset=utf-8"
INTERNAL = Fault("sluis failed to answer this call; the server's log says why", client=False)


@router.get("/soap")
async def wsdl(request: Request) -> Response:
    """The WSDL, with this server's /soap as the address."""
    address = str(request.url.replace(query="", fragment=""))
    return Response(served_wsdl(address), media_type=XML)


async def _call(state: AppState, scope: Scope, body: bytes) -> bytes:
    """The answer to one call. The envelope is read and written, and the token checked
    (``api.deps.check_once``, as REST's), on the event loop; a lookup by key runs as REST's
    lookups do (``AppState.read``), any other operation in the loop's executor (a cheaper
    hand-off than FastAPI's thread pool, as in ``api.lookups``): lxml in a thread gives up
    the interpreter lock while it parses and then waits to get it back from the loop, which
    costs more than the parse."""
    operation, params = read_request(body)
    found = OPERATIONS.get(operation)
    token = params.get("uuid")
    if not token:
        raise Fault("missing element 'uuid': send an API token of this server as uuid")
    try:
        access = await check_once(state, token)
    except AccessError as exc:
        raise Fault(str(exc)) from None
    scope.setdefault("state", {})["user"] = access.user  # for the access log
    if access.webhook is not None:
        raise Fault(f"token {access.token_id} is for webhook '{access.webhook}' only")
    if found is None:
        raise Fault(
            f"sluis does not support {operation}; supported: " + ", ".join(sorted(OPERATIONS)),
            client=False,
        )
    if not access.allows(found.resource, found.writes):
        raise Fault(refusal(found.resource, found.writes))
    if found.by_key:
        msg = await state.read(lambda: found.handler(state, params))
    else:
        msg = await asyncio.get_running_loop().run_in_executor(None, found.handler, state, params)
    return answer(operation, msg)


def _fault_of(exc: Exception) -> Fault:
    if isinstance(exc, Fault):
        return exc
    if isinstance(exc, PayloadError):
        return Fault("; ".join(f"{'.'.join(map(str, p.loc))}: {p.message}" for p in exc.problems))
    if isinstance(exc, StoreConflict):
        return Fault("another customer has this externalId; externalIds are unique")
    if isinstance(exc, services.NotFound | services.Exists | InputError):
        return Fault(str(exc))
    if isinstance(exc, StoreError):
        log.error("store error: %s", exc)
        return Fault("the database is unavailable or busy; retry shortly", client=False)
    return Fault(str(exc), client=False)


async def _body(receive: Receive) -> bytes | None:
    """The request's body, or None when the client went away first."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


class SoapCalls:
    """ASGI middleware that answers ``POST /soap`` (one SOAP 1.1 call) and passes everything
    else on. What is neither a fault nor answered goes to the app's exception handlers
    (``api.errors.send_error``), as it would from a route; what none handles (a bug) is
    logged and answered as a Server fault."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/soap":
            await self.app(scope, receive, send)
            return
        state: AppState = scope["app"].state.sluis
        try:
            body = await _body(receive)
            if body is None:
                return
            answered = await _call(state, scope, body)
        except (Fault, SluisError) as exc:
            response = Response(fault(_fault_of(exc)), status_code=500, media_type=XML)
        except Exception as exc:
            try:
                await send_error(scope, receive, send, exc)
                return
            except Exception:  # no handler: a fault of sluis, answered as SOAP clients expect
                log.exception("SOAP call failed")
                response = Response(fault(INTERNAL), status_code=500, media_type=XML)
        else:
            response = Response(answered, media_type=XML)
        await response(scope, receive, send)
