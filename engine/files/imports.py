"""Imports: a CSV from any place into customers or a datamodel collection.

``import_csv`` streams the file (memory stays flat), maps the header to fields (``columns``)
and works in chunks of rows, a column at a time: it types every value as every other writer
does (``typed_columns`` gives what ``typed_row`` and ``typed_record`` give, value for value),
and upserts with set-based SQL on the caller's connection, so the whole file commits in the
caller's one transaction or not at all. Bad rows (a value of the wrong type, no key, a key
already seen earlier in the file, a link to no customer, the wrong number of cells) are
rejected with their line, column and reason, in row order, and the import goes on; more than
``max_rejects`` of them fail the import (``TooManyRejects``) before the chunk that holds the one
too many is written, as does a file that cannot be read at all. ``write_rejects`` puts the
rejected rows in a CSV beside the source.

The import object, the CSV trigger and ``sluis import`` all run this; they differ only in what
they do with the imported rows (``on_chunk``) and when they commit.
"""

from __future__ import annotations

import csv
import io
import time
from array import array
from collections.abc import Callable, Generator, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import InputError
from engine.files.csvin import delimiter_name, read_csv
from engine.model.fields import KEYS, field_types
from engine.model.project import collection_of
from engine.model.sizes import MAX_RECORD_KEY, column_faults
from engine.model.validation import did_you_mean

# The store (SQLAlchemy) is imported by the functions that use it, so a flow with an import
# object validates without loading it.
if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.files.places import Place
    from engine.model.project import Project

CHUNK = 2000  # rows typed and stored at a time: small enough to stay in the CPU's caches
_MIX = 0x9E3779B97F4A7C15
_BITS = (1 << 64) - 1
_TOP, _HALF = 1 << 64, 1 << 63
STATUSES = ("new", "changed", "unchanged")


@dataclass(frozen=True)
class ImportSpec:
    """What to import and how; ``key`` None means the collection's key (or external_id)."""

    into: str = "customers"
    key: str | None = None
    columns: Mapping[str, str] | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"
    max_rejects: int = 0


@dataclass(frozen=True)
class Reject:
    """A row left out: its row number (the line it starts on; the header is row 1), the CSV
    column at fault ('' for the whole row) and why."""

    row: int
    column: str
    reason: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Imported:
    """One stored row: its customer (None for a record linked to none), its status and its
    values (JSON form, by field)."""

    customer_id: int | None
    status: str
    values: Mapping[str, Any]


@dataclass
class ImportReport:
    """What an import did."""

    source: str
    header: list[str] = field(default_factory=list)
    delimiter: str = ","
    rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    rejects: list[Reject] = field(default_factory=list)
    seconds: float = 0.0
    rejects_file: str | None = None

    @property
    def imported(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c['new']} new, {c['changed']} changed, {c['unchanged']} unchanged, "
            f"{len(self.rejects)} rejected"
        )


class TooManyRejects(InputError):
    """More rows were rejected than ``max_rejects`` allows; nothing may be written."""

    def __init__(self, report: ImportReport, limit: int) -> None:
        self.report = report
        self.limit = limit
        super().__init__(report.source)

    def __str__(self) -> str:
        first = self.report.rejects[0]
        where = f"row {first.row}" + (f", column {first.column}" if first.column else "")
        rejects = (
            f"; the rejected rows are in {self.report.rejects_file}"
            if (self.report.rejects_file)
            else ""
        )
        return (
            f"{self.report.source}: more than {self.limit} row(s) rejected (max_rejects: "
            f"{self.limit}), so nothing was imported; the first: {where}: {first.reason}"
            f"{rejects}"
        )


