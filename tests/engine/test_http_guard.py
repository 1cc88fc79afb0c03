"""The address guard: requests to loopback, private, link-local, shared and other non-global
addresses are refused on the resolved address at connect time and on every redirect, unless
``http.allow`` lists them (link-local and metadata addresses only by address) or
``http: {allow_private: true}``. Nothing here sends traffic anywhere but 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from http_target import Reply

from engine.http.calls import CallPolicy, HttpCall
from engine.http.client import HttpClient
from engine.http.guard import AddressGuard
from engine.model.project import HttpSettings
from engine.runtime.clock import VirtualClock

GUARDED = HttpSettings(allow_private=False)


def guarded_client(**kwargs: object) -> HttpClient:
    clock = VirtualClock(datetime(2026, 1, 5, tzinfo=UTC))
    return HttpClient(GUARDED, clock=clock, **kwargs)  # type: ignore[arg-type]


def call(url: str, **headers: str) -> HttpCall:
    return HttpCall("POST", url, {"Idempotency-Key": "k", **headers}, b"{}")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.1", "private"),
        ("10.255.255.254", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.20", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("100.127.255.254", "shared (carrier-grade NAT)"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("198.18.0.1", "private"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::", "unspecified"),
    ],
)
def test_non_global_addresses_are_refused(address, kind):
    assert AddressGuard().refusal(address) == f"{address} ({kind})"


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1 (loopback)"),
        ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1 (private)"),
        ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254 (link-local)"),
        ("2002:a00:1::1", "6to4 form of 10.0.0.1 (private)"),
        ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254 (link-local)"),
    ],
)
def test_ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address(address, inner):
    assert AddressGuard().refusal(address) == f"{address}, the {inner}"


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_global_addresses_pass(address):
    assert AddressGuard().refusal(address) is None


def test_allow_private_lets_private_addresses_through_but_not_metadata():
    guard = AddressGuard(allow_private=True)
    assert guard.refusal("10.0.0.1") is None
    assert guard.refusal("127.0.0.1") is None
    assert guard.refusal("169.254.169.254") == "169.254.169.254 (link-local)"
    assert guard.refusal("100.100.100.200") == "100.100.100.200 (cloud metadata)"
    assert guard.refusal("fd00:ec2::254") == "fd00:ec2::254 (cloud metadata)"
    assert guard.refusal("::ffff:169.254.169.254") is not None


@pytest.mark.parametrize(
    ("entry", "address", "host", "port", "allowed"),
    [
        ("127.0.0.1:8080", "127.0.0.1", "127.0.0.1", 8080, True),
        ("127.0.0.1:8080", "127.0.0.1", "127.0.0.1", 8081, False),
        ("127.0.0.1", "127.0.0.1", "127.0.0.1", 9, True),
        ("10.0.0.0/8", "10.2.3.4", "10.2.3.4", 443, True),
        ("10.0.0.0/8", "192.168.0.1", "192.168.0.1", 443, False),
        ("crm.internal", "10.0.0.7", "crm.internal", 443, True),
        ("crm.internal:8443", "10.0.0.7", "crm.internal", 443, False),
        ("crm.internal", "10.0.0.7", "other.internal", 443, False),
        ("[::1]:9000", "::1", "::1", 9000, True),
        # link-local and metadata: only an entry naming the very address reaches them
        ("0.0.0.0/0", "169.254.169.254", "169.254.169.254", 80, False),
        ("169.254.0.0/16", "169.254.169.254", "169.254.169.254", 80, False),
        ("metadata.internal", "169.254.169.254", "metadata.internal", 80, False),
        ("100.64.0.0/10", "100.100.100.200", "100.100.100.200", 80, False),
        ("169.254.169.254", "169.254.169.254", "169.254.169.254", 80, True),
        ("fe80::1", "fe80::1", "fe80::1", 80, True),
    ],
)
def test_http_allow_entries(entry, address, host, port, allowed):
    refusal = AddressGuard(allow=[entry]).refusal(address, host=host, port=port)
    assert (refusal is None) is allowed, refusal


@pytest.mark.parametrize("entry", ["http://x", "a b", "x:99999", "10.0.0.0/33", "a_b.example", ""])
def test_a_malformed_allow_entry_is_a_project_error(entry):
    with pytest.raises(ValueError, match=r"is not an http\.allow entry; write HOST"):
        HttpSettings(allow=[entry])


def test_an_allowed_target_is_reached_and_its_neighbour_port_is_not(target):
    settings = HttpSettings(allow=[f"127.0.0.1:{target.port}"])
    with HttpClient(settings) as client:
        assert client.send(call(target.url("/ok")), CallPolicy()).ok
        other = client.send(call(f"http://127.0.0.1:{target.port + 1}/x"), CallPolicy())
    assert other.reason.startswith(
        f"failed: refused to connect to 127.0.0.1 (loopback): not a public address; add "
        f"'127.0.0.1:{target.port + 1}' to http: {{allow: [...]}} in sluis.yaml"
    )
    assert [r.path for r in target.requests] == ["/ok"]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
    ],
)
def test_the_client_refuses_before_connecting(target, host):
    with guarded_client() as client:
        result = client.send(call(f"http://{host}:{target.port}/x"), CallPolicy(retries=3))
    assert not result.ok and result.tries == 1  # a refusal is not tried again
    assert result.reason.startswith("failed: refused to connect to ")
    assert "not a public address; add '" in result.reason
    assert "' to http: {allow: [...]} in sluis.yaml to reach it on purpose" in result.reason
    assert target.requests == []


def test_the_resolved_address_is_checked_not_the_name(target):
    def rebinding(host: str, port: int) -> list[str]:  # a DNS answer pointing inside
        return ["10.0.0.7"]

    with guarded_client(resolver=rebinding) as client:
        result = client.send(call("http://crm.example/hook"), CallPolicy())
    assert result.reason == (
        "failed: refused to connect to 'crm.example', which resolves to 10.0.0.7 (private): "
        "not a public address; add '10.0.0.7:80' to http: {allow: [...]} in sluis.yaml to "
        "reach it on purpose"
    )


def test_a_name_with_any_non_global_address_is_refused():
    def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "::ffff:192.168.0.9"]

    with guarded_client(resolver=mixed) as client:
        result = client.send(call("http://crm.example/"), CallPolicy())
    assert "resolves to ::ffff:192.168.0.9, the IPv4-mapped form of 192.168.0.9" in result.reason


@pytest.mark.parametrize("location", ["http://10.0.0.1:9/steal", "http://[::1]:9/steal"])
def test_a_redirect_to_a_private_address_is_refused(target, location):
    target.plan("/hook", Reply(307, headers={"Location": location}))
    with guarded_client(allow=["127.0.0.1/32"]) as client:  # only the test server is allowed
        result = client.send(call(target.url("/hook")), CallPolicy())
    assert not result.ok
    assert result.reason.startswith("failed: refused to connect to ")
    assert [r.path for r in target.requests] == ["/hook"]


def test_a_redirect_to_a_name_of_a_private_address_is_refused(target):
    def names(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "127.0.0.1" else ["192.168.1.5"]

    target.plan("/hook", Reply(302, headers={"Location": "http://crm.internal/x"}))
    with guarded_client(allow=["127.0.0.1/32"], resolver=names) as client:
        result = client.send(call(target.url("/hook")), CallPolicy())
    assert "refused to connect to 'crm.internal', which resolves to 192.168.1.5" in result.reason
    assert [r.path for r in target.requests] == ["/hook"]


def test_allowed_redirects_are_followed_and_secrets_stay_on_their_host(target):
    target.plan("/a", Reply(307, headers={"Location": "/b"}))
    target.plan("/b", Reply(308, headers={"Location": f"http://localhost:{target.port}/c"}))
    settings = HttpSettings(allow_private=True)
    secret = HttpCall(
        "POST",
        target.url("/a"),
        {"Idempotency-Key": "k", "X-Api-Key": "tok-123"},
        b"{}",
        secrets=("tok-123",),
        secret_headers=frozenset({"X-Api-Key"}),
    )
    with HttpClient(settings) as client:
        result = client.send(secret, CallPolicy())
    assert result.ok
    a, b, c = target.requests
    assert [r.path for r in (a, b, c)] == ["/a", "/b", "/c"]
    assert b.headers["x-api-key"] == "tok-123"  # same host
    assert "x-api-key" not in c.headers  # another host: the secret stays behind
    assert c.headers["idempotency-key"] == "k" and c.body == b"{}"
