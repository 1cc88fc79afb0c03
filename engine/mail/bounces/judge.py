"""From what a server said about one recipient to a reason and a status: the one place that
applies the reason tables, for mail reports and provider events alike."""

from __future__ import annotations

import re

from engine.mail.bounces.reasons import reason_of
from engine.mail.bounces.statuses import STATUS_OF, family_code
from engine.mail.bounces.verdict import STATUS, Recipient

_REPLY_CODE = re.compile(r"(?<![\d.])([45])\d\d(?:[ -]|$)", re.MULTILINE)
_TEMPORARY = re.compile(
    r"temporar|will (?:continue|keep) (?:to )?try|delayed|deferred|not yet been delivered"
    r"|transient|still trying|retry",
    re.IGNORECASE,
)
_PERMANENT = re.compile(r"permanent|fatal|giving up|given up|failed|could not be delivered", re.I)


def judge(
    address: str,
    status: str,
    context: str,
    diagnostic: str = "",
    action: str = "",
    *,
    fallback: str | None = None,
) -> Recipient:
    """The recipient with its reason (the phrase tables on ``context``, else the status code,
    else ``fallback``) and its status (made from the reason when the server gave none)."""
    text = context.lower()
    if not status:
        stands_for = family_code(text)
        status = f"{status_class(context, action)}.{stands_for}" if stands_for else ""
    reason = reason_of(text, status, diagnostic.lower()) or fallback
    if reason is None:
        reason = "expired" if action == "delayed" else "onhold"
    if not status:
        status = f"{status_class(context, action)}.{STATUS_OF.get(reason, '0.0')}"
    return Recipient(address, status, reason, diagnostic)


def status_class(context: str, action: str = "") -> str:
    """4 (temporary) or 5 (permanent), from the SMTP reply code or the wording."""
    code = next((m for m in STATUS.finditer(context) if m.group(1) in "45"), None)
    code = code or _REPLY_CODE.search(context)
    if code:
        return code.group(1)
    if action == "delayed" or (_TEMPORARY.search(context) and not _PERMANENT.search(context)):
        return "4"
    return "5"
