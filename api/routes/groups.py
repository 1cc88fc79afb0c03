"""``/api/v1/groups``: groups of customers; create one, list them, page through members, and
add and remove members in bulk."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path

from api import services
from api.deps import StateDep, api_access
from api.errors import ERRORS
from api.jsonbody import CheckedRoute
from api.models import (
    GroupCreate,
    GroupDeleted,
    GroupPublic,
    MembersChange,
    MembersChanged,
    Message,
    Page,
)
from api.pagination import CursorQuery, LimitQuery, decode, page
from engine.store.queries import group_id, group_members, groups

router = APIRouter(
    route_class=CheckedRoute,
    prefix="/groups",
    tags=["groups"],
    dependencies=[Depends(api_access)],
    responses=ERRORS,
)
NamePath = Annotated[str, Path(min_length=1, max_length=200, description="the group's name")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "no such group"}
}


def _missing(name: str) -> HTTPException:
    return HTTPException(404, f"no group '{name}'; create it with POST /api/v1/groups")


@router.get("", response_model=list[GroupPublic])
def list_groups(state: StateDep) -> list[GroupPublic]:
    """Every group with its number of members."""
    with state.store.db.read() as conn:
        return [GroupPublic.model_validate(g) for g in groups(conn)]


@router.post(
    "",
    response_model=GroupPublic,
    status_code=201,
    responses={409: {"model": Message, "description": "the group exists already"}},
)
def create_group(body: GroupCreate, state: StateDep) -> GroupPublic:
    """Create an empty group."""
    made = services.create_group(state, body.name)
    return GroupPublic.model_validate(made)


@router.delete("/{name}", response_model=GroupDeleted, responses=NOT_FOUND)
def delete_group(name: NamePath, state: StateDep) -> GroupDeleted:
    """Delete a group with its memberships (the customers stay). A flow that adds customers
    to a group of this name makes it again."""
    return GroupDeleted(name=name, members=services.remove_group(state, name))


@router.get("/{name}/members", response_model=Page[int], responses=NOT_FOUND)
def list_members(
    name: NamePath, state: StateDep, cursor: CursorQuery = None, limit: LimitQuery = 100
) -> Page[int]:
    """The system_ids of the group's members, in order."""
    place = decode(cursor, int)
    with state.store.db.read() as conn:
        gid = group_id(conn, name)
        if gid is None:
            raise _missing(name)
        ids = group_members(conn, gid, after=place[0] if place else 0, limit=limit + 1)
    shown, following = page(ids, limit, lambda i: (i,))
    return Page(items=shown, next=following)


@router.patch("/{name}/members", response_model=MembersChanged, responses=NOT_FOUND)
def change_members(name: NamePath, body: MembersChange, state: StateDep) -> MembersChanged:
    """Add and remove members in bulk (system_ids); adding a member twice changes nothing."""
    added, removed = services.change_members(state, name, body.add, body.remove)
    return MembersChanged(added=added, removed=removed)
