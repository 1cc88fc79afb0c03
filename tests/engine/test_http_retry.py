"""Backoff, Retry-After and the rate limit."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from engine.http.calls import CallPolicy, HttpAnswer, idempotency_key, should_retry
from engine.http.retry import Backoff, RateLimit, retry_after

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
    assert limit.wait(10.0) == 0
    limit.take(10.0)
    assert limit.wait(10.0) == pytest.approx(0.25)
    limit.take(10.25)
    assert limit.wait(10.3) == pytest.approx(0.2)
    assert limit.wait(11.0) == 0


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
