"""The reason for what a server said about one recipient, in sisimai's taxonomy: the refused
SMTP command first (a refusal of MAIL FROM is about the sender), then codes precise enough to
name a reason (``statuses.PRECISE``), then the phrase table (``phrases.PHRASES``: the server's
own words before the report around them), reply codes that name a reason, and last what the
status code says by itself (``statuses.BY_STATUS``).
"""

from __future__ import annotations

import re

from engine.mail.bounces.phrases import PHRASES
from engine.mail.bounces.statuses import PRECISE, by_status

# Reasons that can be about the envelope sender when the server refused MAIL FROM.
SENDER_SIDE = frozenset(
    {
        "blocked",
        "requireptr",
        "authfailure",
        "spamdetected",
        "policyviolation",
        "norelaying",
        "securityerror",
        "toomanyconn",
        "ratelimited",
        "syntaxerror",
        "systemerror",
        "networkerror",
    }
)
# The SMTP command a server refused, as MTAs quote it (exim "after MAIL FROM", DragonFly
# "did not like our RCPT TO", sendmail ">>> DATA", postfix "in reply to RCPT TO command",
# Yahoo "[RCPT_TO]", qmail "does not like recipient", X3 "SMTP:RCPT").
_COMMANDS: list[tuple[str, str]] = [
    ("mail", r"(?:after|our|in reply to|>>>)\s*(?:the\s*)?(?:mail from|ehlo|helo)\b"),
    ("rcpt", r"(?:after|our|in reply to|>>>|following|smtp:)\s*(?:the\s*)?rcpt\b"),
    ("rcpt", r"\[rcpt_to\]|does not like recipient"),
    ("data", r"(?:after|our|in reply to|>>>)\s*(?:the\s*)?(?:end of )?data\b"),
]
COMMANDS = [(verb, re.compile(p)) for verb, p in _COMMANDS]


# SMTP reply codes that name a reason (RFC 7504: 521 and 556 take no mail; 525 a disabled
# account, RFC 4954).
BY_REPLY = {"521": "notaccept", "556": "notaccept", "525": "suspend"}
_REPLY = re.compile(r"(?<![\d.])([245]\d\d)[ -]")


def command_of(text: str) -> str:
    """The SMTP command (mail, rcpt, data) the server refused, or ''."""
    return next((verb for verb, pattern in COMMANDS if pattern.search(text)), "")


def reason_of(text: str, status: str, diagnostic: str = "") -> str | None:
    """The reason for what a server said (``diagnostic``, the server's own words, first; then
    ``text``, the report around them; both lower case) with ``status`` (may be '')."""
    command = command_of(f"{diagnostic} {text}")
    said = (by_phrase(diagnostic) if diagnostic else None) or by_phrase(text)
    if command == "mail":  # the envelope sender was refused
        return said if said in SENDER_SIDE else "rejected"
    code = ".".join(status.split(".")[1:])
    if code in PRECISE:
        return PRECISE[code]
    reply = _REPLY.search(diagnostic or text)
    if said is None and reply and reply.group(1) in BY_REPLY:
        return BY_REPLY[reply.group(1)]
    if said == "userunknown" and command != "rcpt":
        # "no such user" after the mail was sent (DATA), or with a code that is not about
        # the address (mailbox, system, content, security), is a filter, as sisimai reads it
        subject = code.split(".")[0]
        if subject in ("2", "3", "6", "7") or (command == "data" and subject != "1") or not code:
            return "filtered"
    return said or (by_status(status) if status else None)


def by_phrase(text: str) -> str | None:
    """The reason the first matching row of ``PHRASES`` gives ``text`` (lower case)."""
    for reason, pattern in PHRASES:
        if pattern.search(text):
            return reason
    return None
