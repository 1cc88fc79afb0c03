"""Tracking links: the open pixel, click redirects and unsubscribe links of a sent mail.

Every link names the mail by (journey, object) and carries an HMAC-SHA256 signature made with
the key in ``SLUIS_TRACKING_KEY`` (without it, a random key kept in the database); a click link
signs its destination too, so the redirect cannot be pointed anywhere else (no open redirect).
The routes that answer these links live in ``api/routes/tracking.py`` and use the route paths
defined here.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlsplit

from engine.errors import InputError, ProjectError

if TYPE_CHECKING:
    from engine.store import Database

if TYPE_CHECKING:
    from engine.sdk.context import RunContext
    from engine.sdk.effects import MailSink

KEY_VARIABLE = "SLUIS_TRACKING_KEY"
OPEN_ROUTE = "/t/open/{ref}.gif"
CLICK_ROUTE = "/t/click/{ref}"
UNSUBSCRIBE_ROUTE = "/t/unsubscribe/{ref}"
Kind = Literal["open", "click", "unsubscribe"]
_REF = re.compile(
    r"^(?P<journey>[0-9]{1,18})\.(?P<object>[a-z0-9][a-z0-9_-]*)\.(?P<sig>[\w-]{22})$"
)


class InvalidLink(InputError):
    """A tracking link that this key did not sign, or whose parts were changed."""


@dataclass(frozen=True)
class MailRef:
    """The mail a link belongs to: one (journey, object)."""

    journey_id: int
    object: str


def tracking_key(db: Database) -> bytes:
    """The signing key: ``SLUIS_TRACKING_KEY`` when set, else a random key that sluis makes
    once and keeps in the database, so every worker and the API sign and check alike."""
    value = os.environ.get(KEY_VARIABLE)
    if value is not None:
        if len(value) < 16:
            raise ProjectError(
                f"{KEY_VARIABLE} is shorter than 16 characters; export a long random value, "
                "e.g. the output of 'sluis linkparam new-key', or unset it"
            )
        return value.encode("utf-8")
    # SQLAlchemy loads here, not with the mail object (flow validation does not need it)
    from sqlalchemy import select

    from engine.store.models import SECRETS
    from engine.store.raw import native_insert

    with db.write() as conn:
        conn.execute(
            native_insert(conn, SECRETS)
            .values(name="tracking", value=secrets.token_urlsafe(32), created_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        stored = conn.execute(select(SECRETS.c.value).where(SECRETS.c.name == "tracking"))
        return str(stored.scalar_one()).encode("utf-8")


def web_url(url: str) -> bool:
    """True for absolute http(s) URLs: the only destinations tracked and redirected to."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class TrackingLinks:
    """Makes and checks the tracking links under ``base_url`` (``tracking.base_url``)."""

    def __init__(self, base_url: str, key: bytes) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key

    def _sign(self, kind: Kind, ref: MailRef, url: str = "") -> str:
        message = "\x00".join((kind, str(ref.journey_id), ref.object, url)).encode("utf-8")
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:16]
        return urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def token(self, kind: Kind, ref: MailRef, url: str = "") -> str:
        return f"{ref.journey_id}.{ref.object}.{self._sign(kind, ref, url)}"

    def open_url(self, ref: MailRef) -> str:
        return self.base_url + OPEN_ROUTE.format(ref=self.token("open", ref))

    def click_url(self, ref: MailRef, url: str) -> str:
        path = CLICK_ROUTE.format(ref=self.token("click", ref, url))
        return f"{self.base_url}{path}?url={quote(url, safe='')}"

    def unsubscribe_url(self, ref: MailRef) -> str:
        return self.base_url + UNSUBSCRIBE_ROUTE.format(ref=self.token("unsubscribe", ref))

    def verify(self, kind: Kind, token: str, url: str = "") -> MailRef:
        """The mail of a link's token; ``InvalidLink`` when unsigned, tampered, or (for
        clicks) when the destination is not an http(s) URL."""
        found = _REF.match(token)
        if found is None:
            raise InvalidLink("this is not a tracking link")
        ref = MailRef(int(found["journey"]), found["object"])
        if not hmac.compare_digest(found["sig"], self._sign(kind, ref, url)):
            raise InvalidLink("this link's signature does not match; it was changed")
        if kind == "click" and not web_url(url):
            raise InvalidLink("click links lead only to http(s) addresses")
        return ref


def tracking_links(ctx: RunContext, sink: MailSink) -> TrackingLinks | None:
    """The project's tracking links, signed with the sink's key; None without
    ``tracking.base_url``."""
    base_url = ctx.project.settings.tracking.base_url
    return TrackingLinks(base_url, sink.tracking_key(ctx.store.db)) if base_url else None
