"""Deployteq's WSDL (the "Clang" SOAP API, version 1.24, document/literal), as sluis serves it
and reads requests by it.

``clang-1.24.wsdl`` is Deployteq's published WSDL (MIT-licensed copy from devotis/node-clang).
It is served with its target namespace, binding, operation, element and type names as they
are; only the ``soap:address`` points at this server, and ``filemanager_makeDirResponse``'s
element of type ``xsd:complexType`` (which no client can resolve) is served as ``xsd:anyType``.

``Schema`` is the WSDL's schema read once: per element and complex type, its children in
order with their types, which is what reading a request and writing an answer need.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from xml.sax.saxutils import quoteattr

from lxml import etree

NS = "https://secure.myclang.com/app/api/soap/public/index.php"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
BINDING = f"{{{NS}}}clangBinding"
_ADDRESS = 'location="https://secure.myclang.com/app/api/soap/public/index.php?version=1.24&amp;type=literal"'
_BROKEN = '<xsd:element name="msg" type="xsd:complexType"/>'


@dataclass(frozen=True)
class Child:
    """One element of a sequence: its name, type (``xsd:long``, ``tns:Customer``) and
    whether it repeats."""

    name: str
    type: str
    many: bool


@dataclass(frozen=True)
class Schema:
    elements: dict[str, tuple[Child, ...]]  # top-level element -> its sequence
    types: dict[str, tuple[Child, ...]]  # complex type -> its sequence
    operations: frozenset[str]


@cache
def _text() -> str:
    return (resources.files("api.soap") / "clang-1.24.wsdl").read_text("utf-8")


@cache
def _fixed() -> str:
    """The WSDL with the one type fixed."""
    return _text().replace(_BROKEN, '<xsd:element name="msg" type="xsd:anyType"/>')


@lru_cache(maxsize=16)  # an address per name the server is reached by
def served_wsdl(address: str) -> str:
    """The WSDL with ``address`` as the service's endpoint and the one type fixed."""
    return _fixed().replace(_ADDRESS, f"location={quoteattr(address)}")


def _sequence(node: etree._Element) -> tuple[Child, ...]:
    found = []
    for child in node.iterfind(f"{{{XSD}}}sequence/{{{XSD}}}element"):
        many = child.get("maxOccurs", "1") not in ("1", "0")
        found.append(Child(child.get("name", ""), child.get("type", "xsd:anyType"), many))
    return tuple(found)


@cache
def schema() -> Schema:
    root = etree.fromstring(_text().encode("utf-8"))
    elements: dict[str, tuple[Child, ...]] = {}
    types: dict[str, tuple[Child, ...]] = {}
    for tree in root.iterfind(f"{{{WSDL}}}types/{{{XSD}}}schema"):
        if tree.get("targetNamespace") != NS:
            continue
        for node in tree.iterfind(f"{{{XSD}}}element"):
            inner = node.find(f"{{{XSD}}}complexType")
            elements[node.get("name", "")] = _sequence(inner) if inner is not None else ()
        for node in tree.iterfind(f"{{{XSD}}}complexType"):
            types[node.get("name", "")] = _sequence(node)
    operations = frozenset(
        op.get("name", "") for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")
    )
    return Schema(elements, types, operations)
