"""Bounces: read bounce messages from a Maildir, an mbox or .eml files, find who bounced and
how, and record it.

Which addresses bounced comes from flufl.bounce (GNU Mailman's detectors: RFC 3464 delivery
status notifications and many non-standard formats). Whether a bounce is hard or soft comes
from its status code: 5.x.x is hard, 4.x.x soft (from the DSN's ``Status`` field, else the
first enhanced status code in the text); without a code, flufl's permanent/temporary verdict
decides. The bounced mail is found by its Message-ID through the send log, else the customer
by address. Hard bounces mark the customer ``bounced: hard`` (no more mail); soft bounces count
up ``soft_bounces`` (no more mail past ``mail.soft_bounce_limit``).
"""

from __future__ import annotations

import email
import hashlib
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, Literal

from flufl.bounce import all_failures
from sqlalchemy import Connection, case, insert, select, update

from engine.errors import InputError
from engine.runtime import IncomingEvent, Runtime
from engine.store.customers import find_ids
from engine.store.models import Customer, IngestedBounce, Journey, SendLog

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
JOURNEYS = Journey.__table__  # type: ignore[attr-defined]
LOG = SendLog.__table__  # type: ignore[attr-defined]
SEEN = IngestedBounce.__table__  # type: ignore[attr-defined]
BounceType = Literal["hard", "soft"]
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Bounce:
    """One address that bounced, as read from a bounce message."""

    address: str
    bounce_type: BounceType
    status: str | None = None  # the enhanced status code, e.g. 5.1.1
    diagnostic: str | None = None
    message_id: str | None = None  # of the mail that bounced


@dataclass
class IngestReport:
    """What an ingest found."""

    messages: int = 0
    bounces: list[Bounce] = field(default_factory=list)
    hard: int = 0
    soft: int = 0
    not_bounces: int = 0
    already_seen: int = 0
    unmatched: list[str] = field(default_factory=list)


# -- reading -------------------------------------------------------------------------------


def read_bounce(message: Message) -> list[Bounce]:
    """The bounced addresses in ``message`` (empty when it is no bounce, e.g. an auto-reply)."""
    temporary, permanent = all_failures(message)
    if not (temporary or permanent):
        return []
    statuses = _dsn_fields(message)
    fallback = _first_status(message)
    original = _original_message_id(message)
    found = []
    for raw in sorted(permanent | temporary):
        address = raw.decode("ascii", "replace")
        status, diagnostic = statuses.get(address.lower(), (fallback, None))
        if status and status[0] in "45":
            kind: BounceType = "hard" if status[0] == "5" else "soft"
        else:
            kind = "hard" if raw in permanent else "soft"
        found.append(Bounce(address, kind, status, diagnostic, original))
    return found


def _subparts(message: Message) -> list[Message]:
    payload = message.get_payload() if message.is_multipart() else []
    return [part for part in payload if isinstance(part, Message)]


def _own_parts(message: Message) -> Iterator[Message]:
    """The parts of a message, not descending into attached messages (the bounced mail)."""
    yield message
    if message.get_content_maintype() != "message":
        for part in _subparts(message):
            yield from _own_parts(part)


def _dsn_fields(message: Message) -> dict[str, tuple[str | None, str | None]]:
    """Per recipient (lower case): the DSN's Status and Diagnostic-Code."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for part in _own_parts(message):
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _subparts(part):
            recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
            if not recipient:
                continue
            address = str(recipient).split(";", 1)[-1].strip().strip("<>").lower()
            status = _STATUS.search(str(block.get("Status", "")))
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split()) or None
            found[address] = (status.group(0) if status else None, diagnostic)
    return found


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return payload.decode(part.get_content_charset() or "utf-8", "replace")


def _first_status(message: Message) -> str | None:
    """The first 4.x.x or 5.x.x code in the bounce's own text parts."""
    for part in _own_parts(message):
        if part.get_content_type() == "text/plain":
            for match in _STATUS.finditer(_text(part)):
                if match.group(1) in "45":
                    return match.group(0)
    return None