class SeenKeys:
    """The keys a file held so far, in a table of 64-bit hashes beside the line each came on
    first (32 bytes a key at most, so memory stays small next to the file, and a duplicate's
    message names the first line however long the file). Two different keys with the same
    hash, odds of about 1 in 10^7 in a file of a million rows, would make the second look
    like a duplicate."""

    def __init__(self) -> None:
        self.table = array("q", bytes(8 * 1024))
        self.lines = array("q", bytes(8 * 1024))
        self.mask = 1023
        self.count = 0

    def add(self, key: Hashable, line: int = 0) -> bool:
        """Note ``key`` (first on ``line``); False when it was there already."""
        return self.add_all([key], [line])[0]

    def add_all(self, keys: Sequence[Hashable], lines: Sequence[int] | None = None) -> list[bool]:
        """Note each key in turn (with the line it is on); per key, False when it was there
        already."""
        while (self.count + len(keys)) * 2 > self.mask:
            self._grow()
        table, firsts, mask = self.table, self.lines, self.mask
        fresh: list[bool] = []
        for index, code in enumerate(map(_code, keys)):
            slot = code & mask
            while True:
                found = table[slot]
                if found == 0:
                    table[slot] = code
                    firsts[slot] = lines[index] if lines else 0
                    fresh.append(True)
                    break
                if found == code:
                    fresh.append(False)
                    break
                slot = (slot + 1) & mask
        self.count += fresh.count(True)
        return fresh

    def line_of(self, key: Hashable) -> int | None:
        """The line ``key`` came on first (None when it was not noted with one)."""
        code = _code(key)
        slot = code & self.mask
        while (found := self.table[slot]) != 0:
            if found == code:
                return self.lines[slot] or None
            slot = (slot + 1) & self.mask
        return None

    def _grow(self) -> None:
        old, old_lines = self.table, self.lines
        self.table = array("q", bytes(len(old) * 16))
        self.lines = array("q", bytes(len(old) * 16))
        self.mask = len(old) * 2 - 1
        self.count = 0
        for code, line in zip(old, old_lines, strict=True):
            if code:
                slot = code & self.mask
                while self.table[slot]:
                    slot = (slot + 1) & self.mask
                self.table[slot] = code
                self.lines[slot] = line
                self.count += 1


def _code(key: Hashable) -> int:
    """A key's slot code: its hash mixed by a bijection (distinct ints keep distinct codes),
    as a signed 64-bit value that is never 0 (0 marks an empty slot)."""
    code = (hash(key) * _MIX) & _BITS
    return (code - _TOP if code >= _HALF else code) or 1


LINKS: dict[str, str] = {
    "customer.external_id": "external_id",
    "customer.email": "email",
    "customer.system_id": "system_id",
}
LINK_TYPES = {"customer.external_id": "str", "customer.email": "str", "customer.system_id": "int"}


def customer_links(
    conn: Connection, columns: Mapping[str, Sequence[Any]]
) -> tuple[list[int | None], dict[int, str]]:
    """The customer each record row (typed columns) links to with ``customer.external_id``,
    ``customer.email`` or ``customer.system_id`` (None when it names none), and why, by row
    index, the rows whose link finds no customer."""
    from engine.store.customers import find_ids

    named = [(name, key) for name, key in LINKS.items() if name in columns]
    links: list[tuple[str, Any] | None] = []
    wanted: dict[str, list[Any]] = {}
    for index in range(len(next(iter(columns.values()), ()))):
        link = next(
            ((k, columns[f][index]) for f, k in named if columns[f][index] is not None), None
        )
        links.append(link)
        if link is not None:
            wanted.setdefault(link[0], []).append(link[1])
    found = {key: find_ids(conn, key, values) for key, values in wanted.items()}
    ids: list[int | None] = []
    problems: dict[int, str] = {}
    for index, link in enumerate(links):
        if link is None:
            ids.append(None)
            continue
        key, value = link
        system_id = found[key].get(value)
        if system_id is None:
            problems[index] = f"no customer with {key} '{value}'; import the customers first"
        ids.append(system_id)
    return ids, problems


