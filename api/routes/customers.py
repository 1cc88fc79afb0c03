"""``/api/v1/customers``: find customers (by system_id, e-mail address or external_id),
create or update them on a key, change fields, and erase them with everything that refers to
them."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from api import services
from api.answers import model_answer
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
from engine.errors import ExpressionError
from engine.model.expressions import Expression
from engine.model.fields import to_json
from engine.model.templates import local_today
from engine.store.customers import load_customers
from engine.store.queries import customer_ids
from engine.store.segments import matching_ids
from engine.store.sqlexpr import check, fields_of

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


def _row(body: CustomerCreate | CustomerUpdate) -> dict[str, Any]:
    row = body.model_dump(exclude_unset=True)
    if "system_id" in row:
        raise field_problem(
            ("body", "system_id"), "system_id is assigned by sluis; leave it out", "read_only"
        )
    return row


def _segment(where: str, state: AppState) -> Expression:
    try:
        expr = Expression.parse(where)
        check(expr, *fields_of(state.project))
    except ExpressionError as exc:
        raise field_problem(("query", "where"), f"{exc} (at column {exc.offset + 1})") from None
    return expr


MAX_EMAIL = 320
MAX_EXTERNAL_ID = 200


@router.get("", response_model=Page[CustomerPublic])
def list_customers(
    state: StateDep,
    email: Annotated[str | None, Query(max_length=MAX_EMAIL)] = None,
    external_id: Annotated[str | None, Query(max_length=MAX_EXTERNAL_ID)] = None,
    where: Annotated[
        str | None,
        Query(
            max_length=600,  # encoded, the URL still fits api.max_header_bytes (16 KB)
            description='an expression, e.g. customer.country == "NL"',
        ),
    ] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Response:
    """Customers in system_id order: all, those with this e-mail address (any case) or
    external_id, or those for whom the expression ``where`` holds (run in the database).
    (Calls with only ``email`` or only ``external_id`` are served by ``api.lookups``.)"""
    found = find_customers(
        state, email=email, external_id=external_id, where=where, cursor=cursor, limit=limit
    )
    return model_answer(found)


def find_customers(
    state: AppState,
    *,
    email: str | None = None,
    external_id: str | None = None,
    where: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[CustomerPublic]:
    """The page of customers ``list_customers`` answers."""
    place = decode(cursor, int)
    after = place[0] if place else 0
    segment = _segment(where, state) if where is not None else None
    with state.store.db.read() as conn:
        if segment is not None:
            if email is not None or external_id is not None:
                raise field_problem(("query", "where"), "give where alone, or email/external_id")
            now = datetime.now(UTC)
            chunks = matching_ids(
                conn,
                state.project,
                segment,
                now=now,
                today=local_today(now, state.project.settings.timezone),
                limit=limit + 1,
                after=after,
            )
            with closing(chunks):
                ids = next(chunks, [])
        else:
            ids = customer_ids(
                conn, after=after, limit=limit + 1, email=email, external_id=external_id
            )
        shown, following = page(ids, limit, lambda i: (i,))
        loaded = load_customers(conn, shown, state.project)
    items = [public(loaded[i], state) for i in shown if i in loaded]
    return Page(items=items, next=following)


@router.get("/{system_id}", response_model=CustomerPublic, responses=NOT_FOUND)
def get_customer(system_id: SystemId, state: StateDep) -> Response:
    """One customer by system_id."""
    return model_answer(public(services.customer(state, system_id), state))


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
    customer, status = services.upsert_customer(state, _row(body), key)
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
    customer = services.update_customer(state, system_id, _row(body))
    return public(customer, state)


@router.delete("/{system_id}", response_model=Erasure, responses=NOT_FOUND)
def erase_customer(system_id: SystemId, state: StateDep) -> Erasure:
    """Erase a customer with everything that refers to them: group memberships, records,
    journeys with their steps and send logs, and events. It cannot be undone."""
    deleted = services.erase_customer(state, system_id)
    return Erasure(system_id=system_id, deleted=deleted)
