"""Classify one message that came back: a bounce (with its failed recipients), a complaint
(RFC 5965 feedback report), an auto-reply (RFC 3834), a delivery notice, or something else.

A delivery status notification (RFC 3464) gives the recipients and their status codes; without
one, the plain-text report of the MTA is read per recipient: each failed address owns the lines
from where it is named to where the next one is, and its status and reason come from those
lines only (never the first status of the message applied to everyone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from email import message_from_bytes
from email.message import Message
from email.utils import getaddresses

from engine.mail.bounces import families as fam
from engine.mail.bounces.judge import judge
from engine.mail.bounces.mailparts import Report, read_report
from engine.mail.bounces.providers import read_provider_event
from engine.mail.bounces.verdict import ADDRESS, STATUS, Recipient, Verdict, clean_address

_DONE_ACTIONS = ("delivered", "relayed", "expanded")
_SPACE = re.compile(r"\s+")


def classify_file(raw: bytes) -> Verdict:
    """The reading of one message given as bytes."""
    return classify(message_from_bytes(raw))


def classify(message: Message, depth: int = 0) -> Verdict:
    """The reading of one message."""
    event = _provider_json(message)
    if event is not None:
        return event
    report = read_report(message)
    original_id = _original_id(report)
    if _is_complaint(message, report):
        return _complaint(message, report, original_id)
    if report.dsn:
        if all(_delivered(block) for block in report.dsn):
            return Verdict("delivered", message_id=original_id)
        recipients = _from_dsn(message, report)
        if recipients:
            return Verdict("bounce", tuple(recipients), original_id)
    if _is_auto_reply(message):
        return Verdict("auto-reply", message_id=original_id)
    nested = report.original
    if nested is not None and nested.get_content_type() == "multipart/report" and depth < 2:
        return classify(nested, depth + 1)  # a report forwarded as an attachment
    if _is_report(message, report):
        recipients = _from_text(message, report)
        return Verdict("bounce", tuple(recipients), original_id)
    return Verdict("other", message_id=original_id)


# -- what kind of message ------------------------------------------------------------------


def _provider_json(message: Message) -> Verdict | None:
    """A provider notification that came by mail (Amazon SES through SNS to an address)."""
    if message.is_multipart():
        return None
    raw = message.get_payload(decode=True)
    text = raw.decode("utf-8", "replace").strip() if isinstance(raw, bytes) else ""
    if not text.startswith("{"):
        return None
    try:  # SNS mails the JSON with a footer after it: read the first object only
        body, _end = json.JSONDecoder(strict=False).raw_decode(text)
    except ValueError:
        return None
    return read_provider_event(body) if isinstance(body, dict) else None


def _is_complaint(message: Message, report: Report) -> bool:
    if report.feedback is not None or "feedback-report" in str(message.get("Content-Type", "")):
        return True
    holders = [message] if report.original is None else [message, report.original]
    if any(h.get(name) for h in holders for name in fam.COMPLAINT_HEADERS):
        return True
    if fam.COMPLAINT_SUBJECTS.search(str(message.get("Subject", ""))):
        return True
    return not report.dsn and bool(fam.COMPLAINT_TEXT.search(report.text))


def _is_auto_reply(message: Message) -> bool:
    if fam.REPORT_SENDERS.search(str(message.get("From", ""))):
        return False
    for name, pattern in fam.AUTO_REPLY_HEADERS.items():
        if pattern.search(str(message.get(name, ""))):
            return True
    return bool(fam.AUTO_REPLY_SUBJECTS.search(str(message.get("Subject", ""))))


def _is_report(message: Message, report: Report) -> bool:
    if message.get("X-Failed-Recipients"):
        return True
    sender = fam.REPORT_SENDERS.search(str(message.get("From", "")))
    subject = fam.REPORT_SUBJECTS.search(str(message.get("Subject", "")))
    opening = fam.REPORT_OPENINGS.search(report.text)
    said = fam.SERVER_SAID.search(report.text)  # a mail system quoting a refusal
    return bool((sender and (subject or opening or said)) or (subject and opening))


def _complaint(message: Message, report: Report, original_id: str | None) -> Verdict:
    fields = report.feedback or {}
    found = [fields.get("original-rcpt-to", ""), fields.get("removal-recipient", "")]
    holders = [message] if report.original is None else [report.original, message]
    found += [str(h.get(name, "")) for h in holders for name in fam.COMPLAINT_HEADERS]
    if report.original is not None:
        found += [str(report.original.get("To", ""))]
    else:  # a request to unsubscribe (List-Unsubscribe by mail) comes from the customer
        found += [str(message.get("From", ""))]
    addresses = _unique(a for text in found for a in ADDRESS.findall(text))
    recipients = tuple(Recipient(a, "", "feedback") for a in addresses[:1])
    return Verdict(
        "complaint", recipients, original_id, {"feedback_type": fields.get("feedback-type")}
    )


# -- recipients ----------------------------------------------------------------------------


def _from_dsn(message: Message, report: Report) -> list[Recipient]:
    found: dict[str, Recipient] = {}
    segments = _segments(report.text, _not_recipients(message, report))
    for block in report.dsn:
        address = None
        for name in ("final-recipient", "original-recipient", "x-actual-recipient"):
            address = address or clean_address(block.get(name, ""))
        if address is None or address.lower() in found:
            continue
        action = block.get("action", "").lower()
        if _delivered(block):
            continue
        diagnostic = _SPACE.sub(" ", block.get("diagnostic-code", "")).strip()
        segment = segments.get(address.lower(), "")
        if len(report.dsn) == 1:  # the prose around one recipient is about them
            segment = f"{segment} {report.text}"
        context = _SPACE.sub(" ", f"{diagnostic} {segment}")
        status = _status(block.get("status", ""), context, report.text, action)
        found[address.lower()] = judge(address, status, context, diagnostic, action)
    return list(found.values())


def _delivered(block: dict[str, str]) -> bool:
    """A DSN block that says the mail arrived (RFC 3464 actions, or a 2.x.x status)."""
    action = block.get("action", "").strip().lower()
    return action.startswith(_DONE_ACTIONS) or (
        not action and block.get("status", "").strip().startswith("2.")
    )


def _from_text(message: Message, report: Report) -> list[Recipient]:
    excluded = _not_recipients(message, report)
    segments = _segments(report.text, excluded)
    failed = [
        a
        for a in (clean_address(x) for x in str(message.get("X-Failed-Recipients", "")).split(","))
        if a
    ]
    also_named = [a.lower() for a in failed if a.lower() in segments]
    if also_named:  # exim names them in a header too: keep those the prose also names
        segments = {a: segments[a] for a in also_named}
    elif failed and set(segments) <= excluded:  # the prose names only the sender side
        segments = {a.lower(): report.text for a in failed}
    if not segments:  # no address in the prose: GNU Mailman's detectors know more formats
        segments = {a: report.text for a in _flufl_failures(message) if a not in excluded}
    if not segments and report.original is not None:  # the report names nobody
        to = getaddresses([str(report.original.get("To", ""))])
        segments = {a.lower(): report.text for _n, a in to if clean_address(a)}
    first = min((report.text.lower().find(a) for a in segments), default=-1)
    preamble = report.text[: max(first, 0)]
    result = []
    for address, segment in segments.items():
        context = _SPACE.sub(" ", segment + (f" {preamble}" if len(segments) == 1 else ""))
        status = _status("", context, report.text if len(segments) == 1 else preamble, "")
        own = _SPACE.sub(" ", " ".join(_named_lines(segment, address)))
        result.append(judge(address, status, context, own or context, ""))
    return result


def _flufl_failures(message: Message) -> list[str]:
    """The failed addresses flufl.bounce finds (loaded only when needed)."""
    from flufl.bounce import all_failures

    temporary, permanent = all_failures(message)
    found = (clean_address(raw.decode("ascii", "replace")) for raw in temporary | permanent)
    return sorted({a.lower() for a in found if a})


def _named_lines(segment: str, address: str) -> list[str]:
    """The lines of ``segment`` that name ``address``, with what follows on them: what the
    server said about that address in particular (sendmail "554 <a@b>... 550 Host unknown")."""
    return [line for line in segment.splitlines() if address in line.lower()]


def _not_recipients(message: Message, report: Report) -> set[str]:
    """The sender side of the mail: the report's own From/To and the original's From."""
    names = ("From", "To", "Return-Path", "Sender", "Reply-To")
    headers = [str(message.get(n, "")) for n in names]
    if report.original is not None:
        headers += [str(report.original.get(n, "")) for n in names if n != "To"]
    return {a.lower() for h in headers for a in ADDRESS.findall(h)}


# An address that starts a line of a report ("<a@b>:", "a@b", "554 <a@b>... reason") is
# listed as failed, even when it is also the sender (a mail to oneself).
_LISTED = re.compile(r"^\s*(?:\d{3}[ -])?<?$")


def _segments(text: str, excluded: set[str]) -> dict[str, str]:
    """Per failed address named in ``text`` (lower case): the lines from where it is named to
    where another one is."""
    spans: list[tuple[int, str]] = []
    listed: list[tuple[int, str]] = []
    for match in ADDRESS.finditer(text):
        address = match.group(0).strip(".").lower()
        start = text.rfind("\n", 0, match.start()) + 1
        before = text[start : match.start()]
        if "message-id" in before.lower() or "." not in address.split("@")[1]:
            continue
        if address in excluded or fam.NOT_RECIPIENT_CONTEXT.search(before[-40:]):
            if _LISTED.match(before):
                listed.append((start, address))
            continue
        spans.append((start, address))
    spans = spans or listed
    segments: dict[str, str] = {}
    for number, (start, address) in enumerate(spans):
        end = next((s for s, a in spans[number + 1 :] if a != address), len(text))
        if end > start:
            segments[address] = segments.get(address, "") + "\n" + text[start:end]
    return segments


# -- status and reason ---------------------------------------------------------------------


def _status(field: str, context: str, whole: str, action: str) -> str:
    """The enhanced status code: the DSN's own unless it is x.0.0 and the server said a more
    precise one; else the first in the recipient's lines; else one made from the reason."""
    own = STATUS.search(field)
    said = _failure(context) or _failure(whole)
    if own and not (own.group(0).endswith(".0.0") and said and said.group(1) == own.group(1)):
        return own.group(0)
    if said:
        return said.group(0)
    return ""


def _failure(text: str) -> re.Match[str] | None:
    """The first 4.x.x or 5.x.x code in ``text``."""
    return next((m for m in STATUS.finditer(text) if m.group(1) in "45"), None)


def _original_id(report: Report) -> str | None:
    if report.original is None:
        return None
    value = str(report.original.get("Message-ID") or "").strip()
    return value or None


def _unique(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, compared in lower case."""
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.lower(), item)
    return list(seen.values())
