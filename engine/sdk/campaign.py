"""The object interface: what every campaign object type provides.

An object type is a ``CampaignObject[S]`` subclass, ``S`` its settings model (the YAML
settings), with its ``outputs`` (default first) and a ``run`` that decides for a whole batch at
once. Start objects also say when they fire (``trigger``) and what enters then (``entries``, or
a ``segment`` of customers chosen in the database), or which events let customers in
(``accepts``), or which webhook they serve (``endpoint``).
Hooks take keyword arguments only. The runtime knows nothing about particular types: it finds
them through the registry (the ``sluis.objects`` entry points) and talks to them only through
this interface.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.sdk.batch import Batch, Entries, Routing
    from engine.sdk.context import RunContext
    from engine.sdk.decisions import BatchDecision
    from engine.sdk.events import IncomingEvent
    from engine.sdk.segments import Segment
    from engine.webhooks.auth import WebhookEndpoint

NextSpec = str | dict[str, str] | None


class ObjectSettings(BaseModel):
    """Settings every object has; subclasses add their own and pin ``type`` to a literal."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str
    next: NextSpec = Field(
        default=None,
        description="where outputs lead: an object id for the default output, or a mapping "
        "OUTPUT: ID",
    )
    description: str | None = None
    records_limit: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="how many records per datamodel collection (newest first) templates see; "
        "100 when absent",
    )


@dataclass(frozen=True)
class Once:
    """Fire once, when the flow is started."""


@dataclass(frozen=True)
class CronTrigger:
    """Fire at each time of a cron schedule, in the flow's time zone."""

    expr: str


@dataclass(frozen=True)
class Every:
    """Fire repeatedly with this interval (polling a folder)."""

    interval: timedelta


Trigger = Once | CronTrigger | Every

S = TypeVar("S", bound=ObjectSettings)


class CampaignObject(Generic[S]):
    """Base of every object type. One instance serves one object of one flow.

    Subclass it with the settings model as parameter, ``class Filter(CampaignObject[
    FilterSettings])``: ``Settings`` is taken from there and ``self.settings`` is typed."""

    type: ClassVar[str]
    Settings: ClassVar[builtins.type[ObjectSettings]]
    outputs: ClassVar[tuple[str, ...]] = ("out",)
    can_start: ClassVar[bool] = False  # may be a start object (no incoming edge needed)
    only_start: ClassVar[bool] = False  # must be a start object (never reached mid-flow)
    claims_all: ClassVar[bool] = False  # gets every journey waiting here, not a batch (bucket)
    pauses: ClassVar[bool] = False  # holds journeys for a time, so a loop through it may exist
    # True when no output is an obvious default (split: its outputs are its branches):
    # validation then refuses ``next: ID`` and asks for ``next: {OUTPUT: ID, ...}``
    routes_by_name: ClassVar[bool] = False
    reads_customers: ClassVar[bool] = True  # False: batches carry only each customer's system_id
    # True: decides from the batch alone (customers, data, now), with no effects, no reads of
    # the store and no pause; journeys reaching it are decided at once, in the transaction of
    # the batch before (see engine/passage.py)
    instant: ClassVar[bool] = False
    entry_reason: ClassVar[str] = "entered"

    def needs_customers(self) -> bool:
        """Whether this object's batches need their customers' fields: ``reads_customers``,
        unless an object's settings say otherwise (a wait only for a duration reads none)."""
        return self.reads_customers

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is CampaignObject:
                (model,) = get_args(base)
                if isinstance(model, builtins.type) and issubclass(model, ObjectSettings):
                    cls.Settings = model

    def __init__(self, id: str, settings: S, flow: Flow) -> None:
        self.id = id
        self.settings: S = settings
        self.flow = flow

    @classmethod
    def outputs_for(cls, settings: Any) -> tuple[str, ...]:
        """The outputs of one object (split derives its branches from its settings)."""
        return cls.outputs

    @classmethod
    def check(
        cls, id: str, settings: Any, objects: Mapping[str, ObjectSettings]
    ) -> Iterable[tuple[tuple[str | int, ...], str]]:
        """Checks that need the whole flow: yield (path inside the object, message)."""
        return ()

    def claim_slice(self) -> int | None:
        """For objects that claim everything waiting (``claims_all``): how many journeys, in
        order of arrival, they can decide at a time. Every slice but the last has exactly this
        many. None: all at once."""
        return None

    def trigger(self) -> Trigger | None:
        """When this start object fires on its own; ``None`` when entries come from outside
        (webhooks, events) or the object is not a start object."""
        return None

    def entries(self, *, ctx: RunContext) -> Entries:
        """What enters the flow here now (start objects that fire): entries, or lists of
        them. The runtime takes them as they come, in chunks, in the firing's transaction, so
        yield them (a million imported rows need no list of a million entries); a list is
        entered at once, before the object goes on."""
        return ()

    def segment(self) -> Segment | None:
        """What enters when this start object fires, when that is a segment the database
        chooses (a selection): the runtime enters its customers with one statement, reentry
        rule included, and does not ask for ``entries``."""
        return None

    def accepts(self, *, event: IncomingEvent) -> bool:
        """Whether ``event`` lets its customer enter here (start objects fed by events); the
        entry's data is the event (``IncomingEvent.entry``)."""
        return False

    def endpoint(self) -> WebhookEndpoint | None:
        """The webhook this start object serves (``sluis serve``), or None."""
        return None

    def batch_decision(self) -> BatchDecision | None:
        """For instant objects: how this object decides a whole batch, as data (see
        ``engine.sdk.decisions``), so the runtime can run it in the database; None: ``run``
        decides journey by journey."""
        return None

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        """Decide for every journey of the batch: leave by an output, hold, or fail. By
        default by the object's ``batch_decision`` when it has one."""
        decision = self.batch_decision()
        if decision is not None:
            decision.run(batch=batch, routing=routing, ctx=ctx)
            return
        for journey in batch:
            routing.leave(journey, self.outputs_for(self.settings)[0], self.entry_reason)
