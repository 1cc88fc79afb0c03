"""The ``mail`` object through the real runtime on a virtual clock, sending to aiosmtpd on
127.0.0.1 and reading what arrived."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email.policy import default
from urllib.parse import parse_qs, urlsplit

import pytest
from mailtest import START, TRACKING_KEY, SmtpServer, free_port, mail_flow, smtp_settings
from sqlalchemy import insert

from engine.mail import linkparam
from engine.mail.tracking import TrackingLinks, tracking_key
from engine.runtime.retry import retry_failed
from engine.runtime.worker import Worker
from engine.store.models import CUSTOMERS, EVENTS

ANN = {"external_id": "C001", "email": "ann@example.com", "first_name": "Ann", "city": "Delft"}


def click_target(url: str) -> str:
    """The destination inside a click-tracking URL."""
    return parse_qs(urlsplit(url).query)["url"][0]


def test_the_mail_that_arrives(harness, smtp_server: SmtpServer, mail_keys: str) -> None:
    h = harness(
        smtp_settings(smtp_server.port),
        {"welcome": mail_flow(link_params="[city]", reply_to="service@shop.example")},
    )
    [ann] = h.customers(ANN)
    h.start()

    [received] = smtp_server.inbox.received
    assert received.sender == "news@shop.example"
    assert received.recipients == ["ann@example.com"]
    mail = received.message
    assert mail["Subject"] == "Welkom, Ann!"
    assert mail["From"] == "Shop <news@shop.example>"
    assert mail["To"] == "ann@example.com"
    assert mail["Reply-To"] == "service@shop.example"
    [journey_id] = h.send_log()
    assert mail["Message-ID"] == f"<20260105090000000000.{journey_id}.welcome-mail@shop.example>"
    assert mail["Date"] == "Mon, 05 Jan 2026 09:00:00 +0000"

    links = TrackingLinks("https://t.shop.example", TRACKING_KEY.encode())
    unsubscribe = f"https://t.shop.example/t/unsubscribe/{journey_id}.welcome-mail."
    assert mail["List-Unsubscribe"].strip().startswith(f"<{unsubscribe}")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    assert mail.get_content_type() == "multipart/alternative"
    text_part, html_part = mail.iter_parts()
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    html, text = html_part.get_content(), text_part.get_content()

    hrefs = re.findall(r'href=["\']([^"\']+)["\']', html)
    assert len(hrefs) == 4
    tracked = [h for h in hrefs if h.startswith("https://t.shop.example/t/click/")]
    assert len(tracked) == 2
    assert "mailto:help@shop.example" in hrefs
    assert any(h.startswith(unsubscribe) for h in hrefs)  # not tracked, no parameter
    first = click_target(tracked[0].replace("&amp;", "&"))
    assert first.startswith("https://shop.example/nieuw?utm_source=mail&utm_campaign=welkom&sluis=")
    second = click_target(tracked[1].replace("&amp;", "&"))
    assert urlsplit(second).fragment == "top"
    for target in (first, second):
        value = parse_qs(urlsplit(target).query)["sluis"][0]
        assert linkparam.decode(value, mail_keys) == {"external_id": "C001", "city": "Delft"}
        ref = tracked[0 if target is first else 1].replace("&amp;", "&")
        token = urlsplit(ref).path.rsplit("/", 1)[1]
        assert links.verify("click", token, target).journey_id == journey_id
    pixel = re.search(r'<img src="(https://t\.shop\.example/t/open/[^"]+\.gif)"', html)
    assert pixel is not None
    assert html.index(pixel.group(0)) < html.index("</body>")

    assert "Hoi Ann," in text
    assert "p { color" not in text  # the style sheet stays out of the text part
    assert "https://t.shop.example/t/click/" in text
    assert "/t/open/" not in text

    assert h.steps()[ann][-1] == ("welcome-mail", "sent", "sent")
    [sent] = h.events("sent")
    assert sent["customer_id"] == ann
    assert sent["data"]["message_id"] == mail["Message-ID"]
    assert h.send_log()[journey_id].state == "sent"


def test_a_text_template_beside_the_html_is_the_text_part(harness, smtp_server) -> None:
    text = "Hoi {{ customer.first_name }}, kijk op https://shop.example/nieuw.\n"
    h = harness(
        smtp_settings(smtp_server.port),
        {"welcome": mail_flow(track="[opens]")},
        {"welcome.txt": text},
    )
    h.customers(ANN)
    h.start()
    mail = smtp_server.inbox.received[0].message
    text_part, html_part = mail.iter_parts()
    assert text_part.get_content() == "Hoi Ann, kijk op https://shop.example/nieuw.\n"
    assert "/t/click/" not in html_part.get_content()  # clicks are not tracked here
    assert "/t/open/" in html_part.get_content()


def test_without_tracking_the_links_stay_as_written(harness, smtp_server) -> None:
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow(track="false")})
    h.customers(ANN)
    h.start()
    html = smtp_server.inbox.received[0].message.get_body(("html",)).get_content()
    assert 'href="https://shop.example/nieuw?utm_source=mail&amp;utm_campaign=welkom"' in html
    assert "/t/open/" not in html


def test_skipped_with_the_reason(harness, smtp_server) -> None:
    h = harness(
        smtp_settings(smtp_server.port).replace(
            "  connection: smtp\n", "  connection: smtp\n  soft_bounce_limit: 2\n"
        ),
        {"welcome": mail_flow()},
    )
    ids = h.customers(
        {"external_id": "A", "email": "a@example.com"},
        {"external_id": "B"},
        {"external_id": "C", "email": "c@example.com", "unsubscribed": True},
        {"external_id": "D", "email": "d@example.com", "bounced": "hard"},
        {"external_id": "E", "email": "e@example.com"},
        {"external_id": "F", "email": "f@example.com"},
    )
    a, b, c, d, e, f = ids
    with h.store.db.write() as conn:
        conn.execute(
            insert(EVENTS).values(
                kind="unsubscribe", at=START, customer_id=e, flow="welcome", data={"scope": "flow"}
            )
        )
        conn.execute(
            CUSTOMERS.update()
            .where(CUSTOMERS.c.system_id == f)
            .values(soft_bounces=2, bounced="soft")
        )
        for _ in range(2):
            bounce = {"bounce_type": "soft", "reason": "mailboxfull"}
            conn.execute(insert(EVENTS).values(kind="bounce", at=START, customer_id=f, data=bounce))
    h.start()
    last = {cid: steps[-1][1:] for cid, steps in h.steps().items()}
    assert last == {
        a: ("sent", "sent"),
        b: ("skipped", "skipped: no address"),
        c: ("skipped", "skipped: unsubscribed"),
        d: ("skipped", "skipped: hard bounce"),
        e: ("skipped", "skipped: unsubscribed from this flow"),
        f: ("skipped", "skipped: 2 soft bounces in 30d (limit 2)"),
    }
    assert [r.recipients for r in smtp_server.inbox.received] == [["a@example.com"]]


def test_template_sandbox_refuses_escapes(harness, smtp_server) -> None:
    # validation refuses '_' names; what it cannot see, the sandbox refuses while rendering
    evil = "<p>{{ (''|attr('__cl' ~ 'ass__')).mro() }}</p>"
    h = harness(
        smtp_settings(smtp_server.port),
        {"welcome": mail_flow().replace("welcome.html", "evil.html")},
        {"evil.html": evil},
    )
    [ann] = h.customers(ANN)
    h.start()
    [*_, step] = h.steps()[ann]
    assert step[0] == "welcome-mail" and step[1] is None
    assert step[2].startswith("failed: template 'evil.html' failed:")
    assert "access to attribute '__class__' of 'str' object is unsafe" in step[2]
    assert smtp_server.inbox.received == []
    assert h.send_log() == {}


def test_template_sandbox_hides_attributes(harness, smtp_server) -> None:
    sneaky = (
        "<p>[{{ ''|attr('__class__') }}][{{ customer|attr('__init__') }}]"
        "[{{ '{0.__class__.__mro__}'.format(customer) }}]</p>"
    )
    h = harness(
        smtp_settings(smtp_server.port),
        {"welcome": mail_flow().replace("welcome.html", "sneaky.html")},
        {"sneaky.html": sneaky},
    )
    h.customers(ANN)
    h.start()
    html = smtp_server.inbox.received[0].message.get_body(("html",)).get_content()
    assert "<p>[][][]</p>" in html


def test_a_refused_mail_fails_the_journey_at_once(harness, smtp_server) -> None:
    """SMTP 5xx at send time is permanent (DESIGN.md 8): no retries; the send log knows it was
    not sent, so a retry of the failed journey (after the address is fixed) sends it."""
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow()})
    [refused] = h.customers({"external_id": "R", "email": "refuse@example.com"})
    h.start()
    reason = (
        "failed: SMTP 550 5.1.1 <refuse@example.com>: Recipient address rejected: User unknown "
        "(permanent)"
    )
    assert h.steps()[refused][1:] == [("welcome-mail", None, reason)]
    [row] = h.send_log().values()
    assert (row.state, row.attempts) == ("refused", 1)
    assert h.runtime.next_due() is None  # nothing is held for another try
    h.clock.advance(timedelta(hours=2))
    assert h.runtime.run_until_idle() == 0
    assert smtp_server.inbox.mails_started == 1
    assert smtp_server.inbox.received == []
    h.customers({"external_id": "R", "email": "fixed@example.com"})
    assert retry_failed(h.store, h.runtime.flow("welcome"), h.clock.now()) == {"welcome-mail": 1}
    h.runtime.run_until_idle()
    assert h.steps()[refused][-1] == ("welcome-mail", "sent", "sent")
    assert [r.recipients for r in smtp_server.inbox.received] == [["fixed@example.com"]]
    after = h.send_log()[row.journey_id]
    assert (after.state, after.attempts) == ("sent", 1)  # a retry's tries start over


def test_a_deferred_mail_is_tried_again_until_accepted(harness, smtp_server) -> None:
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow()})
    [later] = h.customers({"external_id": "L", "email": "later@example.com"})
    h.start()
    assert len(h.steps()[later]) == 1  # still waiting at the mail object
    [row] = h.send_log().values()
    assert (row.state, row.detail) == ("failed", "SMTP 451 4.3.0 Try again later")
    assert h.runtime.next_due() == START + timedelta(seconds=10)  # backoff: 10s
    h.clock.set(h.runtime.next_due())
    h.runtime.run_until_idle()
    assert len(h.steps()[later]) == 1
    assert h.runtime.next_due() == START + timedelta(seconds=30)  # doubled
    smtp_server.inbox.defer = False
    h.clock.set(h.runtime.next_due())
    h.runtime.run_until_idle()
    assert h.steps()[later][-1] == ("welcome-mail", "sent", "sent")
    assert [r.recipients for r in smtp_server.inbox.received] == [["later@example.com"]]
    assert smtp_server.inbox.mails_started == 3
    assert h.send_log()[row.journey_id].attempts == 3


def test_a_deferred_mail_fails_after_its_retries_saying_over_how_long(harness, smtp_server):
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow()})
    [later] = h.customers({"external_id": "L", "email": "later@example.com"})
    h.start()
    for _ in range(3):  # retries: 3 (the default), backoff 10s doubling
        h.clock.set(h.runtime.next_due())
        h.runtime.run_until_idle()
    assert h.steps()[later][-1] == (
        "welcome-mail",
        None,
        "failed: SMTP 451 4.3.0 Try again later after 4 tries over 1m10s",
    )
    assert smtp_server.inbox.mails_started == 4
    assert h.runtime.next_due() is None
    # sluis retry: the tries start over (one more deferral holds it again, it does not fail)
    assert retry_failed(h.store, h.runtime.flow("welcome"), h.clock.now()) == {"welcome-mail": 1}
    h.runtime.run_until_idle()
    assert smtp_server.inbox.mails_started == 5
    assert h.runtime.next_due() == h.clock.now() + timedelta(seconds=10)
    assert h.steps()[later][-1][2].endswith("after 4 tries over 1m10s")  # no new step yet


def test_a_server_that_never_accepts_fails_the_journey_after_its_retries(harness) -> None:
    h = harness(smtp_settings(free_port()), {"welcome": mail_flow()})
    [ann] = h.customers(ANN)
    h.start()
    for _ in range(3):  # retries: 3 (the default), backoff 10s doubling
        h.clock.set(h.runtime.next_due())
        h.runtime.run_until_idle()
    assert h.clock.now() - START == timedelta(seconds=10 + 20 + 40)
    *_, step = h.steps()[ann]
    assert step[1] is None
    pattern = r"failed: cannot connect to 127\.0\.0\.1:\d+: .+ after 4 tries over 1m10s"
    assert re.fullmatch(pattern, step[2])


def test_throttle_holds_the_rest_for_the_next_hour_across_workers(harness, smtp_server) -> None:
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow(throttle=2)})
    h.customers(*({"external_id": f"C{n}", "email": f"c{n}@example.com"} for n in range(5)))
    h.start()
    assert len(smtp_server.inbox.received) == 2
    h.clock.advance(timedelta(minutes=30))
    other = h.another_worker()
    assert other.run_until_idle() == 0  # nothing is due before the next hour
    h.clock.set(START + timedelta(hours=1))
    assert other.run_until_idle() == 1
    assert len(smtp_server.inbox.received) == 4
    assert h.runtime.run_until_idle() == 0  # the other worker used this hour's room
    h.clock.set(START + timedelta(hours=2))
    h.runtime.run_until_idle()
    assert len(smtp_server.inbox.received) == 5
    assert len({r.recipients[0] for r in smtp_server.inbox.received}) == 5


def test_connections_are_reused_and_parallel(harness, smtp_server) -> None:
    h = harness(
        smtp_settings(smtp_server.port, max_connections=3),
        {"welcome": mail_flow()},
    )
    h.customers(*({"external_id": f"C{n}", "email": f"c{n}@example.com"} for n in range(60)))
    h.runtime.batch_size = 20
    h.start()
    assert len(smtp_server.inbox.received) == 60
    assert len(smtp_server.inbox.peers) == 3  # three batches, the same three connections


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(harness, request, certificate, monkeypatch, security) -> None:
    server = request.getfixturevalue(f"{security}_server")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    login = {"username": "mailer", "password": "${SMTP_PASSWORD}"} if security == "starttls" else {}
    h = harness(smtp_settings(server.port, security=security, **login), {"welcome": mail_flow()})
    h.customers(ANN)
    h.start()
    [received] = server.inbox.received
    assert received.tls
    assert received.login == ("mailer" if security == "starttls" else None)


def test_a_wrong_password_is_a_clear_reason(harness, starttls_server, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    h = harness(
        smtp_settings(
            starttls_server.port,
            security="starttls",
            username="mailer",
            password="${SMTP_PASSWORD}",
        ),
        {"welcome": mail_flow()},
    )
    h.customers(ANN)
    h.start()
    [row] = h.send_log().values()
    assert row.state == "failed"
    assert "535" in row.detail and "cannot connect to 127.0.0.1" in row.detail


@pytest.mark.parametrize("kind", ["maildir", "folder"])
def test_maildir_and_folder_connections_write_eml_files(harness, kind) -> None:
    settings = smtp_settings(0).replace(
        "    type: smtp\n    host: 127.0.0.1\n    port: 0\n",
        f"    type: {kind}\n    path: outbox\n",
    )
    h = harness(settings, {"welcome": mail_flow()})
    h.customers(ANN, {"external_id": "C002", "email": "bob@example.com", "first_name": "Bob"})
    h.start()
    folder = h.project.root / "outbox" / ("new" if kind == "maildir" else "")
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2
    if kind == "maildir":
        assert (h.project.root / "outbox" / "cur").is_dir()
        assert not list((h.project.root / "outbox" / "tmp").iterdir())
    subjects = sorted(
        email.message_from_bytes(f.read_bytes(), policy=default)["Subject"] for f in files
    )
    assert subjects == ["Welkom, Ann!", "Welkom, Bob!"]


def test_without_a_tracking_key_sluis_keeps_one_in_the_database(
    harness, smtp_server, monkeypatch
) -> None:
    monkeypatch.delenv("SLUIS_TRACKING_KEY")
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow()})
    h.customers(ANN)
    h.start()
    key = tracking_key(h.store.db)
    assert len(key) >= 32
    assert tracking_key(h.store.db) == key  # made once, then read by every worker and the API
    mail = smtp_server.inbox.received[0].message
    token = urlsplit(mail["List-Unsubscribe"].strip("<> ")).path.rsplit("/", 1)[1]
    assert TrackingLinks("", key).verify("unsubscribe", token).object == "welcome-mail"


def test_a_short_tracking_key_fails_the_batch_with_the_fix(harness, smtp_server, monkeypatch):
    monkeypatch.setenv("SLUIS_TRACKING_KEY", "short")
    h = harness(smtp_settings(smtp_server.port), {"welcome": mail_flow()})
    [ann] = h.customers(ANN)
    h.start()
    assert h.steps()[ann][-1][2] == (
        "failed: SLUIS_TRACKING_KEY is shorter than 16 characters; export a long random value, "
        "e.g. the output of 'sluis linkparam new-key', or unset it"
    )
    assert smtp_server.inbox.received == []


def test_non_ascii_names_and_addresses(harness, smtp_server) -> None:
    settings = smtp_settings(smtp_server.port).replace("Shop <news", "Café Zoë <news")
    to = "'{{ customer.first_name }} <{{ customer.email }}>'"
    h = harness(settings, {"welcome": mail_flow(to=to)})
    zoe, other = h.customers(
        {"external_id": "Z", "email": "zoe@example.com", "first_name": "Zoë"},
        {"external_id": "Y", "email": "zoë@example.com", "first_name": "Yara"},
    )
    h.start()
    [received] = smtp_server.inbox.received
    mail = received.message
    assert (mail["Subject"], mail["From"]) == ("Welkom, Zoë!", "Café Zoë <news@shop.example>")
    assert (mail["To"], received.recipients) == ("Zoë <zoe@example.com>", ["zoe@example.com"])
    assert "Hoi Zoë," in mail.get_body(("plain",)).get_content()
    assert "Hoi Zoë," in mail.get_body(("html",)).get_content()
    assert max(len(line) for line in received.raw.split(b"\r\n")) <= 998
    assert h.steps()[other][-1][1:] == (
        "skipped",
        "skipped: no valid address ('Yara <zoë@example.com>')",
    )
    assert h.steps()[zoe][-1][1:] == ("sent", "sent")


def test_a_worker_running_batches_in_threads_keeps_to_max_connections(harness, smtp_server):
    h = harness(smtp_settings(smtp_server.port, max_connections=2), {"welcome": mail_flow()})
    h.customers(*({"external_id": f"C{n}", "email": f"c{n}@example.com"} for n in range(90)))
    h.runtime.start("welcome")
    h.runtime.fire_due()
    worker = Worker(
        h.store,
        h.runtime.flows.values(),
        effects=h.runtime.effects,
        clock=h.clock,
        concurrency=3,
        idle=0.05,
        batch_size=10,
    )
    assert worker.run(once=True) == 9
    assert sorted(r.recipients[0] for r in smtp_server.inbox.received) == sorted(
        f"c{n}@example.com" for n in range(90)
    )
    assert len(smtp_server.inbox.peers) <= 2
