"""The request and response models of the HTTP API, as families (``CustomerBase`` ->
``CustomerCreate`` / ``CustomerUpdate`` / ``CustomerPublic``).

Customers carry the project's profile fields beside the built-in ones; those differ per
project, so the models allow extra fields, ``engine`` types them, and ``api.openapi`` writes
them into the OpenAPI document of each app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
MAX_ID = 2**63 - 1  # ids are 64-bit integers on every database
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


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
    """Live counts of one object: journeys waiting there, journeys failed there, and how
    many left by each output (``end`` for journeys that ended there)."""

    id: str
    type: str
    waiting: int
    failed: int
    outputs: dict[str, int]


class FlowCounts(BaseModel):
    name: str
    started: bool
    objects: list[ObjectCounts]


class FlowStart(BaseModel):
    """Customers to enter the flow now, at a start object (``at``, when there are several),
    with entry data."""

    model_config = ConfigDict(extra="forbid")

    customers: list[Id] = Field(min_length=1, max_length=100_000)
    at: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class FlowStarted(BaseModel):
    flow: str
    started: bool = Field(description="true when this call started the flow")
    journeys: list[int]


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
    those of that first delivery and nothing changed."""

    event_id: str | None
    customer: int
    records: list[int]
    journeys: list[int]
    duplicate: bool


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
