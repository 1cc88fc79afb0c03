"""Delivering a batch of mails of one mail object: who is skipped and why, what the send log
already knows, the throttle, composing, and sending in windows of ``Sender.in_flight`` mails,
each queued in the send log first and marked sending one by one as it is handed over (see
``engine.mail.sendlog``), so a crash leaves at most the mails in the servers' hands unknown.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import TemplateError
from engine.mail.compose import Composer, Letter
from engine.mail.handover import Delivery
from engine.model.durations import parse_duration
from engine.model.retries import RetrySettings, Tries, tries_so_far
from engine.sdk.batch import Batch, Journey
from engine.sdk.context import RunContext
from engine.sdk.effects import MailSink

# The send log, the throttle and the events table (SQLAlchemy) are imported where mail is
# delivered, so a flow with a mail object validates without loading them.
if TYPE_CHECKING:
    from engine.mail import sendlog

UNKNOWN = "unknown: an earlier run stopped while sending it (it may have gone out); not sent again"
OutcomeKind = Literal["sent", "skipped", "held", "failed"]
PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


@dataclass(frozen=True)
class Outcome:
    """What happened to one journey's mail."""

    journey: Journey
    kind: OutcomeKind
    reason: str
    letter: Letter | None = None  # the mail composed and accepted in this run
    message_id: str | None = None
    until: datetime | None = None  # for held journeys
    data: dict[str, Any] | None = None  # entry data a held journey keeps (its tries)
    accepted: bool = False  # the server took it (now, or in a run that stopped before commit)


def address_of(to: str) -> str:
    """The address in ``to`` as ``parseaddr`` finds it; a plain address (most are) is its own,
    without the parser's 20 µs a mail."""
    return to if PLAIN_ADDRESS.fullmatch(to) else parseaddr(to)[1]


def skip_reasons(batch: Batch, ctx: RunContext) -> dict[int, str]:
    """Why journeys must not get this mail: hard bounce, unsubscribed (all, or from this
    flow), too many soft bounces within the window."""
    settings = ctx.project.settings.mail
    limit = settings.soft_bounce_limit
    window = settings.soft_bounce_window
    left_flow = _unsubscribed_from_flow(batch, ctx)
    bounced = [j.customer_id for j in batch if j.customer.get("bounced") == "soft"]
    from engine.mail.bounces.softcount import soft_bounces

    with ctx.store.db.read() as conn:
        counts = soft_bounces(conn, bounced, ctx.now, parse_duration(window))
    reasons: dict[int, str] = {}
    for journey in batch:
        customer = journey.customer
        soft = counts.get(journey.customer_id, 0)
        if customer.get("bounced") == "hard":
            reasons[journey.id] = "skipped: hard bounce"
        elif customer.get("unsubscribed"):
            reasons[journey.id] = "skipped: unsubscribed"
        elif journey.customer_id in left_flow:
            reasons[journey.id] = "skipped: unsubscribed from this flow"
        elif soft >= limit:
            reasons[journey.id] = f"skipped: {soft} soft bounces in {window} (limit {limit})"
    return reasons


def _unsubscribed_from_flow(batch: Batch, ctx: RunContext) -> set[int]:
    from engine.store.raw import among, fetch, json_value

    ids = list({j.customer_id for j in batch})
    found: set[int] = set()
    with ctx.store.db.read() as conn:
        for condition, params in among(conn, "customer_id", ids):
            statement = (
                "SELECT customer_id, data FROM events WHERE kind = 'unsubscribe' AND flow = ? "
                f"AND {condition}"
            )
            found.update(
                cid
                for cid, data in fetch(conn, statement, [batch.flow, *params])
                if (json_value(data) or {}).get("scope") == "flow"
            )
    return found


def _from_log(journey: Journey, logged: sendlog.Logged) -> Outcome | None:
    """The outcome a send-log row already settles (the batch runs again), or None."""
    mid = logged.message_id
    if logged.state == "sent":
        return Outcome(journey, "sent", "sent", message_id=mid, accepted=True)
    if logged.state in ("sending", "unknown"):
        return Outcome(journey, "sent", UNKNOWN, message_id=mid)
    return None  # queued but never handed over, failed or refused: known not sent, send it


def _outcome(
    journey: Journey,
    letter: Letter,
    delivery: Delivery,
    tries: Tries,
    retry: RetrySettings,
    *,
    object_id: str,
    now: datetime,
) -> Outcome:
    """A refused mail (SMTP 5xx) fails the journey at once; a deferred one (SMTP 4xx, no
    connection) is held for another try, the object's ``retries`` and ``backoff`` deciding
    how often and when (DESIGN.md 8). The send log counts the ``tries``; the journey keeps
    when the first was made."""
    mid = letter.message_id
    if delivery.state == "sent":
        return Outcome(journey, "sent", "sent", letter=letter, message_id=mid, accepted=True)
    if delivery.state == "unknown":
        reason = f"unknown: {delivery.detail}; not sent again"
        return Outcome(journey, "sent", reason, message_id=mid)
    if delivery.state == "refused":
        return Outcome(journey, "failed", f"failed: {delivery.detail} (permanent)")
    if tries.made > retry.retries:
        return Outcome(journey, "failed", f"failed: {delivery.detail} {tries.over(now)}")
    until = now + retry.wait(tries.made)
    data = tries.record(object_id)
    return Outcome(journey, "held", delivery.detail, until=until, data=data)


