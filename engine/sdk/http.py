"""The HTTP delivery machinery objects that call out build on (``http-request``, ``api``):
rendering a call from templates, its policy (retries, timeouts, statuses), and delivering a
batch's calls through the context's HTTP sink with events and replay records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.http.bodies import JsonFields
from engine.http.calls import HttpOutcome
from engine.http.delivery import (
    AfterOk,
    Send,
    call_policy,
    chunk_key,
    deliver,
    journey_key,
    refuse,
)
from engine.http.items import BatchBodyText, ItemsSpec, batch_body, per_item
from engine.http.lookups import compile_response, compile_value, rendered_once
from engine.http.oauth import http_connection, through_connection
from engine.http.render import (
    CONTENT_TYPES,
    PER_CUSTOMER,
    Headers,
    RenderedHeaders,
    ResponseTemplateText,
    check_request,
    form_body,
    json_body,
    make_call,
    templated,
    with_query,
)
from engine.model.retries import RetrySettings
from engine.pull.settings import PullSettings

if TYPE_CHECKING:
    from engine.files.imports import ImportSpec
    from engine.model.project import Project
    from engine.pull.pickup import HttpPull as HttpPull
    from engine.sdk.context import RunContext


def check_nested(settings: PullSettings, spec: ImportSpec, project: Project) -> None:
    """Check an HTTP import's nested ``records`` against the project (``InputError``)."""
    from engine.pull.nested import inherited

    for nested in settings.records:
        inherited(spec, nested, project)


def http_pull(
    ctx: RunContext,
    settings: PullSettings,
    spec: ImportSpec,
    *,
    wanted: Sequence[str],
    retry: RetrySettings,
) -> HttpPull:
    """The pull of an import object with an HTTP source (the store loads with it), its pages
    read with the object's ``retries`` and ``backoff``."""
    from engine.pull.pickup import HttpPull

    return HttpPull(ctx, settings, spec, wanted=wanted, retry=retry)


__all__ = [
    "CONTENT_TYPES",
    "PER_CUSTOMER",
    "AfterOk",
    "BatchBodyText",
    "Headers",
    "HttpOutcome",
    "ItemsSpec",
    "JsonFields",
    "PullSettings",
    "RenderedHeaders",
    "ResponseTemplateText",
    "Send",
    "batch_body",
    "call_policy",
    "check_nested",
    "check_request",
    "chunk_key",
    "compile_response",
    "compile_value",
    "deliver",
    "form_body",
    "http_connection",
    "http_pull",
    "journey_key",
    "json_body",
    "make_call",
    "per_item",
    "refuse",
    "rendered_once",
    "templated",
    "through_connection",
    "with_query",
]
