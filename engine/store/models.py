"""The tables of the store (SQLModel). Times are stored in UTC.

Customers keep their built-in fields as columns and the profile fields of ``sluis.yaml`` in a
JSON column typed by the project (``engine.store.customers`` converts), so a changed profile
needs no schema change. Journeys hold where each customer is in each flow; steps are the
journey's history; events are the append-only activity (sent, open, click, bounce, ...).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint, func, text, types
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out. PostgreSQL stores ``timestamptz``; SQLite
    stores ISO 8601 text in UTC (``2026-01-05T09:00:00+00:00``), which sorts in time order and
    parses fast."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(types.String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        result: datetime = (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )
        return result


def _time(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    # customers are found by email in any case: lower(email) needs its own index
    __table_args__ = (
        Index("ix_customers_email_lower", func.lower(text("email"))),
        {"sqlite_autoincrement": True},
    )

    system_id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, unique=True)
    email: str | None = Field(default=None, index=True)
    timezone: str | None = None
    unsubscribed: bool = False
    bounced: str = "none"
    soft_bounces: int = 0
    profile: dict[str, Any] = _json()
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class Group(SQLModel, table=True):
    __tablename__ = "groups"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    created_at: datetime = _time(nullable=False)


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (Index("ix_memberships_customer", "customer_id"),)

    group_id: int = Field(primary_key=True, foreign_key="groups.id")
    customer_id: int = Field(primary_key=True)
    added_at: datetime = _time(nullable=False)


class Record(SQLModel, table=True):
    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("collection", "key", name="uq_records_collection_key"),
        # aggregates in segments read a customer's records of a collection by time (0005)
        Index("ix_records_customer", "customer_id", "collection", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    collection: str
    key: str
    customer_id: int | None = None
    data: dict[str, Any] = _json()
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class Journey(SQLModel, table=True):
    __tablename__ = "journeys"
    __table_args__ = (
        # ending with the id: claims read journeys ORDER BY ready_at, id (migration 0004)
        Index("ix_journeys_ready", "state", "ready_at", "id"),
        Index("ix_journeys_at", "flow", "object", "state", "ready_at", "id"),
        Index("ix_journeys_customer", "customer_id", "flow"),
        Index("ix_journeys_wake", "customer_id", "wake_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    flow: str
    customer_id: int
    object: str
    state: str = "active"  # active | finished | failed
    ready_at: datetime | None = _time(nullable=True)
    wake_on: str | None = None
    entered_at: datetime = _time(nullable=False)
    arrived_at: datetime = _time(nullable=False)
    via: str
    data: dict[str, Any] = _json()
    claim_id: int | None = None
    release_id: int | None = None  # journeys released together (bucket) move on as one batch
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # 0: the running


class Step(SQLModel, table=True):
    __tablename__ = "steps"
    __table_args__ = (
        Index("ix_steps_journey", "journey_id"),
        Index("ix_steps_flow", "flow", "object", "output"),
    )

    id: int | None = Field(default=None, primary_key=True)
    journey_id: int
    flow: str
    object: str
    at: datetime = _time(nullable=False)
    output: str | None = None
    reason: str


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_customer", "customer_id", "kind", "at"),
        Index("ix_events_at", "at"),
        Index("ix_events_flow", "flow", "object"),
        Index("ix_events_flow_id", "flow", "id"),  # a flow's newest events (the TUI's log)
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    at: datetime = _time(nullable=False)
    customer_id: int | None = None
    flow: str | None = None
    object: str | None = None
    journey_id: int | None = None
    data: dict[str, Any] = _json()


class Claim(SQLModel, table=True):
    """A batch held by a worker under a lease; a lapsed lease lets another worker take it over."""

    __tablename__ = "claims"

    id: int | None = Field(default=None, primary_key=True)
    flow: str
    object: str
    owner: str
    lease_until: datetime = _time(nullable=False)
    created_at: datetime = _time(nullable=False)
    attempts: int = Field(default=1, sa_column_kwargs={"server_default": "1"})  # runs begun
    error: str | None = None  # the one-line message of its last failed run
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class FlowState(SQLModel, table=True):
    __tablename__ = "flow_states"

    flow: str = Field(primary_key=True)
    started: bool = False
    changed_at: datetime = _time(nullable=False)
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # 0: none stored


class FlowVersion(SQLModel, table=True):
    """A deployed flow file (``sluis start``): what runs is this, never the file on disk."""

    __tablename__ = "flow_versions"

    flow: str = Field(primary_key=True)
    number: int = Field(primary_key=True)
    hash: str
    yaml: str
    deployed_by: str
    deployed_at: datetime = _time(nullable=False)


class TriggerState(SQLModel, table=True):
    """When a start object of a started flow fires next."""

    __tablename__ = "triggers"

    flow: str = Field(primary_key=True)
    object: str = Field(primary_key=True)
    due_at: datetime | None = _time(nullable=True)
    last_at: datetime | None = _time(nullable=True)


class SendLog(SQLModel, table=True):
    """Written before a mail goes out, so it goes out at most once per (journey, object)."""

    __tablename__ = "send_log"
    __table_args__ = (Index("ix_send_log_message", "message_id"),)

    journey_id: int = Field(primary_key=True)
    object: str = Field(primary_key=True)
    # queued (claimed, not handed over) | sending | sent | failed (not accepted; may retry)
    # | refused | unknown
    state: str
    message_id: str
    at: datetime = _time(nullable=False)
    attempts: int = 1
    detail: str | None = None  # the server's answer, or why the state is unknown
    owner: str | None = None  # the run that queued it; only that run hands it over


class MailWindow(SQLModel, table=True):
    """Mails a throttled mail object sent in one hour window, shared by every worker."""

    __tablename__ = "mail_windows"

    flow: str = Field(primary_key=True)
    object: str = Field(primary_key=True)
    window: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    count: int = 0


class RateBucket(SQLModel, table=True):
    """The token bucket of a rate-limited HTTP object, shared by every worker: ``tokens`` were
    left at ``at`` (seconds since 1970 on the runtime's clock); ``taken`` is what the latest
    take got (``UPDATE ... RETURNING`` reads it)."""

    __tablename__ = "rate_buckets"

    flow: str = Field(primary_key=True)
    object: str = Field(primary_key=True)
    tokens: float
    at: float
    taken: float = 0.0


class IngestedBounce(SQLModel, table=True):
    """Bounce messages already ingested (by Message-ID or content hash), so a second
    ingest of the same mailbox counts nothing twice."""

    __tablename__ = "ingested_bounces"

    key: str = Field(primary_key=True)
    at: datetime = _time(nullable=False)


class Secret(SQLModel, table=True):
    """Secrets sluis makes for itself, shared by every worker on the database (the tracking
    links' signing key when SLUIS_TRACKING_KEY is not set)."""

    __tablename__ = "secrets"

    name: str = Field(primary_key=True)
    value: str
    created_at: datetime = _time(nullable=False)


class ActivityExport(SQLModel, table=True):
    """The last event an activity export target received, so the next export goes on there."""

    __tablename__ = "activity_exports"

    target: str = Field(primary_key=True)
    last_event_id: int = 0
    at: datetime = _time(nullable=False)


class Lock(SQLModel, table=True):
    """A named lease (the scheduler's on SQLite; PostgreSQL uses an advisory lock)."""

    __tablename__ = "locks"

    name: str = Field(primary_key=True)
    owner: str
    until: datetime = _time(nullable=False)


class FileState(SQLModel, table=True):
    """Files sluis handled, so each is handled once across restarts: the name an export
    reserved for its batch, the files a CSV trigger saw, took and finished, and imports whose
    ``after`` step is still to do. ``key`` is unique per kind while a file is open; a closed
    record's key carries its id."""

    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_files_kind_key"),
        Index("ix_files_batch", "kind", "batch"),
        Index("ix_files_object", "kind", "flow", "object", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # export | trigger | import
    key: str
    flow: str | None = None
    object: str | None = None
    batch: str | None = None
    location: str
    state: str
    size: int | None = None
    mtime: float | None = None
    detail: dict[str, Any] = _json()
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class Worker(SQLModel, table=True):
    __tablename__ = "workers"

    id: str = Field(primary_key=True)
    host: str
    pid: int
    started_at: datetime = _time(nullable=False)
    heartbeat_at: datetime = _time(nullable=False)


class User(SQLModel, table=True):
    """Who holds API tokens: a person (lapses after 60 days without activity) or a service."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    service: bool = False
    active: bool = True
    last_activity_at: datetime | None = _time(nullable=True)
    created_at: datetime = _time(nullable=False)


class Token(SQLModel, table=True):
    """An API token: only the SHA-256 of its secret is kept. ``webhook`` limits it to one
    webhook endpoint; without it the token reaches the REST API and every webhook."""

    __tablename__ = "tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    hash: str = Field(unique=True)
    webhook: str | None = None
    expires_at: datetime | None = _time(nullable=True)
    revoked_at: datetime | None = _time(nullable=True)
    created_at: datetime = _time(nullable=False)
    scopes: str | None = None  # space-separated (``read customers:write``); None: every scope
    last_used_at: datetime | None = _time(nullable=True)


class TransactionalSend(SQLModel, table=True):
    """A mail sent to one customer now through the API, by the caller's idempotency key:
    the same key finds the same journey, whose send log keeps the mail to one."""

    __tablename__ = "transactional_sends"

    key: str = Field(primary_key=True)
    flow: str
    object: str
    customer_id: int
    journey_id: int
    created_at: datetime = _time(nullable=False)


class SoapResource(SQLModel, table=True):
    """A customer set the SOAP API answered with a resource id, kept until it is freed."""

    __tablename__ = "soap_resources"

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    customer_ids: str = Field(sa_column=Column(Text, nullable=False))  # JSON array
    created_at: datetime = _time(nullable=False)


class WebhookDelivery(SQLModel, table=True):
    """A webhook call already handled, by its event id: a redelivery answers ``result`` again
    and changes nothing."""

    __tablename__ = "webhook_deliveries"

    endpoint: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    result: dict[str, Any] = _json()
    at: datetime = _time(nullable=False)


TABLES = SQLModel.metadata
