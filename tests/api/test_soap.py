"""The SOAP API with zeep as the real client against a real server on 127.0.0.1: loading our
/soap?wsdl, and loading Deployteq's own WSDL with only the endpoint changed (what a shop's
existing code does); every implemented operation, faults, auth failures, scopes, and the raw
envelope PHP's SoapClient sends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import FLOWS, SHOPIFY_SECRET, STANDARD_SECRET, Server
from soap_helpers import (
    SOAP_SETTINGS,
    deployteq_service,
    needs_shared_wsdl,
    our_service,
    php_envelope,
)

from engine.model.project import Project
from engine.store import tokens as store_tokens

pytestmark = needs_shared_wsdl()


@pytest.fixture
def api_project(make_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch) -> Project:
    """The API test project with a campaign id for the contacts flow."""
    monkeypatch.setenv("SHOPIFY_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("STANDARD_SECRET", STANDARD_SECRET)
    return make_project(SOAP_SETTINGS, FLOWS)


@pytest.fixture(params=["ours", "deployteq"])
def soap(request: pytest.FixtureRequest, server: Server) -> Any:
    """A zeep service on our WSDL, or on Deployteq's pointed at our server."""
    make = our_service if request.param == "ours" else deployteq_service
    return make(server.url)


def _token(server: Server, user: str, scopes: str | None = "read write", **kw: Any) -> str:
    now = datetime.now(UTC)
    with server.setup.store.db.write() as conn:
        store_tokens.create_user(conn, user, service=True, now=now)
        return store_tokens.create_token(conn, user, now=now, scopes=scopes, **kw)[1]


def test_the_served_wsdl_keeps_deployteqs_names_and_points_here(server: Server) -> None:
    text = httpx.get(f"{server.url}/soap?wsdl").text
    assert 'targetNamespace="https://secure.myclang.com/app/api/soap/public/index.php"' in text
    assert '<wsdl:binding name="clangBinding"' in text
    assert f'location="{server.url}/soap"' in text
    assert 'type="xsd:complexType"' not in text  # filemanager_makeDirResponse fixed
    assert text.count("<wsdl:operation name=") > 200  # every operation stays


def test_customer_operations(server: Server, soap: Any) -> None:
    uuid = server.setup.token
    made = soap.customer_insert(
        uuid=uuid,
        customer={"externalId": "c-1", "emailAddress": "Ann@Example.com", "firstname": "Ann"},
    )
    assert made.code == 0
    ann = made.msg
    assert (ann.externalId, ann.firstname) == ("c-1", "Ann")
    assert soap.customer_getById(uuid=uuid, customerId=ann.id).msg.emailAddress == (
        "Ann@Example.com"
    )
    [found] = soap.customer_getByEmailAddress(uuid=uuid, emailAddress="ann@example.com").msg[
        "Customer"
    ]
    assert found.id == ann.id
    [found] = soap.customer_getByExternalId(uuid=uuid, externalId="c-1").msg["Customer"]
    assert found.id == ann.id
    assert (
        soap.customer_getByExternalId(uuid=uuid, externalId="none").msg is None
        or not (soap.customer_getByExternalId(uuid=uuid, externalId="none").msg["Customer"])
    )
    options = {"CustomerOption": [{"name": "newsletter", "value": "true"}]}
    changed = soap.customer_update(
        uuid=uuid, customer={"id": ann.id, "firstname": "Anne", "options": options}
    ).msg
    assert changed.firstname == "Anne"
    shown = {o.name: o.value for o in changed.options["CustomerOption"]}
    assert shown["newsletter"] == "true"
    upserted = soap.customer_upsert(uuid=uuid, customer={"externalId": "c-2", "firstname": "Bo"})
    assert upserted.msg.id != ann.id
    again = soap.customer_upsert(uuid=uuid, customer={"externalId": "c-2", "firstname": "Bob"})
    assert (again.msg.id, again.msg.firstname) == (upserted.msg.id, "Bob")
    resource = soap.customer_getByObject(uuid=uuid, customer={"externalId": "c-2"}).msg
    polled = soap.resource_getById(uuid=uuid, resourceId=resource).msg
    assert (polled.status, polled.size) == ("READY", 1)
    page = soap.customerSet_getCustomers(uuid=uuid, resourceId=resource, offset=0, size=10)
    assert [c.id for c in page.msg["Customer"]] == [upserted.msg.id]
    assert soap.resource_free(uuid=uuid, resourceId=resource).msg is True
    assert soap.customer_delete(uuid=uuid, customer={"id": upserted.msg.id}).msg is True
    with pytest.raises(Exception, match=f"no customer with system_id {upserted.msg.id}"):
        soap.customer_getById(uuid=uuid, customerId=upserted.msg.id)


