"""Helpers of the SOAP tests: Deployteq's WSDL (shared with the tests, outside the repo), a
zeep transport that serves the SOAP-encoding schema the WSDL embeds (zeep would fetch its
namespace from the internet), and zeep services on our WSDL and on Deployteq's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from api_helpers import SETTINGS

SHARED_WSDL = Path(__file__).resolve().parents[2] / ".." / "shared" / "soap"
DEPLOYTEQ_WSDL = SHARED_WSDL / "deployteq-clang-1.24.wsdl"
BINDING = "{https://secure.myclang.com/app/api/soap/public/index.php}clangBinding"
ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
SOAP_SETTINGS = (
    SETTINGS
    + """\
soap:
  campaigns: {7: contacts}
"""
)  # the API test project with a campaign id for the contacts flow


def needs_shared_wsdl() -> Any:
    return pytest.mark.skipif(
        not DEPLOYTEQ_WSDL.is_file(),
        reason=f"Deployteq's WSDL is not at {DEPLOYTEQ_WSDL} (../shared/soap from the repo root)",
    )


def _encoding_schema() -> bytes:
    from api.soap.wsdl import _text

    found = re.search(r"<xs:schema.*?</xs:schema>", _text(), re.S)
    assert found is not None
    return found.group(0).encode("utf-8")


def transport() -> Any:
    """A zeep transport that answers the SOAP-encoding namespace with the embedded schema."""
    from zeep.transports import Transport

    class Embedded(Transport):  # type: ignore[misc]
        def load(self, url: str) -> bytes:
            if url.rstrip("/") == ENCODING.rstrip("/"):
                return _encoding_schema()
            loaded = bytes(super().load(url))
            # Deployteq's filemanager_makeDirResponse names type xsd:complexType, which zeep
            # cannot resolve: read it as xsd:anyType (what sluis serves)
            return loaded.replace(b'type="xsd:complexType"', b'type="xsd:anyType"')

    return Embedded()


def our_service(url: str) -> Any:
    """zeep on our /soap?wsdl."""
    import zeep

    return zeep.Client(f"{url}/soap?wsdl", transport=transport()).service


def deployteq_service(url: str) -> Any:
    """zeep on Deployteq's own WSDL, with only the endpoint changed (as a shop's code)."""
    import zeep

    client = zeep.Client(str(DEPLOYTEQ_WSDL), transport=transport())
    return client.create_service(BINDING, f"{url}/soap")


def php_envelope(token: str, email: str) -> bytes:
    """The SOAP 1.1 envelope PHP's SoapClient sends for customer_getByEmailAddress
    (document/literal: ns1 for the target namespace, no XML prolog attributes beyond
    the encoding)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:ns1="https://secure.myclang.com/app/api/soap/public/index.php">'
        "<SOAP-ENV:Body><ns1:customer_getByEmailAddress>"
        f"<ns1:uuid>{token}</ns1:uuid><ns1:emailAddress>{email}</ns1:emailAddress>"
        "</ns1:customer_getByEmailAddress></SOAP-ENV:Body></SOAP-ENV:Envelope>\n"
    ).encode()
