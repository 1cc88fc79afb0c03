"""Pattern tables for recognising mail that came back, per MTA family and per kind.

Most MTAs send an RFC 3464 delivery status notification; many do not, and write a plain-text
report instead: a few lines of prose, the failed addresses, what the remote server said, then
a copy of the original mail. These tables say how to tell such a report from other mail (who
sends it, its subject, its opening words), where the copy of the original mail starts (so
that nothing in it is taken for a failed recipient), and how auto-replies and delivery notices
announce themselves (RFC 3834).
"""

from __future__ import annotations

import re


def _any(*rows: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{row})" for row in rows), re.IGNORECASE)


# The From of a report written by a mail system (every family; RFC 3464 section 6.2 suggests
# "MAILER-DAEMON" or "postmaster").
REPORT_SENDERS = _any(
    r"mailer[-_ ]?daemon",
    r"\bpost_?master\b",
    r"mail ?delivery (?:subsystem|system|service)",  # Gmail, Exchange, Yahoo
    r"mail delivery? system|mail administrator|mail ?system\b",  # Lotus Notes, X1, X2
    r"\bmail(?:er)?[-_ ]?(?:bounce|error)s?\b|\bbounce[sd]?@",
    r"internet mail delivery|microsoftexchange|postoffice@|\bdaemon@",  # Exchange, V5 sendmail
    r"nobody@(?:\w+\.)?(?:ezweb|au)\.ne\.jp",  # EZweb, KDDI
)

# Subjects of non-delivery reports, per family.
REPORT_SUBJECTS = _any(
    r"undeliver(?:ed|able)",  # postfix, Exchange, Outlook, Office 365
    r"delivery (?:status notification|failure|failed|report|has failed|problem|error)",  # Gmail, WorkMail
    r"returned mail|mail delivery failed|failure notice|failed mail|mail failure",  # sendmail, exim, qmail, Yahoo
    r"could not send message|warning: could not|delayed mail|delivery delayed",  # sendmail, postfix
    r"mail system error|nondeliverable|non[- ]?delivery|not delivered|non remis",  # EZweb, Exchange, Orange
    r"message (?:delivery )?(?:failure|failed|not delivered|rejected|could not be delivered)",  # Domino, McAfee
    r"delivery status notification: error|permanent delivery failure|delivery notification",  # OpenSMTPD
    r"^(?:returned|rejected)[: ]|\bbounced?\b|mail could not be delivered",  # X1, X2, mFILTER, Notes
    r"\[\s*(?:error|failure)\s*\]|error sending (?:your )?(?:message|mail)|message you sent",  # Google Groups, Zoho, X6
    r"mail failed|returning to sender",  # RFC 3464 samples of old MTAs
    r"address not found|message (?:blocked|not delivered)|couldn't be delivered",  # Gmail, Office 365
    r"(?:message|mail|delivery) delayed|unzustellbar|non remis|[ée]chec de (?:la )?remise|no se puede entregar",  # Exchange in German, French, Spanish
)

# Opening words of plain-text reports, per family: enough to call a message a bounce.
REPORT_OPENINGS = _any(
    r"this is the mail system at host",  # postfix
    r"this is the qmail-send program|i'm afraid i wasn't able to deliver",  # qmail
    r"the following address\(es\) failed|mail delivery software",  # exim
    r"this is the dragonfly mail agent|there was an error delivering your mail",  # DragonFly
    r"an error has occurred while attempting to deliver",  # OpenSMTPD
    r"transcript of session follows|following addresses had (?:permanent|delivery|transient)",  # sendmail, V5
    r"unable to deliver (?:your )?message|we were unable to deliver|could not be delivered",  # Yahoo, X2
    r"an error occurred while trying to deliver",  # Amazon WorkMail
    r"delivery (?:to the following )?(?:recipients?|has) failed|delivery has failed",  # Exchange
    r"failure reasons|m-filter|the user\(s\) account",  # Lotus Notes, mFILTER, EZweb
    r"your message (?:was|has been|could not be) (?:rejected|delivered|sent)|did not reach",  # Gmail, Outlook
    r"message (?:was )?(?:not delivered|rejected)|permanent error|permanent failure|fatal error",
    r"invalid address, error_code",  # Zoho
    r"trouble delivering your message|error message below|failed addresses follow",  # X6, Apache James
    r"cannot be delivered to the following recipients",  # PMDF / Messaging Server
    r"couldn't be delivered|delivery to the following recipients? (?:failed|has been delayed)",  # Office 365, Gmail
)

