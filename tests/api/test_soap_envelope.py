"""SOAP envelopes written as text (``api.soap.envelope.answer``): the same bytes lxml writes for
the same tree, text escaped as lxml escapes it, and characters XML cannot hold (which lxml
refuses) sent as U+FFFD; requests read past comments; ``SoapCalls`` answers ``POST /soap`` only."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_helpers import Setup
from lxml import etree
from soap_helpers import php_envelope

from api.soap.envelope import ENV, XSI, Fault, answer, fault, read_request
from api.soap.route import SoapCalls
from api.soap.wsdl import NS, schema


def _lxml_write(parent: Any, name: str, kind: str, value: Any) -> None:
    """The answer's element as an lxml tree, by the WSDL's schema (the reference)."""
    node = etree.SubElement(parent, f"{{{NS}}}{name}")
    if value is None:
        node.set(f"{{{XSI}}}nil", "true")
    elif kind.startswith("tns:"):
        sequence = schema().types[kind[4:]]
        if kind.startswith("tns:ArrayOf") and len(sequence) == 1:
            for item in value:
                _lxml_write(node, sequence[0].name, sequence[0].type, item)
        else:
            for child in sequence:
                if child.name in value:
                    _lxml_write(node, child.name, child.type, value[child.name])
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    else:
        node.text = str(value)


def _lxml_answer(operation: str, msg: Any) -> bytes:
    envelope = etree.Element(f"{{{ENV}}}Envelope", nsmap={"SOAP-ENV": ENV, "ns1": NS, "xsi": XSI})
    body = etree.SubElement(envelope, f"{{{ENV}}}Body")
    response = etree.SubElement(body, f"{{{NS}}}{operation}Response")
    for child in schema().elements[f"{operation}Response"]:
        _lxml_write(response, child.name, child.type, 0 if child.name == "code" else msg)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


TRICKY = "A & B <c> \"d\" 'e' ]]> f\r\ng\tç €  𝄞 \x7f"
CUSTOMER = {
    # given out of the WSDL's order, with an element the type does not have
    "options": [{"customerId": 7, "name": "note", "value": TRICKY}, {"name": "x", "value": ""}],
    "externalId": "c-7",
    "id": 7,
    "notAnElement": "left out",
    "emailAddress": None,
    "firstname": TRICKY,
    "softBounceCount": 0,
    "lastname": "",
}


@pytest.mark.parametrize(
    ("operation", "msg"),
    [
        ("customer_getByEmailAddress", [CUSTOMER, {"id": 8, "options": []}]),
        ("customer_getByEmailAddress", []),
        ("customer_getById", CUSTOMER),
        ("customer_getById", None),
        ("customer_delete", True),
        ("customerSet_getCustomerIds", [3, 1, 2]),
        ("group_hasMember", {"isMember": False}),
        ("customer_getByObject", 12),
    ],
)
def test_answers_are_the_bytes_lxml_writes(operation: str, msg: Any) -> None:
    written = answer(operation, msg)
    assert written == _lxml_answer(operation, msg)
    etree.fromstring(written)  # well-formed


def test_text_reads_back_as_it_was() -> None:
    root = etree.fromstring(answer("customer_getById", CUSTOMER))
    shown = root.find(f".//{{{NS}}}firstname")
    assert shown is not None and shown.text == TRICKY  # \r kept (written as &#13;)


@pytest.mark.parametrize(
    ("bad", "sent"),
    [
        ("\x00", "\ufffd"),
        ("a\x01b", "a\ufffdb"),
        ("\x0b", "\ufffd"),
        ("\x1f", "\ufffd"),
        ("\ufffe", "\ufffd"),
        ("\ud800", "\ufffd"),
    ],
)
def test_characters_xml_cannot_hold_are_sent_as_the_replacement_character(
    bad: str, sent: str
) -> None:
    with pytest.raises(ValueError):  # lxml refuses them
        _lxml_answer("customer_getById", {"id": 1, "firstname": bad})
    written = answer("customer_getById", {"id": 1, "firstname": bad, "lastname": "V"})
    shown = etree.fromstring(written).find(f".//{{{NS}}}firstname")
    assert shown is not None and shown.text == sent
    assert written == _lxml_answer(
        "customer_getById", {"id": 1, "firstname": sent, "lastname": "V"}
    )
    assert b"\xef\xbf\xbd" in fault(Fault(f"no customer '{bad}'"))  # U+FFFD in UTF-8


def test_a_comment_before_the_operation_is_skipped() -> None:
    body = php_envelope("sluis_x", "a@example.com").replace(
        b"<SOAP-ENV:Body>", b"<SOAP-ENV:Body><!-- sent by a proxy -->"
    )
    assert read_request(body) == (
        "customer_getByEmailAddress",
        {"uuid": "sluis_x", "emailAddress": "a@example.com"},
    )
    empty = b'<e:Envelope xmlns:e="%s"><e:Body><!-- only --></e:Body></e:Envelope>' % ENV.encode()
    with pytest.raises(Fault, match="no Body with an operation element"):
        read_request(empty)


def _passes_on(setup: Setup, method: str, path: str) -> tuple[bool, list[dict[str, Any]]]:
    """Whether ``SoapCalls`` hands the call to the app behind it, and what it sent."""
    passed: list[bool] = []
    sent: list[dict[str, Any]] = []

    async def behind(scope: Any, receive: Any, send: Any) -> None:
        passed.append(True)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": php_envelope(setup.token, "a@example.com")}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "app": setup.app}
    asyncio.run(SoapCalls(behind)(scope, receive, send))
    assert bool(passed) != bool(sent)
    return bool(passed), sent


@pytest.mark.parametrize(
    ("method", "path", "passed"),
    [("POST", "/soap", False), ("GET", "/soap", True), ("POST", "/soap/x", True)],
)
def test_which_calls_soapcalls_answers(
    sqlite_setup: Setup, method: str, path: str, passed: bool
) -> None:
    was_passed, sent = _passes_on(sqlite_setup, method, path)
    assert was_passed is passed
    if not passed:
        assert sent[0]["status"] == 200
        assert (b"content-type", b"text/xml; charset=utf-8") in sent[0]["headers"]
        assert b"<ns1:code>0</ns1:code>" in sent[1]["body"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(sqlite_setup: Setup) -> None:
    big = php_envelope(sqlite_setup.token, "a@example.com" + " " * 30_000)
    refused = sqlite_setup.api.post("/soap", content=big, headers={"Content-Type": "text/xml"})
    assert refused.status_code == 413 and "max_body_bytes" in refused.json()["detail"]

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: refused while read
        yield big[:15_000]
        yield big[15_000:]

    refused = sqlite_setup.api.post(
        "/soap", content=chunked(), headers={"Content-Type": "text/xml"}
    )
    assert refused.status_code == 413 and "max_body_bytes" in refused.json()["detail"]


def test_the_access_log_names_the_soap_user(sqlite_setup: Setup, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="sluis.access")
    body = php_envelope(sqlite_setup.token, "a@example.com")
    assert sqlite_setup.api.post("/soap", content=body).status_code == 200
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "sluis.access"]
    assert line["user"] == "shop" and line["path"] == "/soap"
