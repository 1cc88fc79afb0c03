"""Users and tokens in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.errors import AccessError, InputError
from engine.model.project import Project
from engine.store import Store
from engine.store import tokens as t
from engine.store.models import TOKENS, USERS

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def store(make_project: Callable[..., Project], store_for: Callable[[Project], Store]) -> Store:
    return store_for(make_project())


def test_token_is_stored_hashed_and_works_at_once(store: Store) -> None:
    with store.db.write() as conn:
        t.create_user(conn, "ann", service=False, now=NOW)
        token_id, secret = t.create_token(conn, "ann", now=NOW)
    with store.db.read() as conn:
        stored = conn.execute(select(TOKENS.c.hash)).scalar_one()
        access = t.check_token(conn, secret, NOW)
    assert secret.startswith("sluis_") and len(secret) > 40
    assert stored == t.token_hash(secret) and secret not in stored
    assert access.token_id == token_id and access.user == "ann" and access.webhook is None


def test_token_refusals_say_why(store: Store) -> None:
    with store.db.write() as conn:
        t.create_user(conn, "ann", service=False, now=NOW)
        t.create_user(conn, "robot", service=True, now=NOW)
        revoked_id, revoked = t.create_token(conn, "ann", now=NOW)
        t.revoke_token(conn, revoked_id, NOW)
        _, expiring = t.create_token(conn, "ann", now=NOW, expires_at=NOW + timedelta(days=1))
        _, person = t.create_token(conn, "ann", now=NOW)
        _, service = t.create_token(conn, "robot", now=NOW)
    later = NOW + timedelta(days=61)
    with store.db.read() as conn:
        with pytest.raises(AccessError, match="unknown token"):
            t.check_token(conn, "sluis_nope", NOW)
        with pytest.raises(AccessError, match="was revoked"):
            t.check_token(conn, revoked, NOW)
        with pytest.raises(AccessError, match="expired on"):
            t.check_token(conn, expiring, NOW + timedelta(days=2))
        with pytest.raises(AccessError, match="sluis user reactivate ann"):
            t.check_token(conn, person, later)
        assert t.check_token(conn, service, later).user == "robot"  # never lapses
        states = {row["id"]: row["state"] for row in t.list_tokens(conn, later)}
    assert sorted(states.values()) == ["active", "expired", "lapsed", "revoked"]
    with store.db.write() as conn:
        t.reactivate_user(conn, "ann", later)
    with store.db.read() as conn:
        assert t.check_token(conn, person, later).user == "ann"


def test_activity_is_recorded_at_most_once_a_minute(store: Store) -> None:
    with store.db.write() as conn:
        user_id = t.create_user(conn, "ann", service=False, now=NOW)
        token_id, secret = t.create_token(conn, "ann", now=NOW)
    with store.db.read() as conn:  # a token never used: its first use is recorded
        assert t.check_token(conn, secret, NOW + timedelta(seconds=30)).stale is True
    with store.db.write() as conn:
        t.touch_user(conn, user_id, NOW + timedelta(seconds=30), token_id)
    with store.db.read() as conn:
        assert t.check_token(conn, secret, NOW + timedelta(seconds=40)).stale is False
        assert t.check_token(conn, secret, NOW + timedelta(minutes=2)).stale is True
    with store.db.write() as conn:
        t.touch_user(conn, user_id, NOW + timedelta(minutes=2), token_id)
        t.touch_user(conn, user_id, NOW + timedelta(minutes=2, seconds=30), token_id)  # kept
    with store.db.read() as conn:
        seen = conn.execute(select(USERS.c.last_activity_at)).scalar_one()
        used = t.list_tokens(conn, NOW + timedelta(minutes=3))[0]["last_used_at"]
    assert seen == used == NOW + timedelta(minutes=2)


def test_rotate_webhook_issues_a_new_token_and_revokes_the_old(store: Store) -> None:
    with store.db.write() as conn:
        t.create_user(conn, "shop", service=True, now=NOW)
        with pytest.raises(InputError, match="has no token yet"):
            t.rotate_webhook(conn, "orders", now=NOW)
        old_id, old = t.create_token(conn, "shop", now=NOW, webhook="orders")
        _, general = t.create_token(conn, "shop", now=NOW)
        new_id, new, revoked = t.rotate_webhook(conn, "orders", now=NOW)
    assert revoked == [old_id] and new_id != old_id
    with store.db.read() as conn:
        with pytest.raises(AccessError, match="revoked"):
            t.check_token(conn, old, NOW)
        assert t.check_token(conn, new, NOW).webhook == "orders"
        assert t.check_token(conn, general, NOW).webhook is None  # other tokens stay


def test_user_and_token_input_errors(store: Store) -> None:
    with store.db.write() as conn:
        t.create_user(conn, "ann", service=False, now=NOW)
        with pytest.raises(InputError, match="exists already"):
            t.create_user(conn, "ann", service=False, now=NOW)
        with pytest.raises(InputError, match="sluis user create bob"):
            t.create_token(conn, "bob", now=NOW)
        with pytest.raises(InputError, match="has passed"):
            t.create_token(conn, "ann", now=NOW, expires_at=NOW - timedelta(days=1))
        with pytest.raises(InputError, match="no token 42"):
            t.revoke_token(conn, 42, NOW)


def test_a_person_is_warned_from_day_53_and_lapses_after_day_60(store: Store) -> None:
    from engine.store.users import list_users

    with store.db.write() as conn:
        t.create_user(conn, "ann", service=False, now=NOW)
        t.create_user(conn, "robot", service=True, now=NOW)
        _, secret = t.create_token(conn, "ann", now=NOW)
    with store.db.read() as conn:
        early = {u["name"]: u["warning"] for u in list_users(conn, NOW + timedelta(days=52))}
        assert early == {"ann": None, "robot": None}
        warned = {u["name"]: u["warning"] for u in list_users(conn, NOW + timedelta(days=53))}
        assert warned["ann"] is not None and warned["ann"].startswith("lapses in 7 day(s)")
        assert warned["robot"] is None
        assert t.list_tokens(conn, NOW + timedelta(days=53))[0]["warning"] == warned["ann"]
        assert t.check_token(conn, secret, NOW + timedelta(days=53)).user == "ann"
        with pytest.raises(AccessError, match="inactive since"):
            t.check_token(conn, secret, NOW + timedelta(days=61))
        [ann] = [u for u in list_users(conn, NOW + timedelta(days=61)) if u["name"] == "ann"]
        assert (ann["state"], ann["warning"]) == ("lapsed", None)


def test_scopes_allow_per_resource() -> None:
    from engine.store.scopes import allows, parse_scopes

    assert parse_scopes(["customers:read", "groups:write"]) == "customers:read groups:write"
    for resource in ("customers", "datamodel", "groups", "flows", "mails", "webhooks"):
        assert allows("read", resource, False) and not allows("read", resource, True)
        assert allows("write", resource, True) and allows(None, resource, True)
        assert allows(f"{resource}:write", resource, False)
        others = [r for r in ("customers", "groups") if r != resource]
        assert not allows(f"{resource}:write", others[0], False)
    assert not allows("read write", "admin", False) and allows("admin", "admin", True)
