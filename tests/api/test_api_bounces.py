"""Provider notifications through the real app (``POST /bounces/...``): Amazon SES through SNS
signed with a self-made certificate (trusted from a folder, as a host without outside network
is set up), SendGrid's ECDSA-signed Event Webhook, Mailgun's HMAC signature and Postmark's
basic auth. A valid call is read by the same rules as bounce mail; a missing signature answers
401, a wrong one 403, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from api.app import create_app
from engine.store import Store
from engine.store.customers import upsert_customers
from engine.store.models import CUSTOMERS

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def _certificate(folder: Path) -> rsa.RSAPrivateKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder.mkdir()
    (folder / "SimpleNotificationService-test.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
    )
    return key


class Providers:
    def __init__(self, tmp_path: Path, make_project: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sns_key = _certificate(tmp_path / "trusted")
        self.sendgrid_key = ec.generate_private_key(ec.SECP256R1())
        der = self.sendgrid_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        monkeypatch.setenv("SENDGRID_KEY", base64.b64encode(der).decode())
        monkeypatch.setenv("MAILGUN_KEY", MAILGUN_KEY)
        project = make_project(
            f"""\
            timezone: UTC
            database: sqlite:///{tmp_path / "sluis.db"}
            mail:
              providers:
                ses:
                  certificates: {tmp_path / "trusted"}
                sendgrid:
                  public_key: ${{SENDGRID_KEY}}
                mailgun:
                  signing_key: ${{MAILGUN_KEY}}
                postmark:
                  username: postmark
                  password: hush
            """
        )
        self.store = Store.open(project)
        self.store.db.create_schema()
        with self.store.db.write() as conn:
            rows = [{"external_id": n, "email": f"{n}@remote.example"} for n in ("ann", "bob")]
            upsert_customers(conn, rows, key="external_id", project=project, now=datetime.now(UTC))
        self.api = Api(create_app(project, self.store))

    def customer(self, name: str) -> tuple[str, int, bool]:
        with self.store.db.read() as conn:
            row = conn.execute(select(CUSTOMERS).where(CUSTOMERS.c.external_id == name)).one()
        return row.bounced, row.soft_bounces, row.unsubscribed

    def sns(self, message: dict[str, Any], **change: Any) -> dict[str, Any]:
        body = {
            "Type": "Notification",
            "MessageId": hashlib.sha1(json.dumps(message).encode()).hexdigest(),
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses",
            "Message": json.dumps(message),
            "Timestamp": "2026-01-05T09:00:00.000Z",
            "SignatureVersion": "2",
            "SigningCertURL": CERT_URL,
        }
        text = "".join(
            f"{k}\n{body[k]}\n" for k in ("Message", "MessageId", "Timestamp", "TopicArn", "Type")
        )
        signature = self.sns_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        body["Signature"] = base64.b64encode(signature).decode()
        return {**body, **change}

    def sendgrid(
        self, events: list[dict[str, Any]], timestamp: str = "1767603600"
    ) -> dict[str, Any]:
        raw = json.dumps(events).encode()
        signature = self.sendgrid_key.sign(timestamp.encode() + raw, ec.ECDSA(hashes.SHA256()))
        headers = {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            "Content-Type": "application/json",
        }
        return {"content": raw, "headers": headers}


@pytest.fixture
def providers(tmp_path: Path, make_project: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    made = Providers(tmp_path, make_project, monkeypatch)
    yield made
    made.store.db.dispose()


def ses_bounce(
    address: str, kind: str = "Permanent", status: str = "5.1.1", said: str = ""
) -> dict[str, Any]:
    recipient = {"emailAddress": address, "action": "failed", "status": status}
    recipient["diagnosticCode"] = said or f"smtp; 550 {status} user unknown"
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": "General",
            "bouncedRecipients": [recipient],
        },
        "mail": {"messageId": "0100018d-ses", "destination": [address]},
    }


def test_ses_through_sns(providers: Providers) -> None:
    api = providers.api
    answer = api.post("/bounces/ses", json=providers.sns(ses_bounce("ann@remote.example")))
    assert answer.status_code == 200, answer.text
    assert answer.json()["hard"] == 1
    assert providers.customer("ann") == ("hard", 0, False)

    delivery = {"notificationType": "Delivery", "mail": {"messageId": "m2"}, "delivery": {}}
    assert api.post("/bounces/ses", json=providers.sns(delivery)).status_code == 200
    complaint = {
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "bob@remote.example"}]},
        "mail": {"messageId": "m3"},
    }
    assert api.post("/bounces/ses", json=providers.sns(complaint)).json()["complaints"] == 1
    assert providers.customer("bob") == ("none", 0, True)


def test_ses_refuses_what_amazon_did_not_sign(providers: Providers) -> None:
    api = providers.api
    message = ses_bounce("bob@remote.example")
    forged = providers.sns(message, Message=json.dumps(ses_bounce("ann@remote.example")))
    answer = api.post("/bounces/ses", json=forged)
    assert answer.status_code == 403
    assert "signature does not match" in answer.json()["detail"]
    elsewhere = providers.sns(message, SigningCertURL="https://evil.example/cert.pem")
    answer = api.post("/bounces/ses", json=elsewhere)
    assert answer.status_code == 403
    assert "not an https URL on an sns.*.amazonaws.com host" in answer.json()["detail"]
    plain = providers.sns(message, SigningCertURL=CERT_URL.replace("https", "http"))
    assert api.post("/bounces/ses", json=plain).status_code == 403
    assert api.post("/bounces/ses", content=b"not json").status_code == 400
    assert providers.customer("ann") == ("none", 0, False)
    assert providers.customer("bob") == ("none", 0, False)


def test_sendgrid_signed_events(providers: Providers) -> None:
    api = providers.api
    events = [
        {
            "email": "ann@remote.example",
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist",
            "sg_event_id": "e1",
        },
        {
            "email": "bob@remote.example",
            "event": "bounce",
            "type": "blocked",
            "status": "5.7.1",
            "reason": "550 5.7.1 blocked using zen.spamhaus.org",
            "sg_event_id": "e2",
        },
    ]
    answer = api.post("/bounces/sendgrid", **providers.sendgrid(events))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["hard"], answer.json()["sender_blocks"]) == (1, 1)
    assert providers.customer("ann") == ("hard", 0, False)
    assert providers.customer("bob") == ("none", 0, False)  # the sender was blocked, not bob

    signed = providers.sendgrid(events)
    signed["content"] = signed["content"].replace(b"ann@", b"bob@")
    answer = api.post("/bounces/sendgrid", **signed)
    assert answer.status_code == 403 and "does not match" in answer.json()["detail"]
    unsigned = api.post("/bounces/sendgrid", json=events)
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["detail"]


def test_mailgun_signed_events(providers: Providers) -> None:
    api = providers.api
    signature = {"timestamp": "1767603600", "token": "a" * 50}
    digest = hmac.new(MAILGUN_KEY.encode(), b"1767603600" + b"a" * 50, hashlib.sha256)
    event = {
        "id": "mg-1",
        "event": "failed",
        "severity": "temporary",
        "recipient": "bob@remote.example",
        "delivery-status": {"code": 452, "message": "4.2.2 Mailbox full", "description": ""},
    }
    body = {"signature": {**signature, "signature": digest.hexdigest()}, "event-data": event}
    answer = api.post("/bounces/mailgun", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["soft"] == 1
    assert providers.customer("bob") == ("soft", 1, False)
    again = api.post("/bounces/mailgun", json=body)
    assert again.json()["already_seen"] == 1

    wrong = {"signature": {**signature, "signature": "0" * 64}, "event-data": event}
    answer = api.post("/bounces/mailgun", json=wrong)
    assert answer.status_code == 403 and "check the signing key" in answer.json()["detail"]
    assert api.post("/bounces/mailgun", json={"event-data": event}).status_code == 401


def test_postmark_with_basic_auth(providers: Providers) -> None:
    api = providers.api
    body = {
        "RecordType": "Bounce",
        "ID": 42,
        "Type": "HardBounce",
        "Email": "ann@remote.example",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    }
    auth = "Basic " + base64.b64encode(b"postmark:hush").decode()
    answer = api.post("/bounces/postmark", json=body, headers={"Authorization": auth})
    assert answer.status_code == 200, answer.text
    assert providers.customer("ann") == ("hard", 0, False)

    wrong = "Basic " + base64.b64encode(b"postmark:guess").decode()
    spam = {**body, "ID": 43, "Email": "bob@remote.example", "RecordType": "SpamComplaint"}
    answer = api.post("/bounces/postmark", json=spam, headers={"Authorization": wrong})
    assert answer.status_code == 403 and "wrong user name or password" in answer.json()["detail"]
    assert api.post("/bounces/postmark", json=spam).status_code == 401
    assert providers.customer("bob") == ("none", 0, False)


def test_a_provider_that_is_not_set_up(make_project: Any, tmp_path: Path) -> None:
    project = make_project(f"timezone: UTC\ndatabase: sqlite:///{tmp_path / 'x.db'}\n")
    store = Store.open(project)
    try:
        answer = Api(create_app(project, store)).post("/bounces/mailgun", json={})
    finally:
        store.db.dispose()
    assert answer.status_code == 404
    assert "add mail.providers.mailgun to sluis.yaml" in answer.json()["detail"]
