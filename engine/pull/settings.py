"""The settings of an HTTP source of ``import``: where the items are, how pages follow, and
what "changed since" means."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from engine.errors import TemplateError
from engine.model.settings import LocationText, Settings
from engine.model.templates import Template

QUERY_NAMES = frozenset({"since"})


def _query_template(value: Any) -> Template:
    if isinstance(value, Template):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PydanticCustomError(
            "sluis", "{message}", {"message": "a query value must be text", "offset": -1}
        )
    try:
        return Template.parse(str(value), QUERY_NAMES)
    except TemplateError as exc:
        raise PydanticCustomError(
            "sluis", "{message}", {"message": str(exc), "offset": -1}
        ) from None


QueryText = Annotated[Template, PlainValidator(_query_template), PlainSerializer(str)]


class CursorPaging(Settings):
    """A field of the answer (``cursor``) gives the next page: a value sent as ``param``, or
    (without ``param``) the URL or path of the next page, as Salesforce's ``nextRecordsUrl``."""

    cursor: str
    param: str | None = None


class PagePaging(Settings):
    """Page numbers in the query parameter ``page`` from ``start``; the pages end with an
    empty page, a page shorter than ``size``, or when ``total`` (a path of the answer giving
    the number of items) are read."""

    page: str
    start: int = Field(default=1, ge=0)
    size: int | None = Field(default=None, ge=1)
    total: str | None = None


class Since(Settings):
    """The item path of the change time (``field``); its newest value of the last successful
    pull is ``{{ since }}`` in the query (``initial`` before the first)."""

    field: str
    initial: str = "1970-01-01T00:00:00Z"


class NestedRecords(Settings):
    """A list inside each pulled item (``path``, e.g. ``items``) whose elements become records
    of ``collection`` (``columns``: element path -> field), keeping their parent's key and
    customer link (``engine/pull/nested.py``)."""

    collection: str
    path: str
    columns: dict[str, str]


class PullSettings(Settings):
    """An HTTP source: ``url`` (a full URL, or a path on ``connection``), ``query``, ``items``,
    ``paginate``, ``since``, ``max_pages``, lists nested in the items (``records``), and where
    rejected items go (``rejects``: a CSV,
    by default ``rejects/FLOW.OBJECT.rejects.csv`` in the project)."""

    url: str
    connection: str | None = None
    query: dict[str, QueryText] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    items: str = "."
    paginate: Literal["link"] | CursorPaging | PagePaging | None = None
    since: Since | None = None
    max_pages: int = Field(default=100_000, ge=1)
    rejects: LocationText | None = None
    records: list[NestedRecords] = Field(default_factory=list)

    @model_validator(mode="after")
    def _where(self) -> PullSettings:
        if self.url.startswith("/") and self.connection is None:
            raise ValueError(
                "from: a path needs a connection with a base_url; write the full URL or name "
                "the connection"
            )
        if not self.url.startswith(("/", "http://", "https://")):
            raise ValueError("from: an HTTP source is a URL (https://...) or a path (/...)")
        return self
