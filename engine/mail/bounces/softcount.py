"""The soft-bounce rule: a customer whose mailbox refused ``mail.soft_bounce_limit`` mails
within ``mail.soft_bounce_window`` (after the last sign that mail reaches them: a delivery
notice, an open, a click) gets no mail until the oldest of those bounces leaves the window.
Blocks of the sender are not bounce events, so they never count."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from engine.store.models import EVENTS

REACHED = ("delivered", "open", "click")  # the mailbox took a mail


def soft_bounces(
    conn: Connection, customer_ids: Sequence[int], now: datetime, window: timedelta
) -> dict[int, int]:
    """Per customer (those with any): soft bounces in the window since mail last reached them."""
    since = now - window
    counts: dict[int, int] = {}
    last_reached: dict[int, datetime] = {}
    bounces: list[tuple[int, datetime]] = []
    ids = list(dict.fromkeys(customer_ids))
    for start in range(0, len(ids), 500):
        query = select(EVENTS.c.customer_id, EVENTS.c.kind, EVENTS.c.at, EVENTS.c.data).where(
            EVENTS.c.customer_id.in_(ids[start : start + 500]),
            EVENTS.c.kind.in_(("bounce", *REACHED)),
            EVENTS.c.at >= since,
            EVENTS.c.at <= now,
        )
        for customer_id, kind, at, data in conn.execute(query):
            if kind == "bounce":
                if (data or {}).get("bounce_type") == "soft":
                    bounces.append((customer_id, at))
            elif at > last_reached.get(customer_id, since):
                last_reached[customer_id] = at
    for customer_id, at in bounces:
        reached = last_reached.get(customer_id)
        if reached is None or at > reached:
            counts[customer_id] = counts.get(customer_id, 0) + 1
    return counts
