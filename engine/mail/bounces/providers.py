"""Provider notifications read by the same rules as mail: Amazon SES (through SNS, or in a
mail body), and the webhook events of SendGrid, Mailgun and Postmark.

Each provider says what happened in its own words; the tables below map those words onto
sisimai's reasons, used only when what the receiving server said (the diagnostic, the status
code) does not already name a reason through the common tables.
"""

from __future__ import annotations

import json
from typing import Any

from engine.mail.bounces.judge import judge
from engine.mail.bounces.verdict import STATUS, Kind, Recipient, Verdict, clean_address

# Amazon SES bounceSubType (SES developer guide, "Bounce types").
SES_SUBTYPES = {
    "NoEmail": "userunknown",
    "Suppressed": "userunknown",
    "OnAccountSuppressionList": "userunknown",
    "MailboxFull": "mailboxfull",
    "MessageTooLarge": "mesgtoobig",
    "ContentRejected": "contenterror",
    "AttachmentRejected": "securityerror",
    "General": "undefined",
    "UnsubscribedRecipient": "undefined",
}
# SendGrid bounce_classification (Event Webhook reference).
SENDGRID_CLASSES = {
    "Invalid Address": "userunknown",
    "Mailbox Unavailable": "suspend",
    "Reputation": "blocked",
    "Content": "contenterror",
    "Frequency or Volume": "ratelimited",
    "Technical": "systemerror",
    "Unclassified": "undefined",
}
# Postmark bounce Type (Bounce webhook reference): (kind, reason).
POSTMARK_TYPES: dict[str, tuple[Kind, str]] = {
    "HardBounce": ("bounce", "userunknown"),
    "BadEmailAddress": ("bounce", "userunknown"),
    "SoftBounce": ("bounce", "undefined"),
    "Transient": ("bounce", "expired"),
    "DnsError": ("bounce", "hostunknown"),
    "Blocked": ("bounce", "blocked"),
    "SpamNotification": ("bounce", "spamdetected"),
    "ContentRelated": ("bounce", "contenterror"),
    "VirusNotification": ("bounce", "securityerror"),
    "ManuallyDeactivated": ("bounce", "suspend"),
    "SMTPApiError": ("bounce", "systemerror"),
    "SpamComplaint": ("complaint", "feedback"),
    "Unsubscribe": ("complaint", "feedback"),
    "AutoResponder": ("auto-reply", ""),
    "OpenRelayTest": ("other", ""),
    "Unknown": ("bounce", "undefined"),
}


# Events that are no bounce, per provider (SendGrid Event Webhook, Mailgun webhooks).
SENDGRID_KINDS: dict[str, Kind] = {
    "spamreport": "complaint",
    "unsubscribe": "complaint",
    "group_unsubscribe": "complaint",
    "delivered": "delivered",
}
MAILGUN_KINDS: dict[str, Kind] = {
    "complained": "complaint",
    "unsubscribed": "complaint",
    "delivered": "delivered",
}


def read_provider_event(body: dict[str, Any]) -> Verdict | None:
    """An Amazon SES notification, bare or inside an SNS envelope (as SES mails it)."""
    if body.get("Type") == "Notification" and isinstance(body.get("Message"), str):
        try:
            inner = json.loads(body["Message"], strict=False)
        except ValueError:
            return None
        return ses_event(inner) if isinstance(inner, dict) else None
    if "notificationType" in body or "eventType" in body:
        return ses_event(body)
    return None


def ses_event(body: dict[str, Any]) -> Verdict | None:
    """One SES notification (Bounce, Complaint, Delivery) as a verdict."""
    kind = body.get("notificationType") or body.get("eventType")
    mail = body.get("mail") or {}
    mid = mail.get("messageId")
    if kind == "Bounce":
        bounce = body.get("bounce") or {}
        temporary = bounce.get("bounceType") == "Transient"
        fallback = SES_SUBTYPES.get(str(bounce.get("bounceSubType")), "undefined")
        recipients = []
        for item in bounce.get("bouncedRecipients") or []:
            address = clean_address(str(item.get("emailAddress", "")))
            if address is None:
                continue
            diagnostic = str(item.get("diagnosticCode") or "")
            status = _code(str(item.get("status") or ""), diagnostic)
            action = "delayed" if temporary else str(item.get("action") or "failed")
            recipients.append(
                judge(address, status, diagnostic, diagnostic, action, fallback=fallback)
            )
        return Verdict("bounce", tuple(recipients), mid, {"provider": "ses"})
    if kind == "Complaint":
        complaint = body.get("complaint") or {}
        complained = [
            clean_address(str(r.get("emailAddress", "")))
            for r in complaint.get("complainedRecipients") or []
        ]
        who = tuple(Recipient(a, "", "feedback") for a in complained if a)
        return Verdict("complaint", who, mid, {"provider": "ses"})
    if kind == "Delivery":
        return Verdict("delivered", message_id=mid, detail={"provider": "ses"})
    return None


