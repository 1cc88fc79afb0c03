"""Replay: customers through one flow on a virtual clock, in a fresh store of its own (a
SQLite file in the replay's temporary folder, so a replay of a million customers grows on disk,
not in memory), with effects captured instead of performed. The same runtime runs as in
production; only the clock and the effect sinks differ.

The JSON document is a contract (DESIGN.md, section 9): outside tests compare it field by field.
``write_json`` streams it journey by journey (a thousand at a time from the store), one journey
a line, so its size never sits in memory and the C JSON encoder does the work.
"""

from __future__ import annotations

import json
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import case, func, select

from engine.errors import InputError
from engine.files import Files
from engine.files.csvin import read_csv_file
from engine.files.customers_csv import load_customers_csv
from engine.files.records_csv import load_records_csv
from engine.http.captured import CapturedHttp
from engine.mail.sink import MailSink
from engine.model.flow import Flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.replayjourneys import (
    JourneyPath,
    iso,
    journey_lines,
    journey_paths,
    replay_journeys,
)
from engine.runtime.runner import Runtime
from engine.sdk.batch import Entry
from engine.sdk.effects import Effects
from engine.sdk.events import IncomingEvent
from engine.store import Database, Store
from engine.store.customers import find_ids
from engine.store.models import JOURNEYS

EVENT_KINDS = ("open", "click", "bounce", "unsubscribe")
J = JOURNEYS
EVENT_ORDER = 1_000_000  # events come after entries of the same moment
PASSAGE = 5_000  # journeys a batch passing wholly in the replay's store takes


def replay_effects(folder: Path) -> Effects:
    """Effects for replay: mails and HTTP calls captured, files written under ``folder``."""
    effects = Effects.capturing(
        files=Files(overlay=folder / "files"), http=CapturedHttp(), mail=MailSink.captured()
    )
    return effects


def parse_time(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{what}: '{text}' is not an ISO 8601 time such as 2026-01-05T09:00:00+01:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(order=True)
class _Scheduled:
    at: datetime
    order: int
    kind: str = field(compare=False)  # "entry" | "event"
    payload: dict[str, Any] = field(compare=False)

    def where(self) -> str:
        """Where the item came from, for messages."""
        if self.kind == "entry":
            return f"line {self.order}"
        return f"events row {self.order - EVENT_ORDER}"


def read_entries(path: Path, start: datetime) -> list[_Scheduled]:
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict) or "customer" not in item:
            raise InputError(f'{path}:{number}: each line needs {{"customer": ID, ...}}')
        unknown = set(item) - {"customer", "at", "object", "data"}
        if unknown:
            raise InputError(
                f"{path}:{number}: unknown key(s) {', '.join(sorted(unknown))}; "
                "use customer, at, object, data"
            )
        at = parse_time(item["at"], f"{path}:{number}") if item.get("at") else start
        if not isinstance(item.get("data", {}), dict):
            raise InputError(f"{path}:{number}: 'data' must be a JSON object")
        items.append(_Scheduled(at, number, "entry", item))
    return items


def read_events(path: Path, start: datetime) -> list[_Scheduled]:
    items = []
    with read_csv_file(path) as reader:
        missing = {"customer", "event", "at"} - set(reader.header)
        if missing:
            raise InputError(
                f"{path}: the header needs customer,event,at[,mail]; missing "
                f"{', '.join(sorted(missing))}"
            )
        for number, row in reader.dicts():
            kind = (row.get("event") or "").strip()
            if kind not in EVENT_KINDS:
                raise InputError(
                    f"{path}:{number}: event '{kind}' is not one of {', '.join(EVENT_KINDS)}"
                )
            when = row.get("at")
            at = parse_time(when, f"{path}:{number}") if when else start
            items.append(_Scheduled(at, EVENT_ORDER + number, "event", dict(row)))
    return items


