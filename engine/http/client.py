"""The HTTP client of production: httpx with connection pooling, the address guard at connect
time, bounded concurrency, an optional rate limit, retries with backoff and ``Retry-After``,
a timeout per call and a cap on the size of answers.

``send_all`` sends an object's calls at once: worker threads each make one try of one call
(at most ``policy.concurrency`` in flight, and never more than ``http.concurrency`` of
``sluis.yaml`` for the whole process), while the calling thread schedules: it starts calls,
collects answers, and puts calls that should go again back in the queue for the time their
backoff or ``Retry-After`` asks. Waiting happens only there, through the runtime's clock, so a
virtual clock skips the waits.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from queue import Empty, SimpleQueue

import httpcore
import httpx

from engine.errors import EffectError
from engine.http.calls import (
    CallPolicy,
    HttpAnswer,
    HttpCall,
    HttpOutcome,
    outcome,
    should_retry,
    timeout_text,
)
from engine.http.guard import AddressGuard, AddressRefused, GuardedBackend, Resolver, resolve
from engine.http.rates import RateLimit, SharedRateLimit
from engine.http.retry import HELD_RETRY_AFTER, Backoff, retry_after
from engine.model.project import HttpSettings, Project
from engine.runtime.clock import Clock, SystemClock

MAX_REDIRECTS = 5
_MIN_WAIT = 0.005  # seconds; the shortest real wait of the scheduler while calls are in flight
_EPSILON = 1e-6  # clocks count in microseconds: a start this close to now is due


class ResponseTooLarge(EffectError):
    """The answer's body is larger than ``http.max_response_bytes``."""


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool whose network backend is the address guard.
    (httpx 0.28 builds its pool itself; the pool is swapped for one with our backend.)"""

    def __init__(self, backend: GuardedBackend, size: int) -> None:
        context = httpx.create_ssl_context()
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=size,
            max_keepalive_connections=size,
            keepalive_expiry=30.0,
            network_backend=backend,
        )


class HttpClient:
    """Sends ``HttpCall``s. One client serves a whole process; its connections are pooled."""

    def __init__(
        self,
        settings: HttpSettings | None = None,
        *,
        clock: Clock | None = None,
        allow: Iterable[str] = (),
        resolver: Resolver = resolve,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        settings = settings or HttpSettings()
        self.concurrency = settings.concurrency
        self.max_response_bytes = settings.max_response_bytes
        self.clock: Clock = clock or SystemClock()
        self.guard = AddressGuard(
            allow_private=settings.allow_private, allow=[*settings.allow, *allow]
        )
        self.backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._backend = GuardedBackend(self.guard, resolver)
        self._http: httpx.Client | None = None
        self._workers: ThreadPoolExecutor | None = None
        self._limits: dict[str, RateLimit] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_project(cls, project: Project, *, clock: Clock | None = None) -> HttpClient:
        """The client for ``project``'s ``http`` settings."""
        return cls(project.settings.http, clock=clock)

    def _started(self) -> tuple[httpx.Client, ThreadPoolExecutor]:
        with self._lock:
            if self._http is None or self._workers is None:
                self._http = httpx.Client(
                    transport=_GuardedTransport(self._backend, self.concurrency),
                    trust_env=False,
                    follow_redirects=False,
                )
                self._workers = ThreadPoolExecutor(
                    self.concurrency, thread_name_prefix="sluis-http"
                )
            return self._http, self._workers

    def close(self) -> None:
        """Close the pooled connections and stop the worker threads."""
        with self._lock:
            if self._workers is not None:
                self._workers.shutdown(wait=True)
            if self._http is not None:
                self._http.close()
            self._http, self._workers = None, None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------------------

    def send(self, call: HttpCall, policy: CallPolicy) -> HttpOutcome:
        """Send one call (with its retries)."""
        return self.send_all([call], policy)[0]

    def send_all(self, calls: Sequence[HttpCall], policy: CallPolicy) -> list[HttpOutcome]:
        """Send every call, at most ``policy.concurrency`` at once, retrying those that should
        go again; the outcomes come back in the order of the calls."""
        _, workers = self._started()
        limit = max(1, min(policy.concurrency, self.concurrency))
        limiter = self._limiter(policy)
        outcomes: list[HttpOutcome | None] = [None] * len(calls)
        tries = [0] * len(calls)
        firsts: list[datetime | None] = [None] * len(calls)  # when each call's first try went
        waiting: list[tuple[float, int]] = [(0.0, i) for i in range(len(calls))]  # a heap
        answers: SimpleQueue[tuple[int, HttpAnswer | BaseException]] = SimpleQueue()
        in_flight = 0
        limited_until = 0.0  # the rate limit holds further starts until then

        def attempt(index: int) -> None:
            try:
                answers.put((index, self.try_once(calls[index], policy)))
            except BaseException as exc:  # a bug, not an answer: re-raised by the scheduler
                answers.put((index, exc))

        while waiting or in_flight:
            now = self._now()
            while waiting and in_flight < limit and waiting[0][0] <= now + _EPSILON:
                if limiter is not None:
                    hold = limiter.acquire(now, len(waiting))
                    if hold:
                        limited_until = now + hold
                        break
                _, index = heapq.heappop(waiting)
                tries[index] += 1
                firsts[index] = firsts[index] or self.clock.now()
                in_flight += 1
                if len(calls) == 1:
                    attempt(index)  # nothing to overlap with: no hand-off to a worker
                else:
                    workers.submit(attempt, index)
            next_start = max(waiting[0][0], limited_until) if waiting else None
            if not in_flight:
                self.clock.sleep(max(0.0, next_start - now) if next_start is not None else 0.0)
                continue
            pause = None if next_start is None or in_flight >= limit else next_start - now
            try:
                got = [answers.get(timeout=None if pause is None else max(_MIN_WAIT, pause))]
            except Empty:
                continue
            while not answers.empty():
                got.append(answers.get_nowait())
            now = self._now()
            moment = self.clock.now()
            for index, answer in got:
                in_flight -= 1
                if isinstance(answer, BaseException):
                    raise answer
                call = calls[index]
                made = call.tried + tries[index]
                first = firsts[index]
                if should_retry(answer, policy, made):
                    delay = self._delay(answer, made, policy)
                    if delay is None:
                        outcomes[index] = self._gave_up(answer, call, policy, made, first, moment)
                    elif policy.hold_after is not None and delay > policy.hold_after:
                        # a long wait holds the journey in the database, not this worker
                        held = outcome(answer, call, policy, made)
                        outcomes[index] = replace(held, later=delay)
                    else:
                        heapq.heappush(waiting, (now + delay, index))
                    continue
                outcomes[index] = outcome(answer, call, policy, made, first=first, now=moment)
        return [o for o in outcomes if o is not None]

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _limiter(self, policy: CallPolicy) -> RateLimit | None:
        """The object's rate limit, kept across its batches: shared with the other workers
        when the policy brings the object's bucket, else for this process."""
        rate, tokens = policy.rate_limit, policy.tokens
        if rate is None:
            return None
        with self._lock:
            limiter = self._limits.get(policy.name)
            if limiter is None or limiter.rate != rate or limiter.shared != (tokens is not None):
                limiter = SharedRateLimit(rate, tokens) if tokens else RateLimit(rate)
                self._limits[policy.name] = limiter
            elif isinstance(limiter, SharedRateLimit) and tokens is not None:
                limiter.tokens = tokens
            return limiter

    def _delay(self, answer: HttpAnswer, tries: int, policy: CallPolicy) -> float | None:
        """Seconds before the next try: ``Retry-After`` when the answer has one, else the
        policy's backoff (the client's when it has none). None when the server asks for a
        longer wait than sluis makes."""
        asked = retry_after(answer.headers, self.clock.now()) if answer.status else None
        if asked is None:
            if policy.backoff is not None:
                return self.backoff.delay(tries, self._rng, base=policy.backoff)
            return self.backoff.delay(tries, self._rng)
        return asked if asked <= self._longest(policy) else None

    def _longest(self, policy: CallPolicy) -> float:
        """The longest ``Retry-After`` honoured: a day when long waits are held in the
        database, else what a batch waits out."""
        return HELD_RETRY_AFTER if policy.hold_after is not None else self.backoff.max_retry_after

    def _gave_up(
        self,
        answer: HttpAnswer,
        call: HttpCall,
        policy: CallPolicy,
        tries: int,
        first: datetime | None,
        now: datetime,
    ) -> HttpOutcome:
        result = outcome(answer, call, policy, tries, first=first, now=now)
        limit = timeout_text(self._longest(policy))
        note = f"; Retry-After asks for a longer wait than {limit}"
        return HttpOutcome(False, result.status, tries, result.reason + note, result.headers)

    # -- one try ---------------------------------------------------------------------------

    def try_once(self, call: HttpCall, policy: CallPolicy) -> HttpAnswer:
        """One try of one call: follow redirects (each through the guard), read the answer up
        to the size cap, within ``policy.timeout`` seconds."""
        http = self._http or self._started()[0]
        deadline = time.monotonic() + policy.timeout
        try:
            request = http.build_request(
                call.method,
                call.url,
                headers=dict(call.headers),
                content=call.content,
                timeout=httpx.Timeout(policy.timeout),
            )
            for _ in range(MAX_REDIRECTS + 1):
                response = http.send(request, stream=True, follow_redirects=False)
                try:
                    redirect = response.next_request
                    if redirect is None:
                        body = self._read(response, deadline, policy)
                        return HttpAnswer(response.status_code, dict(response.headers), body)
                finally:
                    response.close()
                request = _redirected(request, redirect, call)
            return HttpAnswer(None, error=f"more than {MAX_REDIRECTS} redirects")
        except (AddressRefused, ResponseTooLarge) as exc:
            return HttpAnswer(None, error=str(exc))
        except httpx.TimeoutException:
            return HttpAnswer(
                None, error=f"no answer within {timeout_text(policy.timeout)}", retryable=True
            )
        except httpx.TransportError as exc:
            return HttpAnswer(
                None, error=f"connection failed: {exc or type(exc).__name__}", retryable=True
            )
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            return HttpAnswer(None, error=f"request failed: {exc}")

    def _read(self, response: httpx.Response, deadline: float, policy: CallPolicy) -> bytes:
        cap = self.max_response_bytes
        too_large = (
            f"the answer is larger than {cap:,} bytes (http.max_response_bytes in sluis.yaml); "
            "raise the cap or make the endpoint answer less"
        )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise ResponseTooLarge(too_large)
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise ResponseTooLarge(too_large)
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout(f"no answer within {timeout_text(policy.timeout)}")
            chunks.append(chunk)
        return b"".join(chunks)


def _redirected(previous: httpx.Request, redirect: httpx.Request, call: HttpCall) -> httpx.Request:
    """The next request of a redirect; headers carrying secrets stay on the original host."""
    leaves = redirect.url.host != previous.url.host or (
        previous.url.scheme == "https" and redirect.url.scheme != "https"
    )
    if leaves:
        for name in call.secret_headers:
            redirect.headers.pop(name, None)
    return redirect
