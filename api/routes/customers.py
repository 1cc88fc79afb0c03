"""``/api/v1/customers``: find customers (by system_id, e-mail address or external_id),
create or update them on a key, change fields, and erase them with everything that refers to
them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from api.deps import StateDep, api_access
from api.errors import ERRORS, field_problem
from api.jsonbody import CheckedRoute
from api.models import (
    MAX_ID,
    CustomerCreate,
    CustomerPublic,
    CustomerUpdate,
    Erasure,
    Message,
    Page,
)
from api.pagination import CursorQuery, LimitQuery, decode, page
from api.state import AppState
from engine.model.fields import to_json
from engine.store.customers import load_customers, set_fields, upsert_customers
from engine.store.erasure import erase_customers
from engine.store.queries import customer_ids
from engine.webhooks.payload import type_customer

router = APIRouter(
    route_class=CheckedRoute,
    prefix="/customers",
    tags=["customers"],
    dependencies=[Depends(api_access)],
    responses=ERRORS,
)
SystemId = Annotated[int, Path(ge=1, le=MAX_ID, description="the customer's system_id")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "no such customer"}
}


def public(customer: dict[str, Any], state: AppState) -> CustomerPublic:
    """A loaded customer as the API shows it (profile values in their JSON form)."""
    shown = dict(customer)
    for name in state.project.settings.profile:
        shown[name] = to_json(customer.get(name))
    return CustomerPublic.model_validate(shown)


def _typed(body: CustomerCreate | CustomerUpdate, state: AppState) -> dict[str, Any]:
    row = body.model_dump(exclude_unset=True)
    if "system_id" in row:
        raise field_problem(
            ("body", "system_id"), "system_id is assigned by sluis; leave it out", "read_only"
        )
    return type_customer(row, state.project) if row else {}


def _load(state: AppState, system_id: int) -> dict[str, Any]:
    with state.store.db.read() as conn:
        found = load_customers(conn, [system_id], state.project)
    if system_id not in found:
        raise _missing(system_id)
    return found[system_id]


def _missing(system_id: int) -> HTTPException:
    return HTTPException(404, f"no customer with system_id {system_id}")


@router.get("", response_model=Page[CustomerPublic])
def list_customers(
    state: StateDep,
    email: Annotated[str | None, Query(max_length=320)] = None,
    external_id: Annotated[str | None, Query(max_length=200)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Page[CustomerPublic]:
    """Customers in system_id order: all, or those with this e-mail address (any case) or
    external_id."""
    place = decode(cursor, int)
    with state.store.db.read() as conn:
        ids = customer_ids(
            conn,
            after=place[0] if place else 0,
            limit=limit + 1,
            email=email,
            external_id=external_id,
        )
        shown, following = page(ids, limit, lambda i: (i,))
        loaded = load_customers(conn, shown, state.project)
    return Page(items=[public(loaded[i], state) for i in shown if i in loaded], next=following)


@router.get("/{system_id}", response_model=CustomerPublic, responses=NOT_FOUND)
def get_customer(system_id: SystemId, state: StateDep) -> CustomerPublic:
    """One customer by system_id."""
    return public(_load(state, system_id), state)


@router.post(
    "",
    response_model=CustomerPublic,
    status_code=201,
    responses={
        200: {"model": CustomerPublic, "description": "an existing customer, updated"},
        409: {"model": Message, "description": "a unique value (external_id) is taken"},
    },
)
def upsert_customer(
    body: CustomerCreate,
    state: StateDep,
    response: Response,
    key: Annotated[
        Literal["external_id", "email"], Query(description="the field that finds the customer")
    ] = "external_id",
) -> CustomerPublic:
    """Create a customer, or update the one whose ``key`` field matches (201 new, 200
    existing). Fields not named stay as they are."""
    row = _typed(body, state)
    if row.get(key) is None:
        raise field_problem(
            ("body", key),
            f"missing key: '{key}' finds the customer; send it (or choose another ?key=)",
            "missing_key",
        )
    with state.write() as conn:
        [(system_id, status)] = upsert_customers(
            conn, [row], key=key, project=state.project, now=state.runtime.clock.now()
        )
        customer = load_customers(conn, [system_id], state.project)[system_id]
    response.status_code = 201 if status == "new" else 200
    return public(customer, state)


@router.patch(
    "/{system_id}",
    response_model=CustomerPublic,
    responses={
        **NOT_FOUND,
        409: {"model": Message, "description": "a unique value (external_id) is taken"},
    },
)
def update_customer(system_id: SystemId, body: CustomerUpdate, state: StateDep) -> CustomerPublic:
    """Change fields of a customer; fields not named stay as they are, null clears one."""
    row = _typed(body, state)
    with state.write() as conn:
        found = load_customers(conn, [system_id], state.project, groups=False)
        if system_id not in found:
            raise _missing(system_id)
        if row:
            set_fields(conn, {system_id: row}, state.project, state.runtime.clock.now())
        customer = load_customers(conn, [system_id], state.project)[system_id]
    return public(customer, state)


@router.delete("/{system_id}", response_model=Erasure, responses=NOT_FOUND)
def erase_customer(system_id: SystemId, state: StateDep) -> Erasure:
    """Erase a customer with everything that refers to them: group memberships, records,
    journeys with their steps and send logs, and events. It cannot be undone."""
    with state.write() as conn:
        deleted = erase_customers(conn, [system_id])
        if not deleted["customers"]:
            raise _missing(system_id)
    return Erasure(system_id=system_id, deleted=deleted)
