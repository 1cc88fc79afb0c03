"""What the REST routes and the SOAP operations both do, done once: finding, writing and
erasing customers, groups and their members, and starting a flow for customers.

Each function owns its transaction and raises ``NotFound`` (REST: 404; SOAP: a fault) or
``InputError`` (422; a fault) with a message naming the problem and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from api.state import AppState
from engine.errors import FlowError, InputError, SluisError
from engine.model.expressions import Expression
from engine.model.flow import Flow
from engine.model.templates import local_today
from engine.runtime.deploys import ensure_safe
from engine.sdk.batch import Entry
from engine.sdk.effects import Effects
from engine.store.customers import (
    add_to_groups,
    find_ids,
    group_ids,
    load_customers,
    remove_from_groups,
    set_fields,
    upsert_customers,
)
from engine.store.erasure import erase_customers
from engine.store.groups import delete_group
from engine.store.queries import customer_ids, existing_customers, group_id, groups, started_flows
from engine.store.segments import matching_ids
from engine.webhooks.payload import type_customer

if TYPE_CHECKING:
    from engine.runtime.transactional import Sent


class NotFound(SluisError):
    """What a call names does not exist."""


class Exists(SluisError):
    """What a call would create exists already."""


class Invalid(InputError):
    """A bad value of one named field of a call."""

    def __init__(self, field: str, message: str, kind: str = "value_error") -> None:
        super().__init__(message)
        self.field = field
        self.kind = kind


def missing_customer(system_id: int) -> NotFound:
    return NotFound(f"no customer with system_id {system_id}")


def missing_group(name: str) -> NotFound:
    return NotFound(f"no group '{name}'; create it with POST /api/v1/groups")


def customer(state: AppState, system_id: int) -> dict[str, Any]:
    with state.store.db.read() as conn:
        found = load_customers(conn, [system_id], state.project)
    if system_id not in found:
        raise missing_customer(system_id)
    return found[system_id]


def customers(state: AppState, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The customers of ``ids`` that exist, in the order given."""
    with state.store.db.read() as conn:
        loaded = load_customers(conn, ids, state.project)
    return [loaded[i] for i in ids if i in loaded]


