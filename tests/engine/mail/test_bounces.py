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
from engine.mail.bounces import Bounce, ingest, read_bounce, read_messages
from engine.store.models import Customer, Journey, SendLog

CORPUS = Path(__file__).parent / "bounces"
CUSTOMERS = Customer.__table__
LOG = SendLog.__table__
JOURNEYS = Journey.__table__


def mid(n: int, obj: str = "welcome-mail") -> str:
    return f"<20260105090000000000.{n}.{obj}@shop.example>"


EXPECTED = {
    "postfix-dsn-hard.eml": Bounce(
        "ann.dekker@mail.example.nl",
        "hard",
        "5.1.1",
        "smtp; 550 5.1.1 <ann.dekker@mail.example.nl>: Recipient address rejected: User unknown "
        "in virtual mailbox table",
        mid(1),
    ),
    "exim-hard.eml": Bounce("bob.jansen@example.org", "hard", "5.1.1", None, mid(2, "reminder")),
    "exchange-online-dsn-hard.eml": Bounce(
        "carla@contoso.example",
        "hard",
        "5.1.10",
        "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address "
        "lookup",
        mid(3),
    ),
    "gmail-dsn-hard.eml": Bounce(
        "dirk.vos.typo@gmail.com",
        "hard",
        "5.1.1",
        "smtp; The email account that you tried to reach does not exist. Please try "
        "double-checking the recipient's email address for typos or unnecessary spaces. For "
        "more information, go to https://support.google.com/mail/?p=NoSuchUser "
        "a640c23a62f3a-a8d24c1e9f1sor1133866b.5 - gsmtp",
        mid(4),
    ),
    "qmail-hard.eml": Bounce("eva@oldhost.example", "hard", "5.1.1", None, mid(5)),
    "postfix-dsn-delayed-soft.eml": Bounce(
        "frank@full.example",
        "soft",
        "4.2.2",
        "smtp; 452 4.2.2 <frank@full.example>: Mailbox full",
        mid(6),
    ),
    "exim-mailbox-full-soft.eml": Bounce("greet@quota.example", "soft", "4.2.2", None, mid(7)),
}


def test_the_corpus_is_covered() -> None:
    assert {p.name for p in CORPUS.glob("*.eml")} == {*EXPECTED, "autoreply-not-a-bounce.eml"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_classification(name: str) -> None:
    message = email.message_from_bytes((CORPUS / name).read_bytes())
    assert read_bounce(message) == [EXPECTED[name]]


def test_an_auto_reply_is_not_a_bounce() -> None:
    message = email.message_from_bytes((CORPUS / "autoreply-not-a-bounce.eml").read_bytes())
    assert read_bounce(message) == []


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
        conn.execute(
            update(CUSTOMERS).where(CUSTOMERS.c.external_id == "frank").values(soft_bounces=1)
        )
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
        "frank": ("soft", 2),
        "bob": ("hard", 0),  # found by address (any case): sluis never sent him a mail
    }
    events = {e["customer_id"]: e for e in h.events("bounce")}
    assert set(events) == set(ids.values())
    ann = events[ids["ann"]]
    assert (ann["flow"], ann["object"]) == ("welcome", "welcome-mail")
    assert ann["data"]["bounce_type"] == "hard" and ann["data"]["status"] == "5.1.1"
    assert ann["data"]["message_id"] == mid(1)
    assert (events[ids["bob"]]["flow"], events[ids["bob"]]["object"]) == (None, None)
    assert events[ids["frank"]]["data"]["bounce_type"] == "soft"

    again = ingest(h.runtime, tmp_path / "bounces")
    assert (again.already_seen, again.hard, again.soft) == (7, 0, 0)
    assert customer_state(h)["frank"] == ("soft", 2)
    assert len(h.events("bounce")) == 4

    h.runtime.run_until_idle()  # the event start object took in those bounced from 'welcome'
    cleanup = h.steps("cleanup")
    assert set(cleanup) == {ids["ann"], ids["carla"], ids["frank"]}

    h.runtime.start("welcome")  # everyone again: suppressed now
    h.runtime.fire_due()
    h.runtime.run_until_idle()
    last = {c: steps[-1][2] for c, steps in h.steps().items()}
    assert last[ids["ann"]] == "skipped: hard bounce"
    assert last[ids["frank"]] == "skipped: 2 soft bounces (limit 2)"


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
