"""Rendering requests: headers with ${VAR} secrets, bodies, query strings, URL checks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import EffectError, ProjectError
from engine.http.render import Headers, RenderedHeaders, json_body, make_call, with_query
from engine.model.templates import Template

SCOPE = {"customer": {"first_name": "${CRM_TOKEN}"}, "data": {}, "flow": "f", "object": "o"}


def headers(**values: str) -> Headers:
    return Headers(
        {k.replace("_", "-"): Template.parse(v) for k, v in values.items()}, "object 'o'"
    )


def test_secrets_come_from_the_environment_and_are_known_as_secrets(monkeypatch):
    monkeypatch.setenv("CRM_TOKEN", "tok-1")
    monkeypatch.setenv("_HOOK", "h-2")
    made = headers(Authorization="Bearer ${CRM_TOKEN}", X_Hook="${_HOOK}:${CRM_TOKEN}")
    rendered = made.render({}, {}, lambda: SCOPE, made.secrets())
    assert rendered.values == {"Authorization": "Bearer tok-1", "X-Hook": "h-2:tok-1"}
    assert set(rendered.secrets) == {"tok-1", "h-2"}
    assert rendered.secret_names == {"Authorization", "X-Hook"}


def test_customer_data_that_looks_like_a_secret_is_not_resolved(monkeypatch):
    monkeypatch.setenv("CRM_TOKEN", "tok-1")
    made = headers(X_Name="{{ customer.first_name }}")
    rendered = made.render(SCOPE["customer"], {}, lambda: SCOPE, made.secrets())
    assert rendered.values == {"X-Name": "${CRM_TOKEN}"}
    assert rendered.secrets == ()


def test_a_missing_variable_names_the_header_and_the_fix(monkeypatch):
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    with pytest.raises(
        ProjectError,
        match=r"object 'o': header 'Authorization' reads \$\{CRM_TOKEN\}, but CRM_TOKEN is not set; export it",
    ):
        headers(Authorization="Bearer ${CRM_TOKEN}").secrets()


def test_json_bodies_are_compact_with_dates_and_decimals_as_text():
    body = {
        "d": date(2026, 1, 5),
        "t": datetime(2026, 1, 5, 9, tzinfo=UTC),
        "x": Decimal("1.50"),
        "s": "é",
    }
    assert json_body(body) == (
        '{"d":"2026-01-05","t":"2026-01-05T09:00:00+00:00","x":"1.50","s":"é"}'.encode()
    )


def test_query_strings_are_merged_and_encoded():
    url = with_query("https://crm.example/find?src=sluis", {"q": "a b&c", "vip": True, "n": None})
    assert url == "https://crm.example/find?src=sluis&q=a+b%26c&vip=true&n="


@pytest.mark.parametrize("url", ["ftp://crm.example/x", "/relative/path", "https:///nohost", ""])
def test_only_http_urls_with_a_host_are_called(url):
    with pytest.raises(EffectError, match=r"is not an http:// or https:// URL|is not a URL"):
        make_call(method="POST", url=url, headers=RenderedHeaders({}, (), frozenset()), key="k")


def test_a_call_gets_its_key_and_a_content_type_only_when_none_was_given():
    plain = RenderedHeaders({}, (), frozenset())
    call = make_call(
        method="POST",
        url="https://x.example/",
        headers=plain,
        key="k",
        content=b"{}",
        content_type="application/json",
    )
    assert call.headers == {"Content-Type": "application/json", "Idempotency-Key": "k"}
    own = RenderedHeaders({"content-type": "text/csv"}, (), frozenset())
    call = make_call(
        method="POST",
        url="https://x.example/",
        headers=own,
        key="k",
        content=b"a",
        content_type="application/json",
    )
    assert call.headers == {"content-type": "text/csv", "Idempotency-Key": "k"}


def _checked_in_full(url: str) -> str | None:
    """The URL check as a whole-URL parse does it (what the cached check must agree with)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "is not an http:// or https:// URL with a host"
    return None


@given(
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "//", "http:/", "", "http://["]),
    st.text(alphabet="ab.:/?#[]@%\t\n -", max_size=14),
)
def test_the_cached_url_check_agrees_with_parsing_the_whole_url(start, rest):
    url = (start + rest).strip()
    expected = _checked_in_full(url)
    try:
        make_call(method="GET", url=url, headers=RenderedHeaders({}, (), frozenset()), key="k")
    except EffectError as exc:
        assert expected is not None
        assert str(exc).startswith(f"url '{url}' {expected}")
    else:
        assert expected is None
