"""The database: SQLite by default (WAL, busy timeout, writes in ``BEGIN IMMEDIATE``) or
PostgreSQL through ``SLUIS_DATABASE_URL``. The schema is created on first use.

This is the store's boundary for errors: what the database refuses in a transaction
(``write()``, ``read()``) or a savepoint (``savepoint(conn)``) leaves as a ``DatabaseError``
of ``engine.errors`` (``StoreUnavailable``, ``StoreConflict``, ``StoreValueRejected``), so no
module outside ``engine.store`` names SQLAlchemy's exceptions."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import StaticPool

from engine.errors import (
    DatabaseError,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    StoreValueRejected,
)
from engine.model.shares import share_key
from engine.store.migrate import check, current, stamp
from engine.store.models import TABLES
from engine.store.textcheck import loads_servable

BUSY_TIMEOUT_MS = 30_000
log = logging.getLogger("sluis.store")


def _fold(change: Any) -> Any:
    def fold(value: Any) -> Any:
        return change(value) if isinstance(value, str) else None

    return fold


def _sqlite_engine(url: str, *, durable: bool) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": 30},
        "json_deserializer": loads_servable,
    }
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take transaction control from the driver so BEGIN IMMEDIATE is ours to issue
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # a scratch store (replay's) outlives no crash, so it never waits for the disk
        cursor.execute(f"PRAGMA synchronous={'NORMAL' if durable else 'OFF'}")
        # checkpoint (and fsync) every ~16 MB of WAL rather than every 4 MB
        cursor.execute("PRAGMA wal_autocheckpoint=4000")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MB of pages: indexes of big tables stay hot
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # lower()/upper() as expressions mean them (SQLite's own fold ASCII only)
        dbapi_connection.create_function("sluis_lower", 1, _fold(str.lower), deterministic=True)
        dbapi_connection.create_function("sluis_upper", 1, _fold(str.upper), deterministic=True)
        # percent splits decided in the database hash as the split object does
        dbapi_connection.create_function("sluis_share_key", 3, share_key, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # writers take the write lock up front, so two writers never deadlock on upgrade
        read_only = conn.get_execution_options().get("sluis_read", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


class Database:
    """One database with its engine; ``write()`` and ``read()`` give transactions. A SQLite
    database that is not ``durable`` (a replay's, thrown away when it ends) skips the fsyncs
    that keep a database whole through a power cut."""

    def __init__(self, url: str, *, durable: bool = True) -> None:
        self.url = url
        try:
            if url.startswith("sqlite"):
                self.engine = _sqlite_engine(url, durable=durable)
            else:
                # no pre-ping: it costs a round trip per transaction; recycle instead
                self.engine = create_engine(
                    url,
                    pool_size=10,
                    max_overflow=10,
                    pool_recycle=1800,
                    json_deserializer=loads_servable,
                )
        except (ArgumentError, SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"cannot use database '{_safe(url)}': {exc}") from exc
        self.dialect = self.engine.dialect.name
        self._created = False

    def create_schema(self) -> None:
        if self._created:
            return
        with translated():  # what the message below does not cover
            try:
                with self.engine.begin() as conn:
                    if self.dialect == "postgresql":  # two starting at once: one creates
                        conn.execute(text("SELECT pg_advisory_xact_lock(5175150)"))
                    if current(conn) is None:
                        TABLES.create_all(conn)
                        stamp(conn)
                    else:
                        check(conn)
            except OperationalError as exc:
                raise StoreError(
                    f"cannot open database '{_safe(self.url)}': {exc.orig}; check the database "
                    "setting in sluis.yaml or SLUIS_DATABASE_URL"
                ) from exc
        self._created = True

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        self.create_schema()
        with translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction that takes no write lock."""
        self.create_schema()
        with (
            translated(),
            self.engine.connect().execution_options(sluis_read=True) as conn,
            conn.begin(),
        ):
            yield conn

    def analyze(self, table: str) -> None:
        """PostgreSQL: refresh the planner's statistics of ``table`` after a bulk change (a
        selection entering a million customers), as its documentation advises after bulk
        loads. Until autovacuum gets to it (a minute later, or never where it is off), the
        planner would take the new rows for a handful and pick plans that read all of them
        on every claim. SQLite plans without statistics the way sluis's queries expect."""
        if self.dialect == "postgresql":
            with translated(), self.engine.connect() as conn, conn.begin():
                conn.exec_driver_sql(f"ANALYZE {table}")

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file now and empty it (after a change of
        a whole table, which would otherwise be read out of the WAL)."""
        if self.dialect == "sqlite":
            with contextlib.closing(self.engine.raw_connection()) as raw:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]

    def checkpoint_in_background(self, every: float = 1.0) -> Callable[[], None]:
        """SQLite: take WAL checkpoints (and their fsync) out of this process's commits into a
        thread of their own, so no request waits behind one (they set the p99 of webhook
        calls). Returns a function that stops the thread. Other processes on the database
        keep checkpointing as they commit."""
        if self.dialect != "sqlite" or self.url in ("sqlite://", "sqlite:///:memory:"):
            return lambda: None

        def no_checkpoints(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

        event.listen(self.engine, "connect", no_checkpoints)  # after the settings above
        self.engine.dispose()  # pooled connections still checkpoint: make them anew
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(every):
                try:
                    with contextlib.closing(self.engine.raw_connection()) as raw:
                        raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
                except Exception:  # the next round tries again; the WAL only grows meanwhile
                    log.exception("checkpoint of %s failed", _safe(self.url))

        thread = threading.Thread(target=run, daemon=True, name="sluis-checkpoints")
        thread.start()

        def stopper() -> None:
            stop.set()
            thread.join(timeout=5)

        return stopper

    def dispose(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self.read() as conn:
            conn.execute(text("SELECT 1"))


@contextmanager
def savepoint(conn: Connection) -> Iterator[Connection]:
    """A savepoint in ``conn``'s transaction: what fails in it is undone and leaves as a
    ``DatabaseError`` (a ``StoreConflict`` for a row another writer stored first), and the
    transaction goes on."""
    with translated(), conn.begin_nested():
        yield conn


@contextmanager
def translated() -> Iterator[None]:
    """SQLAlchemy's errors of the database and its connections as ``DatabaseError``s."""
    try:
        yield
    except (DBAPIError, DisconnectionError, PoolTimeout) as exc:
        raise database_error(exc) from exc


# SQLSTATE classes and codes that pass: connection lost, server shutting down, out of
# connections or memory, serialization failure, deadlock, lock wait timed out
TRANSIENT_STATES = ("08", "53", "57P", "40001", "40P01", "55P03")
TRANSIENT_SQLITE = ("database is locked", "database table is locked", "disk i/o error")
# a data exception (a value out of range, bad text) or a program limit (an index row too big)
REJECTED_STATES = ("22", "54")


def database_error(exc: SQLAlchemyError) -> DatabaseError:
    """The ``DatabaseError`` that says what ``exc`` means for the caller, judged by the
    driver's SQLSTATE where there is one (PostgreSQL), else by SQLAlchemy's class: a taken
    unique value, a value the database cannot hold, a passing outage, or a fault a retry will
    not mend (reported as an outage, it would be retried forever)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    detail = lines[0] if lines else type(orig).__name__
    state = getattr(orig, "sqlstate", None)
    if isinstance(exc, IntegrityError) or state == "23505":
        return StoreConflict(f"this conflicts with data stored meanwhile: {detail}", detail)
    if _transient(exc, orig, state):
        return StoreUnavailable(f"the database is unavailable or busy: {detail}", detail)
    if isinstance(exc, DataError) or (isinstance(state, str) and state.startswith(REJECTED_STATES)):
        return StoreValueRejected(f"the database refused a value: {detail}", detail)
    return DatabaseError(f"the database refused a statement: {detail}", detail)


def _transient(exc: SQLAlchemyError, orig: BaseException, state: object) -> bool:
    if isinstance(state, str):
        return state.startswith(TRANSIENT_STATES)
    if type(orig).__module__ == "sqlite3":
        return str(orig).lower().startswith(TRANSIENT_SQLITE)
    # no code to judge by: SQLAlchemy calls OperationalError what is outside the program's
    # control (a lost connection, a failed commit)
    return isinstance(
        exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout
    ) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
