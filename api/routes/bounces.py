"""Provider notifications of bounces, complaints and deliveries: Amazon SES (through an SNS
HTTPS subscription), SendGrid's Event Webhook, Mailgun's and Postmark's webhooks, each on its
own endpoint and set up under ``mail.providers`` in sluis.yaml. Each call is checked against
the provider's signature (or, for Postmark, its credentials) before anything is read, then
read by the same rules as mail that comes back (``engine.mail.bounces``): a missing signature
answers 401, a wrong one 403, a provider that is not set up 404, a body that is not the
provider's JSON 400.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.models import Message
from api.state import AppState
from engine.mail.bounces import providers
from engine.mail.bounces.ingest import IngestReport, apply
from engine.mail.bounces.signatures import (
    Certificates,
    FolderCertificates,
    HttpsCertificates,
    MissingSignature,
    SignatureError,
    check_mailgun,
    check_postmark,
    check_sendgrid,
    check_sns,
)
from engine.mail.bounces.verdict import Verdict
from engine.model.project import resolve_env

log = logging.getLogger("sluis.api")
_JSON = {"application/json": {"schema": Message.model_json_schema()}}
ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"content": _JSON, "description": "the body is not the provider's JSON"},
    401: {"content": _JSON, "description": "no signature or credentials"},
    403: {"content": _JSON, "description": "a signature or credentials that do not check out"},
    404: {"content": _JSON, "description": "the provider is not set up in mail.providers"},
}
router = APIRouter(prefix="/bounces", tags=["bounces"], responses=ANSWERS)
_FETCHED = HttpsCertificates()  # one cache of SNS certificates per process


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.sluis
    return state


def _settings(request: Request, name: str) -> Any:
    found = getattr(_state(request).project.settings.mail.providers, name)
    if found is None:
        raise HTTPException(
            404, f"{name} notifications are not set up: add mail.providers.{name} to sluis.yaml"
        )
    return found


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None


def _checked(check: Callable[[], None]) -> None:
    try:
        check()
    except MissingSignature as exc:
        raise HTTPException(401, str(exc)) from None
    except SignatureError as exc:
        raise HTTPException(403, str(exc)) from None


async def _apply(request: Request, found: list[tuple[str, Verdict]]) -> dict[str, Any]:
    report = IngestReport()
    runtime = _state(request).runtime

    def work() -> None:
        for key, verdict in found:
            apply(runtime, verdict, key, report)

    await run_in_threadpool(work)
    return {
        "events": report.messages,
        "hard": report.hard,
        "soft": report.soft,
        "sender_blocks": report.sender_blocks,
        "complaints": report.complaints,
        "delivered": report.delivered,
        "already_seen": report.already_seen,
        "unmatched": len(report.unmatched),
    }


def certificates_for(folder: str | None) -> Certificates:
    """Trusted certificates from ``folder`` when configured, else fetched over https."""
    return FolderCertificates(Path(folder)) if folder else _FETCHED


@router.post("/ses", summary="Amazon SES notifications through SNS")
async def ses(request: Request) -> dict[str, Any]:
    settings = _settings(request, "ses")
    body = await _json(request)
    if not isinstance(body, dict) or "Type" not in body:
        raise HTTPException(400, "the body is not an SNS message (no 'Type')")
    certificates = certificates_for(settings.certificates)
    await run_in_threadpool(_checked, lambda: check_sns(body, certificates))
    if settings.topic_arns and body.get("TopicArn") not in settings.topic_arns:
        raise HTTPException(
            403, f"topic {body.get('TopicArn')!r} is not in mail.providers.ses.topic_arns"
        )
    if body["Type"] == "SubscriptionConfirmation":
        log.warning("confirm the SNS subscription by opening %s", body.get("SubscribeURL"))
        return {"confirm": body.get("SubscribeURL")}
    verdict = providers.read_provider_event(body)
    if verdict is None:
        raise HTTPException(400, "the SNS message holds no SES Bounce, Complaint or Delivery")
    return await _apply(request, [(f"sns:{body.get('MessageId')}", verdict)])


@router.post("/sendgrid", summary="SendGrid Event Webhook (signed)")
async def sendgrid(request: Request) -> dict[str, Any]:
    settings = _settings(request, "sendgrid")
    raw = await request.body()
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    key = resolve_env(settings.public_key, what="mail.providers.sendgrid.public_key")
    _checked(lambda: check_sendgrid(key, signature, timestamp, raw))
    events = await _json(request)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise HTTPException(400, "the body is not a list of SendGrid events")
    found = [(_sendgrid_key(e), providers.sendgrid_event(e)) for e in events]
    return await _apply(request, found)


def _sendgrid_key(event: dict[str, Any]) -> str:
    what = event.get("sg_event_id") or event.get("sg_message_id")
    return f"sendgrid:{what}:{event.get('event')}:{event.get('email')}"


@router.post("/mailgun", summary="Mailgun webhook (signed)")
async def mailgun(request: Request) -> dict[str, Any]:
    settings = _settings(request, "mailgun")
    body = await _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("event-data"), dict):
        raise HTTPException(400, "the body is not a Mailgun webhook (no 'event-data')")
    given = body.get("signature")
    signature: dict[str, Any] = given if isinstance(given, dict) else {}
    key = resolve_env(settings.signing_key, what="mail.providers.mailgun.signing_key")
    _checked(lambda: check_mailgun(key, signature))
    data = body["event-data"]
    key_of = f"mailgun:{data.get('id') or signature.get('token')}"
    return await _apply(request, [(key_of, providers.mailgun_event(data))])


@router.post("/postmark", summary="Postmark webhook (basic auth or token)")
async def postmark(request: Request, token: str = "") -> dict[str, Any]:
    settings = _settings(request, "postmark")
    secret = (
        resolve_env(settings.token, what="mail.providers.postmark.token")
        if settings.token
        else None
    )
    password = (
        resolve_env(settings.password, what="mail.providers.postmark.password")
        if settings.password
        else None
    )
    authorization = request.headers.get("Authorization", "")
    _checked(lambda: check_postmark(settings.username, password, secret, authorization, token))
    body = await _json(request)
    if not isinstance(body, dict) or "RecordType" not in body:
        raise HTTPException(400, "the body is not a Postmark webhook (no 'RecordType')")
    what = body.get("ID") or body.get("MessageID")
    key_of = (
        f"postmark:{body.get('RecordType')}:{what}:{body.get('Email') or body.get('Recipient')}"
    )
    return await _apply(request, [(key_of, providers.postmark_event(body))])
