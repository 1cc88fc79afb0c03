"""``/api/v1/groups``: groups of customers; create one, list them, page through members, and
add and remove members in bulk."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path

from api.deps import StateDep, api_access
from api.errors import ERRORS, field_problem
from api.jsonbody import CheckedRoute
from api.models import GroupCreate, GroupPublic, MembersChange, MembersChanged, Message, Page
from api.pagination import CursorQuery, LimitQuery, decode, page
from engine.store.customers import add_to_groups, group_ids, remove_from_groups
from engine.store.queries import existing_customers, group_id, group_members, groups

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
    with state.write() as conn:
        if group_id(conn, body.name) is not None:
            raise HTTPException(409, f"group '{body.name}' exists already")
        group_ids(conn, [body.name], state.runtime.clock.now())
        [made] = [g for g in groups(conn) if g["name"] == body.name]
    return GroupPublic.model_validate(made)


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
    with state.write() as conn:
        if group_id(conn, name) is None:
            raise _missing(name)
        unknown = sorted(set(body.add) - existing_customers(conn, body.add))
        if unknown:
            shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
            raise field_problem(
                ("body", "add"), f"no customers with system_id {shown}", "not_found"
            )
        added = add_to_groups(conn, body.add, [name], state.runtime.clock.now())
        removed = remove_from_groups(conn, body.remove, [name])
    return MembersChanged(added=added, removed=removed)
