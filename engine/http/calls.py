"""HTTP calls and their outcomes, as objects and the sinks that send them share them.

An object renders ``HttpCall``s (method, URL as sent, headers, body) and hands them with a
``CallPolicy`` (timeout, retries, success codes, concurrency, rate limit) to the HTTP sink of
its effects: the real client in production, the capturing one in replay. Each call comes back
as an ``HttpOutcome`` with ``ok``, the status, the number of tries and a reason a person can
read (``failed: HTTP 503 after 3 tries over 1m10s``). Secrets never reach a reason: every text
an outcome carries is masked with the call's secrets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from engine.http.rates import TokenSource
from engine.http.retry import says_later
from engine.model.durations import format_duration
from engine.model.retries import after_tries

IDEMPOTENCY_HEADER = "Idempotency-Key"
MASK = "***"
_KEYS = uuid.UUID("6f1e3c2a-5b7d-4e8f-9a0b-1c2d3e4f5a6b")  # namespace of sluis's keys


def idempotency_key(*parts: object) -> str:
    """A key that is the same whenever the same parts come again (the same journey at the same
    object, the same chunk of the same batch), so a receiver can recognise a repeated call."""
    return str(uuid.uuid5(_KEYS, "/".join(str(p) for p in parts)))


def mask(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


@dataclass(frozen=True)
class HttpCall:
    """One request to send. ``secret_headers`` name the headers whose values came from
    ``${VAR}``: they are masked everywhere and dropped when a redirect leaves the origin."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    secrets: tuple[str, ...] = ()
    secret_headers: frozenset[str] = frozenset()
    tried: int = 0  # tries made in earlier batches (the journey was held between them)
    first_tried: datetime | None = None  # when the first of those was made

    @property
    def key(self) -> str | None:
        return self.headers.get(IDEMPOTENCY_HEADER)


@dataclass(frozen=True)
class CallPolicy:
    """How an object's calls are sent. ``success`` None means every 2xx status. Calls of one
    ``name`` (an object) share their rate limit across batches; with ``tokens`` (the object's
    bucket in the database) the limit is shared with every worker on that database too."""

    timeout: float = 30.0
    retries: int = 3
    success: frozenset[int] | None = None
    concurrency: int = 10
    rate_limit: float | None = None
    name: str = ""
    tokens: TokenSource | None = field(default=None, compare=False, repr=False)
    backoff: float | None = None  # seconds before the first retry, doubling (None: the client's)
    hold_after: float | None = None  # a longer wait comes back as ``later`` (None: wait it out)

    def succeeded(self, status: int) -> bool:
        return 200 <= status < 300 if self.success is None else status in self.success


@dataclass(frozen=True)
class HttpAnswer:
    """What one try got: a status with headers and body, or an error (``status`` None)."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    retryable: bool = False


@dataclass(frozen=True)
class HttpOutcome:
    """How a call ended after its tries."""

    ok: bool
    status: int | None
    tries: int
    reason: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    later: float | None = None  # not settled: try again after this many seconds

    @cached_property
    def json(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError):
            return None

    def for_item(self, item: Any) -> HttpOutcome:
        """This outcome as one item of a batched answer sees it: ``json`` is the item."""
        copy = HttpOutcome(self.ok, self.status, self.tries, self.reason, self.headers)
        copy.__dict__["json"] = item  # the cached property, set: the body is the whole batch's
        return copy

    @property
    def response(self) -> dict[str, Any]:
        """The ``response`` variable of ``save`` templates."""
        return {"status": self.status, "json": self.json, "headers": dict(self.headers)}


def should_retry(answer: HttpAnswer, policy: CallPolicy, tries: int) -> bool:
    """Whether a call whose latest try got ``answer`` goes again (``tries`` counts those of
    earlier batches too)."""
    if tries > policy.retries:
        return False
    if answer.status is None:
        return answer.retryable
    return not policy.succeeded(answer.status) and says_later(answer.status)


def outcome(
    answer: HttpAnswer,
    call: HttpCall,
    policy: CallPolicy,
    tries: int,
    *,
    first: datetime | None = None,
    now: datetime | None = None,
) -> HttpOutcome:
    """The outcome of a call whose last try got ``answer``; its tries began at ``first``
    (the call's own ``first_tried`` when it has one) and ended ``now``."""
    ok = answer.status is not None and policy.succeeded(answer.status)
    what = f"HTTP {answer.status}" if answer.status is not None else (answer.error or "no answer")
    if tries > 1:
        what += " " + after_tries(tries, call.first_tried or first, now)
    reason = mask(f"{'ok' if ok else 'failed'}: {what}", call.secrets)
    return HttpOutcome(ok, answer.status, tries, reason, answer.headers, answer.body)


def timeout_text(seconds: float) -> str:
    """``2s``, ``1m30s`` or ``0.5s`` for reasons."""
    if seconds < 1 or seconds != int(seconds):
        return f"{seconds:g}s"
    return format_duration(timedelta(seconds=seconds))
