"""The journeys of a replay's JSON document (DESIGN.md, section 9), read lean: only the columns
the document holds, straight from the driver, a chunk of journeys at a time. Explain's
``journeys_of`` reads whole rows (data, times, versions) into views for one customer; for a
replay of a hundred thousand journeys that reading was most of ``--json``'s time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from sys import intern
from typing import Any

from sqlalchemy import Connection

from engine.model.fields import customer_label
from engine.runtime.explain import state_of
from engine.store.raw import among, fetch, placeholders, time_value

CHUNK = 1000  # journeys read (with their steps) at a time
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(value, ensure_ascii=False)
_HEAD = ("entered", "via", "state", "at")  # a journey's members between customer and steps
_STEP_KEYS = ("object", "at", "output", "reason")
# a journey's key: customer label, entered, journey id, via, state, object
_Key = tuple[str, str | None, int, str, str, str]
# what the readable summary shows of a journey: customer, state, at, (object, output) per step
JourneyPath = tuple[str, str, str | None, tuple[tuple[str, str | None], ...]]


def journey_keys(conn: Connection, flow: str) -> list[_Key]:
    """(customer label, entered, journey id, via, state, object) of a flow's journeys, in the
    document's order (by customer, then entered; sorted here, so the order is Python's on
    every database): the journeys are read once, their heads with their keys."""
    rows = conn.exec_driver_sql(
        placeholders(
            conn,
            "SELECT j.id, j.entered_at, j.via, j.state, j.object, c.system_id, c.external_id, "
            "c.email FROM journeys j JOIN customers c ON c.system_id = j.customer_id "
            "WHERE j.flow = ?",
        ),
        (flow,),
    )
    keys = [
        (
            customer_label({"system_id": system_id, "external_id": external, "email": email}),
            iso(entered),
            jid,
            intern(via),  # a flow's few names, held once for all its journeys
            intern(state),
            intern(at),
        )
        for jid, entered, via, state, at, system_id, external, email in rows
    ]
    keys.sort(key=lambda k: (k[0], k[1] or "", k[2]))
    return keys


def replay_journeys(conn: Connection, flow: str) -> Iterator[dict[str, Any]]:
    """The journeys of the document in its order, each with its steps in the order taken."""
    for (label, entered, _, via, state, at), rows in _journeys(conn, flow):
        yield {
            "customer": label,
            "entered": entered,
            "via": via,
            "state": state_of(state),
            "at": at if state == "active" else None,
            "steps": [dict(zip(_STEP_KEYS, _step(row), strict=True)) for row in rows],
        }


def journey_lines(conn: Connection, flow: str) -> Iterator[str]:
    """``json.dumps(journey, ensure_ascii=False)`` of each journey of ``replay_journeys``,
    with each distinct head and step encoded once: a replay's journeys take the same few
    steps at the same few moments, by the same few ways in."""
    for (label, entered, _, via, state, at), rows in _journeys(conn, flow):
        head = _head_json(entered, via, state, at)
        steps = ", ".join(map(_step_json, rows))
        yield f'{{"customer": {_ENCODE(label)}, {head}, "steps": [{steps}]}}'


def journey_paths(conn: Connection, flow: str) -> Iterator[JourneyPath]:
    """Each journey of ``replay_journeys`` as the readable summary shows it: its customer,
    state, the object it waits at, and the object and output of each step."""
    for (label, _, _, _, state, at), rows in _journeys(conn, flow):
        steps = tuple([(row[0], row[2]) for row in rows])
        yield label, state_of(state), at if state == "active" else None, steps


def _journeys(conn: Connection, flow: str) -> Iterator[tuple[_Key, list[tuple[Any, ...]]]]:
    """Each journey's key (``journey_keys``) in the document's order with its steps as the
    driver reads them (object, at, output, reason), a chunk of journeys at a time."""
    keys = journey_keys(conn, flow)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        steps = _steps(conn, [key[2] for key in chunk])
        for key in chunk:
            yield key, steps[key[2]]


def _steps(conn: Connection, ids: list[int]) -> dict[int, list[tuple[Any, ...]]]:
    """The steps of each journey, in the order taken."""
    steps: dict[int, list[tuple[Any, ...]]] = {jid: [] for jid in ids}
    for condition, params in among(conn, "journey_id", ids):
        statement = (
            "SELECT journey_id, object, at, output, reason FROM steps "
            f"WHERE {condition} ORDER BY journey_id, id"  # the index's order: no sort
        )
        for row in fetch(conn, statement, params):
            steps[row[0]].append(row[1:])
    return steps


def _step(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A step as the document has it: its time as text."""
    obj, at, output, reason = row
    return obj, iso(at), output, reason


@lru_cache(maxsize=4096)
def _head_json(entered: str | None, via: str, state: str, at: str) -> str:
    """The document's entered, via, state and at of a journey, as JSON members."""
    values = (entered, via, state_of(state), at if state == "active" else None)
    return ", ".join(f'"{key}": {_ENCODE(value)}' for key, value in zip(_HEAD, values, strict=True))


@lru_cache(maxsize=4096)
def _step_json(row: tuple[Any, ...]) -> str:
    return _ENCODE(dict(zip(_STEP_KEYS, _step(row), strict=True)))


@lru_cache(maxsize=4096)  # a replay's steps share the few moments of its virtual clock
def iso(value: Any) -> str | None:
    """A stored time (text on SQLite, a datetime on PostgreSQL) as the document writes it."""
    moment = time_value(value)
    return moment.isoformat() if moment else None
