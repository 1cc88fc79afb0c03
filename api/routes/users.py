"""``/api/v1/users`` and ``/api/v1/tokens`` (scope ``admin``): users with their state, last
activity and lapse warning; deactivate, reactivate and delete a user; tokens without their
secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path

from api.deps import StateDep, api_access
from api.errors import ERRORS
from api.jsonbody import CheckedRoute
from api.models import Message, TokenPublic, UserDeleted, UserPublic
from api.services import NotFound
from engine.errors import InputError
from engine.store.tokens import list_tokens, reactivate_user
from engine.store.users import deactivate_user, delete_user, list_users

router = APIRouter(
    route_class=CheckedRoute,
    tags=["users"],
    dependencies=[Depends(api_access)],
    responses={**ERRORS, 403: {"description": "the token lacks scope 'admin'"}},
)
NamePath = Annotated[str, Path(min_length=1, max_length=200, description="the user's name")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "no such user"}
}
T = TypeVar("T")


def _known(call: Callable[[], T]) -> T:
    try:
        return call()
    except InputError as exc:
        raise NotFound(str(exc)) from None


def _user(state: Any, name: str) -> UserPublic:
    with state.store.db.read() as conn:
        found = [u for u in list_users(conn, state.runtime.clock.now()) if u["name"] == name]
    if not found:
        raise NotFound(f"no user '{name}'")
    return UserPublic.model_validate(found[0])


@router.get("/users", response_model=list[UserPublic])
def get_users(state: StateDep) -> list[UserPublic]:
    """Every user: kind, state, last activity, last use of its tokens, and a warning when a
    person's account lapses within 7 days (after 60 days without activity)."""
    with state.store.db.read() as conn:
        users = list_users(conn, state.runtime.clock.now())
    return [UserPublic.model_validate(u) for u in users]


@router.post("/users/{name}/deactivate", response_model=UserPublic, responses=NOT_FOUND)
def deactivate(name: NamePath, state: StateDep) -> UserPublic:
    """Stop the user's tokens (within a second)."""
    with state.write() as conn:
        _known(lambda: deactivate_user(conn, name))
    state.tokens.clear()
    return _user(state, name)


@router.post("/users/{name}/reactivate", response_model=UserPublic, responses=NOT_FOUND)
def reactivate(name: NamePath, state: StateDep) -> UserPublic:
    """Let a deactivated or lapsed user's tokens work again from now."""
    with state.write() as conn:
        _known(lambda: reactivate_user(conn, name, state.runtime.clock.now()))
    return _user(state, name)


@router.delete("/users/{name}", response_model=UserDeleted, responses=NOT_FOUND)
def remove(name: NamePath, state: StateDep) -> UserDeleted:
    """Delete a user with its tokens. It cannot be undone."""
    with state.write() as conn:
        tokens = _known(lambda: delete_user(conn, name))
    state.tokens.clear()
    return UserDeleted(name=name, tokens=tokens)


@router.get("/tokens", response_model=list[TokenPublic])
def get_tokens(state: StateDep) -> list[TokenPublic]:
    """Every token (never its secret) with its user, scopes, last use and state, and the
    lapse warning of its user."""
    with state.store.db.read() as conn:
        tokens = list_tokens(conn, state.runtime.clock.now())
    return [TokenPublic.model_validate(t) for t in tokens]
