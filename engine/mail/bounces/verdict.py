"""What a message that came back says: its kind and, per failed recipient, the enhanced status
code, the reason (sisimai's taxonomy) and whether the address itself is permanently bad.

The hard rule is DESIGN.md section 15: only userunknown, hostunknown, hasmoved and notaccept
with a 5.x.x status say that the address is bad. Everything else (a full mailbox, a block of
the sender, spam filtering, policy, expiry) is soft; blocks of the sender are never the
customer's fault, so they are reported to the operator instead of counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["bounce", "complaint", "auto-reply", "delivered", "other"]

REASONS = [
    "userunknown",
    "hostunknown",
    "hasmoved",
    "notaccept",
    "mailboxfull",
    "exceedlimit",
    "blocked",
    "rejected",
    "filtered",
    "spamdetected",
    "policyviolation",
    "securityerror",
    "authfailure",
    "requireptr",
    "expired",
    "suspend",
    "systemerror",
    "networkerror",
    "contenterror",
    "mesgtoobig",
    "toomanyconn",
    "ratelimited",
    "norelaying",
    "syntaxerror",
    "onhold",
    "undefined",
]
HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept"})
# Reasons that say the *sender* (its IP, domain, authentication, reputation) is refused: the
# operator has to act, and the customer's address is not in question.
SENDER_BLOCKS = frozenset(
    {"blocked", "spamdetected", "policyviolation", "requireptr", "authfailure", "norelaying"}
)
# Reasons the soft-bounce count of a customer is about: their mailbox did not take the mail.
COUNTED = frozenset(REASONS) - HARD_REASONS - SENDER_BLOCKS - {"onhold", "undefined"}

STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
ADDRESS = re.compile(
    r"(?:\"[^\"\r\n@<>]+\"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


def is_hard(reason: str, status: str) -> bool:
    """The hard rule of DESIGN.md section 15."""
    return reason in HARD_REASONS and status.startswith("5")


@dataclass(frozen=True)
class Recipient:
    """One recipient of the original mail and what became of it."""

    address: str
    status: str
    reason: str
    diagnostic: str = ""

    @property
    def hard(self) -> bool:
        return is_hard(self.reason, self.status)

    @property
    def sender_block(self) -> bool:
        """The sender was refused, not this address: an operator matter."""
        return self.reason in SENDER_BLOCKS

    def as_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "status": self.status,
            "reason": self.reason,
            "hard": self.hard,
        }


@dataclass(frozen=True)
class Verdict:
    """The reading of one message (or one provider event)."""

    kind: Kind
    recipients: tuple[Recipient, ...] = ()
    message_id: str | None = None  # of the original mail, to find the journey it belonged to
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self, name: str) -> dict[str, Any]:
        return {
            "file": name,
            "kind": self.kind,
            "recipients": [r.as_json() for r in self.recipients],
        }


def clean_address(text: str) -> str | None:
    """The one mail address in ``text`` (``rfc822; <a@b.example>``, ``"A" <a@b>``), or None
    when there is none (a pipe command, a local user name, JSON)."""
    text = text.split(";", 1)[-1] if ";" in text else text
    found = ADDRESS.findall(text)
    if len(found) != 1:
        return None
    address = found[0].strip(".")
    return address if "@" in address and not address.startswith("|") else None
