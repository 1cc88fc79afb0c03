"""Rate limits of HTTP objects: calls of an object start at most ``rate`` times a second.

``RateLimit`` paces the calls of one process: each start takes the next free slot, one interval
after the one before. ``SharedRateLimit`` paces the same way and also spends tokens from the
object's bucket in the database (``engine.store.limits``), which every worker on that database
draws from, so the limit holds for all of them together. It takes tokens in chunks of about a
quarter of a second's worth (the bucket holds no more than one chunk) and keeps them only that
long: tokens it could not use in time are dropped, never saved up, so no worker bursts above the
limit with tokens from the past. When the bucket is empty, the limiter says how long to wait
until it holds a chunk again; the client waits on the runtime's clock.

Over any stretch of T seconds the workers together start at most ``rate * T`` calls plus two
chunks (what the bucket held at the start, and what was taken just before it).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

TokenSource = Callable[[int, float], tuple[int, float]]  # (wanted, now) -> (granted, ready at)
CHUNK_SECONDS = 0.25
_EPSILON = 1e-6  # clocks count in microseconds: a slot this close to now is due
_RETRY_FLOOR = 0.001  # never ask an empty bucket again sooner than this


def chunk_size(rate: float) -> int:
    """Tokens a process takes at once, and the most the shared bucket holds."""
    return max(1, math.ceil(rate * CHUNK_SECONDS))


class RateLimit:
    """At most ``per_second`` calls start per second in this process."""

    shared = False

    def __init__(self, per_second: float) -> None:
        self.rate = per_second
        self.interval = 1.0 / per_second
        self._next: float | None = None
        self._lock = threading.Lock()  # batches of one object may run in parallel threads

    def acquire(self, now: float, queued: int = 1) -> float:
        """0 when a call may start now (its slot is taken), else the seconds to wait first.
        ``queued`` is how many calls wait to start (a hint for shared limits)."""
        with self._lock:
            wait = self._wait(now, queued)
            if wait <= _EPSILON:
                self._take(now)
                return 0.0
            return wait

    def _wait(self, now: float, queued: int) -> float:
        return 0.0 if self._next is None else max(0.0, self._next - now)

    def _take(self, now: float) -> None:
        start = now if self._next is None else max(self._next, now)
        self._next = start + self.interval


class SharedRateLimit(RateLimit):
    """``RateLimit`` that also spends tokens from the bucket every worker shares; ``tokens``
    takes them (it is replaced by each batch's, which knows the batch's database)."""

    shared = True

    def __init__(self, per_second: float, tokens: TokenSource) -> None:
        super().__init__(per_second)
        self.tokens = tokens
        self.chunk = chunk_size(per_second)
        self._held = 0
        self._held_until = 0.0
        self._ask_at = -math.inf  # when the bucket is worth asking again

    def _wait(self, now: float, queued: int) -> float:
        paced = super()._wait(now, queued)
        if paced > _EPSILON:
            return paced
        if self._held and now <= self._held_until:
            return 0.0
        self._held = 0
        if now < self._ask_at:
            return self._ask_at - now
        wanted = min(self.chunk, max(1, queued))
        granted, ready = self.tokens(wanted, now)
        if granted < wanted:  # others drew on the bucket too: ask when it could hold a chunk
            self._ask_at = max(ready, now + _RETRY_FLOOR)
        if granted:
            self._held, self._held_until = granted, now + self.chunk * self.interval
            return 0.0
        return self._ask_at - now

    def _take(self, now: float) -> None:
        super()._take(now)
        self._held -= 1
