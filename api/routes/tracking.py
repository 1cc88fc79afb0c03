"""Tracking routes: the open pixel, the click redirect and the one-click unsubscribe of sent
mails. Every link is signed (``engine.mail.tracking``); an unsigned or changed link answers
400 and records nothing, so the redirect can never be pointed elsewhere. Unsubscribing acts on
POST only (RFC 8058); a GET shows a page whose button makes that POST."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.models import Message
from api.state import AppState
from engine.errors import SluisError
from engine.mail import linkparam, reactions
from engine.mail.links import strip_param
from engine.mail.tracking import (
    CLICK_ROUTE,
    OPEN_ROUTE,
    UNSUBSCRIBE_ROUTE,
    InvalidLink,
    Kind,
    MailRef,
    TrackingLinks,
    tracking_key,
)

# errors answer JSON ({"detail": ...}) even where the route answers HTML or a GIF
_JSON = {"application/json": {"schema": Message.model_json_schema()}}
INVALID: dict[int | str, dict[str, Any]] = {
    400: {"content": _JSON, "description": "an unsigned or changed link; nothing is recorded"},
    404: {"content": _JSON, "description": "not a tracking link"},
    503: {"content": _JSON, "description": "SLUIS_TRACKING_KEY is set but unusable"},
}
HTML: dict[str, Any] = {"content": {"text/html": {}}}
router = APIRouter(tags=["tracking"], responses=INVALID)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0"}
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em">
<h1>{title}</h1>{body}</body></html>
"""


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.sluis
    return state


def _verify(request: Request, kind: Kind, ref: str, url: str = "") -> MailRef:
    try:
        links = TrackingLinks("", tracking_key(_state(request).store.db))
    except SluisError as exc:
        raise HTTPException(503, f"tracking is not set up: {exc}") from None
    try:
        return links.verify(kind, ref, url)
    except InvalidLink as exc:
        raise HTTPException(400, str(exc)) from None


@router.get(
    OPEN_ROUTE,
    response_class=Response,
    summary="Open pixel",
    responses={200: {"content": {"image/gif": {}}, "description": "a 1x1 transparent GIF"}},
)
def open_pixel(request: Request, ref: str) -> Response:
    """A 1x1 transparent GIF; records an ``open`` of the mail."""
    reactions.record(_state(request).runtime, _verify(request, "open", ref), "open")
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get(
    CLICK_ROUTE,
    response_class=RedirectResponse,
    status_code=302,
    summary="Click redirect",
    responses={302: {"description": "to the link's destination"}},
)
def click(
    request: Request, ref: str, url: Annotated[str, Query(description="the destination")] = ""
) -> RedirectResponse:
    """Records a ``click`` with its destination, then redirects there."""
    mail_ref = _verify(request, "click", ref, url)
    shown = strip_param(url, linkparam.PARAM)
    reactions.record(_state(request).runtime, mail_ref, "click", {"url": shown})
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


@router.get(
    UNSUBSCRIBE_ROUTE,
    response_class=HTMLResponse,
    summary="Unsubscribe page",
    responses={200: {**HTML, "description": "a page whose button unsubscribes (POST)"}},
)
def unsubscribe_page(request: Request, ref: str) -> HTMLResponse:
    """Asks for confirmation; changes nothing (mail scanners follow GET links)."""
    _verify(request, "unsubscribe", ref)
    form = (
        f'<form method="post" action="{request.url.path}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        "<p>Do you want to stop receiving these mails?</p>"
        '<button type="submit">Unsubscribe</button></form>'
    )
    return HTMLResponse(PAGE.format(title="Unsubscribe", body=form), headers=NO_STORE)


@router.post(
    UNSUBSCRIBE_ROUTE,
    response_class=HTMLResponse,
    summary="One-click unsubscribe",
    responses={200: {**HTML, "description": "unsubscribed from all mail"}},
)
def unsubscribe(request: Request, ref: str) -> HTMLResponse:
    """Unsubscribes the recipient from all mail (RFC 8058 one-click, or the page's button)."""
    mail = reactions.unsubscribe(_state(request).runtime, _verify(request, "unsubscribe", ref))
    if mail is None:
        raise HTTPException(404, "this mail's recipient is no longer known")
    body = "<p>You will receive no more of these mails.</p>"
    return HTMLResponse(PAGE.format(title="You are unsubscribed", body=body), headers=NO_STORE)
