"""The pattern tables of the bounce classifier, row by row: per reason (what a server said ->
reason, and whether that makes the address bad for good), per MTA family (how its plain-text
report opens, where its copy of the original mail starts), and whole reports of each family
built from those shapes: recipients are read per recipient, never the sender or a Message-ID."""

from __future__ import annotations

import json
from email import message_from_string

import pytest

from engine.mail.bounces import families as fam
from engine.mail.bounces.classify import classify
from engine.mail.bounces.judge import judge
from engine.mail.bounces.verdict import clean_address

REASONS = [
    ("smtp; 550 5.1.1 <a@b.example>... User unknown", "5.1.1", "userunknown", True),
    ("550 Requested action not taken: mailbox unavailable", "5.0.0", "userunknown", True),
    ("550 5.1.2 Host or domain name not found", "5.1.2", "hostunknown", True),
    ("550 Host mx.remote.example was not found in DNS", "", "hostunknown", True),
    ("553 5.1.7 The sender address unknown", "5.1.7", "rejected", False),
    ("550 5.1.6 User has moved; please try <c@d.example>", "5.1.6", "hasmoved", True),
    ("556 5.1.10 Recipient address has null MX", "5.1.10", "notaccept", True),
    (
        "550 5.1.1 <a@b.example>: Recipient address rejected: Mailbox full",
        "5.1.1",
        "mailboxfull",
        False,
    ),
    ("552 5.2.2 Mailbox full", "5.2.2", "mailboxfull", False),
    ("452 4.2.2 Over quota", "4.2.2", "mailboxfull", False),
    ("550 5.2.1 The email account that you tried to reach is disabled", "5.2.1", "suspend", False),
    ("552 5.3.4 Message size exceeds fixed limit", "5.3.4", "mesgtoobig", False),
    ("550 5.7.1 client host [192.0.2.1] blocked using zen.spamhaus.org", "5.7.1", "blocked", False),
    ("550 5.7.1 Message rejected as spam by Content Filtering", "5.7.1", "spamdetected", False),
    (
        "550 5.7.26 Unauthenticated email is not accepted due to DMARC policy",
        "5.7.26",
        "authfailure",
        False,
    ),
    ("550 5.7.25 The sending IP does not have a PTR record", "5.7.25", "requireptr", False),
    ("554 5.7.1 <a@b.example>: Relay access denied", "5.7.1", "norelaying", False),
    ("550 5.7.1 Message refused: local policy violation", "5.7.1", "policyviolation", False),
    ("421 4.7.0 Too many concurrent SMTP connections", "4.7.0", "toomanyconn", False),
    ("451 4.7.1 Rate limit exceeded, try again later", "4.7.1", "ratelimited", False),
    ("4.4.7 Delivery time expired", "4.4.7", "expired", False),
    (
        "SMTP error after MAIL FROM: 553 5.1.8 Domain of sender address does not exist",
        "5.1.8",
        "rejected",
        False,
    ),
    # "no such user" once the mail was sent (DATA) is the recipient's filter, as sisimai reads it
    ("SMTP error after end of data: 550 5.0.0 User unknown", "5.0.0", "filtered", False),
    ("in reply to RCPT TO command: 550 5.0.0 User unknown", "5.0.0", "userunknown", True),
]


@pytest.mark.parametrize(("said", "status", "reason", "hard"), REASONS)
def test_reason_table(said: str, status: str, reason: str, hard: bool) -> None:
    one = judge("a@b.example", status, said)
    assert (one.reason, one.hard) == (reason, hard)


def test_without_a_code_the_status_comes_from_the_reason_and_its_class() -> None:
    assert judge("a@b.example", "", "550 Host unknown").status == "5.1.2"
    assert judge("a@b.example", "", "Mailbox full; will keep trying").status == "4.2.2"
    assert judge("a@b.example", "", "it did not work", action="delayed").reason == "expired"


def test_sender_blocks_are_not_the_customers_fault() -> None:
    assert judge("a@b.example", "5.7.1", "blocked using zen.spamhaus.org").sender_block
    assert not judge("a@b.example", "5.2.2", "mailbox full").sender_block


