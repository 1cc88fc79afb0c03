"""The tracking routes over real HTTP (uvicorn on 127.0.0.1) with the runtime behind them on a
virtual clock: opens, clicks and unsubscribes become events that wake ``wait-for`` journeys and
enter ``event`` start objects; unsigned or changed links answer 400."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from mailtest import Harness, SmtpServer, free_port, mail_flow, smtp_settings
from sqlalchemy import select

from api.routes.tracking import router
from api.state import AppState
from engine.store.models import CUSTOMERS

FLOW = (
    mail_flow(link_params="true", next="{sent: opened}")
    + """\
  opened:
    type: wait-for
    event: %s
    mail: welcome-mail
    within: 3d
    next: {yes: thanks, no: reminder}
  thanks:
    type: end
  reminder:
    type: end
"""
)
GOODBYE = """\
objects:
  left:
    type: event
    event: unsubscribe
    next: farewell
  farewell:
    type: end
"""


@contextmanager
def serve_api(state: AppState, port: int) -> Iterator[str]:
    """An app with the tracking router, served by uvicorn in a thread."""
    app = FastAPI()
    app.include_router(router)
    app.state.sluis = state
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


Tracked = tuple[Harness, SmtpServer, str]


@pytest.fixture
def tracked(harness, smtp_server: SmtpServer) -> Iterator[Callable[[str], Tracked]]:
    """Start a welcome flow that waits for ``event`` after its mail to Ann, with the tracking
    API serving the mail's links."""
    with ExitStack() as stack:

        def make(event: str) -> Tracked:
            port = free_port()
            settings = smtp_settings(smtp_server.port).replace(
                "https://t.shop.example", f"http://127.0.0.1:{port}"
            )
            h = harness(settings, {"welcome": FLOW % event, "goodbye": GOODBYE})
            h.customers({"external_id": "C001", "email": "ann@example.com", "first_name": "Ann"})
            h.runtime.start("goodbye")
            h.start()
            base = stack.enter_context(serve_api(AppState(h.project, h.store, h.runtime), port))
            return h, smtp_server, base

        yield make


def links(server: SmtpServer) -> dict[str, str]:
    mail = server.inbox.received[-1].message
    html = mail.get_body(("html",)).get_content()
    found = [u.replace("&amp;", "&") for u in re.findall(r'(?:href|src)="([^"]+)"', html)]
    return {
        "click": next(u for u in found if "/t/click/" in u),
        "open": next(u for u in found if "/t/open/" in u),
        "unsubscribe": mail["List-Unsubscribe"].strip().strip("<>"),
    }


def waiting(h: Harness) -> list[tuple[str, str | None, str]]:
    return next(iter(h.steps().values()))


def test_an_open_wakes_the_wait_for_journey(tracked) -> None:
    h, server, _base = tracked("open")
    assert waiting(h)[-1][0] == "welcome-mail"  # now waiting at 'opened'
    response = httpx.get(links(server)["open"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    [event] = h.events("open")
    assert event["flow"] == "welcome" and event["object"] == "welcome-mail"
    assert event["data"]["message_id"] == server.inbox.received[0].message["Message-ID"]
    h.runtime.run_until_idle()  # the clock has not moved: the open woke the journey
    assert waiting(h)[-2:] == [("opened", "yes", "open within 3d"), ("thanks", None, "end")]


def test_a_click_redirects_records_the_url_and_wakes_the_journey(tracked) -> None:
    h, server, _base = tracked("click")
    url = links(server)["click"]
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302
    target = parse_qs(urlsplit(url).query)["url"][0]
    assert response.headers["location"] == target
    assert "sluis=" in target
    [event] = h.events("click")
    assert event["data"]["url"] == "https://shop.example/nieuw?utm_source=mail&utm_campaign=welkom"
    h.runtime.run_until_idle()
    assert waiting(h)[-2][1:] == ("yes", "click within 3d")


def test_tampered_and_unsigned_links_answer_400(tracked) -> None:
    h, server, base = tracked("open")
    good = links(server)
    click = urlsplit(good["click"])
    token = click.path.rsplit("/", 1)[1]
    journey, obj, sig = token.split(".")
    evil = quote("https://evil.example/login", safe="")
    forged_sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    bad = [
        f"{base}/t/click/{token}?url={evil}",  # another destination, same signature
        f"{base}/t/click/{journey}.{obj}.{forged_sig}?{click.query}",  # a changed signature
        f"{base}/t/click/{int(journey) + 1}.{obj}.{sig}?{click.query}",  # another mail
        f"{base}/t/click/{journey}.{obj}?{click.query}",  # no signature
        f"{base}/t/click/{journey}.{obj}.{sig}",  # no destination
        good["open"].replace("/t/open/", "/t/open/9"),
        good["open"].replace(".gif", "x.gif"),
    ]
    for url in bad:
        response = httpx.get(url, follow_redirects=False)
        assert response.status_code == 400, url
        assert "location" not in response.headers
    assert httpx.post(good["unsubscribe"] + "x").status_code == 400
    assert h.events("click") == [] and h.events("open") == []


def test_one_click_unsubscribe_acts_on_post_only(tracked) -> None:
    h, server, _base = tracked("unsubscribe")
    url = links(server)["unsubscribe"]

    def unsubscribed() -> bool:
        with h.store.db.read() as conn:
            return bool(conn.execute(select(CUSTOMERS.c.unsubscribed)).scalar())

    page = httpx.get(url)
    assert page.status_code == 200
    assert re.search(r'<form method="post" action="/t/unsubscribe/[^"]+">', page.text)
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert not unsubscribed() and h.events("unsubscribe") == []

    done = httpx.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert unsubscribed()
    [event] = h.events("unsubscribe")
    assert event["data"]["scope"] == "all" and event["object"] == "welcome-mail"
    assert httpx.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert len(h.events("unsubscribe")) == 1  # a second click changes nothing
    h.runtime.run_until_idle()
    assert waiting(h)[-2][1:] == ("yes", "unsubscribe within 3d")
    goodbye = h.steps("goodbye")  # the event start object took the customer in
    assert [s[:2] for s in next(iter(goodbye.values()))] == [("left", "out"), ("farewell", None)]