def test_group_and_campaign_operations(server: Server, soap: Any) -> None:
    uuid = server.setup.token
    ann = soap.customer_insert(uuid=uuid, customer={"emailAddress": "ann@example.com"}).msg
    vip = soap.group_insert(uuid=uuid, group={"name": "vip"}).msg
    assert (vip.name, vip.customerCount) == ("vip", 0)
    assert [g.name for g in soap.group_getAll(uuid=uuid).msg["Group"]] == ["vip"]
    assert soap.group_getById(uuid=uuid, groupId=vip.id).msg.name == "vip"
    [found] = soap.group_getByObject(uuid=uuid, group={"name": "vip"}).msg["Group"]
    assert found.id == vip.id
    added = soap.group_addMember(uuid=uuid, group={"id": vip.id}, customer={"id": ann.id})
    assert added.msg is True
    member = soap.group_hasMember(
        uuid=uuid, groupId=vip.id, customerId=ann.id, includeSubGroups=False
    ).msg
    assert member.isMember is True
    assert [g.name for g in soap.customer_getGroups(uuid=uuid, customerId=ann.id).msg["Group"]] == [
        "vip"
    ]
    members = soap.group_getMembers(uuid=uuid, groupId=vip.id, recursive=False).msg
    assert soap.customerSet_getCustomerIds(uuid=uuid, resourceId=members, offset=0, size=10).msg[
        "integer"
    ] == [ann.id]
    soap.group_removeMember(
        uuid=uuid, group={"name": "vip"}, customer={"emailAddress": "ann@example.com"}
    )
    assert not soap.group_hasMember(
        uuid=uuid, groupId=vip.id, customerId=ann.id, includeSubGroups=False
    ).msg.isMember
    assert soap.campaign_addMember(uuid=uuid, campaignId=7, customerId=ann.id).msg is True
    flow_members = soap.campaign_getMembers(uuid=uuid, campaignId=7).msg
    assert soap.resource_getById(uuid=uuid, resourceId=flow_members).msg.size == 1
    with pytest.raises(Exception, match="no campaign 8"):
        soap.campaign_addMember(uuid=uuid, campaignId=8, customerId=ann.id)
    assert soap.group_delete(uuid=uuid, groupId=vip.id).msg is True
    with pytest.raises(Exception, match=f"no group with id {vip.id}"):
        soap.group_getById(uuid=uuid, groupId=vip.id)


def test_faults_and_auth(server: Server, soap: Any) -> None:
    from zeep.exceptions import Fault

    uuid = server.setup.token
    with pytest.raises(Fault, match="sluis does not support mailing_getAll"):
        soap.mailing_getAll(uuid=uuid)
    with pytest.raises(Fault, match="unknown token"):
        soap.group_getAll(uuid="sluis_not-a-token")
    reader = _token(server, "reader", "customers:read")
    assert soap.customer_getByEmailAddress(uuid=reader, emailAddress="x@example.com").code == 0
    with pytest.raises(Fault, match="may not write customers"):
        soap.customer_insert(uuid=reader, customer={"emailAddress": "x@example.com"})
    with pytest.raises(Fault, match="may not read groups"):
        soap.group_getAll(uuid=reader)
    hook = _token(server, "hook", "webhooks:write", webhook="orders")
    with pytest.raises(Fault, match="for webhook 'orders' only"):
        soap.group_getAll(uuid=hook)
    with pytest.raises(Fault, match="externalId or an emailAddress"):
        soap.customer_insert(uuid=uuid, customer={"firstname": "Nobody"})


def test_raw_php_soapclient_envelope(server: Server) -> None:
    uuid = server.setup.token
    our_service(server.url).customer_insert(
        uuid=uuid, customer={"emailAddress": "ann@example.com", "firstname": "Ann"}
    )
    answer = httpx.post(
        f"{server.url}/soap",
        content=php_envelope(uuid, "ann@example.com"),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
    )
    assert answer.status_code == 200
    assert "<ns1:code>0</ns1:code>" in answer.text
    assert "<ns1:firstname>Ann</ns1:firstname>" in answer.text
    bad = httpx.post(f"{server.url}/soap", content=b"<not-soap/>")
    assert bad.status_code == 500
    assert "SOAP-ENV:Client" in bad.text and "expected a SOAP 1.1 Envelope" in bad.text


