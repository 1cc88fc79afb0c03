"""``POST /webhooks/{endpoint}``: the webhook receiver. It authenticates the caller (an API
token, or an HMAC signature over the raw body), takes the body (capped by
``api.max_body_bytes`` before anything parses it), maps the payload to the customer and
records, and stores them and starts the flow in one transaction, once per event id.

A call to the webhook of a stopped flow answers 409 and stores nothing: the sender's retry
delivers it once the flow is started again.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool

from api.batching import GroupWriter
from api.deps import MISSING_TOKEN, authenticate, get_state, recently_checked
from api.endpoints import Endpoint
from api.errors import ERRORS, field_problem
from api.models import Message, WebhookItem, WebhookReceipt
from api.security import token_from, verify_signature
from api.state import AppState
from engine.errors import AccessError
from engine.webhooks import map_body

router = APIRouter(tags=["webhooks"])
EndpointPath = Annotated[str, Path(max_length=200, description="the webhook's endpoint")]
BODY = {
    "requestBody": {
        "required": True,
        "description": "one payload (a JSON object) or an array of them",
        "content": {"application/json": {"schema": {}}},
    }
}


def _endpoint(state: AppState, name: str) -> Endpoint:
    found = state.webhooks.get(name)
    if found is None:  # the names of the others are not told to callers not yet known
        raise HTTPException(
            404,
            f"no webhook endpoint '{name}' in the started or stopped flows of this server; "
            "check the URL against the endpoint of the flow's webhook object",
        )
    return found


@router.post(
    "/webhooks/{endpoint}",
    response_model=WebhookReceipt,
    openapi_extra=BODY,
    responses={
        **ERRORS,
        404: {"model": Message, "description": "no such webhook endpoint"},
        409: {"model": Message, "description": "the webhook's flow is not started"},
    },
)
async def receive_webhook(endpoint: EndpointPath, request: Request) -> WebhookReceipt:
    """Store the payload's customer and records and start the flow for the customer (one
    array of payloads: one customer each). Answers the ids stored; a redelivered event id
    answers the ids of its first delivery and changes nothing."""
    state = get_state(request)
    found = _endpoint(state, endpoint)
    if found.auth.type != "hmac-sha256":
        token = token_from(request.headers.get("authorization"))
        if token is None:
            raise AccessError(MISSING_TOKEN)
        access = recently_checked(request, state, token)
        if access is None:
            access = await run_in_threadpool(authenticate, request, state, token)
        if access.webhook not in (None, endpoint):
            raise AccessError(
                f"token {access.token_id} is for webhook '{access.webhook}', not '{endpoint}'",
                status=403,
            )
    body = await request.body()
    if found.key is not None:
        verify_signature(found.auth, found.key, request.headers, body, state.runtime.clock.now())
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise field_problem(("body",), f"the body is not JSON: {exc}", "json_invalid") from None
    items = map_body(found.spec, payload, state.project)
    writer: GroupWriter = request.app.state.webhook_writer
    receipts = await writer.submit(found, items)
    return WebhookReceipt(
        endpoint=endpoint,
        flow=found.spec.flow.name,
        customers=[r.customer for r in receipts],
        records=[i for r in receipts for i in r.records],
        journeys=[i for r in receipts for i in r.journeys],
        items=[
            WebhookItem(
                event_id=r.event_id,
                customer=r.customer,
                records=r.records,
                journeys=r.journeys,
                duplicate=r.duplicate,
            )
            for r in receipts
        ],
    )