FAMILY_OPENINGS = [
    "This is the mail system at host mx.example.",  # postfix
    "Hi. This is the qmail-send program at mx.example.",  # qmail
    "A message that you sent could not be delivered to one or more of its recipients. "
    "The following address(es) failed:",  # exim
    "This is the DragonFly Mail Agent v0.13 at df.example.",  # DragonFly
    "An error has occurred while attempting to deliver a message for",  # OpenSMTPD
    "   ----- Transcript of session follows -----",  # sendmail, V5 sendmail
    "Sorry, we were unable to deliver your message to the following address.",  # Yahoo
    "An error occurred while trying to deliver the mail to the following recipients:",  # WorkMail
    "------- Failure Reasons  --------",  # Lotus Notes
    "a@b.example Invalid Address, ERROR_CODE :550",  # Zoho
    "Your message to a@b.example couldn't be delivered.",  # Office 365
]


@pytest.mark.parametrize("text", FAMILY_OPENINGS)
def test_report_openings(text: str) -> None:
    assert fam.REPORT_OPENINGS.search(text)


@pytest.mark.parametrize(
    "line",
    [
        "------ This is a copy of the message, including all the headers. ------",  # exim
        "--- Below this line is a copy of the message.",  # qmail, Yahoo
        "   ----- Unsent message follows -----",  # sendmail V5
        "Message headers follow.",  # DragonFly
        "-------original message",  # mFILTER
        "------- Returned Message --------",  # Lotus Notes
        "    Below is a copy of the original message:",  # OpenSMTPD
    ],
)
def test_original_mail_starts(line: str) -> None:
    assert fam.ORIGINAL_STARTS.search(line)


@pytest.mark.parametrize(
    ("sender", "subject"),
    [
        ("MAILER-DAEMON@mx.example", "Undelivered Mail Returned to Sender"),
        (
            "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            "Delivery Status Notification (Failure)",
        ),
        ("postmaster@ezweb.ne.jp", "Mail System Error - Returned Mail"),
        (
            "Mail Delivery System <Mailer-Daemon@mx.example>",
            "Mail delivery failed: returning message to sender",
        ),
    ],
)
def test_report_senders_and_subjects(sender: str, subject: str) -> None:
    assert fam.REPORT_SENDERS.search(sender) and fam.REPORT_SUBJECTS.search(subject)


def _mail(headers: str, body: str) -> str:
    return headers.strip() + "\n\n" + body.lstrip("\n")


QMAIL = _mail(
    """
From: MAILER-DAEMON@mx.shop.example
To: news@shop.example
Subject: failure notice
""",
    """
Hi. This is the qmail-send program at mx.shop.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<full@remote.example>:
192.0.2.1 does not like recipient.
Remote host said: 552 5.2.2 <full@remote.example>... Mailbox full

<gone@remote.example>:
192.0.2.1 does not like recipient.
Remote host said: 550 5.1.1 <gone@remote.example>... User unknown

--- Below this line is a copy of the message.

Return-Path: <news@shop.example>
Message-ID: <1.welcome@shop.example>
From: Shop <news@shop.example>
To: full@remote.example, gone@remote.example
""",
)


def test_each_recipient_gets_its_own_status_without_a_dsn() -> None:
    verdict = classify(message_from_string(QMAIL))
    found = {r.address: (r.status, r.reason, r.hard) for r in verdict.recipients}
    assert found == {
        "full@remote.example": ("5.2.2", "mailboxfull", False),
        "gone@remote.example": ("5.1.1", "userunknown", True),
    }
    assert verdict.message_id == "<1.welcome@shop.example>"


ZOHO = _mail(
    """
From: mailer-daemon@mail.zoho.example
To: sender@shop.example
Subject: Undelivered Mail Returned to Sender
""",
    """
This message was created automatically by mail delivery software.
A message that you sent could not be delivered to one or more of its recipients. This is a permanent error.

who@remote.example Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <who@remote.example>... User Unknown


Received:from mail.zoho.example by mx.zohomail.example
Message-ID:<14a3e1b4b5a.10b1a4c5610175@zoho.example>
From:Sender <sender@shop.example>
To:<who@remote.example>
""",
)


