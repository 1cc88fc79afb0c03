"""Retries of objects that talk to the outside (DESIGN.md 8): the shared ``retries`` (tries
after the first, default 3) and ``backoff`` (the first wait, doubling, capped at 1h; default
10s) settings, and a journey's tries so far.

A transient failure tries again; a wait of at most ``INLINE_WAIT`` is waited out within the
batch, a longer one holds the journey in the database until then (the worker does not sleep
on it). A journey's tries at an object are kept in its entry data under ``TRIES_KEY`` while
it is held, so they hold across batches, workers and crashes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pydantic import BaseModel, Field

from engine.model.durations import format_duration
from engine.model.settings import Duration

TRIES_KEY = "_tries"
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
INLINE_WAIT = timedelta(seconds=5)  # longer waits hold the journey in the database


class RetrySettings(BaseModel):
    """The ``retries`` and ``backoff`` settings every object that talks to the outside takes
    (an object's settings model inherits them beside ``ObjectSettings``)."""

    retries: int = Field(
        default=DEFAULT_RETRIES, ge=0, le=20, description="tries after the first (default 3)"
    )
    backoff: Duration = Field(
        default=DEFAULT_BACKOFF,
        description="the first wait before trying again, doubling each time, at most 1h",
    )

    def wait(self, retry: int, *, asked: float | None = None) -> timedelta:
        """The wait before retry number ``retry`` (1 for the first): ``backoff`` doubling,
        at most an hour; never shorter than the seconds the other side ``asked`` for (a
        ``Retry-After``)."""
        wait: timedelta = min(BACKOFF_CAP, self.backoff * 2 ** (retry - 1))
        return max(wait, timedelta(seconds=asked or 0))


class Tries(NamedTuple):
    """A journey's tries at one object so far, and when the first was made."""

    made: int
    first: datetime | None

    def then(self, more: int, now: datetime) -> Tries:
        return Tries(self.made + more, self.first or now)

    def record(self, object_id: str) -> dict[str, Any]:
        """Entry data to merge when the journey is held for another try."""
        first = self.first.isoformat() if self.first else None
        return {TRIES_KEY: {"object": object_id, "count": self.made, "first": first}}

    def over(self, now: datetime) -> str:
        """``after 4 tries over 1m10s``: see ``after_tries``."""
        return after_tries(self.made, self.first, now)


def after_tries(made: int, first: datetime | None, now: datetime | None) -> str:
    """How a failure (or a late success) says what it took, the same for every object
    (DESIGN.md 8): ``after 4 tries over 1m10s`` for tries made from ``first`` until ``now``
    (``over`` only when both are known and a second or more apart)."""
    text = f"after {made} tries"
    if first is not None and now is not None:
        span = now - first
        if span >= timedelta(seconds=1):
            text += f" over {format_duration(timedelta(seconds=int(span.total_seconds())))}"
    return text


def tries_so_far(data: Mapping[str, Any], object_id: str) -> Tries:
    """The tries a journey made at ``object_id`` before this batch (none when it comes fresh)."""
    kept = data.get(TRIES_KEY)
    if not isinstance(kept, Mapping) or kept.get("object") != object_id:
        return Tries(0, None)
    first = kept.get("first")
    return Tries(int(kept.get("count") or 0), datetime.fromisoformat(first) if first else None)


def cleared(data: Mapping[str, Any]) -> bool:
    """Whether the data carries tries to forget once the journey leaves."""
    return TRIES_KEY in data
