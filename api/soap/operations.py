"""The operations sluis implements, by their WSDL names, on the services REST uses
(``api.services``): each takes the app state and the request's parameters and gives the
``msg`` of the answer. ``OPERATIONS`` maps a name to its ``Operation``: the handler, the
resource and write for the token's scopes, and whether it is a read of a few rows by key
(``AppState.read`` runs those as REST's lookups run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from api import services
from api.soap.customers import CustomerMap
from api.soap.envelope import Fault
from api.soap.wsdl import schema
from api.state import AppState
from engine.store.groups import is_member
from engine.store.queries import group_members
from engine.store.resources import flow_customers, free_set, keep_set, kept_set
from engine.webhooks.payload import type_customer

Handler = Callable[[AppState, dict[str, Any]], Any]
SET_KIND = "CUSTOMER_SET"


@dataclass(frozen=True)
class Operation:
    handler: Handler
    resource: str
    writes: bool
    by_key: bool  # reads a few rows by key


OPERATIONS: dict[str, Operation] = {}


def operation(resource: str, writes: bool, *, by_key: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        OPERATIONS[handler.__name__] = Operation(handler, resource, writes, by_key)
        return handler

    return register


def customer_map(state: AppState) -> CustomerMap:
    found: CustomerMap | None = getattr(state, "_soap_customers", None)
    if found is None:
        elements = tuple(c.name for c in schema().types["Customer"])
        found = CustomerMap(state.project, elements)
        state._soap_customers = found  # type: ignore[attr-defined]
    return found


def needed(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None:
        raise Fault(f"missing element '{name}'")
    return value


def _shown(state: AppState, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    mapping = customer_map(state)
    return [mapping.to_element(c) for c in customers]


# -- customers ----------------------------------------------------------------------------


@operation("customers", False, by_key=True)
def customer_getById(state: AppState, params: dict[str, Any]) -> Any:
    found = services.customer(state, needed(params, "customerId"))
    return customer_map(state).to_element(found)


@operation("customers", False, by_key=True)
def customer_getByExternalId(state: AppState, params: dict[str, Any]) -> Any:
    return _shown(state, services.customers_by(state, external_id=needed(params, "externalId")))


@operation("customers", False, by_key=True)
def customer_getByEmailAddress(state: AppState, params: dict[str, Any]) -> Any:
    return _shown(state, services.customers_by(state, email=needed(params, "emailAddress")))


def _system_id(state: AppState, customer: dict[str, Any]) -> int:
    """The system_id of a request's Customer: its id, else its externalId or emailAddress."""
    if customer.get("id") is not None:
        return int(customer["id"])
    for element, key in (("externalId", "external_id"), ("emailAddress", "email")):
        if customer.get(element):
            [system_id] = services.resolve_customers(state, key, [customer[element]])
            return system_id
    raise Fault("name the customer by its id, externalId or emailAddress")


@operation("customers", False)
def customer_getByObject(state: AppState, params: dict[str, Any]) -> Any:
    """A set of the customers matching every element the object gives (id, externalId,
    emailAddress in any case, mailStatus, profile fields by element or option), as
    Deployteq's finds every customer with ``{lastname: "test"}``."""
    fields, unknown = customer_map(state).criteria(needed(params, "customer"))
    if unknown:
        raise Fault(
            f"sluis cannot find customers by {', '.join(unknown)}: no profile field answers "
            "to it; match on id, externalId, emailAddress, mailStatus or the elements and "
            "options of the profile fields in sluis.yaml (soap.fields maps other elements)"
        )
    if not fields:
        raise Fault("give at least one element of the customer to match, such as lastname")
    exact: dict[str, Any] = {k: fields.pop(k) for k in ("system_id", "unsubscribed") if k in fields}
    typed = {**(type_customer(fields, state.project) if fields else {}), **exact}
    return _keep(state, services.customers_matching(state, typed))


