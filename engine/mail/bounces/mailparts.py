"""The parts of a message that came back: its own text (not the copy of the original mail),
the fields of its RFC 3464 delivery status notification, and the headers of the original mail.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser

from engine.mail.bounces.families import ORIGINAL_HEADER, ORIGINAL_STARTS
from engine.mail.htmltext import html_to_text

_FIELD = re.compile(r"^([A-Za-z][\w-]*)\s*:\s*(.*)$")
_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")


@dataclass
class Report:
    """What a message that came back holds, read once."""

    text: str  # its own prose, up to the copy of the original mail
    dsn: list[dict[str, str]]  # per-recipient blocks of its delivery status notification
    dsn_top: dict[str, str]  # the per-message block (Reporting-MTA, Arrival-Date)
    original: Message | None  # headers (and maybe body) of the mail that came back
    feedback: dict[str, str] | None = None  # an ARF report's fields (RFC 5965)
    parts: list[str] = field(default_factory=list)  # content types seen


def subparts(message: Message) -> list[Message]:
    payload = message.get_payload() if message.is_multipart() else []
    return [part for part in payload if isinstance(part, Message)]


def own_parts(message: Message) -> Iterator[Message]:
    """The parts of a message, not descending into attached messages (the original mail)."""
    yield message
    if message.get_content_maintype() != "message":
        for part in subparts(message):
            yield from own_parts(part)


def part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or ""
    if b"\x1b$" in payload:  # ISO-2022-JP without a declared charset (mFILTER, Notes, KDDI)
        charset = "iso-2022-jp"
    try:
        codecs.lookup(charset or "utf-8")
    except LookupError:
        charset = "utf-8"
    return payload.decode(charset or "utf-8", "replace")


def _blocks(text: str) -> list[dict[str, str]]:
    """Blank-line separated blocks of ``Field: value`` lines (continuations folded)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
            continue
        match = _FIELD.match(line)
        if match and not line[0].isspace():
            last = match.group(1).lower()
            current.setdefault(last, match.group(2).strip())
        elif last and line[0].isspace():
            current[last] += " " + line.strip()
    if current:
        blocks.append(current)
    return blocks


def _dsn_text(part: Message) -> str:
    if part.is_multipart():  # the parser split the fields into header blocks
        return "\n\n".join(
            "\n".join(f"{k}: {v}" for k, v in block.items()) for block in subparts(part)
        )
    return part_text(part)


def _cut_original(text: str) -> tuple[str, str]:
    """(the report's own prose, the copy of the original mail that follows it)."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if ORIGINAL_STARTS.search(line):  # a marker line: the copy starts after it
            return "\n".join(lines[:number]), "\n".join(lines[number + 1 :]).lstrip("\n ")
        if number > 0 and ORIGINAL_HEADER.match(line):
            return "\n".join(lines[:number]), "\n".join(lines[number:])
    return text, ""


def read_report(message: Message) -> Report:
    """Split ``message`` into its prose, its DSN fields and the original mail."""
    texts: list[str] = []
    dsn: list[dict[str, str]] = []
    top: dict[str, str] = {}
    original: Message | None = None
    feedback: dict[str, str] | None = None
    kinds = []
    for part in own_parts(message):
        kind = part.get_content_type()
        kinds.append(kind)
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            for block in _blocks(_dsn_text(part)):
                if any(name in block for name in _RECIPIENT_FIELDS):
                    dsn.append(block)
                else:
                    top.update(block)
        elif kind == "message/feedback-report":
            feedback = {}
            for block in _blocks(_dsn_text(part)):
                feedback.update(block)
        elif kind in ("message/rfc822", "message/global") and original is None:
            inner = subparts(part)
            original = inner[0] if inner else None
        elif kind in ("text/rfc822-headers", "text/rfc822-header") and original is None:
            original = HeaderParser().parsestr(part_text(part).lstrip())
        elif part.get_content_maintype() == "multipart" and not part.is_multipart():
            texts.append(part_text(part))  # no usable boundary (PMDF, Apache James): read it whole
        elif part.get_content_maintype() == "text" and not part.is_multipart():
            if part.get_content_type() == "text/html":
                if any(t for t in texts):
                    continue
                texts.append(html_to_text(part_text(part)))
            else:
                texts.append(part_text(part))
    prose, copied = _cut_original("\n".join(texts))
    if not dsn:  # a report that writes its DSN fields into its text (Amazon WorkMail)
        for block in _blocks(prose):
            if "final-recipient" in block and "action" in block:
                dsn.append(block)
    if original is None and copied:
        original = HeaderParser().parsestr(copied.lstrip())
    return Report(prose, dsn, top, original, feedback, kinds)
