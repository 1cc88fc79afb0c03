"""Users and API tokens in the store.

A token is a random secret shown once; only its SHA-256 is stored. It belongs to a user: a
person's account that has been inactive for 60 days stops its tokens until it is reactivated;
service accounts never lapse. A webhook token reaches only its webhook; a general token reaches
the REST API and every webhook. Tokens are active at once. Functions take an open connection:
the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from engine.errors import AccessError, InputError
from engine.store.models import TOKENS, USERS
from engine.store.scopes import DEFAULT, allows

U = USERS.c
T = TOKENS.c
LAPSE_AFTER = timedelta(days=60)
TOUCH_EVERY = timedelta(minutes=1)
WARN_BEFORE = timedelta(days=7)
PREFIX = "sluis_"


@dataclass(frozen=True)
class Access:
    """Who a valid token speaks for."""

    token_id: int
    user_id: int
    user: str
    webhook: str | None
    stale: bool  # the user's (or token's) last use is older than a minute: record it
    scopes: str | None = None  # None: ``read write`` (tokens made before scopes)

    def allows(self, resource: str, write: bool) -> bool:
        return allows(self.scopes, resource, write)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _user_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(U.id).where(U.name == name)).scalar()
    if found is None:
        raise InputError(f"no user '{name}'; make one with 'sluis user create {name}'")
    return int(found)


def create_user(conn: Connection, name: str, *, service: bool, now: datetime) -> int:
    """A new user (a person, or a service account that never lapses); returns its id."""
    if not name.strip():
        raise InputError("a user needs a name")
    if conn.execute(select(U.id).where(U.name == name)).scalar() is not None:
        raise InputError(f"user '{name}' exists already")
    return int(
        conn.execute(
            insert(USERS)
            .values(name=name, service=service, active=True, last_activity_at=now, created_at=now)
            .returning(U.id)
        ).scalar_one()
    )


def reactivate_user(conn: Connection, name: str, now: datetime) -> None:
    """Let a lapsed (or deactivated) user's tokens work again from now."""
    user_id = _user_id(conn, name)
    conn.execute(update(USERS).where(U.id == user_id).values(active=True, last_activity_at=now))


def create_token(
    conn: Connection,
    user: str,
    *,
    now: datetime,
    webhook: str | None = None,
    expires_at: datetime | None = None,
    scopes: str | None = DEFAULT,
) -> tuple[int, str]:
    """A new token for ``user`` with ``scopes`` (as ``parse_scopes`` gives them); returns
    (id, secret). The secret is not stored: show it once."""
    user_id = _user_id(conn, user)
    if expires_at is not None and expires_at <= now:
        raise InputError(f"the expiry {expires_at.isoformat()} has passed; give a later one")
    secret = PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        insert(TOKENS)
        .values(
            user_id=user_id,
            hash=token_hash(secret),
            webhook=webhook,
            expires_at=expires_at,
            revoked_at=None,
            created_at=now,
            scopes=scopes,
        )
        .returning(T.id)
    ).scalar_one()
    return int(token_id), secret


