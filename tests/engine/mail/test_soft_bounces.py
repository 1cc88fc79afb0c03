"""The soft-bounce rule through the real path: bounce mails ingested as an operator would
(``sluis bounces ingest``), then the mail object sending to a real SMTP server. A customer with
4 soft bounces within 30 days still gets mail, with 5 not, until the oldest leaves the window or
mail reaches them again; a block of the sender changes no customer at all."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mailtest import SmtpServer, mail_flow, smtp_settings
from sqlalchemy import select

from engine.mail.bounces.ingest import ingest
from engine.mail.bounces.softcount import soft_bounces
from engine.runtime.runner import IncomingEvent
from engine.store.models import CUSTOMERS


def dsn(number: int, address: str, status: str, said: str) -> bytes:
    """A delivery status notification as postfix writes one."""
    return f"""\
From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)
To: news@shop.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-{number}@mx.shop.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

This is the mail system at host mx.shop.example.
I'm sorry to have to inform you that your message could not be delivered.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.shop.example

Final-Recipient: rfc822; {address}
Action: failed
Status: {status}
Diagnostic-Code: smtp; {said}

--b--
""".encode()


def bounce_some(h, folder: Path, counts: dict[str, int], status: str, said: str) -> None:
    """``counts[address]`` bounces per address, one a day, ingested from .eml files."""
    for day in range(max(counts.values())):
        batch = folder / f"day{day}-{status}"
        batch.mkdir(parents=True)
        for address, count in counts.items():
            if day < count:
                name = f"{address}-{day}-{status}"
                (batch / f"{name}.eml").write_bytes(dsn(hash(name), address, status, said))
        ingest(h.runtime, batch)
        h.clock.advance(timedelta(days=1))


def run_mail(h) -> dict[int, str]:
    h.runtime.start("welcome")
    h.runtime.fire_due()
    h.runtime.run_until_idle()
    return {c: steps[-1][2] for c, steps in h.steps().items()}


def test_four_soft_bounces_in_30_days_still_get_mail_five_do_not(
    harness, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow()})
    four, five = h.customers(
        {"external_id": "four", "email": "four@full.example"},
        {"external_id": "five", "email": "five@full.example"},
    )
    full = "552 5.2.2 <x>: Mailbox full"
    bounce_some(h, tmp_path, {"four@full.example": 4, "five@full.example": 5}, "5.2.2", full)

    last = run_mail(h)
    assert last[four] == "sent"
    assert last[five] == "skipped: 5 soft bounces in 30d (limit 5)"
    assert [r.recipients for r in smtp_server.inbox.received] == [["four@full.example"]]

    h.clock.advance(timedelta(days=26))  # the first of the five is now 31 days old
    assert run_mail(h)[five] == "sent"
    assert smtp_server.inbox.to("five@full.example")


def test_a_later_delivery_lifts_the_count(harness, smtp_server, tmp_path: Path) -> None:
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow()})
    [five] = h.customers({"external_id": "five", "email": "five@full.example"})
    bounce_some(h, tmp_path, {"five@full.example": 5}, "4.2.2", "452 4.2.2 Mailbox full")
    window = timedelta(days=30)
    with h.store.db.read() as conn:
        assert soft_bounces(conn, [five], h.clock.now(), window) == {five: 5}
    h.runtime.record_events([IncomingEvent("delivered", five, h.clock.now())])
    h.clock.advance(timedelta(hours=1))
    with h.store.db.read() as conn:
        assert soft_bounces(conn, [five], h.clock.now(), window) == {}
    assert run_mail(h)[five] == "sent"


def test_a_block_of_the_sender_changes_no_customer(harness, smtp_server, tmp_path: Path) -> None:
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow()})
    [carol] = h.customers({"external_id": "carol", "email": "carol@big.example"})
    said = "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org"
    bounce_some(h, tmp_path, {"carol@big.example": 6}, "5.7.1", said)

    with h.store.db.read() as conn:
        row = conn.execute(select(CUSTOMERS).where(CUSTOMERS.c.system_id == carol)).one()
    assert (row.bounced, row.soft_bounces, row.unsubscribed) == ("none", 0, False)
    assert h.events("bounce") == []
    alerts = h.events("sender-block")
    assert len(alerts) == 6
    assert {a["customer_id"] for a in alerts} == {None}
    assert alerts[0]["data"]["reason"] == "blocked" and alerts[0]["data"]["domain"] == "big.example"
    assert run_mail(h)[carol] == "sent"
