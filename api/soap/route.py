"""``/soap``: the WSDL (``GET /soap?wsdl``) and the operations (``POST /soap``, SOAP 1.1,
document/literal).

Why no SOAP library: spyne, the one Python SOAP server on the package lists, generates its
WSDL from Python classes, so it cannot serve Deployteq's WSDL with its names and order as
they are, and it is barely maintained. The WSDL is served as a file; requests are read with
lxml by that WSDL's schema (``envelope.py``), which checks each element and type.

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

from api import services
from api.deps import authenticate
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


@router.get("/soap")
async def wsdl(request: Request) -> Response:
    """The WSDL, with this server's /soap as the address."""
    address = str(request.url.replace(query="", fragment=""))
    return Response(served_wsdl(address), media_type=XML)


def _call(state: AppState, body: bytes) -> bytes:
    operation, params = read_request(body)
    found = OPERATIONS.get(operation)
    token = params.get("uuid")
    if not token:
        raise Fault("missing element 'uuid': send an API token of this server as uuid")
    try:
        access = authenticate(state, token)
    except AccessError as exc:
        raise Fault(str(exc)) from None
    if access.webhook is not None:
        raise Fault(f"token {access.token_id} is for webhook '{access.webhook}' only")
    if found is None:
        raise Fault(
            f"sluis does not support {operation}; supported: " + ", ".join(sorted(OPERATIONS)),
            client=False,
        )
    handler, resource, writes = found
    if not access.allows(resource, writes):
        raise Fault(refusal(resource, writes))
    return answer(operation, handler(state, params))


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


@router.post("/soap")
async def call(request: Request) -> Response:
    """One SOAP 1.1 call."""
    state: AppState = request.app.state.sluis
    body = await request.body()
    try:
        # the loop's executor: a cheaper hand-off than FastAPI's thread pool (api.lookups)
        answered = await asyncio.get_running_loop().run_in_executor(None, _call, state, body)
    except (Fault, SluisError) as exc:
        return Response(fault(_fault_of(exc)), status_code=500, media_type=XML)
    return Response(answered, media_type=XML)
