"""``sluis integrate magento2`` end to end: hourly pulls of customers (with newsletter) and
orders through searchCriteria paging against the Magento 2 stand-in, changed since the last
pull, resuming after a failure without duplicates; a wrong token fails the pull."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from vendors import Answer
from vendors.magento import SC, Magento

from engine.store.models import EVENTS, RECORDS
from engine.store.raw import json_value


@pytest.fixture
def magento():
    stand_in = Magento(customers=500, orders=1250)
    yield stand_in
    stand_in.close()


@pytest.fixture
def shop(shop_for, magento):
    made = shop_for(
        "magento2",
        urls={},
        env={"MAGENTO_BASE_URL": magento.base_url, "MAGENTO_ACCESS_TOKEN": magento.token},
    )
    made.start("magento-customers")  # the orders flow starts once customers are there
    return made


def _pages(magento, path):
    return [c.arg(f"{SC}[currentPage]") for c in magento.to(path)]


def test_customers_then_orders_page_to_the_end(shop, magento):
    shop.at(1, 5)
    assert _pages(magento, "/rest/V1/customers/search") == ["1", "2", "3", "4", "5"]
    assert shop.count() == 500
    assert shop.customer("external_id", "2")["newsletter"] is True
    shop.start("magento-orders")
    shop.at(1, 15)
    assert len(_pages(magento, "/rest/V1/orders")) == 13  # 1,250 orders, 100 a page
    assert _records(shop, "orders") == 1250
    assert _records(shop, "order_lines") == 1875  # one or two lines an order
    magento.calls.clear()
    magento.counts["orders"] = 1260
    shop.at(2, 15)
    [call] = magento.to("/rest/V1/orders")
    assert call.arg(f"{SC}[filterGroups][0][filters][0][value]") == "2026-01-01 00:20:50"
    assert _records(shop, "orders") == 1260 and _records(shop, "order_lines") == 1890


def _records(shop, collection):
    with shop.store.db.read() as conn:
        query = select(func.count()).select_from(RECORDS).where(RECORDS.c.collection == collection)
        return conn.execute(query).scalar_one()


def test_line_items_keep_their_orders_key_and_customer(shop, magento):
    shop.at(1, 5)
    shop.start("magento-orders")
    shop.at(1, 15)
    with shop.store.db.read() as conn:
        lines = {
            r.key: r
            for r in conn.execute(select(RECORDS).where(RECORDS.c.collection == "order_lines"))
        }
        [order] = conn.execute(
            select(RECORDS).where(RECORDS.c.collection == "orders", RECORDS.c.key == "7")
        )
    # order 7 has lines 71 and 72, both of customer m8@example.com (order i: customer i % 500 + 1)
    for key, sku, quantity in (("71", "SKU-8", 1), ("72", "SKU-9", 2)):
        line = lines[key]
        assert json_value(line.data)["order_id"] == "7" and json_value(line.data)["sku"] == sku
        assert Decimal(json_value(line.data)["quantity"]) == quantity  # decimals kept as text
        assert (
            line.customer_id
            == order.customer_id
            == shop.customer("email", "m8@example.com")["system_id"]
        )


@pytest.fixture
def guests(shop_for):
    stand_in = Magento(subscribers=30)
    made = shop_for(
        "magento2",
        urls={},
        env={"MAGENTO_BASE_URL": stand_in.base_url, "MAGENTO_ACCESS_TOKEN": stand_in.token},
    )
    made.start("magento-subscribers")
    yield made, stand_in
    stand_in.close()


def test_guest_subscribers_come_in_with_their_consent(guests):
    shop, magento = guests
    shop.at(1, 10)
    [call] = magento.to("/rest/V1/subscribers")
    assert call.arg(f"{SC}[filterGroups][0][filters][0][field]") == "customer_id"
    assert shop.count() == 15  # the odd ones are guests; customers come with their own pull
    subscribed = shop.customer("email", "guest1@example.com")
    assert subscribed["newsletter"] is True and subscribed["newsletter_status"] == 1
    gone = shop.customer("email", "guest3@example.com")  # every third has unsubscribed
    assert gone["newsletter"] is False and gone["newsletter_status"] == 3
    # the next hour asks only for changes since the newest one seen
    magento.subscribers[2]["subscriber_status"] = 1
    magento.subscribers[2]["change_status_at"] = "2026-01-02 00:00:00"
    magento.calls.clear()
    shop.at(2, 10)
    [call] = magento.to("/rest/V1/subscribers")
    assert call.arg(f"{SC}[filterGroups][1][filters][0][value]") == "2026-01-01 00:00:29"
    assert shop.customer("email", "guest3@example.com")["newsletter"] is True


def test_a_guest_who_registers_later_is_the_same_customer(shop_for, monkeypatch):
    """A guest subscriber is a customer known by email alone; when they register, the
    customers pull (keyed on Magento's id, external_id) finds them by email and gives them the
    id rather than making a second customer."""
    from vendors import magento as vendor

    plain = vendor.customer

    def customer(i):
        made = plain(i)
        if i == 3:
            made["email"] = "Guest1@example.com"  # guest 1 registered as customer 3
        return made

    monkeypatch.setattr(vendor, "customer", customer)
    stand_in = Magento(customers=3, subscribers=30)
    made = shop_for(
        "magento2",
        urls={},
        env={"MAGENTO_BASE_URL": stand_in.base_url, "MAGENTO_ACCESS_TOKEN": stand_in.token},
    )
    try:
        made.start("magento-subscribers")
        made.at(1, 10)
        guest = made.customer("email", "guest1@example.com")
        assert guest["external_id"] is None and guest["newsletter"] is True
        made.start("magento-customers")
        made.at(2, 5)
        assert made.count() == 15 + 2  # 15 guests, customers 1 and 2; customer 3 is guest 1
        known = made.customer("external_id", "3")
        assert known["system_id"] == guest["system_id"]
        assert known["first_name"] == "Mia3" and known["email"] == "Guest1@example.com"
        assert known["newsletter_status"] == 1  # what the guest pull stored stays
        made.at(3, 5)  # the next pull changes nothing
        assert made.count() == 17
    finally:
        stand_in.close()


def test_a_failed_page_leaves_nothing_and_the_next_hour_resumes(shop, magento):
    original = magento.answer

    def flaky(call):
        if call.arg(f"{SC}[currentPage]") == "3" and flaky.left:
            flaky.left -= 1
            return Answer(500, {"message": "Internal Error"})
        return original(call)

    flaky.left = 4
    magento.answer = flaky
    shop.at(1, 5)
    for _ in range(3):  # the pull goes again 10 s, 20 s and 40 s later (a quarter more at most)
        shop.clock.advance(timedelta(minutes=1))
        shop.run()
    pages = _pages(magento, "/rest/V1/customers/search")
    assert pages.count("3") == 4  # the first try and 3 retries, each pull from page 1
    assert shop.count() == 0
    with shop.store.db.read() as conn:
        last = list(conn.execute(EVENTS.select().where(EVENTS.c.kind == "failed")))[-1]
    assert "HTTP 500" in last.data["reason"] and "after 4 tries" in last.data["reason"]
    shop.at(2, 5)
    assert shop.count() == 500


def test_a_wrong_token_fails_the_pull_with_the_reason(shop, magento, monkeypatch):
    monkeypatch.setenv("MAGENTO_ACCESS_TOKEN", "expired")
    shop.at(1, 5)
    assert shop.count() == 0
    with shop.store.db.read() as conn:
        from engine.store.models import EVENTS

        reasons = [e.data["reason"] for e in conn.execute(EVENTS.select()) if e.kind == "failed"]
    assert reasons and "HTTP 401" in reasons[-1]


def test_sluis_pull_runs_the_pull_now_with_a_progress_bar(shop, magento):
    import re
    import subprocess
    import sys

    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(shop.root),
        "COLUMNS": "200",
        "MAGENTO_BASE_URL": magento.base_url,
        "MAGENTO_ACCESS_TOKEN": magento.token,
        "SLUIS_DATABASE_URL": f"sqlite:///{shop.root}/pull.db",
    }

    def sluis(*args):
        command = [sys.executable, "-m", "cli", *args, "--project", str(shop.root)]
        return subprocess.run(command, capture_output=True, text=True, check=False, env=env)

    done = sluis("pull", "magento-customers", "changed-customers")
    assert done.returncode == 0, done.stderr
    assert "pulling" in done.stdout and "500" in done.stdout
    assert len(magento.to("/rest/V1/customers/search")) == 5
    said = " ".join(done.stdout.split())
    assert "flow 'magento-customers' is not started: its schedule (5 * * * *) pulls next at" in said
    assert re.search(r"pulls next at \d{4}-\d\d-\d\d \d\d:05 UTC once it is", said), said
    # started, it says when the schedule pulls next
    assert sluis("start", "magento-customers").returncode == 0
    again = sluis("pull", "magento-customers", "changed-customers")
    assert again.returncode == 0, again.stderr
    said = " ".join(again.stdout.split())
    assert re.search(r"next pull on its schedule \(5 \* \* \* \*\): \S+ \d\d:05 UTC", said), said
    wrong = sluis("pull", "magento-customers", "nope")
    assert wrong.returncode == 2 and "no import object 'nope'" in wrong.stderr