def deliver(
    batch: Batch,
    ctx: RunContext,
    sink: MailSink,
    composer: Composer,
    *,
    per_hour: int | None = None,
    retry: RetrySettings | None = None,
) -> Iterator[Outcome]:
    """Yield one ``Outcome`` per journey of the batch."""
    from engine.mail import sendlog, throttle

    now, db, object_id = ctx.now, ctx.store.db, batch.object_id
    retry = retry or RetrySettings()
    logged = sendlog.read(db, object_id, [j.id for j in batch])
    skipped = skip_reasons(batch, ctx)
    stale = [jid for jid, row in logged.items() if row.state == "sending"]
    sendlog.mark_unknown(db, object_id, stale, now)
    candidates: list[tuple[Journey, str]] = []
    for journey in batch:
        row = logged.get(journey.id)
        settled = _from_log(journey, row) if row is not None else None
        if settled is not None:
            yield settled
        elif journey.id in skipped:
            yield Outcome(journey, "skipped", skipped[journey.id])
        else:
            try:
                to = composer.address(journey, ctx.scope(journey))
            except TemplateError as exc:
                yield Outcome(journey, "failed", f"failed: {exc}")
                continue
            address = address_of(to)
            if not to:
                yield Outcome(journey, "skipped", "skipped: no address")
            elif "@" not in address or not address.isascii():
                yield Outcome(journey, "skipped", f"skipped: no valid address ({to!r})")
            else:
                candidates.append((journey, to))
    if per_hour is not None and candidates:
        granted, reopens = throttle.reserve(
            db, batch.flow, object_id, per_hour, len(candidates), now
        )
        for journey, _to in candidates[granted:]:
            yield Outcome(journey, "held", "throttled", until=reopens)
        candidates = candidates[:granted]
    window = max(1, sink.sender.in_flight)
    windows = [candidates[start : start + window] for start in range(0, len(candidates), window)]
    # the next window is composed and queued while the one before it is being sent
    with ThreadPoolExecutor(1, thread_name_prefix="sluis-mail") as background:
        sending: tuple[Future[list[Delivery]], _Window] | None = None
        for chunk in windows:
            ready = _Window(ctx, composer, chunk)
            yield from ready.refused
            if sending is not None:
                yield from _finish(*sending, ctx, logged, retry)
            sending = background.submit(ready.send, sink), ready
        if sending is not None:
            yield from _finish(*sending, ctx, logged, retry)


class _Window:
    """One window of mails: composed and queued in the send log (owned by this run)."""

    def __init__(
        self, ctx: RunContext, composer: Composer, candidates: Sequence[tuple[Journey, str]]
    ) -> None:
        from engine.mail import sendlog

        self.db, self.object_id = ctx.store.db, ctx.object_id
        self.owner = uuid.uuid4().hex
        self.refused: list[Outcome] = []  # outcomes settled before sending
        letters: list[Letter] = []
        self.journeys: dict[int, Journey] = {}
        for journey, to in candidates:
            try:
                letters.append(composer.compose(journey, ctx.scope(journey), to, ctx.now))
            except TemplateError as exc:
                self.refused.append(Outcome(journey, "failed", f"failed: {exc}"))
                continue
            self.journeys[journey.id] = journey
        mine = sendlog.claim(self.db, self.object_id, letters, ctx.now, self.owner)
        for letter in letters:
            if letter.journey_id not in mine:
                journey = self.journeys[letter.journey_id]
                self.refused.append(Outcome(journey, "sent", UNKNOWN, message_id=letter.message_id))
        self.letters = [letter for letter in letters if letter.journey_id in mine]

    def send(self, sink: MailSink) -> list[Delivery]:
        return sink.sender.send(self.letters, self)

    def __call__(self, letter: Letter) -> bool:
        """The window's ``Handover`` of one mail."""
        from engine.mail import sendlog

        return sendlog.handover(self.db, self.object_id, letter.journey_id, self.owner)

    def all(self, letters: Sequence[Letter]) -> set[int]:
        """The window's ``Handover`` of many mails at once."""
        from engine.mail import sendlog

        ids = [letter.journey_id for letter in letters]
        return sendlog.handover_all(self.db, self.object_id, ids, self.owner)


def _finish(
    sent: Future[list[Delivery]],
    window: _Window,
    ctx: RunContext,
    logged: dict[int, sendlog.Logged],
    retry: RetrySettings,
) -> Iterator[Outcome]:
    from engine.mail import sendlog

    deliveries = sent.result()
    sendlog.mark(window.db, window.object_id, deliveries, ctx.now)
    for letter, delivery in zip(window.letters, deliveries, strict=True):
        journey = window.journeys[letter.journey_id]
        previous = logged.get(letter.journey_id)
        again = previous is not None and previous.state in ("failed", "refused")
        attempts = 1 if previous is None else previous.attempts + again
        first = tries_so_far(journey.data, window.object_id).first or ctx.now
        tries = Tries(attempts, first)
        yield _outcome(
            journey, letter, delivery, tries, retry, object_id=window.object_id, now=ctx.now
        )
