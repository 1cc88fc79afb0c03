"""zeep against a running ``sluis serve`` process on 127.0.0.1 (not the app in a thread): on our
/soap?wsdl and on Deployteq's WSDL with only the endpoint changed, a write, reads and auth
failures, as a shop's code meets them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from api_helpers import FLOWS, SHOPIFY_SECRET, STANDARD_SECRET
from served import prepare, serving
from soap_helpers import SOAP_SETTINGS, deployteq_service, needs_shared_wsdl, our_service

from engine.model.project import Project
from engine.store import Store
from engine.store import tokens as store_tokens

pytestmark = needs_shared_wsdl()


class Served:
    def __init__(self, url: str, token: str, reader: str) -> None:
        self.url, self.token, self.reader = url, token, reader


@pytest.fixture
def served(
    make_project: Callable[..., Project], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served]:
    monkeypatch.setenv("SHOPIFY_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("STANDARD_SECRET", STANDARD_SECRET)
    project = make_project(SOAP_SETTINGS, FLOWS)
    url = f"sqlite:///{tmp_path / 'soap.db'}"
    token = prepare(project, url)
    store = Store.open(project, url)
    now = datetime.now(UTC)
    with store.db.write() as conn:
        store_tokens.create_user(conn, "reader", service=True, now=now)
        reader = store_tokens.create_token(conn, "reader", now=now, scopes="customers:read")[1]
    store.db.dispose()
    with serving(project.root, url, tmp_path / "serve.log") as base:
        yield Served(base, token, reader)


@pytest.mark.parametrize("wsdl", ["ours", "deployteq"])
def test_zeep_against_a_sluis_serve_process(served: Served, wsdl: str) -> None:
    from zeep.exceptions import Fault

    soap: Any = (our_service if wsdl == "ours" else deployteq_service)(served.url)
    made = soap.customer_insert(
        uuid=served.token,
        customer={"externalId": "c-1", "emailAddress": "Ann@Example.com", "firstname": "Ann"},
    )
    assert made.code == 0 and made.msg.externalId == "c-1"
    [found] = soap.customer_getByEmailAddress(
        uuid=served.reader, emailAddress="ann@example.com"
    ).msg["Customer"]
    assert (found.id, found.firstname) == (made.msg.id, "Ann")
    assert soap.customer_getById(uuid=served.reader, customerId=made.msg.id).msg.externalId == (
        "c-1"
    )
    with pytest.raises(Fault, match="unknown token"):
        soap.customer_getById(uuid="sluis_not-a-token", customerId=made.msg.id)
    with pytest.raises(Fault, match="may not write customers"):
        soap.customer_insert(uuid=served.reader, customer={"emailAddress": "x@example.com"})
    with pytest.raises(Fault, match="missing element 'uuid'"):
        soap.customer_getById(uuid="", customerId=made.msg.id)