def _original_message_id(message: Message) -> str | None:
    """The Message-ID of the mail that bounced: from the attached mail or its headers, else a
    Message-ID line quoted in the text."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            for inner in _subparts(part):
                if inner.get("Message-ID"):
                    return str(inner["Message-ID"]).strip()
        elif kind == "text/rfc822-headers":
            headers = HeaderParser().parsestr(_text(part))
            if headers.get("Message-ID"):
                return str(headers["Message-ID"]).strip()
    for part in _own_parts(message):
        if part is not message and part.get_content_maintype() == "text":
            match = _MESSAGE_ID.search(_text(part))
            if match:
                return match.group(1)
    if not message.is_multipart():
        match = _MESSAGE_ID.search(_text(message))
        if match:
            return match.group(1)
    return None


def read_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, raw bytes) of every message at ``path``: a Maildir (``new/`` and ``cur/``), an
    mbox file, one .eml file, or a folder of .eml files."""
    if path.is_dir():
        if (path / "new").is_dir() or (path / "cur").is_dir():
            files = sorted(
                f for sub in ("new", "cur") if (path / sub).is_dir() for f in (path / sub).iterdir()
            )
        else:
            files = sorted(f for f in path.iterdir() if f.suffix.lower() == ".eml")
        for file in files:
            if file.is_file():
                yield str(file), file.read_bytes()
    elif path.is_file():
        with path.open("rb") as handle:
            mbox = handle.read(5) == b"From "
        if mbox:
            box = mailbox.mbox(path, create=False)
            try:
                for number, key in enumerate(box.keys(), 1):
                    yield f"{path}#{number}", box.get_bytes(key)
            finally:
                box.close()
        else:
            yield str(path), path.read_bytes()
    else:
        raise InputError(f"{path}: no such file or folder; give a Maildir, an mbox or .eml files")


# -- recording -----------------------------------------------------------------------------


def ingest(runtime: Runtime, path: Path) -> IngestReport:
    """Read every message at ``path`` and record its bounces. A message ingested before (same
    Message-ID, or same bytes) is skipped, so ingesting a mailbox again counts nothing twice."""
    report = IngestReport()
    for _name, raw in read_messages(path):
        report.messages += 1
        message = email.message_from_bytes(raw)
        bounces = read_bounce(message)
        if not bounces:
            report.not_bounces += 1
            continue
        key = str(message.get("Message-ID") or "").strip() or hashlib.sha256(raw).hexdigest()
        events = []
        with runtime.store.db.write() as conn:
            if conn.execute(select(SEEN.c.key).where(SEEN.c.key == key)).first() is not None:
                report.already_seen += 1
                continue
            conn.execute(insert(SEEN).values(key=key, at=runtime.clock.now()))
            for bounce in bounces:
                match = _match(conn, bounce)
                if match is None:
                    report.unmatched.append(bounce.address)
                    continue
                customer_id, flow, object_id = match
                _mark(conn, customer_id, bounce.bounce_type, runtime)
                events.append(
                    IncomingEvent(
                        "bounce",
                        customer_id,
                        runtime.clock.now(),
                        flow=flow,
                        object=object_id,
                        data=_data(bounce),
                    )
                )
                report.bounces.append(bounce)
                report.hard += bounce.bounce_type == "hard"
                report.soft += bounce.bounce_type == "soft"
        runtime.record_events(events)
    return report


def _match(conn: Connection, bounce: Bounce) -> tuple[int, str | None, str | None] | None:
    """(customer, flow, mail object) of a bounce: by the original Message-ID, else by address."""
    if bounce.message_id:
        row = conn.execute(
            select(JOURNEYS.c.customer_id, JOURNEYS.c.flow, LOG.c.object)
            .join(JOURNEYS, JOURNEYS.c.id == LOG.c.journey_id)
            .where(LOG.c.message_id == bounce.message_id)
        ).first()
        if row is not None:
            return row.customer_id, row.flow, row.object
    found = find_ids(conn, "email", [bounce.address])
    if found:
        return next(iter(found.values())), None, None
    return None


def _mark(conn: Connection, customer_id: int, kind: BounceType, runtime: Runtime) -> None:
    where = CUSTOMERS.c.system_id == customer_id
    now = runtime.clock.now()
    if kind == "hard":
        conn.execute(update(CUSTOMERS).where(where).values(bounced="hard", updated_at=now))
    else:
        conn.execute(
            update(CUSTOMERS)
            .where(where)
            .values(
                soft_bounces=CUSTOMERS.c.soft_bounces + 1,
                bounced=case((CUSTOMERS.c.bounced == "hard", "hard"), else_="soft"),
                updated_at=now,
            )
        )


def _data(bounce: Bounce) -> dict[str, Any]:
    return {
        "bounce_type": bounce.bounce_type,
        "status": bounce.status,
        "address": bounce.address,
        "message_id": bounce.message_id,
        "diagnostic": bounce.diagnostic,
    }