def test_customer_get_by_object_matches_every_element_given(server: Server, soap: Any) -> None:
    from zeep.exceptions import Fault

    uuid = server.setup.token

    def insert(**customer: Any) -> int:
        return int(soap.customer_insert(uuid=uuid, customer=customer).msg.id)

    yes = {"CustomerOption": [{"name": "newsletter", "value": "true"}]}
    ann = insert(emailAddress="Ann@Example.com", firstname="Ann", birthday="1990-01-02")
    ann2 = insert(externalId="a-2", firstname="Ann", birthday="1985-05-05", options=yes)
    bo = insert(externalId="b-1", firstname="Bo", options=yes)

    def matching(**customer: Any) -> list[int]:
        resource = soap.customer_getByObject(uuid=uuid, customer=customer).msg
        size = soap.resource_getById(uuid=uuid, resourceId=resource).msg.size
        if not size:
            return []
        ids = soap.customerSet_getCustomerIds(uuid=uuid, resourceId=resource, offset=0, size=100)
        return list(ids.msg["integer"])

    assert matching(firstname="Ann") == [ann, ann2]
    assert matching(firstname="Ann", birthday="1990-01-02") == [ann]
    assert matching(emailAddress="ANN@example.com") == [ann]
    assert matching(options={"CustomerOption": [{"name": "newsletter", "value": "true"}]}) == [
        ann2,
        bo,
    ]
    assert matching(firstname="Ann", mailStatus="active") == [ann, ann2]
    assert matching(mailStatus="unsubscribed") == []
    assert matching(id=ann, firstname="Bo") == []
    assert matching(id=bo, externalId="b-1") == [bo]
    assert matching(firstname='A"nn\\') == []  # a quote and a backslash are only text
    with pytest.raises(Fault, match="cannot find customers by title"):
        matching(firstname="Ann", title="Dr")
    with pytest.raises(Fault, match="at least one element"):
        matching()
    with pytest.raises(Fault, match="birthday"):
        matching(birthday="not a date")


def test_resources_expire(server: Server, soap: Any) -> None:
    from sqlalchemy import select, update
    from zeep.exceptions import Fault

    from engine.store.resources import RESOURCES

    uuid = server.setup.token
    assert server.setup.project.settings.api.soap_resource_hours == 24  # the default
    soap.customer_insert(uuid=uuid, customer={"externalId": "c-1"})

    def new_set() -> int:
        return int(soap.customer_getByObject(uuid=uuid, customer={"externalId": "c-1"}).msg)

    def made_ago(resource: int, ago: timedelta) -> None:
        with server.setup.store.db.write() as conn:
            at = datetime.now(UTC) - ago
            conn.execute(update(RESOURCES).where(RESOURCES.c.id == resource).values(created_at=at))

    def kept() -> set[int]:
        with server.setup.store.db.read() as conn:
            return set(conn.execute(select(RESOURCES.c.id)).scalars())

    polls = {
        "poll": lambda r: soap.resource_getById(uuid=uuid, resourceId=r),
        "read": lambda r: soap.customerSet_getCustomerIds(
            uuid=uuid, resourceId=r, offset=0, size=9
        ),
        "free": lambda r: soap.resource_free(uuid=uuid, resourceId=r),
    }
    for poll in polls.values():
        old, fresh = new_set(), new_set()
        made_ago(old, timedelta(hours=24, minutes=1))
        made_ago(fresh, timedelta(hours=23, minutes=59))
        with pytest.raises(Fault, match=f"resource {old} not found: .* more than 24 hours ago"):
            poll(old)
        assert old not in kept() and fresh in kept()  # deleted as it was asked for
        assert soap.resource_getById(uuid=uuid, resourceId=fresh).msg.size == 1
    for resource in kept():
        made_ago(resource, timedelta(hours=25))
    newest = new_set()
    assert kept() == {newest}  # a new set clears the expired ones
    assert soap.resource_free(uuid=uuid, resourceId=newest).msg is True
    with pytest.raises(Fault, match=f"resource {newest} not found"):
        soap.resource_free(uuid=uuid, resourceId=newest)


def test_text_xml_cannot_hold_is_answered_as_the_replacement_character(
    server: Server, soap: Any
) -> None:
    """A control character is valid in a JSON string, so REST stores it; XML 1.0 cannot hold
    it, so SOAP answers it as U+FFFD instead of a 500."""
    stored = httpx.post(
        f"{server.url}/api/v1/customers",
        headers={"Authorization": f"Bearer {server.setup.token}"},
        json={"external_id": "c-9", "first_name": "Ann\x01e"},
    )
    assert stored.status_code in (200, 201), stored.text
    [found] = soap.customer_getByExternalId(uuid=server.setup.token, externalId="c-9").msg[
        "Customer"
    ]
    assert found.firstname == "Ann\ufffde"


def test_a_fault_of_sluis_is_a_server_fault(
    server: Server, soap: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from zeep.exceptions import Fault

    from api.soap.operations import OPERATIONS

    def broken(state: Any, params: Any) -> Any:
        raise RuntimeError("a bug")

    found = OPERATIONS["customer_getById"]
    monkeypatch.setitem(OPERATIONS, "customer_getById", replace(found, handler=broken))
    with pytest.raises(Fault, match="sluis failed to answer this call") as raised:
        soap.customer_getById(uuid=server.setup.token, customerId=1)
    assert raised.value.code.endswith("Server")
    assert "a bug" in caplog.text  # the traceback is in the server's log
