"""The tables of the store (SQLAlchemy Core, one ``MetaData``: ``TABLES``). Times are stored in UTC.

Customers keep their built-in fields as columns and the profile fields of ``sluis.yaml`` in a
JSON column typed by the project (``engine.store.customers`` converts), so a changed profile
needs no schema change. Journeys hold where each customer is in each flow; steps are the
journey's history; events are the append-only activity (sent, open, click, bounce, ...).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
    types,
)
from sqlalchemy.engine import Dialect


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


TABLES = MetaData()


def _time(name: str, *, nullable: bool = False, **kw: Any) -> Column[Any]:
    return Column(name, UTCDateTime(), nullable=nullable, **kw)


def _json(name: str) -> Column[Any]:
    return Column(name, JSON, nullable=False)


CUSTOMERS = Table(
    "customers",
    TABLES,
    Column("system_id", Integer, primary_key=True),
    Column("external_id", String, unique=True),
    Column("email", String, index=True),
    Column("timezone", String),
    Column("unsubscribed", Boolean, nullable=False, default=False),
    Column("bounced", String, nullable=False, default="none"),
    Column("soft_bounces", Integer, nullable=False, default=0),
    _json("profile"),
    _time("created_at"),
    _time("updated_at"),
    # customers are found by email in any case: lower(email) needs its own index
    Index("ix_customers_email_lower", func.lower(text("email"))),
    sqlite_autoincrement=True,
)

GROUPS = Table(
    "groups",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    _time("created_at"),
)

MEMBERSHIPS = Table(
    "memberships",
    TABLES,
    Column("group_id", Integer, ForeignKey("groups.id"), primary_key=True),
    Column("customer_id", Integer, primary_key=True),
    _time("added_at"),
    Index("ix_memberships_customer", "customer_id"),
)

RECORDS = Table(
    "records",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("collection", String, nullable=False),
    Column("key", String, nullable=False),
    Column("customer_id", Integer),
    _json("data"),
    _time("created_at"),
    _time("updated_at"),
    UniqueConstraint("collection", "key", name="uq_records_collection_key"),
    # aggregates in segments read a customer's records of a collection by time (0005)
    Index("ix_records_customer", "customer_id", "collection", "created_at"),
)

JOURNEYS = Table(
    "journeys",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("flow", String, nullable=False),
    Column("customer_id", Integer, nullable=False),
    Column("object", String, nullable=False),
    Column("state", String, nullable=False, default="active"),  # active | finished | failed
    _time("ready_at", nullable=True),
    Column("wake_on", String),
    _time("entered_at"),
    _time("arrived_at"),
    Column("via", String, nullable=False),
    _json("data"),
    Column("claim_id", Integer),
    Column("release_id", Integer),  # journeys released together (bucket) move on as one batch
    # 0: the running version
    Column("version", Integer, nullable=False, default=0, server_default="0"),
    # ending with the id: claims read journeys ORDER BY ready_at, id (migration 0004)
    Index("ix_journeys_ready", "state", "ready_at", "id"),
    Index("ix_journeys_at", "flow", "object", "state", "ready_at", "id"),
    Index("ix_journeys_customer", "customer_id", "flow"),
    Index("ix_journeys_wake", "customer_id", "wake_on"),
)

STEPS = Table(
    "steps",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("journey_id", Integer, nullable=False),
    Column("flow", String, nullable=False),
    Column("object", String, nullable=False),
    _time("at"),
    Column("output", String),
    Column("reason", String, nullable=False),
    Index("ix_steps_journey", "journey_id"),
    Index("ix_steps_flow", "flow", "object", "output"),
)

EVENTS = Table(
    "events",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("kind", String, nullable=False),
    _time("at"),
    Column("customer_id", Integer),
    Column("flow", String),
    Column("object", String),
    Column("journey_id", Integer),
    _json("data"),
    Index("ix_events_customer", "customer_id", "kind", "at"),
    Index("ix_events_at", "at"),
    Index("ix_events_flow", "flow", "object"),
    Index("ix_events_flow_id", "flow", "id"),  # a flow's newest events (the TUI's log)
)

# A batch held by a worker under a lease; a lapsed lease lets another worker take it over.
CLAIMS = Table(
    "claims",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("flow", String, nullable=False),
    Column("object", String, nullable=False),
    Column("owner", String, nullable=False),
    _time("lease_until"),
    _time("created_at"),
    Column("attempts", Integer, nullable=False, default=1, server_default="1"),  # runs begun
    Column("error", String),  # the one-line message of its last failed run
    Column("version", Integer, nullable=False, default=0, server_default="0"),
)

FLOW_STATES = Table(
    "flow_states",
    TABLES,
    Column("flow", String, primary_key=True),
    Column("started", Boolean, nullable=False, default=False),
    _time("changed_at"),
    # 0: none stored
    Column("version", Integer, nullable=False, default=0, server_default="0"),
)

# A deployed flow file (``sluis start``): what runs is this, never the file on disk.
FLOW_VERSIONS = Table(
    "flow_versions",
    TABLES,
    Column("flow", String, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("hash", String, nullable=False),
    Column("yaml", String, nullable=False),
    Column("deployed_by", String, nullable=False),
    _time("deployed_at"),
)

# When a start object of a started flow fires next.
TRIGGERS = Table(
    "triggers",
    TABLES,
    Column("flow", String, primary_key=True),
    Column("object", String, primary_key=True),
    _time("due_at", nullable=True),
    _time("last_at", nullable=True),
)

# Written before a mail goes out, so it goes out at most once per (journey, object).
SEND_LOG = Table(
    "send_log",
    TABLES,
    Column("journey_id", Integer, primary_key=True),
    Column("object", String, primary_key=True),
    # queued (claimed, not handed over) | sending | sent | failed (not accepted; may retry)
    # | refused | unknown
    Column("state", String, nullable=False),
    Column("message_id", String, nullable=False),
    _time("at"),
    Column("attempts", Integer, nullable=False, default=1),
    Column("detail", String),  # the server's answer, or why the state is unknown
    Column("owner", String),  # the run that queued it; only that run hands it over
    Index("ix_send_log_message", "message_id"),
)

# Mails a throttled mail object sent in one hour window, shared by every worker.
MAIL_WINDOWS = Table(
    "mail_windows",
    TABLES,
    Column("flow", String, primary_key=True),
    Column("object", String, primary_key=True),
    _time("window", primary_key=True),
    Column("count", Integer, nullable=False, default=0),
)

# The token bucket of a rate-limited HTTP object, shared by every worker: ``tokens`` were left
# at ``at`` (seconds since 1970 on the runtime's clock); ``taken`` is what the latest take got
# (``UPDATE ... RETURNING`` reads it).
RATE_BUCKETS = Table(
    "rate_buckets",
    TABLES,
    Column("flow", String, primary_key=True),
    Column("object", String, primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("at", Float, nullable=False),
    Column("taken", Float, nullable=False, default=0.0),
)

# Bounce messages already ingested (by Message-ID or content hash), so a second ingest of the
# same mailbox counts nothing twice.
INGESTED_BOUNCES = Table(
    "ingested_bounces",
    TABLES,
    Column("key", String, primary_key=True),
    _time("at"),
)

# Secrets sluis makes for itself, shared by every worker on the database (the tracking links'
# signing key when SLUIS_TRACKING_KEY is not set).
SECRETS = Table(
    "secrets",
    TABLES,
    Column("name", String, primary_key=True),
    Column("value", String, nullable=False),
    _time("created_at"),
)

# The last event an activity export target received, so the next export goes on there.
ACTIVITY_EXPORTS = Table(
    "activity_exports",
    TABLES,
    Column("target", String, primary_key=True),
    Column("last_event_id", Integer, nullable=False, default=0),
    _time("at"),
)

# A named lease (the scheduler's on SQLite; PostgreSQL uses an advisory lock).
LOCKS = Table(
    "locks",
    TABLES,
    Column("name", String, primary_key=True),
    Column("owner", String, nullable=False),
    _time("until"),
)

# Files sluis handled, so each is handled once across restarts: the name an export reserved
# for its batch, the files a CSV trigger saw, took and finished, and imports whose ``after``
# step is still to do. ``key`` is unique per kind while a file is open; a closed record's key
# carries its id.
FILES = Table(
    "files",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("kind", String, nullable=False),  # export | trigger | import
    Column("key", String, nullable=False),
    Column("flow", String),
    Column("object", String),
    Column("batch", String),
    Column("location", String, nullable=False),
    Column("state", String, nullable=False),
    Column("size", Integer),
    Column("mtime", Float),
    _json("detail"),
    _time("created_at"),
    _time("updated_at"),
    UniqueConstraint("kind", "key", name="uq_files_kind_key"),
    Index("ix_files_batch", "kind", "batch"),
    Index("ix_files_object", "kind", "flow", "object", "state"),
)

WORKERS = Table(
    "workers",
    TABLES,
    Column("id", String, primary_key=True),
    Column("host", String, nullable=False),
    Column("pid", Integer, nullable=False),
    _time("started_at"),
    _time("heartbeat_at"),
)

# Who holds API tokens: a person (lapses after 60 days without activity) or a service.
USERS = Table(
    "users",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("service", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    _time("last_activity_at", nullable=True),
    _time("created_at"),
)

# An API token: only the SHA-256 of its secret is kept. ``webhook`` limits it to one webhook
# endpoint; without it the token reaches the REST API and every webhook.
TOKENS = Table(
    "tokens",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("hash", String, nullable=False, unique=True),
    Column("webhook", String),
    _time("expires_at", nullable=True),
    _time("revoked_at", nullable=True),
    _time("created_at"),
    Column("scopes", String),  # space-separated (``read customers:write``); None: every scope
    _time("last_used_at", nullable=True),
)

# A mail sent to one customer now through the API, by the caller's idempotency key: the same
# key finds the same journey, whose send log keeps the mail to one.
TRANSACTIONAL_SENDS = Table(
    "transactional_sends",
    TABLES,
    Column("key", String, primary_key=True),
    Column("flow", String, nullable=False),
    Column("object", String, nullable=False),
    Column("customer_id", Integer, nullable=False),
    Column("journey_id", Integer, nullable=False),
    _time("created_at"),
)

# A customer set the SOAP API answered with a resource id, kept until it is freed.
SOAP_RESOURCES = Table(
    "soap_resources",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("kind", String, nullable=False),
    Column("customer_ids", Text, nullable=False),  # JSON array
    _time("created_at"),
)

# A webhook call already handled, by its event id: a redelivery answers ``result`` again and
# changes nothing.
WEBHOOK_DELIVERIES = Table(
    "webhook_deliveries",
    TABLES,
    Column("endpoint", String, primary_key=True),
    Column("event_id", String, primary_key=True),
    _json("result"),
    _time("at"),
)
