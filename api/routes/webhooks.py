"""``POST /webhooks/{endpoint}``: the webhook receiver. It authenticates the caller (an API
token, or an HMAC signature over the raw body), takes the body (capped by
``api.max_body_bytes`` before anything parses it; JSON only, read by ``api.jsonbody`` with its
depth and Unicode checks; at most ``api.max_payloads`` payloads), maps the payload to the
customer and records, and stores them and starts the flow in one transaction, once per event
id (the ``dedupe`` path, else Standard Webhooks' ``webhook-id`` header).

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
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.batching import GroupWriter
from api.deps import MISSING_TOKEN, check_once
from api.endpoints import Endpoint, follow_deploys
from api.errors import ERRORS, BodyRefused, field_problem, send_error
from api.jsonbody import CheckedRoute, check_media_type, read_json
from api.models import Message, WebhookReceipt
from api.security import STANDARD_ID, token_from, verify_signature
from api.state import AppState
from engine.errors import AccessError
from engine.model.sizes import MAX_EVENT_ID
from engine.store.scopes import refusal
from engine.webhooks.receive import ItemReceipt, delivery_ids, map_body

router = APIRouter(tags=["webhooks"], route_class=CheckedRoute)
PREFIX = "/webhooks/"
MAX_NAME = 200
MAX_MESSAGE_ID = MAX_EVENT_ID - 8  # room for "/index" in an array's payloads
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
        if access.webhook is None and not access.allows("webhooks", True):
            raise AccessError(refusal("webhooks", True), status=403)
    check_media_type(headers.get("content-type"))
    raw = await body()
    if found.key is not None:
        verify_signature(
            found.auth,
            found.key,
            headers,
            raw,
            state.runtime.clock.now(),
            method=scope["method"],
            url=_called_url(scope, headers),
        )
    limits = state.project.settings.api
    payload: Any = read_json(raw, limits.max_json_depth)
    if isinstance(payload, list) and len(payload) > limits.max_payloads:
        raise BodyRefused(
            413,
            f"the body holds {len(payload)} payloads; this server takes at most "
            f"{limits.max_payloads} per call (api.max_payloads in sluis.yaml): send them in "
            "several calls",
        )
    items = map_body(found.spec, payload, state.project)
    named = found.spec.payload.dedupe_header  # dedupe: header (the auth scheme's) or header:NAME
    if named is not None:
        delivery_ids(_message_id(headers, named, required=True), items)
    elif found.spec.payload.dedupe is None:
        delivery_ids(_message_id(headers), items)
    writer: GroupWriter = app.state.webhook_writer
    receipts = await writer.submit(found, items)
    return _receipt(name, found.spec.flow.name, receipts)


def _called_url(scope: Scope, headers: Headers) -> str:
    """The URL as the caller called it (scheme, Host header, path and query)."""
    query = scope.get("query_string", b"").decode("latin-1")
    host = headers.get("host") or "localhost"
    scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
    return f"{scheme}://{host}{scope.get('raw_path', scope['path'].encode()).decode('latin-1')}" + (
        f"?{query}" if query else ""
    )


def _message_id(headers: Headers, name: str = STANDARD_ID, *, required: bool = False) -> str | None:
    """The sender's message id in header ``name`` (Standard Webhooks' ``webhook-id``, or the
    one the webhook's ``dedupe`` names): the same on every retry of one message."""
    found = headers.get(name)
    if found is not None and len(found) > MAX_MESSAGE_ID:
        raise field_problem(
            ("header", name),
            f"{name} holds {len(found)} characters; at most {MAX_MESSAGE_ID} are stored",
            "too_long",
        )
    if required and not (found or "").strip():
        raise field_problem(
            ("header", name),
            f"missing event id: header {name} must name the delivery, which makes a "
            "redelivered webhook harmless",
            "missing_event_id",
        )
    return found


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
                "retried": r.retried,
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
            await send_error(scope, receive, send, exc)
            return
        headers = [*JSON_HEADERS, (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
