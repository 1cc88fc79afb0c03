"""Bounces: classification of each file of a corpus of real-world bounce shapes (committed in
``bounces/``), and ingesting a Maildir or an mbox into the store."""

from __future__ import annotations

import email
import mailbox
import shutil
from pathlib import Path

import pytest
from mailtest import Harness, mail_flow, smtp_settings
from sqlalchemy import select, update

from engine.errors import InputError
from engine.mail.bounces.classify import classify
from engine.mail.bounces.ingest import ingest
from engine.mail.bounces.sources import read_messages
from engine.runtime.runner import IncomingEvent
from engine.store.models import CUSTOMERS, JOURNEYS, SEND_LOG

CORPUS = Path(__file__).parent / "bounces"
LOG = SEND_LOG


def mid(n: int, obj: str = "welcome-mail") -> str:
    return f"<20260105090000000000.{n}.{obj}@shop.example>"


# file: (address, status, reason, hard, Message-ID of the mail that bounced)
EXPECTED = {
    "postfix-dsn-hard.eml": ("ann.dekker@mail.example.nl", "5.1.1", "userunknown", True, mid(1)),
    "exim-hard.eml": ("bob.jansen@example.org", "5.1.1", "userunknown", True, mid(2, "reminder")),
    "exchange-online-dsn-hard.eml": (
        "carla@contoso.example",
        "5.1.10",
        "userunknown",
        True,
        mid(3),
    ),
    "gmail-dsn-hard.eml": ("dirk.vos.typo@gmail.com", "5.1.1", "userunknown", True, mid(4)),
    "qmail-hard.eml": ("eva@oldhost.example", "5.1.1", "userunknown", True, mid(5)),
    "postfix-dsn-delayed-soft.eml": ("frank@full.example", "4.2.2", "mailboxfull", False, mid(6)),
    "exim-mailbox-full-soft.eml": ("greet@quota.example", "4.2.2", "mailboxfull", False, mid(7)),
}


