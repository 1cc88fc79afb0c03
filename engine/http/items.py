"""Batched calls: the body around a chunk (``batch_body``) and the answer per item
(``items``), for APIs that take many customers in one call and answer for each of them.

``batch_body`` is a template with ``items`` (the JSON array of the chunk's ``fields``, as text,
so ``{"inputs": {{ items }}}`` wraps it as HubSpot's batch upsert wants) and ``customers``
(their profiles, for loops). ``items`` of ``http-request`` says where the answer lists the
items: ``path`` (``results``, or ``.`` for an array), ``match`` (an item path and the customer
field it equals; absent: the items answer in the order of the chunk, as Salesforce's sObject
Collections do), ``ok`` (an item path that is true for a success) and ``error`` (an item path
giving the reason), and for APIs that list failures apart (HubSpot's 207 Multi-Status):
``errors`` (the path of that list), ``error_match`` (the path, in each failure, of the value
or values naming the customers) and ``error_message``. A customer whose item failed leaves by
``failed`` with the reason; ``save`` reads ``response.json`` as that customer's item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from engine.errors import TemplateError
from engine.http.calls import HttpOutcome
from engine.http.captured import REPLAY_HEADER
from engine.http.delivery import AfterOk, Send
from engine.model.settings import Settings
from engine.model.templates import TEMPLATE_NAMES, Template
from engine.sdk.batch import Journey
from engine.webhooks.payload import MISSING as _MISSING
from engine.webhooks.payload import lookup, split_path

BATCH_BODY_NAMES = (TEMPLATE_NAMES - {"customer", "data"}) | {"items", "customers"}
ITEMS = "{{ items }}"


def _batch_template(value: Any) -> Template:
    if isinstance(value, Template):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "sluis", "{message}", {"message": "batch_body must be a template text", "offset": -1}
        )
    try:
        return Template.parse(value, BATCH_BODY_NAMES)
    except TemplateError as exc:
        raise PydanticCustomError(
            "sluis", "{message}", {"message": str(exc), "offset": -1}
        ) from None


BatchBodyText = Annotated[
    Template,
    PlainValidator(_batch_template),
    PlainSerializer(str),
    WithJsonSchema(
        {"type": "string", "description": "a template over items (JSON text) and customers"}
    ),
]


class ItemMatch(Settings):
    item: str
    customer: str


class ItemsSpec(Settings):
    """Where and how a batched answer speaks per item."""

    path: str = "."
    match: ItemMatch | None = None
    ok: str | None = None
    error: str | None = None
    errors: str | None = None
    error_match: str | None = None
    error_message: str = "message"

    @model_validator(mode="after")
    def _errors(self) -> ItemsSpec:
        if self.errors is not None and (self.error_match is None or self.match is None):
            raise ValueError(
                "items: 'errors' lists failures apart; give 'error_match' (where each names "
                "its customers) and 'match' (how items name them)"
            )
        return self


def batch_body(template: Template, items: str, customers: Sequence[Mapping[str, Any]]) -> str:
    """The body of one chunk: ``{{ items }}`` alone is put in as text, without Jinja."""
    source = template.source
    if source.count(ITEMS) == 1 and "{{" not in source.replace(ITEMS, "") and "{%" not in source:
        return source.replace(ITEMS, items)
    return template.render({"items": items, "customers": list(customers)})


class ItemAnswers:
    """One batched answer, read per customer of the chunk: the item that answers for it, or
    the reason it failed."""

    def __init__(
        self, spec: ItemsSpec, answer: Any, customers: Sequence[Mapping[str, Any]]
    ) -> None:
        self.spec = spec
        found = lookup(answer, split_path(spec.path)) if answer is not None else _MISSING
        listed: list[Any] = found if isinstance(found, list) else []
        self.items: list[Any | None] = [None] * len(customers)
        self.failures: dict[int, str] = {}
        if spec.match is None:
            for position in range(min(len(listed), len(customers))):
                self.items[position] = listed[position]
        else:
            wanted: dict[str, list[int]] = {}
            for position, customer in enumerate(customers):
                value = customer.get(spec.match.customer)
                if value is not None:
                    wanted.setdefault(_norm(value), []).append(position)
            item_path = split_path(spec.match.item)
            for item in listed:
                for position in wanted.get(_norm(lookup(item, item_path)), ()):
                    self.items[position] = item
            if spec.errors is not None and spec.error_match is not None:
                listed_errors = lookup(answer, split_path(spec.errors))
                for error in listed_errors if isinstance(listed_errors, list) else ():
                    names = lookup(error, split_path(spec.error_match))
                    message = lookup(error, split_path(spec.error_message))
                    reason = str(message) if message is not _MISSING else "the item failed"
                    for name in names if isinstance(names, list) else [names]:
                        for position in wanted.get(_norm(name), ()):
                            self.failures.setdefault(position, reason)
        self.listed = len(listed)

    def verdict(self, position: int) -> tuple[Any, str | None]:
        """(the customer's item, None) or (None, why it failed)."""
        if position in self.failures:
            return None, self.failures[position]
        item = self.items[position]
        if item is None:
            return None, f"the answer has no item for this customer (of {self.listed} listed)"
        spec = self.spec
        if spec.ok is not None and not _true(lookup(item, split_path(spec.ok))):
            reason = lookup(item, split_path(spec.error)) if spec.error else _MISSING
            text = reason if reason is not _MISSING and reason is not None else "item not ok"
            return None, str(text) if not isinstance(text, list | dict) else _short(text)
        return item, None


def _norm(value: Any) -> str:
    return str(value).strip().lower() if value is not _MISSING else "\0missing"


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _short(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)[:300]


def per_item(spec: ItemsSpec, sends: Sequence[Send], after_ok: AfterOk | None) -> AfterOk:
    """An ``AfterOk`` for ``deliver`` that reads each successful batched answer per customer:
    a customer whose item failed (or is missing) leaves by ``failed`` with the reason; for the
    others ``after_ok`` (``save``) runs with the customer's item as ``response.json``."""
    where: dict[int, tuple[int, int]] = {}
    for index, send in enumerate(sends):
        for position, journey in enumerate(send.journeys):
            where[id(journey)] = (index, position)
    read: dict[int, ItemAnswers] = {}

    def check(journey: Journey, result: HttpOutcome) -> str | None:
        if REPLAY_HEADER in result.headers:  # replay answers {} for every call: no items
            return None if after_ok is None else after_ok(journey, result)
        index, position = where[id(journey)]
        answers = read.get(index)
        if answers is None:
            members = [j.customer for j in sends[index].journeys]
            answers = read[index] = ItemAnswers(spec, result.json, members)
        item, problem = answers.verdict(position)
        if problem is not None:
            return f"failed: {result.reason.removeprefix('ok: ')}, but the item failed: {problem}"
        return None if after_ok is None else after_ok(journey, result.for_item(item))

    return check
