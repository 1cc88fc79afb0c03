"""``POST /webhooks/{endpoint}``: the webhook receiver. It authenticates the caller (an API
token, or an HMAC signature over the raw body), takes the body (capped by
``api.max_body_bytes`` before anything parses it), maps the payload to the customer and
records, and stores them and starts the flow in one transaction, once per event id.

A call to the webhook of a stopped flow answers 409 and stores nothing: the sender's retry
delivers it once the flow is started again.

Calls are served by ``Receiver``, plain ASGI in front of FastAPI's routing, dependency
injection and response validation, which cost more CPU than the rest of a call does. The
FastAPI route documents the receiver in the OpenAPI document and answers the same way (both
run ``take_call``), and the app's exception handlers answer errors on both paths.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.batching import GroupWriter
from api.deps import MISSING_TOKEN, check_once
from api.endpoints import Endpoint, follow_deploys
from api.errors import ERRORS, field_problem
from api.models import Message, WebhookReceipt
from api.security import token_from, verify_signature
from api.state import AppState
from engine.errors import AccessError
from engine.webhooks.receive import ItemReceipt, map_body

router = APIRouter(tags=["webhooks"])
PREFIX = "/webhooks/"
MAX_NAME = 200
EndpointPath = Annotated[str, Path(max_length=MAX_NAME, description="the webhook's endpoint")]
BODY = {
    "requestBody": {
        "required": True,
        "description": "one payload (a JSON object) or an array of them",
        "content": {"application/json": {"schema": {}}},
    }
}
JSON_HEADERS = [(b"content-type", b"application/json")]


def _endpoint(state: AppState, name: str) -> Endpoint:
    follow_deploys(state)
    found = state.webhooks.get(name)
    if found is None:  # the names of the others are not told to callers not yet known
        raise HTTPException(
            404,
            f"no webhook endpoint '{name}' in the started or stopped flows of this server; "
            "check the URL against the endpoint of the flow's webhook object",
        )
    if found.unavailable is not None:
        raise HTTPException(503, found.unavailable)
    return found


async def take_call(scope: Scope, name: str, body: Callable[[], Awaitable[bytes]]) -> bytes:
    """One call to webhook ``name``, from its headers and ``body`` to the JSON answer, or an
    exception for the app's handlers; names the token's user in ``scope["state"]`` for the
    access log."""
    app = scope["app"]
    state: AppState = app.state.sluis
    found = _endpoint(state, name)
    headers = Headers(scope=scope)
    if found.auth.type != "hmac-sha256":
        token = token_from(headers.get("authorization"))
        if token is None:
            raise AccessError(MISSING_TOKEN)
        access = await check_once(state, token)
        scope.setdefault("state", {})["user"] = access.user
        if access.webhook not in (None, name):
            raise AccessError(
                f"token {access.token_id} is for webhook '{access.webhook}', not '{name}'",
                status=403,
            )
    raw = await body()
    if found.key is not None:
        verify_signature(found.auth, found.key, headers, raw, state.runtime.clock.now())
    try:
        payload: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise field_problem(("body",), f"the body is not JSON: {exc}", "json_invalid") from None
    items = map_body(found.spec, payload, state.project)
    writer: GroupWriter = app.state.webhook_writer
    receipts = await writer.submit(found, items)
    return _receipt(name, found.spec.flow.name, receipts)


def _receipt(name: str, flow: str, receipts: list[ItemReceipt]) -> bytes:
    """The answer, in the shape of ``WebhookReceipt``."""
    answer = {
        "endpoint": name,
        "flow": flow,
        "customers": [r.customer for r in receipts],
        "records": [i for r in receipts for i in r.records],
        "journeys": [i for r in receipts for i in r.journeys],
        "items": [
            {
                "event_id": r.event_id,
                "customer": r.customer,
                "records": r.records,
                "journeys": r.journeys,
                "duplicate": r.duplicate,
            }
            for r in receipts
        ],
    }
    return json.dumps(answer, separators=(",", ":")).encode()


@router.post(
    "/webhooks/{endpoint}",
    response_model=WebhookReceipt,
    openapi_extra=BODY,
    responses={
        **ERRORS,
        404: {"model": Message, "description": "no such webhook endpoint"},
        409: {"model": Message, "description": "the webhook's flow is not started"},
        503: {"model": Message, "description": "the webhook's secret variable is unset"},
    },
)
async def receive_webhook(endpoint: EndpointPath, request: Request) -> Response:
    """Store the payload's customer and records and start the flow for the customer (one
    array of payloads: one customer each). Answers the ids stored; a redelivered event id
    answers the ids of its first delivery and changes nothing."""
    answer = await take_call(request.scope, endpoint, request.body)
    return Response(answer, media_type="application/json")


def _webhook_name(scope: Scope) -> str | None:
    """The endpoint of a call ``Receiver`` serves (else None: FastAPI answers, for example
    405 to a GET or 422 to a name that is too long)."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if not path.startswith(PREFIX):
        return None
    name = path[len(PREFIX) :]
    if not name or "/" in name or len(name) > MAX_NAME:
        return None
    return name


class Receiver:
    """ASGI middleware that serves webhook calls itself and passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = _webhook_name(scope)
        if name is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            answer = await take_call(scope, name, request.body)
        except ClientDisconnect:
            return  # the caller went away before its body came: no one to answer
        except Exception as exc:
            handler = _handler(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = handler(request, exc)
            if isawaitable(response):
                response = await response
            await response(scope, receive, send)
            return
        headers = [*JSON_HEADERS, (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def _handler(handlers: dict[Any, Callable[..., Any]], exc: Exception) -> Callable[..., Any] | None:
    """The app's handler of ``exc``, looked up as Starlette does (the nearest class)."""
    for kind in type(exc).__mro__:
        if kind in handlers:
            return handlers[kind]
    return None