def test_neither_the_sender_nor_the_message_id_is_a_recipient() -> None:
    verdict = classify(message_from_string(ZOHO))
    assert [(r.address, r.status, r.hard) for r in verdict.recipients] == [
        ("who@remote.example", "5.1.1", True)
    ]


EXIM_PIPE = _mail(
    """
From: Mail Delivery System <Mailer-Daemon@mx.shop.example>
To: news@shop.example
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: |/usr/bin/procmail, real@remote.example
""",
    """
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  pipe to |/usr/bin/procmail
    generated by real@remote.example
  real@remote.example
    SMTP error from remote mail server after RCPT TO:<real@remote.example>:
    550 5.1.1 User unknown
""",
)


def test_a_pipe_command_is_never_a_recipient() -> None:
    verdict = classify(message_from_string(EXIM_PIPE))
    assert [r.address for r in verdict.recipients] == ["real@remote.example"]
    assert clean_address("|/usr/bin/procmail") is None
    assert clean_address('{"emailAddress":"a@b.example","x":"c@d.example"}') is None


def test_complaints_auto_replies_and_deliveries_are_not_bounces() -> None:
    arf = _mail(
        """
From: feedback@isp.example
Subject: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b"
""",
        """
--b
Content-Type: text/plain

This is an abuse report.
--b
Content-Type: message/feedback-report

Feedback-Type: abuse
Original-Rcpt-To: <ann@isp.example>

--b--
""",
    )
    complaint = classify(message_from_string(arf))
    assert complaint.kind == "complaint"
    assert [r.address for r in complaint.recipients] == ["ann@isp.example"]
    vacation = _mail(
        "From: ann@isp.example\nSubject: Out of office\nAuto-Submitted: auto-replied", "Away."
    )
    assert classify(message_from_string(vacation)).kind == "auto-reply"
    ses = {"notificationType": "Delivery", "mail": {"messageId": "x"}, "delivery": {}}
    sns = json.dumps({"Type": "Notification", "Message": json.dumps(ses)})
    delivered = classify(message_from_string(_mail("From: no-reply@sns.amazonaws.com", sns)))
    assert (delivered.kind, delivered.recipients) == ("delivered", ())
    footer = json.dumps(ses) + "\n\n--\nIf you wish to stop receiving notifications ...\n"
    mailed = classify(message_from_string(_mail("From: no-reply@sns.amazonaws.com", footer)))
    assert mailed.kind == "delivered"


@pytest.mark.parametrize("fields", ["Action: delivered\nStatus: 2.0.0", "Status: 2.0.0"])
def test_a_delivery_report_is_no_bounce(fields: str) -> None:
    report = _mail(
        """
From: MAILER-DAEMON@mx.remote.example
Subject: Successful Mail Delivery Report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"
""",
        f"""
--b
Content-Type: text/plain

Your message was successfully delivered to the destination(s) listed below.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.remote.example

Final-Recipient: rfc822; ann@remote.example
{fields}

--b--
""",
    )
    assert classify(message_from_string(report)).kind == "delivered"


def test_complaints_without_a_feedback_report() -> None:
    jmrp = _mail(
        """
From: staff@hotmail.example
Subject: complaint about message from 192.0.2.1
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"
""",
        """
--b
Content-Type: message/rfc822

X-HmXmrOriginalRecipient: ann@hotmail.example
From: news@shop.example
To: ann@hotmail.example
Subject: news

hi
--b--
""",
    )
    verdict = classify(message_from_string(jmrp))
    assert (verdict.kind, [r.address for r in verdict.recipients]) == (
        "complaint",
        ["ann@hotmail.example"],
    )
    request = _mail(
        "From: bob@icloud.example\nSubject: unsubscribe\nAuto-Submitted: auto-replied", ""
    )
    verdict = classify(message_from_string(request))
    assert (verdict.kind, [r.address for r in verdict.recipients]) == (
        "complaint",
        ["bob@icloud.example"],
    )