class Replay:
    """One replay of one flow; ``run`` plays it to the end, ``step`` one batch at a time (the
    TUI's step mode)."""

    def __init__(
        self,
        project: Project,
        flow: Flow,
        customers: Path,
        *,
        entries: Path | None = None,
        events: Path | None = None,
        records: Sequence[tuple[str, Path]] = (),
        start: datetime | None = None,
        until: timedelta = timedelta(days=30),
        store: Store | None = None,
    ) -> None:
        self.project = project
        self.flow = flow
        self.start = (start or datetime.now(UTC).replace(second=0, microsecond=0)).astimezone(UTC)
        self.end = self.start + until
        self.clock = VirtualClock(self.start)
        self._folder = tempfile.TemporaryDirectory(prefix="sluis-replay-")
        self.folder = Path(self._folder.name)
        # tests pass a store to replay on PostgreSQL too; users always get a fresh one
        self.store = store or Store(
            Database(f"sqlite:///{self.folder / 'replay.db'}", durable=False), project
        )
        self.effects = replay_effects(self.folder)
        # nothing else waits for the replay's store: batches passing in the database are big
        self.runtime = Runtime(
            self.store, [flow], self.clock, self.effects, owner="replay", passage_size=PASSAGE
        )
        try:  # bad input: nothing stays behind (the temporary folder, the store)
            self.pending = self._load(customers, records, entries, events)
        except BaseException:
            self.close()
            raise
        self.runtime.start(flow.name)
        self.finished = False

    def _load(
        self,
        customers: Path,
        records: Sequence[tuple[str, Path]],
        entries: Path | None,
        events: Path | None,
    ) -> deque[_Scheduled]:
        project = self.project
        with self.store.db.write() as conn:
            load_customers_csv(conn, customers, project, self.start)
            for collection, path in records:
                load_records_csv(conn, collection, path, project, self.start)
        pending = []
        if entries is not None:
            pending += read_entries(entries, self.start)
        if events is not None:
            pending += read_events(events, self.start)
        return deque(sorted(pending))

    def close(self) -> None:
        self.effects.files.close()
        self.store.db.dispose()
        self._folder.cleanup()

    def _customers(self, items: Sequence[_Scheduled]) -> list[int]:
        """The customer (system_id) of each item, found by external_id, else email, in two
        lookups for all of them."""
        idents = [str(item.payload["customer"]) for item in items]
        with self.store.db.read() as conn:
            by_id = find_ids(conn, "external_id", idents)
            by_email = find_ids(conn, "email", [i for i in idents if i not in by_id])
        found = []
        for item, ident in zip(items, idents, strict=True):
            customer_id = by_id.get(ident, by_email.get(ident))
            if customer_id is None:
                raise InputError(f"{item.where()}: no customer '{ident}' in the customers file")
            found.append(customer_id)
        return found

    def _default_start(self) -> str:
        outside = [s for s in self.flow.starts if self.flow.instance(s).trigger() is None]
        return (outside or list(self.flow.starts))[0]

    def _target(self, item: _Scheduled) -> str | None:
        """The start object an entry enters at (None for an event)."""
        if item.kind != "entry":
            return None
        target = item.payload.get("object") or self._default_start()
        if target not in self.flow.starts:
            raise InputError(
                f"entries {item.where()}: '{target}' is not a start object of "
                f"{self.flow.name} ({', '.join(self.flow.starts)})"
            )
        return str(target)

    def _feed(self, now: datetime) -> None:
        """Feed the entries and events due by ``now``, in their order: each run of entries
        at one start object, or of events, in one transaction. A run holds each customer
        once, so it does what feeding its items one by one does."""
        due = []
        while self.pending and self.pending[0].at <= now:
            due.append(self.pending.popleft())
        if not due:
            return
        run: list[tuple[_Scheduled, int]] = []
        key: tuple[str, str | None] | None = None
        in_run: set[int] = set()
        for item, customer_id in zip(due, self._customers(due), strict=True):
            if (item.kind, self._target(item)) != key or customer_id in in_run:
                self._feed_run(run)
                run, key, in_run = [], (item.kind, self._target(item)), set()
            run.append((item, customer_id))
            in_run.add(customer_id)
        self._feed_run(run)

    def _feed_run(self, run: Sequence[tuple[_Scheduled, int]]) -> None:
        if not run:
            return
        target = self._target(run[0][0])
        if target is not None:
            entries = [Entry(cid, item.payload.get("data") or {}) for item, cid in run]
            self.runtime.enter(self.flow.name, target, entries)
            return
        self.runtime.record_events(
            [
                IncomingEvent(
                    item.payload["event"].strip(),
                    customer_id,
                    item.at,
                    flow=self.flow.name,
                    object=(item.payload.get("mail") or "").strip() or None,
                )
                for item, customer_id in run
            ]
        )

    def step(self) -> bool:
        """Do the next thing: feed what is due now, fire start objects, run one batch; when
        nothing is due now, move the clock to the next moment. False once the replay ended."""
        if self.finished:
            return False
        now = self.clock.now()
        self._feed(now)
        self.runtime.fire_due()
        if self.runtime.run_batch() is not None:
            return True
        upcoming = self.next_moment()
        if upcoming is None or upcoming > self.end:
            self.finished = True
            return False
        self.clock.set(max(upcoming, now))
        return True

    def next_moment(self) -> datetime | None:
        """The next moment something is due: a journey, a schedule, an entry or an event."""
        moments = [
            m for m in (self.runtime.next_due(), self.pending[0].at if self.pending else None) if m
        ]
        return min(moments) if moments else None

    def run(self, progress: Callable[[datetime], None] | None = None) -> None:
        while self.step():
            if progress is not None:
                progress(self.clock.now())

    def progress(self) -> tuple[int, int]:
        """Journeys done (finished or failed) and journeys made so far: one count."""
        done = func.sum(case((J.c.state == "active", 0), else_=1))
        query = select(func.count(), done).where(J.c.flow == self.flow.name)
        with self.store.db.read() as conn:
            total, finished = conn.execute(query).one()
        return int(finished or 0), int(total)

    def document(self) -> dict[str, Any]:
        """The replay's result as the contract's JSON document."""
        return {
            **self._head(),
            "journeys": list(self.journeys()),
            "effects": self.document_effects(),
        }

    def write_json(self, out: TextIO) -> None:
        """Write the document to ``out`` as it is read: the same JSON as ``document()``, with
        one journey (and one effect) a line."""
        head = self._head()
        out.write("{\n")
        for key, value in head.items():
            out.write(f"  {_dumps(key)}: {_dumps(value)},\n")
        with self.store.db.read() as conn:  # each journey already its JSON line
            _write_list(out, "journeys", journey_lines(conn, self.flow.name), "  ", str)
        out.write(',\n  "effects": {\n')
        for number, (kind, items) in enumerate(self.document_effects().items()):
            if number:
                out.write(",\n")
            _write_list(out, kind, items, "    ")
        out.write("\n  }\n}\n")

    def journeys(self) -> Iterator[dict[str, Any]]:
        """The journeys of the document in its order (by customer, then entered), read from
        the store a chunk at a time."""
        with self.store.db.read() as conn:
            yield from replay_journeys(conn, self.flow.name)

    def paths(self) -> Iterator[JourneyPath]:
        """The journeys as the readable summary shows them (``journey_paths``), in the
        document's order."""
        with self.store.db.read() as conn:
            yield from journey_paths(conn, self.flow.name)

    def _head(self) -> dict[str, Any]:
        return {"flow": self.flow.name, "start": iso(self.start), "end": iso(self.end)}

    def document_effects(self) -> dict[str, list[dict[str, Any]]]:
        captured = self.effects.captured or {}
        return {kind: captured.get(kind, []) for kind in ("mail", "http", "exports")}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _write_list(
    out: TextIO,
    key: str,
    items: Iterable[Any],
    indent: str,
    encode: Callable[[Any], str] = _dumps,
) -> None:
    out.write(f"{indent}{_dumps(key)}: [")
    empty = True
    for item in items:
        out.write(("\n" if empty else ",\n") + indent + "  " + encode(item))
        empty = False
    out.write("]" if empty else f"\n{indent}]")