# A refusal quoted by a mail system: an SMTP reply code with an RFC 3463 code, or the words
# MTAs put before one ("host ... said:", "Remote host said:", "SMTP error from remote").
SERVER_SAID = _any(
    r"\b[45]\d\d[ -][45]\.\d{1,3}\.\d{1,3}\b",
    r"(?:remote )?host .{0,80} said:|smtp error from remote|did not like our",
)

# Lines that start the copy of the original mail in a plain-text report, per family.
ORIGINAL_STARTS = _any(
    r"^-+ ?this is a copy of (?:the|your) message",  # exim
    r"^-*\s*below this line is a copy of the message",  # qmail, Yahoo
    r"^\s*-+ ?(?:original|unsent|returned|rejected|undelivered) message",  # sendmail, V5, Notes, X2
    r"^\s*-+ ?(?:the )?(?:original|returned) (?:mail|e-?mail|message) (?:follows|header)",
    r"^-+\s*original message\b|^-+\s*message headers? follows?",  # mFILTER, V5 sendmail
    r"^\s*message headers follow",  # DragonFly
    r"^\s*below is a copy of the original message",  # OpenSMTPD
    r"^\s*(?:the )?original (?:message|mail) (?:was|is) (?:attached|included|below)|^\s*original message headers",
    r"^\s*-+ ?(?:header|headers) of (?:the )?(?:original|returned) (?:message|mail)",  # Exchange 2003
)
# A header of a copied mail at the start of a line: past it lies the original mail.
ORIGINAL_HEADER = re.compile(
    r"^(?:Received|Return-Path|Message-I[dD]|DKIM-Signature|X-Original-To|Delivered-To)\s*:",
)

# Auto-replies (RFC 3834, and the headers of vacation programs and Exchange).
AUTO_REPLY_HEADERS = {
    "auto-submitted": re.compile(r"auto-replied|auto-notified", re.IGNORECASE),
    "x-autoreply": re.compile(r".", re.IGNORECASE),
    "x-autorespond": re.compile(r".", re.IGNORECASE),
    "x-auto-response-suppress": re.compile(r"oof|autoreply", re.IGNORECASE),
    "precedence": re.compile(r"auto_reply", re.IGNORECASE),
    "x-autogenerated": re.compile(r"reply", re.IGNORECASE),
    "x-vacation": re.compile(r".", re.IGNORECASE),
}
AUTO_REPLY_SUBJECTS = _any(
    r"auto(?:matic)?[- ]?(?:reply|response|antwort)",
    r"out of (?:the )?office|on vacation|vacation (?:reply|notice|message)|\bvacation\b",
    r"^auto:|abwesenheit|absence|away from",
    r"自動応答|自動返信|r[ée]ponse automatique|risposta automatica|respuesta autom[áa]tica|automatisch antwoord|afwezig",
)

# Complaints that are no RFC 5965 report: Microsoft's JMRP, abuse desks that only quote.
COMPLAINT_HEADERS = ("x-hmxmroriginalrecipient",)
COMPLAINT_SUBJECTS = re.compile(
    r"^\s*unsubscribe\b|complaint about message from|\babuse report\b", re.IGNORECASE
)  # a List-Unsubscribe mailto request (RFC 2369), Microsoft JMRP, abuse desks
COMPLAINT_TEXT = re.compile(
    r"^feedback-type:\s*\w|this is an (?:e-?mail )?abuse report", re.I | re.M
)

# Addresses in a report that are never a failed recipient: the report's contacts.
NOT_RECIPIENT_CONTEXT = re.compile(
    r"(?:mail from|envelope-from|sender|from|smtp\.mailfrom|reply-to|return-path)\s*[:=]?\s*<?$"
    r"|^\s*(?:to|cc)\s*:\s*<?$"
    r"|(?:contact|write to|send mail to|e-?mail us at|helpdesk|administrator at)\W*<?$",
    re.IGNORECASE,
)
