"""The request and response models of the HTTP API, as families (``CustomerBase`` ->
``CustomerCreate`` / ``CustomerUpdate`` / ``CustomerPublic``).

Customers carry the project's profile fields beside the built-in ones; those differ per
project, so the models allow extra fields, ``engine`` types them, and ``api.openapi`` writes
them into the OpenAPI document of each app.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from engine.model.sizes import MAX_EMAIL, MAX_EXTERNAL_ID

T = TypeVar("T")
MAX_ID = 2**63 - 1  # ids are 64-bit integers on every database
Id = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]  # JSON numbers only: no true, no "5"


def _iso_time(value: object) -> object:
    # pydantic would also read a number as seconds since 1970; the schema says ISO 8601
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO.match(value):
        raise ValueError("expected a date and time such as 2026-01-31T09:30:00+01:00")
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)  # stored times are UTC, years 1 to 9999
    except OverflowError:
        raise ValueError("out of range: in UTC it is outside years 1-9999") from None
    return value


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
Time = Annotated[datetime, BeforeValidator(_iso_time), AfterValidator(_in_utc)]


class Message(BaseModel):
    """An error that is not about one field: what is wrong and how to fix it."""

    detail: str


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next`` as ``cursor`` for the following page (null: the
    last page)."""

    items: list[T]
    next: str | None = None


# -- customers ----------------------------------------------------------------------------


class CustomerBase(BaseModel):
    """Built-in customer fields a caller may write; profile fields of sluis.yaml go beside
    them by name."""

    model_config = ConfigDict(extra="allow")

    external_id: str | None = Field(default=None, description="the CRM's customer number")
    email: str | None = None
    timezone: str | None = Field(default=None, description="an IANA name, e.g. Europe/Amsterdam")
    unsubscribed: bool | None = None
    bounced: Literal["none", "soft", "hard"] | None = None


class CustomerCreate(CustomerBase):
    """A customer to create or update, found by the ``key`` field (query parameter)."""


class CustomerUpdate(CustomerBase):
    """Fields to change; fields not named stay as they are, null clears a field."""


class CustomerPublic(CustomerBase):
    system_id: int
    unsubscribed: bool = False
    bounced: Literal["none", "soft", "hard"] = "none"
    soft_bounces: int = 0
    groups: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class Erasure(BaseModel):
    """What an erasure deleted, rows per table."""

    system_id: int
    deleted: dict[str, int]


# -- datamodel ----------------------------------------------------------------------------


class RecordBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Id | None = Field(default=None, description="the system_id of its customer")


class RecordCreate(RecordBase):
    """A record to create or update, found by the collection's key field in ``data``."""

    data: dict[str, Any] = Field(description="fields of the collection, typed as in sluis.yaml")


class RecordUpdate(RecordBase):
    """Fields to change; fields not named stay as they are. The key field cannot change."""

    data: dict[str, Any] = Field(default_factory=dict)


class RecordPublic(BaseModel):
    id: int
    collection: str
    key: str
    customer_id: int | None
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# -- groups -------------------------------------------------------------------------------


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\s\x00]([^\x00\r\n]*[^\s\x00])?$")


class GroupPublic(BaseModel):
    name: str
    members: int
    created_at: datetime


class GroupDeleted(BaseModel):
    name: str
    members: int = Field(description="how many members it had")


class MembersChange(BaseModel):
    """Customers (system_ids) to add to and remove from a group, in bulk."""

    model_config = ConfigDict(extra="forbid")

    add: list[Id] = Field(default_factory=list, max_length=100_000)
    remove: list[Id] = Field(default_factory=list, max_length=100_000)


class MembersChanged(BaseModel):
    added: int
    removed: int


# -- flows --------------------------------------------------------------------------------


class FlowObjectSummary(BaseModel):
    id: str
    type: str


class FlowSummary(BaseModel):
    name: str
    description: str | None
    started: bool
    starts: list[str]
    objects: list[FlowObjectSummary]


class ObjectCounts(BaseModel):
    """Live counts of one object: journeys of the running version waiting there, journeys
    of older versions still draining waiting there, journeys failed there, and how many
    left by each output (``end`` for journeys that ended there)."""

    id: str
    type: str
    waiting: int
    draining: int = Field(description="journeys of older versions (start --drain) waiting here")
    failed: int
    outputs: dict[str, int]


class DrainingVersion(BaseModel):
    """An older version of the flow whose journeys finish on it (``sluis start --drain``)."""

    version: int
    journeys: int
    objects: dict[str, int] = Field(description="object -> journeys waiting there")


class FlowCounts(BaseModel):
    name: str
    started: bool
    version: int | None = Field(description="the running version (null: never deployed)")
    objects: list[ObjectCounts]
    draining: list[DrainingVersion]


