"""What sluis does with mail that came back (DESIGN.md section 15), from a mailbox or from a
provider's notification:

- a hard bounce (the address itself is permanently bad) marks the customer ``bounced: hard``:
  no more mail, for good;
- a soft bounce is recorded as a ``bounce`` event with ``bounce_type: soft``; the mail object
  skips a customer with ``mail.soft_bounce_limit`` of them within ``mail.soft_bounce_window``
  after their last delivery (``engine.mail.bounces.softcount``);
- a block of the sender (spam, reputation, SPF/DKIM/DMARC, PTR, relaying) is an operator
  matter: recorded as a ``sender-block`` event without a customer, never charged to anyone;
- a complaint unsubscribes the customer; a delivery notice is recorded as a ``delivered``
  event (it lifts the soft-bounce count) and changes nothing else; auto-replies change nothing.

The customer is found by the Message-ID of the mail that came back (the send log), else by
address. A message or event ingested before counts nothing twice.
"""

from __future__ import annotations

import email
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, case, insert, select, update

from engine.mail.bounces.classify import classify
from engine.mail.bounces.sources import read_messages
from engine.mail.bounces.verdict import Recipient, Verdict
from engine.runtime.runner import IncomingEvent, Runtime
from engine.store import journeys as sql
from engine.store.customers import find_ids
from engine.store.models import CUSTOMERS, INGESTED_BOUNCES, JOURNEYS, SEND_LOG

LOG = SEND_LOG
SEEN = INGESTED_BOUNCES


@dataclass
class IngestReport:
    """What an ingest found and did."""

    messages: int = 0
    hard: int = 0
    soft: int = 0
    sender_blocks: int = 0
    complaints: int = 0
    delivered: int = 0
    not_bounces: int = 0  # auto-replies and other mail
    already_seen: int = 0
    unmatched: list[str] = field(default_factory=list)
    bounces: list[Recipient] = field(default_factory=list)


def ingest(runtime: Runtime, path: Path) -> IngestReport:
    """Read every message at ``path`` and act on it."""
    report = IngestReport()
    for _name, raw in read_messages(path):
        message = email.message_from_bytes(raw)
        key = str(message.get("Message-ID") or "").strip() or hashlib.sha256(raw).hexdigest()
        apply(runtime, classify(message), key, report)
    return report


def apply(runtime: Runtime, verdict: Verdict, key: str, report: IngestReport) -> None:
    """Act on one verdict, once per ``key`` (a Message-ID, a provider's event id)."""
    report.messages += 1
    if verdict.kind in ("auto-reply", "other"):
        report.not_bounces += 1
        return
    now = runtime.clock.now()
    events: list[IncomingEvent] = []
    with runtime.store.db.write() as conn:
        if conn.execute(select(SEEN.c.key).where(SEEN.c.key == key)).first() is not None:
            report.already_seen += 1
            return
        conn.execute(insert(SEEN).values(key=key, at=now))
        if verdict.kind == "delivered":
            report.delivered += 1
            events += _delivered(conn, verdict, runtime)
        for recipient in verdict.recipients:
            if verdict.kind == "bounce" and recipient.sender_block:
                report.sender_blocks += 1
                sql.add_events(conn, [_alert(verdict, recipient, runtime)])
                continue
            match = _match(conn, verdict.message_id, recipient.address)
            if match is None:
                report.unmatched.append(recipient.address)
                continue
            customer_id, flow, object_id = match
            where = CUSTOMERS.c.system_id == customer_id
            data = _data(verdict, recipient)
            if verdict.kind == "complaint":
                report.complaints += 1
                conn.execute(
                    update(CUSTOMERS).where(where).values(unsubscribed=True, updated_at=now)
                )
                data["scope"], data["via"] = "all", "complaint"
                events.append(IncomingEvent("unsubscribe", customer_id, now, flow, object_id, data))
                continue
            if recipient.hard:
                report.hard += 1
                conn.execute(update(CUSTOMERS).where(where).values(bounced="hard", updated_at=now))
            else:
                report.soft += 1
                bounced = case((CUSTOMERS.c.bounced == "hard", "hard"), else_="soft")
                conn.execute(
                    update(CUSTOMERS)
                    .where(where)
                    .values(
                        soft_bounces=CUSTOMERS.c.soft_bounces + 1, bounced=bounced, updated_at=now
                    )
                )
            report.bounces.append(recipient)
            events.append(IncomingEvent("bounce", customer_id, now, flow, object_id, data))
    runtime.record_events(events)


def _delivered(conn: Connection, verdict: Verdict, runtime: Runtime) -> list[IncomingEvent]:
    """A ``delivered`` event for the customer the delivered mail went to (by Message-ID)."""
    match = _match(conn, verdict.message_id, None)
    if match is None:
        return []
    customer_id, flow, object_id = match
    data = {"message_id": verdict.message_id, **verdict.detail}
    return [IncomingEvent("delivered", customer_id, runtime.clock.now(), flow, object_id, data)]


def _alert(verdict: Verdict, recipient: Recipient, runtime: Runtime) -> dict[str, Any]:
    """An operator alert: the receiving side refused the sender, whoever the customer was."""
    data = _data(verdict, recipient)
    data["domain"] = recipient.address.rsplit("@", 1)[-1]
    del data["address"]  # the alert is about the sender, not this customer
    return {"kind": "sender-block", "at": runtime.clock.now(), "data": data}


def _match(
    conn: Connection, message_id: str | None, address: str | None
) -> tuple[int, str | None, str | None] | None:
    """(customer, flow, mail object): by the original Message-ID, else by address."""
    if message_id:
        ids = {message_id, message_id.strip("<>"), f"<{message_id.strip('<>')}>"}
        query = (
            select(JOURNEYS.c.customer_id, JOURNEYS.c.flow, LOG.c.object)
            .join(JOURNEYS, JOURNEYS.c.id == LOG.c.journey_id)
            .where(LOG.c.message_id.in_(sorted(ids)))
        )
        for row in conn.execute(query):
            if address is None or _address_of(conn, row.customer_id) == address.lower():
                return row.customer_id, row.flow, row.object
    if address is None:
        return None
    found = find_ids(conn, "email", [address])
    return (next(iter(found.values())), None, None) if found else None


def _address_of(conn: Connection, customer_id: int) -> str:
    email_ = conn.execute(
        select(CUSTOMERS.c.email).where(CUSTOMERS.c.system_id == customer_id)
    ).scalar()
    return str(email_ or "").lower()


def _data(verdict: Verdict, recipient: Recipient) -> dict[str, Any]:
    return {
        "bounce_type": "hard" if recipient.hard else "soft",
        "kind": verdict.kind,
        "status": recipient.status,
        "reason": recipient.reason,
        "address": recipient.address,
        "message_id": verdict.message_id,
        "diagnostic": recipient.diagnostic[:500] or None,
        **verdict.detail,
    }
