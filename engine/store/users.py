"""Users as operators see them: list (with last use, state and lapse warning), deactivate and
delete. Creating and reactivating users is in ``tokens.py``. The caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from engine.store.models import TOKENS, USERS
from engine.store.tokens import T, U, _lapsed, _user_id, lapse_warning


def list_users(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Every user by name: kind, state (active, deactivated, lapsed), last activity, the
    last use of any of its tokens, live tokens, and a warning when it lapses soon."""
    used = select(func.max(T.last_used_at)).where(T.user_id == U.id).scalar_subquery()
    live = (
        select(func.count())
        .select_from(TOKENS)
        .where(T.user_id == U.id, T.revoked_at.is_(None))
        .scalar_subquery()
    )
    query = select(
        U.name, U.service, U.active, U.last_activity_at, U.created_at,
        used.label("last_used_at"), live.label("tokens"),
    ).order_by(U.name)  # fmt: skip
    users = []
    for row in conn.execute(query):
        if not row.active:
            state = "deactivated"
        elif _lapsed(row.service, row.active, row.last_activity_at, row.created_at, now):
            state = "lapsed"
        else:
            state = "active"
        users.append(
            {
                "name": row.name,
                "service": bool(row.service),
                "state": state,
                "created_at": row.created_at,
                "last_activity_at": row.last_activity_at,
                "last_used_at": row.last_used_at,
                "tokens": int(row.tokens),
                "warning": lapse_warning(
                    row.service, row.active, row.last_activity_at, row.created_at, now
                ),
            }
        )
    return users


def deactivate_user(conn: Connection, name: str) -> None:
    """Stop a user's tokens at once ('sluis user reactivate' lets them work again)."""
    conn.execute(update(USERS).where(U.id == _user_id(conn, name)).values(active=False))


def delete_user(conn: Connection, name: str) -> int:
    """Delete a user with its tokens; returns how many tokens went."""
    user_id = _user_id(conn, name)
    removed = conn.execute(delete(TOKENS).where(T.user_id == user_id)).rowcount
    conn.execute(delete(USERS).where(U.id == user_id))
    return int(removed)
