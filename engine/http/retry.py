"""When to try an HTTP call again, and how long to wait first.

A call is tried again after a timeout, a connection error, or an answer that says "later"
(408, 425, 429 and 5xx), at most ``retries`` times. The wait grows exponentially with jitter
(so many customers failing at once do not come back at once), and a ``Retry-After`` header
(seconds or an HTTP date) replaces it. Waits are measured on the runtime's clock, so tests on a
virtual clock do not wait in real time.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from engine.model.retries import BACKOFF_CAP

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
HELD_RETRY_AFTER = 86400.0  # the longest Retry-After honoured when the journey waits held


def says_later(status: int) -> bool:
    """True for answers that ask the caller to come back (and may succeed then)."""
    return status in RETRY_STATUSES or 500 <= status < 600


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None when there is none (or it is
    not readable). An HTTP date is taken against the answer's own ``Date`` header when there
    is one (both come from the server's clock), else against ``now``."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    moment = _http_date(value)
    if moment is None:
        return None
    base = _http_date(headers.get("date", "")) or now
    return max(0.0, (moment - base).total_seconds())


def _http_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: try n waits ``base * 2**(n-1)`` (at most ``cap``),
    scaled by a random factor between 1/2 and 1."""

    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 300.0

    def delay(self, retry: int, rng: random.Random, *, base: float | None = None) -> float:
        """The wait before retry number ``retry`` (1 for the first); ``base`` (an object's
        ``backoff`` setting) replaces the client's first wait, and then the cap is an hour
        (DESIGN.md 8), and the jitter only adds (up to a quarter): never sooner than asked."""
        if base is not None:
            full = min(BACKOFF_CAP.total_seconds(), base * 2.0 ** (retry - 1))
            return full * (1 + rng.random() / 4)
        full = min(self.cap, self.base * 2.0 ** (retry - 1))
        return full * (0.5 + rng.random() / 2)