def customers_by(
    state: AppState, *, email: str | None = None, external_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Customers with this e-mail address (any case) and/or external_id, in system_id order."""
    with state.store.db.read() as conn:
        ids = customer_ids(conn, limit=limit, email=email, external_id=external_id)
        loaded = load_customers(conn, ids, state.project)
    return [loaded[i] for i in ids if i in loaded]


def customers_matching(state: AppState, fields: dict[str, Any]) -> list[int]:
    """system_ids, in order, of the customers whose fields equal all of ``fields`` (typed
    values by field name; ``email`` in any case), found by one query in the database."""
    conditions = [
        f"lower(customer.email) == {_literal(str(value).lower())}"
        if name == "email"
        else f"customer.{name} == {_literal(value)}"
        for name, value in fields.items()
    ]
    where = Expression.parse(" and ".join(conditions))
    now = datetime.now(UTC)
    today = local_today(now, state.project.settings.timezone)
    with state.store.db.read() as conn:
        chunks = matching_ids(conn, state.project, where, now=now, today=today)
        with closing(chunks):
            return [i for chunk in chunks for i in chunk]


def _literal(value: Any) -> str:
    """``value`` written in the expression language."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = value.isoformat() if isinstance(value, date) else str(value)  # dates compare as text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def upsert_customer(state: AppState, row: dict[str, Any], key: str) -> tuple[dict[str, Any], str]:
    """Create a customer or update the one whose ``key`` matches; (customer, "new"|...)."""
    typed = type_customer(row, state.project) if row else {}
    if typed.get(key) is None:
        raise Invalid(
            key,
            f"missing key: '{key}' finds the customer; send it (or choose another key)",
            "missing_key",
        )
    with state.write() as conn:
        [(system_id, status)] = upsert_customers(
            conn, [typed], key=key, project=state.project, now=state.runtime.clock.now()
        )
        loaded = load_customers(conn, [system_id], state.project)[system_id]
    return loaded, status


def update_customer(state: AppState, system_id: int, row: dict[str, Any]) -> dict[str, Any]:
    """Change fields of a customer; fields not named stay as they are."""
    typed = type_customer(row, state.project) if row else {}
    with state.write() as conn:
        if system_id not in load_customers(conn, [system_id], state.project, groups=False):
            raise missing_customer(system_id)
        if typed:
            set_fields(conn, {system_id: typed}, state.project, state.runtime.clock.now())
        return load_customers(conn, [system_id], state.project)[system_id]


def erase_customer(state: AppState, system_id: int) -> dict[str, int]:
    with state.write() as conn:
        deleted = erase_customers(conn, [system_id])
    if not deleted["customers"]:
        raise missing_customer(system_id)
    return deleted


def all_groups(state: AppState) -> list[dict[str, Any]]:
    with state.store.db.read() as conn:
        return groups(conn)


def create_group(state: AppState, name: str) -> dict[str, Any]:
    with state.write() as conn:
        if group_id(conn, name) is not None:
            raise Exists(f"group '{name}' exists already")
        group_ids(conn, [name], state.runtime.clock.now())
        [made] = [g for g in groups(conn) if g["name"] == name]
    return made


def remove_group(state: AppState, name: str) -> int:
    """Delete a group and its memberships; returns how many members it had."""
    with state.write() as conn:
        removed = delete_group(conn, name)
    if removed is None:
        raise missing_group(name)
    return removed


def change_members(
    state: AppState, name: str, add: Sequence[int], remove: Sequence[int]
) -> tuple[int, int]:
    """Add and remove members (system_ids) of a group; (added, removed)."""
    with state.write() as conn:
        if group_id(conn, name) is None:
            raise missing_group(name)
        unknown = sorted(set(add) - existing_customers(conn, add))
        if unknown:
            shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
            raise Invalid("add", f"no customers with system_id {shown}", "not_found")
        added = add_to_groups(conn, add, [name], state.runtime.clock.now())
        removed = remove_from_groups(conn, remove, [name])
    return added, removed


def flow(state: AppState, name: str) -> Flow:
    found = state.runtime.flows.get(name)
    if found is None:
        known = ", ".join(sorted(state.runtime.flows)) or "none"
        raise NotFound(f"no valid flow '{name}' in this project; flows: {known}")
    return found


def resolve_customers(state: AppState, key: str, values: Sequence[Any]) -> list[int]:
    """system_ids of the customers named by ``key`` (system_id, external_id or email), in
    the order given; ``InputError`` lists those not found."""
    with state.store.db.read() as conn:
        if key == "system_id":
            found = {v: v for v in existing_customers(conn, list(values))}
        else:
            found = find_ids(conn, key, values)
    unknown = [str(v) for v in values if v not in found]
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise Invalid("customers", f"no customers with {key} {shown}", "not_found")
    return [found[v] for v in values]


@dataclass(frozen=True)
class Started:
    started: bool  # the flow was not started before
    journeys: list[int]


def start_flow(
    state: AppState,
    name: str,
    customers: Sequence[int],
    *,
    at: str | None = None,
    data: dict[str, Any] | None = None,
    drain: bool = False,
) -> Started:
    """Enter the customers now at the flow's start object ``at``, starting the flow first
    when it is not started yet. That start deploys the flow's file as ``sluis start`` does (a
    changed file becomes a new version; refused when journeys would be stranded at removed
    objects, unless ``drain`` lets them finish on their version; its own selections do not
    fire for it). A flow that runs already keeps its running version: a file edited since
    changes nothing until the next start."""
    chosen = flow(state, name)
    with state.store.db.read() as conn:
        was_started = chosen.name in started_flows(conn)
    if not was_started:
        chosen = _deployable(state, chosen)
        ensure_safe(state.runtime.plan(chosen), drain=drain)
    start_id = at or chosen.starts[0]
    if start_id not in chosen.starts:
        raise Invalid(
            "at",
            f"'{start_id}' is not a start object of {chosen.name}; its start objects: "
            + ", ".join(chosen.starts),
        )
    if at is None and len(chosen.starts) > 1:
        raise Invalid(
            "at",
            f"{chosen.name} has several start objects ({', '.join(chosen.starts)}); choose one",
            "missing",
        )
    with state.store.db.read() as conn:
        unknown = sorted(set(customers) - existing_customers(conn, customers))
    if unknown:
        shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        raise Invalid("customers", f"no customers with system_id {shown}")
    if not was_started:
        running = state.runtime.flows[chosen.name]
        state.runtime.adopt(chosen)
        try:
            state.runtime.start(chosen.name, fire=False, drain=drain)
        except SluisError:  # refused meanwhile: the server goes on with what it ran
            state.runtime.adopt(running)
            raise
        chosen = state.runtime.flows[chosen.name]
    entries = [Entry(i, data or {}, "started by API") for i in customers]
    with state.write() as conn:
        journeys = state.runtime.enter_in(conn, chosen, start_id, entries)
    return Started(not was_started, journeys)


def _deployable(state: AppState, current: Flow) -> Flow:
    """What a start of ``current`` deploys: the flow's file (``flows/NAME.yaml``), which must
    validate without warnings as for ``sluis start``; ``current`` when there is no such file."""
    from engine.model.flow import load_flow

    for path in state.project.flow_files():
        if path.stem == current.name:
            found = load_flow(path, state.project)  # FlowError: the file no longer validates
            if found.name != current.name:
                break
            if found.warnings:  # what would fail every journey
                raise FlowError(list(found.warnings))
            return found
    return current


def mail_effects(state: AppState) -> Effects:
    """The production effects of the app (its mail sender), made on first use."""
    found: Effects | None = getattr(state, "_mail_effects", None)
    if found is None:
        from engine.runtime.production import production_effects

        found = production_effects(state.project, clock=state.runtime.clock)
        state._mail_effects = found  # type: ignore[attr-defined]
    return found


def send_mail(
    state: AppState,
    flow_name: str,
    object_id: str,
    customer_id: int,
    *,
    key: str | None = None,
    data: dict[str, Any] | None = None,
) -> Sent:
    """Send one mail object of a flow to one customer now (``engine.runtime.transactional``)."""
    from engine.runtime.transactional import send_now

    chosen = flow(state, flow_name)
    if object_id not in chosen.objects:
        raise NotFound(
            f"no object '{object_id}' in flow {chosen.name}; its objects: "
            + ", ".join(chosen.objects)
        )
    customer(state, customer_id)  # NotFound when there is none
    return send_now(
        state.runtime, mail_effects(state), chosen, object_id, customer_id, key=key, data=data
    )


def close_mail(state: AppState) -> None:
    """Close the mail sender's connections (when the app stops)."""
    found: Effects | None = getattr(state, "_mail_effects", None)
    close = getattr(found.mail, "close", None) if found is not None else None
    if close is not None:  # the production sink has one; the MailSink protocol does not
        close()
