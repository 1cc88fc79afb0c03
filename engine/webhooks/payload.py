"""Payloads from outside (webhook bodies): dotted paths into JSON, and the mapping of one
payload to a typed customer row and typed datamodel records.

Mapping collects every problem of a payload at once, each with the path in the body where it
is (``PayloadProblem.loc``), so a caller can answer with all of them and store nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from engine.errors import InputError
from engine.model.sizes import MAX_EVENT_ID

if TYPE_CHECKING:
    from engine.model.project import Project

Loc = tuple[str | int, ...]
_MISSING = object()
MISSING = _MISSING  # what ``lookup`` gives for a path that is absent


@dataclass(frozen=True)
class PayloadProblem:
    """One thing wrong with a payload: where (path in the body), what, and of which kind
    (``missing_key``, ``unknown_field``, ``wrong_type``, ``missing_event_id``)."""

    loc: Loc
    message: str
    kind: str


class PayloadError(InputError):
    """A payload cannot be stored; ``problems`` holds every problem found."""

    def __init__(self, problems: Sequence[PayloadProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{_dotted(p.loc)}: {p.message}" for p in self.problems))


@dataclass(frozen=True)
class RecordsMap:
    """Where records sit in a payload (a list, or one object) and how their fields map."""

    collection: str
    path: str
    map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PayloadMap:
    """How a payload maps to a customer (``map``: payload path -> field, matched on ``key``),
    to records, and where its event id is (``dedupe``)."""

    map: Mapping[str, str]
    key: str
    records: tuple[RecordsMap, ...] = ()
    dedupe: str | None = None
    dedupe_header: str | None = None  # the event id comes from this header instead


@dataclass
class Mapped:
    """One payload, mapped: the typed customer row, typed records per collection, and the
    event id."""

    payload: dict[str, Any]
    customer: dict[str, Any]
    records: list[tuple[str, dict[str, Any]]]
    event_id: str | None


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the body)"


@lru_cache(maxsize=4096)
def split_path(path: str) -> Loc:
    """``"order.lines.0.sku"`` -> ``("order", "lines", 0, "sku")``; ``"."`` (or nothing) is
    the payload itself."""
    if path in ("", "."):
        return ()
    return tuple(int(p) if p.isdigit() else p for p in path.split("."))


def lookup(value: Any, path: Loc) -> Any:
    """The value at ``path`` inside ``value``, or ``_MISSING`` when a step is absent."""
    for part in path:
        if type(value) is dict:  # a JSON object, nearly always: no check against the ABC
            value = value.get(part if type(part) is str else str(part), _MISSING)
            if value is _MISSING:
                return _MISSING
        elif isinstance(part, int) and isinstance(value, list) and -len(value) <= part < len(value):
            value = value[part]
        elif isinstance(value, Mapping) and str(part) in value:
            value = value[str(part)]
        else:
            return _MISSING
    return value


def _fields(
    item: Mapping[str, Any], mapping: Mapping[str, str], at: Loc
) -> list[tuple[Loc, str, Any]]:
    """(loc, field, value) for every mapped path present in ``item``; without a mapping every
    key of the item is a field of the same name."""
    if not mapping:
        return [((*at, name), name, value) for name, value in item.items()]
    found = []
    for path, name in mapping.items():
        parts = split_path(path)
        value = lookup(item, parts)
        if value is not _MISSING:
            found.append(((*at, *parts) if at else parts, name, value))
    return found


def _path_of(mapping: Mapping[str, str], name: str, at: Loc) -> Loc:
    for path, target in mapping.items():
        if target == name:
            return (*at, *split_path(path))
    return (*at, name)


def _kind_of(message: str) -> str:
    return "unknown_field" if message.startswith("unknown") else "wrong_type"


def _typed(
    found: Sequence[tuple[Loc, str, Any]], convert: Callable[[dict[str, Any]], dict[str, Any]]
) -> tuple[dict[str, Any], set[str], list[PayloadProblem]]:
    """Type the fields; when one is bad, type each (loc, field, value) on its own, so every
    bad field is reported."""
    try:
        return convert({name: value for _, name, value in found}), set(), []
    except InputError:
        pass
    typed: dict[str, Any] = {}
    bad: set[str] = set()
    problems = []
    for loc, name, value in found:
        try:
            typed.update(convert({name: value}))
        except InputError as exc:
            bad.add(name)
            problems.append(PayloadProblem(loc, str(exc), _kind_of(str(exc))))
    return typed, bad, problems


def type_customer(row: Mapping[str, Any], project: Project, at: Loc = ()) -> dict[str, Any]:
    """Customer fields by name, typed; ``PayloadError`` lists every bad field at ``at``."""
    from engine.store.customers import typed_row  # loads with a payload, not with a flow

    typed, _, problems = _typed(
        [((*at, k), k, v) for k, v in row.items()], lambda r: typed_row(r, project)
    )
    if problems:
        raise PayloadError(problems)
    return typed


def type_record(
    collection: str, row: Mapping[str, Any], project: Project, at: Loc = ()
) -> dict[str, Any]:
    """Record fields by name, typed; ``PayloadError`` lists every bad field at ``at``."""
    from engine.store.records import typed_record

    typed, _, problems = _typed(
        [((*at, k), k, v) for k, v in row.items()],
        lambda r: typed_record(collection, r, project),
    )
    if problems:
        raise PayloadError(problems)
    return typed


def map_payload(payload: Any, spec: PayloadMap, project: Project, at: Loc = ()) -> Mapped:
    """Map one payload; ``PayloadError`` lists every problem, each with its place in the body."""
    from engine.store.customers import typed_row

    if not isinstance(payload, dict):
        raise PayloadError(
            [PayloadProblem(at, "expected a JSON object (or an array of objects)", "wrong_type")]
        )
    customer, bad, problems = _typed(
        _fields(payload, spec.map, at), lambda r: typed_row(r, project)
    )
    if customer.get(spec.key) is None and spec.key not in bad:
        loc = _path_of(spec.map, spec.key, at)
        problems.append(
            PayloadProblem(
                loc,
                f"missing key: {_dotted(loc)} gives the customer's {spec.key}, which identifies "
                "the customer; send it",
                "missing_key",
            )
        )
    records: list[tuple[str, dict[str, Any]]] = []
    for spec_records in spec.records:
        found = _records(payload, spec_records, project, at, problems)
        _keep_parent_keys(spec_records, found, spec.records, records, project)
        records.extend(found)
    event_id = None
    if spec.dedupe is not None:
        parts = split_path(spec.dedupe)
        value = lookup(payload, parts)
        if value is _MISSING or value is None or isinstance(value, dict | list):
            problems.append(
                PayloadProblem(
                    (*at, *parts),
                    f"missing event id: {_dotted((*at, *parts))} must hold the event id that "
                    "makes a redelivered webhook harmless",
                    "missing_event_id",
                )
            )
        elif "\x00" in str(value):
            problems.append(
                PayloadProblem(
                    (*at, *parts), "the event id holds a NUL character (\\u0000)", "wrong_type"
                )
            )
        elif len(str(value)) > MAX_EVENT_ID:
            problems.append(
                PayloadProblem(
                    (*at, *parts),
                    f"the event id holds {len(str(value))} characters; at most "
                    f"{MAX_EVENT_ID} are stored",
                    "too_long",
                )
            )
        else:
            event_id = str(value)
    if problems:
        raise PayloadError(problems)
    return Mapped(payload, customer, records, event_id)


def _records(
    payload: Mapping[str, Any],
    spec: RecordsMap,
    project: Project,
    at: Loc,
    problems: list[PayloadProblem],
) -> list[tuple[str, dict[str, Any]]]:
    from engine.store.records import collection_of, typed_record

    parts = split_path(spec.path)
    found = lookup(payload, parts)
    if found is _MISSING or found is None:
        return []
    items: list[tuple[Loc, Any]]
    if isinstance(found, list):
        items = [((*at, *parts, i), item) for i, item in enumerate(found)]
    else:
        items = [((*at, *parts), found)]
    key_field = collection_of(project, spec.collection).key
    records = []
    for loc, item in items:
        if not isinstance(item, dict):
            problems.append(
                PayloadProblem(
                    loc, f"a record of '{spec.collection}' must be a JSON object", "wrong_type"
                )
            )
            continue
        data, bad, found = _typed(
            _fields(item, spec.map, loc),
            lambda r: typed_record(spec.collection, r, project),
        )
        problems.extend(found)
        if data.get(key_field) is None and key_field not in bad:
            key_loc = _path_of(spec.map, key_field, loc)
            problems.append(
                PayloadProblem(
                    key_loc,
                    f"missing key: {_dotted(key_loc)} gives the {key_field} of the "
                    f"'{spec.collection}' record; send it",
                    "missing_key",
                )
            )
        records.append((spec.collection, data))
    return records


def _keep_parent_keys(
    spec: RecordsMap,
    found: list[tuple[str, dict[str, Any]]],
    specs: Sequence[RecordsMap],
    earlier: Sequence[tuple[str, dict[str, Any]]],
    project: Project,
) -> None:
    """Records nested inside another record of the payload keep their parent's key: when
    ``line_items`` sit inside an order (path ``line_items`` under the order's path ``.``, or
    ``order.line_items`` under ``order``) and the line item collection has a field named as
    the order collection's key, each line item gets the order's key unless the payload gives
    one itself."""
    from engine.model.project import collection_of

    if not found:
        return
    inner = split_path(spec.path)
    fields = collection_of(project, spec.collection).fields
    for parent in specs:
        outer = split_path(parent.path)
        if parent is spec or len(outer) >= len(inner) or inner[: len(outer)] != outer:
            continue
        key = collection_of(project, parent.collection).key
        if key not in fields:
            continue
        parents = [data for name, data in earlier if name == parent.collection]
        if len(parents) != 1 or parents[0].get(key) is None:
            continue  # a list of parents: which one holds the record is not known
        for _, data in found:
            if data.get(key) is None:
                data[key] = parents[0][key]
