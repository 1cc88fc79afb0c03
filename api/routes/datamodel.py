"""``/api/v1/datamodel/{collection}``: records of a datamodel collection (orders, ...),
created or updated on the collection's key, read, changed and deleted by key, and listed by
customer or by field value."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import Field

from api.deps import StateDep, api_access
from api.errors import ERRORS, field_problem, from_payload
from api.jsonbody import CheckedRoute
from api.models import MAX_ID, Message, Page, RecordCreate, RecordPublic, RecordUpdate
from api.pagination import CursorQuery, LimitQuery, decode, page
from api.state import AppState
from engine.errors import InputError
from engine.store.queries import existing_customers
from engine.store.records import (
    collection_of,
    delete_record,
    get_record,
    get_records,
    list_records,
    record_key,
    upsert_records,
)
from engine.webhooks.payload import PayloadError, type_record

router = APIRouter(
    route_class=CheckedRoute,
    prefix="/datamodel",
    tags=["datamodel"],
    dependencies=[Depends(api_access)],
    responses={
        **ERRORS,
        404: {"model": Message, "description": "no such collection or record"},
    },
)
CollectionPath = Annotated[str, Path(max_length=100, description="a collection of sluis.yaml")]
KeyPath = Annotated[str, Path(max_length=500, description="the record's key value")]


def _collection(state: AppState, name: str) -> str:
    try:
        collection_of(state.project, name)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    return name


def _check_customer(conn: Any, customer_id: int | None) -> None:
    if customer_id is not None and not existing_customers(conn, [customer_id]):
        raise field_problem(
            ("body", "customer_id"), f"no customer with system_id {customer_id}", "not_found"
        )


def _missing(collection: str, key: str) -> HTTPException:
    return HTTPException(404, f"no record '{key}' in collection '{collection}'")


def _filters(state: AppState, collection: str, given: list[str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for text in given:
        name, equals, value = text.partition("=")
        if not equals or not name:
            raise field_problem(
                ("query", "filter"), f"filter '{text}' must read FIELD=VALUE, e.g. status=paid"
            )
        raw[name] = value
    try:
        return type_record(collection, raw, state.project, ("filter",))
    except PayloadError as exc:
        raise from_payload(exc, "query") from None


@router.get("/{collection}", response_model=Page[RecordPublic])
def list_collection(
    collection: CollectionPath,
    state: StateDep,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    filter: Annotated[
        list[Annotated[str, Field(max_length=300)]],
        Query(max_length=10, description="FIELD=VALUE; records whose field equals the value"),
    ] = [],  # noqa: B006 (FastAPI copies defaults)
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Page[RecordPublic]:
    """Records in id order: all, a customer's, or those whose fields equal the filters."""
    _collection(state, collection)
    where = _filters(state, collection, filter)
    place = decode(cursor, int)
    with state.store.db.read() as conn:
        rows = list_records(
            conn,
            collection,
            project=state.project,
            customer_id=customer_id,
            where=where,
            after_id=place[0] if place else 0,
            limit=limit + 1,
        )
    shown, following = page(rows, limit, lambda r: (r["id"],))
    return Page(items=[RecordPublic.model_validate(r) for r in shown], next=following)


@router.post(
    "/{collection}",
    response_model=RecordPublic,
    status_code=201,
    responses={200: {"model": RecordPublic, "description": "an existing record, updated"}},
)
def upsert_record(
    collection: CollectionPath, body: RecordCreate, state: StateDep, response: Response
) -> RecordPublic:
    """Create a record, or update the one with the same key (201 new, 200 existing). Fields
    not named stay as they are."""
    _collection(state, collection)
    data = type_record(collection, body.data, state.project, ("data",))
    try:
        record_key(collection, data, state.project)
    except InputError as exc:
        key_field = collection_of(state.project, collection).key
        raise field_problem(("body", "data", key_field), str(exc), "missing_key") from None
    with state.write() as conn:
        _check_customer(conn, body.customer_id)
        [(record_id, status)] = upsert_records(
            conn,
            collection,
            [(data, body.customer_id)],
            project=state.project,
            now=state.runtime.clock.now(),
        )
        [record] = get_records(conn, [record_id])
    response.status_code = 201 if status == "new" else 200
    return RecordPublic.model_validate(record)


@router.get("/{collection}/{key}", response_model=RecordPublic)
def read_record(collection: CollectionPath, key: KeyPath, state: StateDep) -> RecordPublic:
    """One record by its key."""
    _collection(state, collection)
    with state.store.db.read() as conn:
        record = get_record(conn, collection, key)
    if record is None:
        raise _missing(collection, key)
    return RecordPublic.model_validate(record)


@router.patch("/{collection}/{key}", response_model=RecordPublic)
def update_record(
    collection: CollectionPath, key: KeyPath, body: RecordUpdate, state: StateDep
) -> RecordPublic:
    """Change fields of a record (or its customer); its key cannot change."""
    _collection(state, collection)
    data = type_record(collection, body.data, state.project, ("data",))
    key_field = collection_of(state.project, collection).key
    if key_field in data and record_key(collection, data, state.project) != key:
        raise field_problem(
            ("body", "data", key_field),
            f"the key of a record cannot change; create a record with key "
            f"{data[key_field]!s} and delete '{key}' instead",
            "read_only",
        )
    with state.write() as conn:
        current = get_record(conn, collection, key)
        if current is None:
            raise _missing(collection, key)
        _check_customer(conn, body.customer_id)
        stored_key = type_record(
            collection, {key_field: current["data"].get(key_field, key)}, state.project
        )
        [(record_id, _)] = upsert_records(
            conn,
            collection,
            [({**stored_key, **data}, body.customer_id)],
            project=state.project,
            now=state.runtime.clock.now(),
        )
        [record] = get_records(conn, [record_id])
    return RecordPublic.model_validate(record)


@router.delete("/{collection}/{key}", status_code=204, response_class=Response)
def remove_record(collection: CollectionPath, key: KeyPath, state: StateDep) -> Response:
    """Delete a record."""
    _collection(state, collection)
    with state.write() as conn:
        if not delete_record(conn, collection, key):
            raise _missing(collection, key)
    return Response(status_code=204)
