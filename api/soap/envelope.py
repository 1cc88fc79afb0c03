"""SOAP 1.1 envelopes: a request read by the WSDL's schema into Python values, an answer or a
fault written back.

A request is checked against the schema as it is read: the operation must be one of the
WSDL, every element must belong to its sequence, and a ``xsd:long`` must be an integer; what
does not fit is a ``Fault`` with a message naming the element (client's fault).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from api.soap.wsdl import NS, Child, schema

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NIL = f"{{{XSI}}}nil"
_INTEGERS = {"xsd:long", "xsd:integer", "xsd:int"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class Fault(Exception):
    """A SOAP fault: ``client`` for a bad request, else the server's."""

    def __init__(self, message: str, *, client: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.client = client


def _local(node: etree._Element) -> str:
    return str(etree.QName(node).localname)


def _value(node: etree._Element, child: Child, where: str) -> Any:
    if node.get(_NIL) in ("true", "1"):
        return None
    kind = child.type
    if kind.startswith("tns:"):
        return _complex(node, kind[4:], where)
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


def _read(node: etree._Element, sequence: tuple[Child, ...], where: str) -> dict[str, Any]:
    known = {c.name: c for c in sequence}
    values: dict[str, Any] = {}
    for item in node:
        if not isinstance(item.tag, str):
            continue  # comments, processing instructions
        name = _local(item)
        child = known.get(name)
        if child is None:
            raise Fault(
                f"{where} has no element '{name}'; its elements: "
                + ", ".join(c.name for c in sequence)
            )
        value = _value(item, child, f"{where}.{name}")
        if child.many:
            values.setdefault(name, []).append(value)
        else:
            values[name] = value
    return values


def _complex(node: etree._Element, type_name: str, where: str) -> Any:
    sequence = schema().types.get(type_name, ())
    values = _read(node, sequence, where)
    if type_name.startswith("ArrayOf") and len(sequence) == 1:
        return values.get(sequence[0].name, [])
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
    if found is None or len(found) == 0:
        raise Fault("the Envelope has no Body with an operation element")
    call = found[0]
    operation = _local(call)
    if etree.QName(call).namespace != NS or operation not in schema().operations:
        raise Fault(f"'{operation}' is not an operation of this service (namespace {NS})")
    return operation, _read(call, schema().elements.get(operation, ()), operation)


def _write(parent: etree._Element, name: str, kind: str, value: Any) -> None:
    node = etree.SubElement(parent, f"{{{NS}}}{name}")
    if value is None:
        node.set(_NIL, "true")
    elif kind.startswith("tns:"):
        sequence = schema().types.get(kind[4:], ())
        if kind.startswith("tns:ArrayOf") and len(sequence) == 1:
            for item in value:
                _write(node, sequence[0].name, sequence[0].type, item)
        else:
            for child in sequence:
                if child.name in value:
                    _write(node, child.name, child.type, value[child.name])
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    else:
        node.text = str(value)


def answer(operation: str, msg: Any, code: int = 0) -> bytes:
    """The response envelope of ``operation`` with ``{code, msg}``."""
    envelope = etree.Element(f"{{{ENV}}}Envelope", nsmap={"SOAP-ENV": ENV, "ns1": NS, "xsi": XSI})
    body = etree.SubElement(envelope, f"{{{ENV}}}Body")
    response = etree.SubElement(body, f"{{{NS}}}{operation}Response")
    for child in schema().elements.get(f"{operation}Response", ()):
        _write(response, child.name, child.type, code if child.name == "code" else msg)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def fault(fault: Fault) -> bytes:
    """A SOAP 1.1 fault envelope."""
    envelope = etree.Element(f"{{{ENV}}}Envelope", nsmap={"SOAP-ENV": ENV})
    body = etree.SubElement(envelope, f"{{{ENV}}}Body")
    node = etree.SubElement(body, f"{{{ENV}}}Fault")
    etree.SubElement(node, "faultcode").text = "SOAP-ENV:" + (
        "Client" if fault.client else "Server"
    )
    etree.SubElement(node, "faultstring").text = fault.message
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))
