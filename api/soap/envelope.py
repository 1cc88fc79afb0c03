"""SOAP 1.1 envelopes: a request read by the WSDL's schema into Python values, an answer or a
fault written back.

A request is checked against the schema as it is read: the operation must be one of the
WSDL, every element must belong to its sequence, and a ``xsd:long`` must be an integer; what
does not fit is a ``Fault`` with a message naming the element (client's fault).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml import etree

from api.soap.wsdl import NS, Child, schema

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NIL = f"{{{XSI}}}nil"
_INTEGERS = {"xsd:long", "xsd:integer", "xsd:int"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_ANSWER_HEAD = (
    f"<?xml version='1.0' encoding='UTF-8'?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{ENV}\" "
    f'xmlns:ns1="{NS}" xmlns:xsi="{XSI}"><SOAP-ENV:Body>'
)
# what XML 1.0 cannot hold (lone surrogates included)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"


class Fault(Exception):
    """A SOAP fault: ``client`` for a bad request, else the server's."""

    def __init__(self, message: str, *, client: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.client = client


@dataclass(frozen=True)
class _Layout:
    """A sequence of the schema, as reading and writing it need it: its elements by name (in
    WSDL order) with their places, and its one element if it is an array (``ArrayOfCustomer``)."""

    children: dict[str, Child]
    place: dict[str, int]
    array: Child | None


def _layout_of(sequence: tuple[Child, ...], array: bool) -> _Layout:
    children = {c.name: c for c in sequence}
    place = {c.name: n for n, c in enumerate(sequence)}
    return _Layout(children, place, sequence[0] if array and len(sequence) == 1 else None)


@cache
def _type(name: str) -> _Layout:
    """The layout of complex type ``name``."""
    return _layout_of(schema().types.get(name, ()), name.startswith("ArrayOf"))


@cache
def _element(name: str) -> _Layout:
    """The layout of top-level element ``name`` (an operation's request or response)."""
    return _layout_of(schema().elements.get(name, ()), False)


def _local(tag: str) -> str:
    """The local name of an element's tag (``{namespace}name`` or ``name``)."""
    return tag.rpartition("}")[2]


def _value(node: etree._Element, child: Child, where: str) -> Any:
    if node.get(_NIL) in ("true", "1"):
        return None
    kind = child.type
    if kind.startswith("tns:"):
        layout = _type(kind[4:])
        values = _read(node, layout, where)
        return values.get(layout.array.name, []) if layout.array is not None else values
    text = (node.text or "").strip()
    if kind in _INTEGERS:
        try:
            return int(text)
        except ValueError:
            raise Fault(f"{where} must be an integer, not '{text[:40]}'") from None
    if kind == "xsd:boolean":
        if text not in ("true", "false", "1", "0"):
            raise Fault(f"{where} must be true or false, not '{text[:40]}'")
        return text in ("true", "1")
    return node.text or ""


def _read(node: etree._Element, layout: _Layout, where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in node:
        if not isinstance(item.tag, str):
            continue  # comments, processing instructions
        name = _local(item.tag)
        child = layout.children.get(name)
        if child is None:
            raise Fault(
                f"{where} has no element '{name}'; its elements: " + ", ".join(layout.children)
            )
        value = _value(item, child, f"{where}.{name}")
        if child.many:
            values.setdefault(name, []).append(value)
        else:
            values[name] = value
    return values


def read_request(body: bytes) -> tuple[str, dict[str, Any]]:
    """The operation named in a SOAP 1.1 request and its parameters."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise Fault(f"the request is not well-formed XML: {exc}") from None
    if root.tag != f"{{{ENV}}}Envelope":
        raise Fault(f"expected a SOAP 1.1 Envelope ({ENV}), got '{root.tag}'")
    found = root.find(f"{{{ENV}}}Body")
    # the first element of the Body (not a comment before it)
    call = next(found.iterchildren(tag=etree.Element), None) if found is not None else None
    if call is None:
        raise Fault("the Envelope has no Body with an operation element")
    operation = _local(call.tag)
    if call.tag != f"{{{NS}}}{operation}" or operation not in schema().operations:
        raise Fault(f"'{operation}' is not an operation of this service (namespace {NS})")
    return operation, _read(call, _element(operation), operation)


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold (control characters, lone
    surrogates: valid in a JSON string, so a REST call or an import may have stored them) as
    U+FFFD, the replacement character, as REST answers serve lone surrogates: the rest of the
    answer still reaches the client instead of a 500."""
    return _NOT_XML.sub(REPLACEMENT, text) if _NOT_XML.search(text) else text


def _escaped(text: str) -> str:
    """``text`` as XML character data, escaped as lxml writes it (``xml_text`` first)."""
    return (
        xml_text(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
    )


def _write(out: list[str], name: str, kind: str, value: Any) -> None:
    """Append element ``name`` of type ``kind`` holding ``value`` to ``out``."""
    if value is None:
        out.append(f'<ns1:{name} xsi:nil="true"/>')
        return
    if kind.startswith("tns:"):
        inner: list[str] = []
        layout = _type(kind[4:])
        if layout.array is not None:
            for item in value:
                _write(inner, layout.array.name, layout.array.type, item)
        else:
            given = filter(layout.place.__contains__, value)  # in the WSDL's order
            for element in sorted(given, key=layout.place.__getitem__):
                _write(inner, element, layout.children[element].type, value[element])
        text = "".join(inner)
        if not text:
            out.append(f"<ns1:{name}/>")
            return
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = _escaped(str(value))
    out.append(f"<ns1:{name}>{text}</ns1:{name}>")


def answer(operation: str, msg: Any, code: int = 0) -> bytes:
    """The response envelope of ``operation`` with ``{code, msg}``, written as text: building
    it as an lxml tree costs several times more (each element looks up its namespace)."""
    out = [_ANSWER_HEAD, f"<ns1:{operation}Response>"]
    for child in _element(f"{operation}Response").children.values():
        _write(out, child.name, child.type, code if child.name == "code" else msg)
    out.append(f"</ns1:{operation}Response></SOAP-ENV:Body></SOAP-ENV:Envelope>")
    return "".join(out).encode("utf-8")


def fault(fault: Fault) -> bytes:
    """A SOAP 1.1 fault envelope."""
    envelope = etree.Element(f"{{{ENV}}}Envelope", nsmap={"SOAP-ENV": ENV})
    body = etree.SubElement(envelope, f"{{{ENV}}}Body")
    node = etree.SubElement(body, f"{{{ENV}}}Fault")
    etree.SubElement(node, "faultcode").text = "SOAP-ENV:" + (
        "Client" if fault.client else "Server"
    )
    etree.SubElement(node, "faultstring").text = xml_text(fault.message)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))