def _written(state: AppState, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    customer = needed(params, "customer")
    return customer, customer_map(state).to_row(customer)


def _key(row: dict[str, Any]) -> str:
    if row.get("external_id"):
        return "external_id"
    if row.get("email"):
        return "email"
    raise Fault("a new customer needs an externalId or an emailAddress")


@operation("customers", True)
def customer_insert(state: AppState, params: dict[str, Any]) -> Any:
    _, row = _written(state, params)
    key = _key(row)
    if services.customers_by(state, **{key: row[key]}, limit=1):
        raise Fault(
            f"a customer with this {customer_map_name(key)} exists already; use "
            "customer_update or customer_upsert"
        )
    made, _ = services.upsert_customer(state, row, key)
    return customer_map(state).to_element(made)


def customer_map_name(key: str) -> str:
    return {"external_id": "externalId", "email": "emailAddress"}[key]


@operation("customers", True)
def customer_update(state: AppState, params: dict[str, Any]) -> Any:
    customer, row = _written(state, params)
    if customer.get("id") is None:
        raise Fault("customer_update needs the customer's id")
    changed = services.update_customer(state, int(customer["id"]), row)
    return customer_map(state).to_element(changed)


@operation("customers", True)
def customer_upsert(state: AppState, params: dict[str, Any]) -> Any:
    customer, row = _written(state, params)
    if customer.get("id") is not None:
        changed = services.update_customer(state, int(customer["id"]), row)
    else:
        changed, _ = services.upsert_customer(state, row, _key(row))
    return customer_map(state).to_element(changed)


@operation("customers", True)
def customer_delete(state: AppState, params: dict[str, Any]) -> Any:
    services.erase_customer(state, _system_id(state, needed(params, "customer")))
    return True


@operation("customers", False)
def customer_getGroups(state: AppState, params: dict[str, Any]) -> Any:
    names = set(services.customer(state, needed(params, "customerId"))["groups"])
    return [group_element(g) for g in services.all_groups(state) if g["name"] in names]


def group_element(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": group["id"],
        "name": group["name"],
        "createdAt": group["created_at"].isoformat(),
        "customerCount": group["members"],
        "customerCountRecursive": group["members"],
    }


# -- customer sets (resources) ------------------------------------------------------------


def _since(state: AppState) -> datetime:
    """When the oldest set still kept was made."""
    hours = state.project.settings.api.soap_resource_hours
    return state.runtime.clock.now() - timedelta(hours=hours)


def _keep(state: AppState, ids: list[int]) -> int:
    with state.write() as conn:
        return keep_set(conn, SET_KIND, ids, state.runtime.clock.now(), _since(state))


def _not_found(state: AppState, resource_id: Any) -> Fault:
    hours = state.project.settings.api.soap_resource_hours
    return Fault(
        f"resource {resource_id} not found: it was freed, never made, or made more than "
        f"{hours} hours ago (api.soap_resource_hours in sluis.yaml); ask for the set again"
    )


def _kept(state: AppState, params: dict[str, Any]) -> list[int]:
    resource_id = needed(params, "resourceId")
    with state.store.db.read() as conn:
        found = kept_set(conn, resource_id, _since(state))
    if found is None:
        with state.write() as conn:  # an expired set goes as it is asked for
            free_set(conn, resource_id)
        raise _not_found(state, resource_id)
    return found[1]


@operation("customers", False)
def resource_getById(state: AppState, params: dict[str, Any]) -> Any:
    ids = _kept(state, params)
    return {"id": params["resourceId"], "type": SET_KIND, "status": "READY", "size": len(ids)}


@operation("customers", False)
def resource_free(state: AppState, params: dict[str, Any]) -> Any:
    resource_id = needed(params, "resourceId")
    with state.write() as conn:
        found = kept_set(conn, resource_id, _since(state)) is not None
        free_set(conn, resource_id)  # an expired one goes too
    if not found:
        raise _not_found(state, resource_id)
    return True


def _page(params: dict[str, Any], ids: list[int]) -> list[int]:
    offset, size = params.get("offset") or 0, params.get("size") or 100
    if offset < 0 or not 1 <= size <= 10_000:
        raise Fault("offset must be 0 or more and size from 1 to 10000")
    return ids[offset : offset + size]


@operation("customers", False)
def customerSet_getCustomers(state: AppState, params: dict[str, Any]) -> Any:
    shown = _page(params, _kept(state, params))
    loaded = {c["system_id"]: c for c in services.customers(state, shown)}
    return _shown(state, [loaded[i] for i in shown if i in loaded])


@operation("customers", False)
def customerSet_getCustomerIds(state: AppState, params: dict[str, Any]) -> Any:
    return _page(params, _kept(state, params))


def members_set(state: AppState, gid: int) -> int:
    with state.store.db.read() as conn:
        ids = group_members(conn, gid, limit=10_000_000)
    return _keep(state, ids)


def member(state: AppState, gid: int, customer_id: int) -> bool:
    with state.store.db.read() as conn:
        return is_member(conn, gid, customer_id)


def flow_set(state: AppState, flow: str) -> int:
    with state.store.db.read() as conn:
        ids = flow_customers(conn, flow)
    return _keep(state, ids)
