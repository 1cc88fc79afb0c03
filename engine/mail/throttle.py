"""``throttle``: at most N mails per hour per mail object, across every worker. Each run reserves
its share of the current clock hour in the database (``mail_windows``) before it sends, so two
workers never both use the same room."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from engine.errors import StoreConflict, StoreError
from engine.store import Database
from engine.store.models import MAIL_WINDOWS

WINDOWS = MAIL_WINDOWS
HOUR = timedelta(hours=1)


def window_of(now: datetime) -> datetime:
    """The start of the clock hour holding ``now``."""
    return now.replace(minute=0, second=0, microsecond=0)


def reserve(
    db: Database, flow: str, object_id: str, limit: int, wanted: int, now: datetime
) -> tuple[int, datetime]:
    """Reserve up to ``wanted`` mails of this hour's ``limit``; return how many were granted
    and when the next window opens."""
    window = window_of(now)
    where = (WINDOWS.c.flow == flow, WINDOWS.c.object == object_id, WINDOWS.c.window == window)
    for _attempt in range(5):
        try:
            with db.write() as conn:
                query = select(WINDOWS.c.count).where(*where)
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update()
                used = conn.execute(query).scalar()
                granted = max(0, min(wanted, limit - (used or 0)))
                if used is None:
                    conn.execute(
                        insert(WINDOWS).values(
                            flow=flow, object=object_id, window=window, count=granted
                        )
                    )
                    conn.execute(
                        delete(WINDOWS).where(
                            WINDOWS.c.flow == flow,
                            WINDOWS.c.object == object_id,
                            WINDOWS.c.window < window - timedelta(days=1),
                        )
                    )
                elif granted:
                    conn.execute(update(WINDOWS).where(*where).values(count=used + granted))
            return granted, window + HOUR
        except StoreConflict:
            continue  # another worker opened the window at the same moment: read it again
    raise StoreError(f"could not reserve throttle room for mail object '{object_id}'")
