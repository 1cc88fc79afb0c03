"""Backoff, Retry-After and the rate limit."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from engine.http.calls import CallPolicy, HttpAnswer, idempotency_key, should_retry
from engine.http.rates import RateLimit, SharedRateLimit
from engine.http.retry import Backoff, retry_after

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "30"}, 30),
        ({"retry-after": " 0 "}, 0),
        ({"retry-after": "Mon, 05 Jan 2026 09:01:00 GMT"}, 60),
        (
            {
                "retry-after": "Mon, 05 Jan 2026 12:00:10 GMT",
                "date": "Mon, 05 Jan 2026 12:00:00 GMT",
            },
            10,
        ),
        ({"retry-after": "Mon, 05 Jan 2026 08:00:00 GMT"}, 0),  # already past
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers, seconds):
    assert retry_after(headers, NOW) == seconds


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    backoff, rng = Backoff(base=0.5, cap=4.0), random.Random(3)
    for retry, full in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = {backoff.delay(retry, rng) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1  # jittered


def test_the_rate_limit_hands_out_slots_one_interval_apart():
    limit = RateLimit(4.0)
    assert limit.acquire(10.0) == 0
    assert limit.acquire(10.0) == pytest.approx(0.25)
    assert limit.acquire(10.25) == 0
    assert limit.acquire(10.3) == pytest.approx(0.2)
    assert limit.acquire(11.0) == 0


class Bucket:
    """A shared bucket as the database keeps it, counting the takes."""

    def __init__(self, rate: float, capacity: int) -> None:
        self.rate, self.capacity, self.tokens, self.at = rate, capacity, float(capacity), 0.0
        self.takes: list[tuple[int, float, int]] = []  # (wanted, now, granted)

    def __call__(self, wanted: int, now: float) -> tuple[int, float]:
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)
        granted = min(wanted, int(self.tokens))
        self.tokens -= granted
        self.takes.append((wanted, now, granted))
        return granted, self.at + (min(wanted, self.capacity) - self.tokens) / self.rate


def test_a_shared_limit_takes_tokens_in_chunks_and_paces_them():
    bucket = Bucket(rate=20.0, capacity=5)
    limit = SharedRateLimit(20.0, bucket)
    assert limit.chunk == 5
    starts, now = [], 100.0
    while len(starts) < 12:
        wait = limit.acquire(now, queued=50)
        if wait == 0:
            starts.append(now)
        now += wait or 0.001
    assert [w for w, _, _ in bucket.takes] == [5] * len(bucket.takes)
    assert len(bucket.takes) < len(starts)  # not a database statement per call
    assert all(b - a >= 0.05 - 1e-9 for a, b in pairwise(starts))


def test_a_shared_limit_waits_while_the_bucket_is_empty_and_drops_stale_tokens():
    bucket = Bucket(rate=8.0, capacity=2)
    other = SharedRateLimit(8.0, bucket)  # another worker: takes both tokens, uses one
    assert other.acquire(10.0, queued=5) == 0
    limit = SharedRateLimit(8.0, bucket)
    assert limit.acquire(10.0) == pytest.approx(0.125)  # until the bucket holds a token
    assert limit.acquire(10.1) == pytest.approx(0.025)  # without asking the bucket again
    assert len(bucket.takes) == 2
    assert limit.acquire(10.125) == 0
    assert other.acquire(20.0) == 0  # its token left from 10.0 is stale: a fresh take
    assert bucket.takes[-1] == (1, 20.0, 1)


def test_a_shared_limit_asks_only_for_the_calls_that_wait():
    bucket = Bucket(rate=100.0, capacity=25)
    limit = SharedRateLimit(100.0, bucket)
    assert limit.acquire(1.0, queued=3) == 0
    assert bucket.takes == [(3, 1.0, 3)]


@pytest.mark.parametrize(
    ("answer", "tries", "again"),
    [
        (HttpAnswer(503), 1, True),
        (HttpAnswer(429), 3, True),
        (HttpAnswer(503), 4, False),  # retries used up
        (HttpAnswer(404), 1, False),
        (HttpAnswer(200), 1, False),
        (HttpAnswer(None, error="timeout", retryable=True), 1, True),
        (HttpAnswer(None, error="refused"), 1, False),
    ],
)
def test_what_is_tried_again(answer, tries, again):
    assert should_retry(answer, CallPolicy(retries=3), tries) is again


def test_idempotency_keys_are_stable_and_distinct():
    assert idempotency_key("f", "o", 1) == idempotency_key("f", "o", 1)
    assert idempotency_key("f", "o", 1) != idempotency_key("f", "o", 2)