def list_tokens(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Every token with its user and state (active, revoked, expired, lapsed), newest first."""
    query = (
        select(T.id, T.webhook, T.created_at, T.expires_at, T.revoked_at, U.name, U.service)
        .add_columns(T.scopes, T.last_used_at)
        .add_columns(U.active, U.last_activity_at, U.created_at.label("user_created_at"))
        .join(USERS, USERS.c.id == T.user_id)
        .order_by(T.id.desc())
    )
    tokens = []
    for row in conn.execute(query):
        if row.revoked_at is not None:
            state = "revoked"
        elif row.expires_at is not None and row.expires_at <= now:
            state = "expired"
        elif _lapsed(row.service, row.active, row.last_activity_at, row.user_created_at, now):
            state = "lapsed"
        else:
            state = "active"
        tokens.append(
            {
                "id": row.id,
                "user": row.name,
                "service": bool(row.service),
                "webhook": row.webhook,
                "created_at": row.created_at,
                "expires_at": row.expires_at,
                "state": state,
                "scopes": row.scopes or DEFAULT,
                "last_used_at": row.last_used_at,
                "warning": lapse_warning(
                    row.service, row.active, row.last_activity_at, row.user_created_at, now
                )
                if state == "active"
                else None,
            }
        )
    return tokens


def revoke_token(conn: Connection, token_id: int, now: datetime) -> None:
    """Revoke a token at once."""
    found = conn.execute(select(T.revoked_at).where(T.id == token_id)).first()
    if found is None:
        raise InputError(f"no token {token_id}; 'sluis token list' shows them")
    if found.revoked_at is None:
        conn.execute(update(TOKENS).where(T.id == token_id).values(revoked_at=now))


def rotate_webhook(
    conn: Connection, endpoint: str, *, now: datetime, user: str | None = None
) -> tuple[int, str, list[int]]:
    """Issue a new token for webhook ``endpoint`` (for ``user``, else the user of its newest
    token) and revoke its other tokens; returns (new id, secret, revoked ids)."""
    live = list(
        conn.execute(
            select(T.id, T.user_id)
            .where(T.webhook == endpoint, T.revoked_at.is_(None))
            .order_by(T.id.desc())
        )
    )
    if user is None:
        newest = conn.execute(
            select(U.name)
            .join(TOKENS, T.user_id == U.id)
            .where(T.webhook == endpoint)
            .order_by(T.id.desc())
            .limit(1)
        ).scalar()
        if newest is None:
            raise InputError(
                f"webhook '{endpoint}' has no token yet; make one with 'sluis token create "
                f"--user NAME --webhook {endpoint}', or pass --user"
            )
        user = str(newest)
    token_id, secret = create_token(conn, user, now=now, webhook=endpoint, scopes="webhooks:write")
    revoked = [row.id for row in live]
    if revoked:
        conn.execute(update(TOKENS).where(T.id.in_(revoked)).values(revoked_at=now))
    return token_id, secret, revoked


def _lapsed(
    service: bool, active: bool, last: datetime | None, created: datetime, now: datetime
) -> bool:
    if not active:  # deactivated (service accounts too)
        return True
    return not service and (last or created) < now - LAPSE_AFTER


def lapse_warning(
    service: bool, active: bool, last: datetime | None, created: datetime, now: datetime
) -> str | None:
    """A warning when a person's active account lapses within ``WARN_BEFORE``."""
    if service or not active:
        return None
    lapses = (last or created) + LAPSE_AFTER
    if now <= lapses <= now + WARN_BEFORE:
        days = math.ceil((lapses - now).total_seconds() / 86_400)
        return (
            f"lapses in {days} day(s), on {lapses:%Y-%m-%d}, after {LAPSE_AFTER.days} days "
            "without activity: use a token, or 'sluis user reactivate'"
        )
    return None


def check_token(conn: Connection, secret: str, now: datetime) -> Access:
    """Who ``secret`` speaks for; ``AccessError`` (401) says why a token does not work."""
    row = conn.execute(
        select(
            T.id,
            T.webhook,
            T.expires_at,
            T.revoked_at,
            U.id.label("user_id"),
            U.name,
            U.service,
            U.active,
            U.last_activity_at,
            U.created_at.label("user_created_at"),
            T.scopes,
            T.last_used_at,
        )
        .join(USERS, U.id == T.user_id)
        .where(T.hash == token_hash(secret))
    ).first()
    if row is None:
        raise AccessError(
            "unknown token: no token of this server has that value; check that it was copied "
            "whole, or make one with 'sluis token create --user NAME'"
        )
    if row.revoked_at is not None:
        raise AccessError(
            f"token {row.id} was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC; make a new one "
            "with 'sluis token create'"
        )
    if row.expires_at is not None and row.expires_at <= now:
        raise AccessError(
            f"token {row.id} expired on {row.expires_at:%Y-%m-%d %H:%M} UTC; make a new one "
            "with 'sluis token create'"
        )
    if _lapsed(row.service, row.active, row.last_activity_at, row.user_created_at, now):
        since = row.last_activity_at or row.user_created_at
        if not row.active:
            raise AccessError(
                f"user '{row.name}' is deactivated, so its tokens stopped; reactivate it with "
                f"'sluis user reactivate {row.name}'"
            )
        raise AccessError(
            f"user '{row.name}' has been inactive since {since:%Y-%m-%d} (more than "
            f"{LAPSE_AFTER.days} days), so its tokens stopped; reactivate it with "
            f"'sluis user reactivate {row.name}'"
        )
    stale = any(
        at is None or at < now - TOUCH_EVERY for at in (row.last_activity_at, row.last_used_at)
    )
    return Access(row.id, row.user_id, row.name, row.webhook, stale, row.scopes)


def touch_user(conn: Connection, user_id: int, now: datetime, token_id: int | None = None) -> None:
    """Record activity of a user and the use of its token (at most once a minute, whoever
    else is recording it)."""
    if token_id is not None:
        conn.execute(
            update(TOKENS)
            .where(
                T.id == token_id,
                or_(T.last_used_at.is_(None), T.last_used_at < now - TOUCH_EVERY),
            )
            .values(last_used_at=now)
        )
    conn.execute(
        update(USERS)
        .where(
            U.id == user_id,
            or_(U.last_activity_at.is_(None), U.last_activity_at < now - TOUCH_EVERY),
        )
        .values(last_activity_at=now)
    )