class _Target:
    """Customers or one collection: the fields a row may hold, typing and upserting."""

    def __init__(self, spec: ImportSpec, project: Project) -> None:
        self.project = project
        self.into = spec.into
        self.customers = spec.into == "customers"
        if self.customers:
            self.types = {**field_types(project), "system_id": "int"}
            self.key = spec.key or "external_id"
            if self.key not in KEYS:
                raise InputError(
                    f"customers are matched on {', '.join(KEYS)}, not '{self.key}'; set key: to "
                    "one of them"
                )
            self.what = "customer field"
        else:
            collection = collection_of(project, spec.into)
            self.types = {**collection.fields, **LINK_TYPES}
            self.key = spec.key or collection.key
            if self.key != collection.key:
                raise InputError(
                    f"collection '{spec.into}' is keyed on '{collection.key}', not "
                    f"'{self.key}'; set key: {collection.key}"
                )
            self.what = f"field of collection '{spec.into}'"

    def typed(
        self, columns: Mapping[str, Sequence[str]]
    ) -> tuple[dict[str, list[Any]], dict[int, tuple[str, str]]]:
        """The typed columns, and per failed row the field at fault and why."""
        from engine.store.bulk import first_faults
        from engine.store.bulk import typed_columns as typed_columns_of
        from engine.store.customers import typed_columns

        if self.customers:
            return typed_columns(columns, self.project)
        typed, faults = typed_columns_of(columns, self.types)
        column_faults(typed, faults, {self.key: MAX_RECORD_KEY})
        return typed, first_faults(faults, columns)

    def identities(self, keys: Sequence[Any]) -> Sequence[Hashable]:
        """What makes the keys the same: emails in any case are."""
        if self.key == "email":
            return [str(value).lower() for value in keys]
        return keys

    def upsert(
        self,
        conn: Connection,
        columns: Mapping[str, Sequence[Any]],
        forms: Mapping[str, Sequence[Any]],
        now: datetime,
        links: Sequence[int | None],
    ) -> Sequence[tuple[int | None, str]]:
        """Store the typed rows (``columns``; ``forms`` their JSON form, which records keep);
        (customer, status) per row. ``links``: for records, the customer each row links to."""
        from engine.store.customer_import import import_customers
        from engine.store.records import get_records, store_records

        if self.customers:
            return import_customers(conn, columns, key=self.key, project=self.project, now=now)
        names = [name for name in forms if name not in LINK_TYPES]
        rows = zip(*(forms[name] for name in names), strict=True)
        data = map(dict, map(zip, repeat(names), rows))  # a dict a row, in C loops
        keys = map(str, forms[self.key])
        stored = store_records(conn, self.into, list(zip(keys, data, links, strict=True)), now=now)
        unlinked = [
            record_id for (record_id, _), link in zip(stored, links, strict=True) if not link
        ]
        linked_before = {r["id"]: r["customer_id"] for r in get_records(conn, unlinked)}
        return [
            (link if link is not None else linked_before.get(record_id), status)
            for (record_id, status), link in zip(stored, links, strict=True)
        ]


def check_spec(spec: ImportSpec, project: Project) -> None:
    """Check ``into``, ``key`` and the fields ``columns`` names against the project (flow
    validation); ``InputError`` says what is wrong."""
    target = _Target(spec, project)
    for column, name in (spec.columns or {}).items():
        if name not in target.types:
            raise InputError(
                f"columns maps '{column}' to '{name}', which is not a {target.what}"
                f"{did_you_mean(name, target.types)}"
            )


def _mapping(rows: Rows, spec: ImportSpec, target: _Target) -> list[tuple[str, int, str]]:
    """(field, cell index, column) for every column that is imported."""
    source, header = rows.source, rows.header
    position = {name: i for i, name in enumerate(header) if name}
    shown = ", ".join(name for name in header if name) or "no named columns"
    read_as = (
        f" (read with delimiter {delimiter_name(rows.delimiter)}; set delimiter: when that is "
        "wrong)"
    )
    mapping = []
    if spec.columns:
        for column, name in spec.columns.items():
            if name not in target.types:
                raise InputError(
                    f"columns maps '{column}' to '{name}', which is not a {target.what}"
                    f"{did_you_mean(name, target.types)}"
                )
            if column not in position:
                hint = did_you_mean(column, header)
                raise InputError(
                    f"{source}: no column '{column}' (named in columns){hint}; the header has "
                    f"{shown}{read_as}"
                )
            mapping.append((name, position[column], column))
    else:
        for column, index in position.items():
            if column not in target.types:
                hint = did_you_mean(column, target.types)
                if any(d in column for d in ",;\t|" if d != rows.delimiter):
                    hint += read_as
                raise InputError(
                    f"{source}: column '{column}' is not a {target.what}{hint}; map it with "
                    f"columns: {{{column}: FIELD}} or remove it"
                )
            mapping.append((column, index, column))
    if target.key not in {name for name, _, _ in mapping}:
        raise InputError(
            f"{source}: no column for the key field '{target.key}'; the header has {shown}"
            f"{read_as}" + ("; map one with columns:" if spec.columns else "")
        )
    fields = [name for name, _, _ in mapping]
    for name in fields:
        if fields.count(name) > 1:
            raise InputError(f"columns maps two columns to '{name}'; map one column to a field")
    return mapping