def sendgrid_event(event: dict[str, Any]) -> Verdict:
    """One event of SendGrid's Event Webhook."""
    name = str(event.get("event", ""))
    address = clean_address(str(event.get("email", "")))
    mid = event.get("smtp-id") or event.get("sg_message_id")
    detail = {"provider": "sendgrid", "event": name}
    if address is None:
        return Verdict("other", detail=detail)
    if name in ("bounce", "deferred"):
        text = str(event.get("reason") or event.get("response") or "")
        status = _code(str(event.get("status") or ""), text)
        blocked = event.get("type") == "blocked"
        fallback = SENDGRID_CLASSES.get(str(event.get("bounce_classification")))
        fallback = fallback or ("blocked" if blocked else "undefined")
        action = "delayed" if name == "deferred" else "failed"
        one = judge(address, status, text, text, action, fallback=fallback)
        return Verdict("bounce", (one,), mid, detail)
    return _plain(SENDGRID_KINDS.get(name, "other"), address, mid, detail)


def mailgun_event(data: dict[str, Any]) -> Verdict:
    """The ``event-data`` of one Mailgun webhook."""
    name = str(data.get("event", ""))
    address = clean_address(str(data.get("recipient", "")))
    headers = (data.get("message") or {}).get("headers") or {}
    mid = headers.get("message-id")
    detail = {"provider": "mailgun", "event": name}
    if address is None:
        return Verdict("other", detail=detail)
    if name == "failed":
        status_info = data.get("delivery-status") or {}
        text = " ".join(str(status_info.get(k) or "") for k in ("message", "description"))
        code = str(status_info.get("code") or "")
        status = _code(str(status_info.get("enhanced-code") or ""), text)
        temporary = data.get("severity") == "temporary"
        context = f"{code} {text}".strip()
        action = "delayed" if temporary else "failed"
        fallback = "userunknown" if data.get("reason") == "suppress-bounce" else "undefined"
        one = judge(address, status, context, text, action, fallback=fallback)
        return Verdict("bounce", (one,), mid, detail)
    return _plain(MAILGUN_KINDS.get(name, "other"), address, mid, detail)


def postmark_event(body: dict[str, Any]) -> Verdict:
    """One Postmark webhook (RecordType Bounce, SpamComplaint, Delivery, ...)."""
    record = str(body.get("RecordType", ""))
    address = clean_address(str(body.get("Email") or body.get("Recipient") or ""))
    mid = body.get("MessageID")
    detail = {"provider": "postmark", "record": record, "type": body.get("Type")}
    if address is None:
        return Verdict("other", detail=detail)
    if record == "Delivery":
        return _plain("delivered", address, mid, detail)
    if record == "SubscriptionChange":
        unsubscribed = bool(body.get("SuppressSending"))
        return _plain("complaint" if unsubscribed else "other", address, mid, detail)
    if record not in ("Bounce", "SpamComplaint"):
        return _plain("other", address, mid, detail)
    kind, fallback = POSTMARK_TYPES.get(str(body.get("Type")), ("bounce", "undefined"))
    if kind != "bounce":
        return _plain(kind, address, mid, detail)
    text = f"{body.get('Description') or ''} {body.get('Details') or ''}".strip()
    temporary = body.get("Type") in ("Transient", "SoftBounce", "DnsError")
    status = _code("", str(body.get("Details") or ""))
    if not status and fallback in ("userunknown", "hostunknown") and not temporary:
        status = "5.1.1" if fallback == "userunknown" else "5.1.2"
    action = "delayed" if temporary else "failed"
    one = judge(address, status, str(body.get("Details") or text), text, action, fallback=fallback)
    return Verdict("bounce", (one,), mid, detail)


def _plain(kind: Kind, address: str, mid: Any, detail: dict[str, Any]) -> Verdict:
    """A complaint (the address unsubscribes), a delivery or another event: no bounce."""
    recipients = (Recipient(address, "", "feedback"),) if kind == "complaint" else ()
    return Verdict(kind, recipients, mid, detail)


def _code(given: str, text: str) -> str:
    found = STATUS.search(given) or STATUS.search(text)
    return found.group(0) if found else ""