def test_the_corpus_is_covered() -> None:
    assert {p.name for p in CORPUS.glob("*.eml")} == {*EXPECTED, "autoreply-not-a-bounce.eml"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_classification(name: str) -> None:
    verdict = classify(email.message_from_bytes((CORPUS / name).read_bytes()))
    address, status, reason, hard, message_id = EXPECTED[name]
    assert verdict.kind == "bounce"
    [one] = verdict.recipients
    assert (one.address, one.status, one.reason, one.hard) == (address, status, reason, hard)
    assert verdict.message_id == message_id


def test_an_auto_reply_is_not_a_bounce() -> None:
    message = email.message_from_bytes((CORPUS / "autoreply-not-a-bounce.eml").read_bytes())
    verdict = classify(message)
    assert (verdict.kind, verdict.recipients) == ("auto-reply", ())


CLEANUP = """\
objects:
  bounced:
    type: event
    event: bounce
    flow: welcome
    next: done
  done:
    type: end
"""


def mailed(harness) -> tuple[Harness, dict[str, int]]:
    """Customers who got the welcome mail (written to a Maildir), their send log rows given
    the corpus's Message-IDs; Bob is a customer who got no mail from sluis."""
    settings = smtp_settings(0).replace(
        "    type: smtp\n    host: 127.0.0.1\n    port: 0\n", "    type: maildir\n    path: out\n"
    )
    settings = settings.replace(
        "  connection: smtp\n", "  connection: smtp\n  soft_bounce_limit: 2\n"
    )
    h = harness(settings, {"welcome": mail_flow(), "cleanup": CLEANUP})
    people = {
        "ann": "ann.dekker@mail.example.nl",
        "carla": "carla@contoso.example",
        "frank": "frank@full.example",
    }
    ids = h.customers(*({"external_id": k, "email": v} for k, v in people.items()))
    h.runtime.start("cleanup")
    h.start()
    [bob] = h.customers({"external_id": "bob", "email": "Bob.Jansen@example.org"})
    numbers = {"ann": 1, "carla": 3, "frank": 6}
    with h.store.db.write() as conn:
        for name, customer in zip(people, ids, strict=True):
            journeys = select(JOURNEYS.c.id).where(JOURNEYS.c.customer_id == customer)
            conn.execute(
                update(LOG)
                .where(LOG.c.journey_id.in_(journeys))
                .values(message_id=mid(numbers[name]))
            )
    frank = dict(zip(people, ids, strict=True))["frank"]
    earlier = IncomingEvent("bounce", frank, h.clock.now(), data={"bounce_type": "soft"})
    h.runtime.record_events([earlier])  # one soft bounce before this ingest
    return h, {**dict(zip(people, ids, strict=True)), "bob": bob}


def customer_state(h: Harness) -> dict[str, tuple[str, int]]:
    with h.store.db.read() as conn:
        rows = conn.execute(
            select(CUSTOMERS.c.external_id, CUSTOMERS.c.bounced, CUSTOMERS.c.soft_bounces)
        )
        return {row.external_id: (row.bounced, row.soft_bounces) for row in rows}


def test_ingest_a_maildir(harness, tmp_path: Path) -> None:
    h, ids = mailed(harness)
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    for file in sorted(CORPUS.glob("*.eml")):
        box.add(file.read_bytes())
    report = ingest(h.runtime, tmp_path / "bounces")
    assert (report.messages, report.hard, report.soft, report.not_bounces) == (8, 3, 1, 1)
    assert sorted(report.unmatched) == [
        "dirk.vos.typo@gmail.com",
        "eva@oldhost.example",
        "greet@quota.example",
    ]
    assert customer_state(h) == {
        "ann": ("hard", 0),
        "carla": ("hard", 0),
        "frank": ("soft", 1),
        "bob": ("hard", 0),  # found by address (any case): sluis never sent him a mail
    }
    events = {e["customer_id"]: e for e in h.events("bounce")[1:]}
    assert set(events) == set(ids.values())
    ann = events[ids["ann"]]
    assert (ann["flow"], ann["object"]) == ("welcome", "welcome-mail")
    assert ann["data"]["bounce_type"] == "hard" and ann["data"]["status"] == "5.1.1"
    assert ann["data"]["message_id"] == mid(1)
    assert (events[ids["bob"]]["flow"], events[ids["bob"]]["object"]) == (None, None)
    assert events[ids["frank"]]["data"]["bounce_type"] == "soft"

    again = ingest(h.runtime, tmp_path / "bounces")
    assert (again.already_seen, again.hard, again.soft) == (7, 0, 0)
    assert customer_state(h)["frank"] == ("soft", 1)
    assert len(h.events("bounce")) == 5

    h.runtime.run_until_idle()  # the event start object took in those bounced from 'welcome'
    cleanup = h.steps("cleanup")
    assert set(cleanup) == {ids["ann"], ids["carla"], ids["frank"]}

    h.runtime.start("welcome")  # everyone again: suppressed now
    h.runtime.fire_due()
    h.runtime.run_until_idle()
    last = {c: steps[-1][2] for c, steps in h.steps().items()}
    assert last[ids["ann"]] == "skipped: hard bounce"
    assert last[ids["frank"]] == "skipped: 2 soft bounces in 30d (limit 2)"


def test_ingest_an_mbox_and_eml_files(harness, tmp_path: Path) -> None:
    h, _ids = mailed(harness)
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    for name in ("postfix-dsn-hard.eml", "autoreply-not-a-bounce.eml"):
        box.add(mailbox.mboxMessage((CORPUS / name).read_bytes()))
    box.close()
    report = ingest(h.runtime, tmp_path / "bounces.mbox")
    assert (report.messages, report.hard, report.not_bounces) == (2, 1, 1)
    folder = tmp_path / "eml"
    folder.mkdir()
    shutil.copy(CORPUS / "exchange-online-dsn-hard.eml", folder)
    assert ingest(h.runtime, folder).hard == 1
    assert ingest(h.runtime, CORPUS / "postfix-dsn-delayed-soft.eml").soft == 1
    assert customer_state(h)["carla"] == ("hard", 0)


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no such file or folder; give a Maildir, an mbox"):
        list(read_messages(tmp_path / "nope"))
