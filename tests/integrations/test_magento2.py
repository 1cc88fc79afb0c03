"""``sluis integrate magento2`` end to end: hourly pulls of customers (with newsletter) and
orders through searchCriteria paging against the Magento 2 stand-in, changed since the last
pull, resuming after a failure without duplicates; a wrong token fails the pull."""

from __future__ import annotations

from datetime import timedelta

import pytest
from vendors import Answer
from vendors.magento import SC, Magento

from engine.store.events import EVENTS
from engine.store.records import RECORDS


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
    assert shop.count(RECORDS) == 1250
    magento.calls.clear()
    magento.counts["orders"] = 1260
    shop.at(2, 15)
    [call] = magento.to("/rest/V1/orders")
    assert call.arg(f"{SC}[filterGroups][0][filters][0][value]") == "2026-01-01 00:20:50"
    assert shop.count(RECORDS) == 1260


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
        from engine.store.events import EVENTS

        reasons = [e.data["reason"] for e in conn.execute(EVENTS.select()) if e.kind == "failed"]
    assert reasons and "HTTP 401" in reasons[-1]


def test_sluis_pull_runs_the_pull_now_with_a_progress_bar(shop, magento):
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "pull",
            "magento-customers",
            "changed-customers",
            "--project",
            str(shop.root),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(shop.root),
            "COLUMNS": "200",
            "MAGENTO_BASE_URL": magento.base_url,
            "MAGENTO_ACCESS_TOKEN": magento.token,
            "SLUIS_DATABASE_URL": f"sqlite:///{shop.root}/pull.db",
        },
    )
    assert done.returncode == 0, done.stderr
    assert "pulling" in done.stdout and "500" in done.stdout
    assert len(magento.to("/rest/V1/customers/search")) == 5
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "pull",
            "magento-customers",
            "nope",
            "--project",
            str(shop.root),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(shop.root),
            "SLUIS_DATABASE_URL": f"sqlite:///{shop.root}/pull.db",
        },
    )
    assert again.returncode == 2 and "no import object 'nope'" in again.stderr
