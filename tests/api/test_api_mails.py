"""``POST /api/v1/mails/{flow}/{object}``: one mail object sent to one customer now, through
a real SMTP server (aiosmtpd on 127.0.0.1), with the flow's rules (send log, tracking,
unsubscribes) and idempotent on the caller's key; and SOAP's email_sendToCustomer on it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_helpers import Api, Setup

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine" / "mail"))
from mailtest import TRACKING_KEY, WELCOME_HTML, Inbox, SmtpServer, serve, smtp_settings

from api import services
from api.app import create_app
from engine.model.project import Project
from engine.store import Store
from engine.store.models import EVENTS, SEND_LOG

FLOW = """\
objects:
  order-placed:
    type: webhook
    endpoint: orders
    map: {id: external_id}
    next: confirmation
  confirmation:
    type: mail
    template: welcome.html
    subject: "Order {{ data.order }} for {{ customer.first_name }}"
"""
SOAP = """\
soap:
  mails: {31: orders/confirmation}
"""


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with serve(Inbox()) as server:
        yield server


@pytest.fixture
def mailing(
    make_project: Callable[..., Project],
    smtp: SmtpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Setup]:
    monkeypatch.setenv("SLUIS_TRACKING_KEY", TRACKING_KEY)
    project = make_project(
        smtp_settings(smtp.port, SOAP), {"orders": FLOW}, {"welcome.html": WELCOME_HTML}
    )
    store = Store.open(project, f"sqlite:///{tmp_path / 'mail.db'}")
    app = create_app(project, store)
    setup = Setup(project, store, app, "", Api(app))
    setup.token = setup.make_token("shop")[1]
    setup.api = Api(app, setup.token)
    yield setup
    services.close_mail(app.state.sluis)
    store.db.dispose()


def _customer(setup: Setup, **fields: object) -> int:
    made = setup.api.post("/api/v1/customers", json=fields)
    assert made.status_code == 201, made.text
    return int(made.json()["system_id"])


def test_a_transactional_mail_is_sent_once_per_key(mailing: Setup, smtp: SmtpServer) -> None:
    ann = _customer(mailing, external_id="c-1", email="ann@example.com", first_name="Ann")
    url = "/api/v1/mails/orders/confirmation"
    first = mailing.api.post(
        url, json={"email": "ANN@example.com", "key": "o-1", "data": {"order": "A1"}}
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["customer"], body["outcome"], body["repeated"]) == (ann, "sent", False)
    [mail] = smtp.inbox.received
    assert mail.message["Subject"] == "Order A1 for Ann"
    assert "https://t.shop.example/" in mail.raw.decode()  # links tracked as in the flow
    again = mailing.api.post(url, json={"system_id": ann, "key": "o-1", "data": {"order": "A1"}})
    assert again.json()["outcome"] == "sent" and again.json()["repeated"] is True
    assert again.json()["journey"] == body["journey"]
    assert len(smtp.inbox.received) == 1  # the same key sends nothing more
    other = mailing.api.post(
        url, json={"external_id": "c-1", "key": "o-2", "data": {"order": "A2"}}
    )
    assert other.json()["outcome"] == "sent" and len(smtp.inbox.received) == 2
    with mailing.store.db.read() as conn:
        log = conn.execute(SEND_LOG.select()).all()
        sent = conn.execute(EVENTS.select().where(EVENTS.c.kind == "sent")).all()
    assert len(log) == 2 and {row.state for row in log} == {"sent"} and len(sent) == 2
    bob = _customer(mailing, external_id="c-2", email="bob@example.com")
    misused = mailing.api.post(url, json={"system_id": bob, "key": "o-1"})
    assert misused.status_code == 422 and "a key names one mail" in misused.text


def test_unsubscribed_customers_are_skipped_and_bad_names_refused(
    mailing: Setup, smtp: SmtpServer
) -> None:
    _customer(mailing, external_id="c-3", email="cy@example.com", unsubscribed=True)
    url = "/api/v1/mails/orders/confirmation"
    skipped = mailing.api.post(url, json={"external_id": "c-3"}).json()
    assert (skipped["outcome"], skipped["reason"]) == ("skipped", "skipped: unsubscribed")
    assert smtp.inbox.received == []
    assert (
        mailing.api.post("/api/v1/mails/orders/nope", json={"external_id": "c-3"}).status_code
        == 404
    )
    not_mail = mailing.api.post("/api/v1/mails/orders/order-placed", json={"external_id": "c-3"})
    assert not_mail.status_code == 422 and "not a mail object" in not_mail.text
    unknown = mailing.api.post(url, json={"email": "nobody@example.com"})
    assert unknown.status_code == 422 and "no customers with email" in unknown.text
    two = mailing.api.post(url, json={"email": "cy@example.com", "external_id": "c-3"})
    assert two.status_code == 422


def test_soap_email_send_to_customer(mailing: Setup, smtp: SmtpServer) -> None:
    import httpx

    ann = _customer(mailing, external_id="c-1", email="ann@example.com", first_name="Ann")
    envelope = (
        '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV='
        '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1='
        '"https://secure.myclang.com/app/api/soap/public/index.php"><SOAP-ENV:Body>'
        f"<ns1:email_sendToCustomer><ns1:uuid>{mailing.token}</ns1:uuid><ns1:emailId>31"
        f"</ns1:emailId><ns1:customerId>{ann}</ns1:customerId><ns1:manualOptions/>"
        "<ns1:options><ns1:Option><ns1:name>key</ns1:name><ns1:value>o-9</ns1:value>"
        "</ns1:Option><ns1:Option><ns1:name>order</ns1:name><ns1:value>B7</ns1:value>"
        "</ns1:Option></ns1:options></ns1:email_sendToCustomer></SOAP-ENV:Body>"
        "</SOAP-ENV:Envelope>"
    ).encode()
    for _ in range(2):
        answer = mailing.api.post("/soap", content=envelope, headers={"Content-Type": "text/xml"})
        assert answer.status_code == 200, answer.text
        assert "<ns1:msg>true</ns1:msg>" in answer.text
    [mail] = smtp.inbox.received
    assert mail.message["Subject"] == "Order B7 for Ann"
    del httpx
