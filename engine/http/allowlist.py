"""``http.allow`` of ``sluis.yaml``: the local or private targets that requests may reach on
purpose. An entry is ``HOST[:PORT]`` (an address or a name) or a CIDR network::

    http:
      allow: [127.0.0.1:8080, crm.internal, 10.20.0.0/16, "[::1]:9000"]

Link-local addresses and the cloud metadata services are a different matter: a request there
reads the machine's credentials, so an entry reaches one only when it names that very address
(``169.254.169.254``), never through a network or a name that resolves to it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# link-local (AWS, GCP, Azure and most others serve metadata at 169.254.169.254), Alibaba's
# metadata address, AWS's IPv6 one and Azure's wire server
METADATA: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("169.254.0.0/16", "fe80::/10", "100.100.100.200/32", "fd00:ec2::254/128")
)
_NAME = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


@dataclass(frozen=True)
class Allowed:
    """One entry: a network (``host`` None) or a host name, with a port or any port."""

    network: IPNetwork | None
    host: str | None
    port: int | None

    def admits(self, host: str, address: IPAddress, port: int | None) -> bool:
        """Whether a connection to ``address`` (resolved from ``host``) on ``port`` (None:
        not known) fits."""
        if self.port is not None and port != self.port:
            return False
        if self.network is None:
            return host.lower() == self.host and not is_metadata(address)
        if address.version != self.network.version or address not in self.network:
            return False
        return self.network.num_addresses == 1 or not is_metadata(address)


def is_metadata(address: IPAddress) -> bool:
    """Link-local or a cloud metadata address."""
    return any(address.version == n.version and address in n for n in METADATA)


def parse_allowed(entry: str) -> Allowed:
    """One ``http.allow`` entry; ``ValueError`` saying what an entry looks like."""
    text = entry.strip()
    hint = (
        f"'{entry}' is not an http.allow entry; write HOST[:PORT] or a network, such as "
        "127.0.0.1:8080, crm.internal, 10.0.0.0/8 or [::1]:9000"
    )
    host, port = text, None
    if text.startswith("["):  # [v6] or [v6]:port
        inside, _, rest = text[1:].partition("]")
        host = inside
        if rest:
            if not rest.startswith(":"):
                raise ValueError(hint)
            port = _port(rest[1:], hint)
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = _port(number, hint)
    try:
        return Allowed(ipaddress.ip_network(host, strict=False), None, port)
    except ValueError:
        pass
    if not _NAME.match(host):
        raise ValueError(hint)
    return Allowed(None, host.lower(), port)


def _port(text: str, hint: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(hint)
    return int(text)
