"""The address guard: outgoing HTTP requests reach only global addresses.

Campaign objects call URLs that marketers write and that templates fill in from customer data,
so a request must not be able to reach the machine itself, the private network behind it or a
cloud metadata service (server-side request forgery). The check runs at connect time on the
*resolved* address, inside httpcore's network backend: the backend resolves the host name,
checks every address it got, and connects to the checked address itself, so a DNS answer that
changes between a check and the connection (DNS rebinding) cannot slip through. Every redirect
opens its connection through the same backend, so redirects are checked too.

``http: {allow: [HOST[:PORT] | CIDR, ...]}`` in ``sluis.yaml`` names the local or private
targets reachable on purpose (``engine/http/allowlist.py``); ``allow_private: true`` is the
big switch that opens every private and loopback address (demos). Link-local addresses and
cloud metadata services stay refused either way unless an ``allow`` entry names the address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpcore

from engine.errors import EffectError
from engine.http.allowlist import Allowed, is_metadata, parse_allowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class AddressRefused(EffectError):
    """A request would have reached a non-global address; nothing was sent."""


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a literal address resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve host '{host}': {exc.strerror}") from exc
    found: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if address not in found:
            found.append(address)
    return found


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, with the name of the scheme."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    if any(ip in net for net in _NAT64):
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _kind(ip: IPAddress) -> str | None:
    """What kind of non-global address ``ip`` is, or None when it is global."""
    if is_metadata(ip) and not ip.is_link_local:
        return "cloud metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared (carrier-grade NAT)"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


class AddressGuard:
    """Decides which addresses requests may reach: global ones, and those ``allow`` lists
    (``http.allow`` entries); with ``allow_private`` every non-global one but link-local and
    metadata addresses."""

    def __init__(self, *, allow_private: bool = False, allow: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self.allow: tuple[Allowed, ...] = tuple(parse_allowed(entry) for entry in allow)

    def refusal(
        self, address: str, *, host: str | None = None, port: int | None = None
    ) -> str | None:
        """Why ``address`` (resolved from ``host``) may not be reached on ``port``, or None
        when it may."""
        ip = ipaddress.ip_address(address)
        if any(entry.admits(host or address, ip, port) for entry in self.allow):
            return None
        if isinstance(ip, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(ip)
            if embedded is not None:  # judged by the IPv4 address it reaches
                scheme, ipv4 = embedded
                inner = self.refusal(str(ipv4), host=host, port=port)
                return None if inner is None else f"{address}, the {scheme} form of {inner}"
        kind = _kind(ip)
        if kind is None or (self.allow_private and not is_metadata(ip)):
            return None
        return f"{address} ({kind})"

    def check(self, host: str, addresses: Sequence[str], port: int | None = None) -> None:
        """Raise ``AddressRefused`` when any address ``host`` resolved to is not allowed."""
        for address in addresses:
            why = self.refusal(address, host=host, port=port)
            if why is not None:
                shown = why if host == address else f"'{host}', which resolves to {why}"
                raise AddressRefused(
                    f"refused to connect to {shown.rstrip(',')}: not a public address; add "
                    f"'{_entry(address, port)}' to http: {{allow: [...]}} in sluis.yaml to "
                    "reach it on purpose"
                )


def _entry(address: str, port: int | None) -> str:
    """The ``http.allow`` entry that would let a connection to ``address`` through."""
    shown = f"[{address}]" if ":" in address and port is not None else address
    return shown if port is None else f"{shown}:{port}"


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the guard in front: resolve, check, then connect to the
    checked address (TLS still verifies the original host name, which httpcore passes on)."""

    def __init__(self, guard: AddressGuard, resolver: Resolver = resolve) -> None:
        self.guard = guard
        self.resolver = resolver
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.resolver(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"host '{host}' has no address")
        self.guard.check(host, addresses, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise AddressRefused("refused to connect: sluis sends HTTP requests over TCP only")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