def import_csv(
    conn: Connection,
    place: Place,
    spec: ImportSpec,
    project: Project,
    now: datetime,
    *,
    on_chunk: Callable[[list[Imported]], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
) -> ImportReport:
    """Import the CSV at ``place`` on ``conn`` (the caller's transaction). ``on_chunk`` gets
    the stored rows chunk by chunk, ``progress`` the bytes and rows read so far. Raises
    ``InputError`` when the file cannot be read and ``TooManyRejects``; the caller rolls back."""
    stored = import_chunks(
        conn,
        place,
        spec,
        project,
        now,
        keep_rows=on_chunk is not None,
        progress=progress,
        chunk=chunk,
    )
    while True:
        try:
            imported = next(stored)
        except StopIteration as done:
            report: ImportReport = done.value
            return report
        if on_chunk is not None:
            on_chunk(imported)


def import_chunks(
    conn: Connection,
    place: Place,
    spec: ImportSpec,
    project: Project,
    now: datetime,
    *,
    keep_rows: bool = True,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
) -> Generator[list[Imported], None, ImportReport]:
    """``import_csv`` as a generator: yields the stored rows chunk by chunk (when ``keep_rows``)
    and returns the report, so a caller can hand them on as they come."""
    with read_csv(place, encoding=spec.encoding, delimiter=spec.delimiter) as reader:
        return (
            yield from import_rows(
                conn,
                reader,
                str(place),
                spec,
                project,
                now,
                keep_rows=keep_rows,
                progress=progress,
                chunk=chunk,
            )
        )


class Rows(Protocol):
    """Rows to import: a header, cells per row with the line (or item number) each starts
    on, and how many bytes were read so far. ``CsvRows`` is one; an HTTP pull is another."""

    source: str
    header: list[str]
    delimiter: str

    @property
    def bytes_read(self) -> int: ...

    def __iter__(self) -> Iterator[tuple[int, list[str]]]: ...


def import_rows(
    conn: Connection,
    reader: Rows,
    source: str,
    spec: ImportSpec,
    project: Project,
    now: datetime,
    *,
    keep_rows: bool = True,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
) -> Generator[list[Imported], None, ImportReport]:
    """``import_chunks`` of rows from any source (``source`` names it in the report)."""
    started = time.perf_counter()
    target = _Target(spec, project)
    report = ImportReport(source)
    mapping = _mapping(reader, spec, target)
    report.header, report.delimiter = reader.header, reader.delimiter
    chunks = _Chunks(conn, target, mapping, spec, report, now, keep_rows)
    width = len(reader.header)
    count = 0
    pending, lines = chunks.rows, chunks.lines
    for line, cells in reader:
        count += 1
        if len(cells) != width and (len(cells) < width or any(c.strip() for c in cells[width:])):
            chunks.reject(line, "", _width_reason(len(cells), width, reader.delimiter), cells)
            if not chunks.over:
                continue
        else:
            lines.append(line)
            pending.append(cells)
            if len(pending) < chunk:
                continue
        report.rows = count
        stored = chunks.flush()
        if stored:
            yield stored
        if progress is not None:
            progress(reader.bytes_read, count)
    report.rows = count
    stored = chunks.flush()
    if stored:
        yield stored
    if progress is not None:
        progress(reader.bytes_read, count)
    report.seconds = time.perf_counter() - started
    return report


class _Chunks:
    """The rows read since the last chunk was stored, and storing them: typed a column at a
    time, bad rows rejected (in row order, with their column and reason), the rest upserted."""

    def __init__(
        self,
        conn: Connection,
        target: _Target,
        mapping: Sequence[tuple[str, int, str]],
        spec: ImportSpec,
        report: ImportReport,
        now: datetime,
        keep_rows: bool,
    ) -> None:
        self.conn, self.target, self.report, self.now = conn, target, report, now
        self.wants_rows = keep_rows
        self.limit = spec.max_rejects
        self.column_of = {name: column for name, _, column in mapping}
        self.picks = [(name, index) for name, index, _ in mapping]
        self.lines: list[int] = []
        self.rows: list[list[str]] = []
        self.rejects: list[Reject] = []
        self.seen = SeenKeys()

    @property
    def over(self) -> bool:
        """More rejects than allowed already: store no further rows, say so now."""
        return len(self.report.rejects) + len(self.rejects) > self.limit

    def reject(self, line: int, column: str, reason: str, cells: Sequence[str]) -> None:
        self.rejects.append(Reject(line, column, reason, tuple(cells)))

    def flush(self) -> list[Imported]:
        """Store the pending rows; the stored ones when wanted."""
        rows, lines = self.rows, self.lines
        target, key = self.target, self.target.key
        columns = {name: [cells[i] for cells in rows] for name, i in self.picks}
        typed, faults = target.typed(columns)
        keep = self._keep(typed[key], faults)
        if len(keep) < len(rows):
            typed = {name: [values[i] for i in keep] for name, values in typed.items()}
        links: list[int | None] = []
        if not target.customers:
            links, problems = customer_links(self.conn, typed)
            if problems:
                column = next(c for n, c in self.column_of.items() if n.startswith("customer."))
                for index, reason in problems.items():
                    self.reject(lines[keep[index]], column, reason, rows[keep[index]])
                kept = [i for i in range(len(keep)) if i not in problems]
                typed = {name: [values[i] for i in kept] for name, values in typed.items()}
                links, keep = [links[i] for i in kept], [keep[i] for i in kept]
        self._report_rejects()
        from engine.store.bulk import json_column

        forms = {name: json_column(values, target.types[name]) for name, values in typed.items()}
        stored = target.upsert(self.conn, typed, forms, self.now, links) if keep else []
        counts = self.report.counts
        for _, status in stored:
            counts[status] += 1
        imported: list[Imported] = []
        if self.wants_rows and stored:
            names = list(forms)
            by_row = zip(*forms.values(), strict=True)
            values = map(dict, map(zip, repeat(names), by_row))  # a dict a row, in C loops
            imported = [
                Imported(c, status, v) for (c, status), v in zip(stored, values, strict=True)
            ]
        rows.clear()
        lines.clear()
        return imported

    def _keep(self, keys: Sequence[Any], faults: Mapping[int, tuple[str, str]]) -> list[int]:
        """The rows to store: rejects those that failed typing, have no key or repeat one."""
        key, rows, lines = self.target.key, self.rows, self.lines
        key_column = self.column_of[key]
        if faults or None in keys:
            candidates: list[int] = []
            for index, value in enumerate(keys):
                if index in faults:
                    name, reason = faults[index]
                    self.reject(lines[index], self.column_of[name], reason, rows[index])
                elif value is None:
                    reason = f"no value for the key field '{key}'"
                    self.reject(lines[index], key_column, reason, rows[index])
                else:
                    candidates.append(index)
            keys = [keys[i] for i in candidates]
        else:
            candidates = list(range(len(keys)))
        identities = self.target.identities(keys)
        fresh = self.seen.add_all(identities, [lines[index] for index in candidates])
        if all(fresh):
            return candidates
        for index, value, identity, new in zip(candidates, keys, identities, fresh, strict=True):
            if not new:
                earlier = self.seen.line_of(identity)
                where = f" on row {earlier}" if earlier else " earlier in the file"
                reason = f"duplicate key '{value}': it came{where}"
                self.reject(lines[index], key_column, reason, rows[index])
        return [index for index, new in zip(candidates, fresh, strict=True) if new]

    def _report_rejects(self) -> None:
        """Add this chunk's rejects to the report in row order; too many fail the import."""
        report = self.report
        for found in sorted(self.rejects, key=lambda r: r.row):
            report.rejects.append(found)
            if len(report.rejects) > self.limit:
                raise TooManyRejects(report, self.limit)
        self.rejects.clear()


def _width_reason(cells: int, width: int, delimiter: str) -> str:
    return (
        f"has {cells} cells where the header has {width} columns; quote values that hold the "
        f"delimiter ({delimiter_name(delimiter)})"
    )


def rejects_place(source: Place) -> Place:
    """Where the rejects of ``source`` go: ``NAME.rejects.csv`` beside it."""
    stem = source.name.rsplit(".", 1)[0] if "." in source.name else source.name
    return source.sibling(f"{stem}.rejects.csv")


def write_rejects(report: ImportReport, place: Place, *, encoding: str = "utf-8") -> None:
    """Write the rejected rows (row, column, reason, then the row's own cells) to ``place``,
    atomically, replacing the rejects of an earlier import of the same file."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    with place.writer(replace=True) as handle:
        text = io.TextIOWrapper(handle, encoding=codec, errors="replace", newline="")
        writer = csv.writer(text, delimiter=report.delimiter)
        writer.writerow(["row", "column", "reason", *report.header])
        for r in report.rejects:
            writer.writerow([r.row, r.column, r.reason, *r.cells])
        text.flush()
        text.detach()
    report.rejects_file = str(place)
