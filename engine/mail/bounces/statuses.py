"""Status-code tables (RFC 3463 enhanced status codes, RFC 7372 and RFC 7505 additions):
which reason a code names by itself, which codes are precise enough to win over the words
around them, which code to report when a message carries none, and the codes of MTA families
that write their own instead of RFC 3463's."""

from __future__ import annotations

import re

# RFC 3463 status codes that name a reason by themselves (subject.detail).
BY_STATUS: dict[str, str] = {
    "1.1": "userunknown",
    "1.0": "userunknown",
    "1.2": "hostunknown",
    "1.3": "syntaxerror",
    "1.4": "userunknown",
    "1.6": "hasmoved",
    "1.7": "rejected",
    "1.8": "rejected",
    "1.10": "notaccept",
    "2.1": "suspend",
    "2.2": "mailboxfull",
    "2.3": "exceedlimit",
    "2.4": "systemerror",
    "3.0": "systemerror",
    "3.1": "mailboxfull",
    "3.2": "systemerror",
    "3.3": "systemerror",
    "3.4": "mesgtoobig",
    "3.5": "systemerror",
    "4.0": "networkerror",
    "4.1": "networkerror",
    "4.2": "networkerror",
    "4.3": "systemerror",
    "4.4": "hostunknown",
    "4.5": "systemerror",
    "4.6": "networkerror",
    "4.7": "expired",
    "5.0": "syntaxerror",
    "5.1": "syntaxerror",
    "5.2": "syntaxerror",
    "5.3": "toomanyconn",
    "5.4": "syntaxerror",
    "5.5": "syntaxerror",
    "6.0": "contenterror",
    "6.1": "contenterror",
    "6.2": "contenterror",
    "6.3": "contenterror",
    "6.4": "contenterror",
    "6.5": "contenterror",
    "7.0": "securityerror",
    "7.1": "blocked",
    "7.2": "systemerror",
    "7.3": "securityerror",
    "7.4": "securityerror",
    "7.5": "securityerror",
    "7.6": "securityerror",
    "7.7": "securityerror",
    "7.8": "authfailure",
    "7.9": "securityerror",
    "7.13": "suspend",
    "7.14": "suspend",
    "7.20": "authfailure",
    "7.21": "authfailure",
    "7.22": "authfailure",
    "7.23": "authfailure",
    "7.24": "authfailure",
    "7.25": "requireptr",
    "7.26": "authfailure",
    "7.27": "notaccept",
}

# The status to report when the message carries no enhanced code, per reason (RFC 3463).
STATUS_OF: dict[str, str] = {
    "userunknown": "1.1",
    "hostunknown": "1.2",
    "hasmoved": "1.6",
    "notaccept": "1.10",
    "mailboxfull": "2.2",
    "exceedlimit": "2.3",
    "suspend": "2.1",
    "mesgtoobig": "3.4",
    "expired": "4.7",
    "networkerror": "4.0",
    "systemerror": "3.0",
    "toomanyconn": "5.3",
    "ratelimited": "7.0",
    "norelaying": "7.1",
    "blocked": "7.1",
    "rejected": "7.1",
    "filtered": "7.1",
    "spamdetected": "7.1",
    "policyviolation": "7.1",
    "authfailure": "7.26",
    "requireptr": "7.25",
    "securityerror": "7.0",
    "contenterror": "6.0",
    "syntaxerror": "5.2",
}


# Codes precise enough to name the reason whatever the words around them (RFC 3463, 7372).
PRECISE: dict[str, str] = {
    code: BY_STATUS[code]
    for code in [
        "1.2",
        "1.6",
        "1.7",
        "1.8",
        "2.2",
        "2.3",
        "3.4",
        "4.7",
        "6.0",
        "6.1",
        "6.2",
        "6.3",
        "6.4",
        "6.5",
        "7.13",
        "7.14",
        "7.20",
        "7.21",
        "7.22",
        "7.23",
        "7.24",
        "7.25",
        "7.26",
        "7.27",
    ]
}
PRECISE["3.2"] = "notaccept"  # X.3.2 system not accepting network messages
# Codes of MTA families that write no RFC 3463 code, standing in for one.
_FAMILY_CODES: list[tuple[str, str]] = [
    (r"\(000c05a6\)|recipient name is not recognized", "1.1"),  # Exchange 2003
    (r"invalid final delivery userid", "1.1"),  # IMail Server
]
FAMILY_CODES = [(re.compile(p), code) for p, code in _FAMILY_CODES]


def family_code(text: str) -> str | None:
    """The RFC 3463 subject.detail an MTA family's own error wording stands for."""
    return next((code for pattern, code in FAMILY_CODES if pattern.search(text)), None)


def by_status(status: str) -> str | None:
    """The reason an enhanced status code names by itself (not x.0.0)."""
    _cls, subject, detail = status.split(".")
    return BY_STATUS.get(f"{subject}.{detail}") if (subject, detail) != ("0", "0") else None