class FlowStart(BaseModel):
    """Customers to enter the flow now, at a start object (``at``, when there are several),
    with entry data."""

    model_config = ConfigDict(extra="forbid")

    customers: list[Id] | None = Field(
        default=None, min_length=1, max_length=100_000, description="system_ids"
    )
    external_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_EXTERNAL_ID)]] | None = (
        Field(default=None, min_length=1, max_length=100_000)
    )
    emails: list[Annotated[str, Field(min_length=1, max_length=MAX_EMAIL)]] | None = Field(
        default=None, min_length=1, max_length=100_000
    )
    at: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    drain: bool = Field(
        default=False,
        description="when this call starts the flow and its file changed: journeys inside "
        "finish on the version they are on, new entries take the new one (sluis start --drain)",
    )

    @model_validator(mode="after")
    def _one_key(self) -> FlowStart:
        given = [n for n in ("customers", "external_ids", "emails") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                "name the customers one way: 'customers' (system_ids), 'external_ids' or 'emails'"
            )
        return self

    def named(self) -> tuple[str, list[Any]]:
        """The key the customers are named by and their values."""
        if self.external_ids:
            return "external_id", list(self.external_ids)
        if self.emails:
            return "email", list(self.emails)
        return "system_id", list(self.customers or [])


class FlowStarted(BaseModel):
    flow: str
    started: bool = Field(description="true when this call started the flow")
    journeys: list[int]


class FlowRetry(BaseModel):
    """Which failed journeys run again (all of the flow's when nothing narrows them)."""

    model_config = ConfigDict(extra="forbid")

    object: str | None = Field(default=None, description="only those that failed here")
    since: Time | None = Field(default=None, description="only those failed since then")
    customers: list[Id] | None = Field(default=None, max_length=100_000, description="system_ids")


class FlowRetried(BaseModel):
    flow: str
    retried: int = Field(description="how many journeys went back")
    objects: dict[str, int] = Field(description="per object, how many went back there")


# -- events -------------------------------------------------------------------------------


class EventPublic(BaseModel):
    id: int
    kind: str
    at: datetime
    customer_id: int | None
    flow: str | None
    object: str | None
    journey_id: int | None
    data: dict[str, Any]


# -- webhooks -----------------------------------------------------------------------------


class WebhookItem(BaseModel):
    """What one payload stored. ``duplicate``: its event id was handled before; the ids are
    those of that first delivery and nothing changed. ``retried``: its event id was handled
    before but that delivery's journey failed, so it runs again (no new journey)."""

    event_id: str | None
    customer: int
    records: list[int]
    journeys: list[int]
    duplicate: bool
    retried: bool = False


class WebhookReceipt(BaseModel):
    """The ids a webhook call stored: customers (system_id), records and journeys, in payload
    order, and per payload."""

    endpoint: str
    flow: str
    customers: list[int]
    records: list[int]
    journeys: list[int]
    items: list[WebhookItem]


class Health(BaseModel):
    status: Literal["ok", "error"]
    database: str


# -- users and tokens ---------------------------------------------------------------------


class UserPublic(BaseModel):
    name: str
    service: bool
    state: Literal["active", "deactivated", "lapsed"]
    created_at: datetime
    last_activity_at: datetime | None
    last_used_at: datetime | None = Field(description="the last use of any of its tokens")
    tokens: int = Field(description="tokens not revoked")
    warning: str | None = Field(description="set when a person's account lapses within 7 days")


class UserDeleted(BaseModel):
    name: str
    tokens: int = Field(description="tokens deleted with the user")


class TokenPublic(BaseModel):
    id: int
    user: str
    service: bool
    webhook: str | None
    scopes: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    state: Literal["active", "revoked", "expired", "lapsed"]
    warning: str | None


# -- mails --------------------------------------------------------------------------------


class MailSend(BaseModel):
    """One customer, named one way, an optional idempotency key, and entry data for the
    templates (``data.*``)."""

    model_config = ConfigDict(extra="forbid")

    system_id: Id | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=MAX_EXTERNAL_ID)
    email: str | None = Field(default=None, min_length=1, max_length=MAX_EMAIL)
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="idempotency key: the same key again sends nothing more",
    )
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_customer(self) -> MailSend:
        given = [n for n in ("system_id", "external_id", "email") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("name the customer one way: 'system_id', 'external_id' or 'email'")
        return self

    def named(self) -> tuple[str, Any]:
        for name in ("system_id", "external_id", "email"):
            if getattr(self, name):
                return name, getattr(self, name)
        raise ValueError("no customer")  # the validator keeps this from happening


class MailSent(BaseModel):
    flow: str
    object: str
    customer: int = Field(description="the customer's system_id")
    journey: int
    outcome: Literal["sent", "skipped", "held", "failed"]
    reason: str
    repeated: bool = Field(description="the key was used before: nothing more was sent")
