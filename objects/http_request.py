"""``http-request``: calls an HTTP endpoint per customer, or with chunks of up to 1,000
customers per call (a JSON array of their fields, or ``batch_body`` around it, such as
``{"inputs": {{ items }}}``; ``items`` reads the answer per customer: its failures leave by
``failed`` with their reason, ``save`` stores from its item). Journeys leave by ``ok`` or
``failed`` with the status or error as the reason; ``save`` stores parts of a per-customer
answer in the customer's profile."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.sdk import (
    Batch,
    CampaignObject,
    CustomerField,
    Duration,
    Flow,
    Journey,
    ObjectSettings,
    RetrySettings,
    Routing,
    RunContext,
    SluisError,
    TemplateText,
    convert,
    project_of,
)
from engine.sdk.http import (
    CONTENT_TYPES,
    PER_CUSTOMER,
    AfterOk,
    BatchBodyText,
    Headers,
    HttpOutcome,
    ItemsSpec,
    JsonFields,
    ResponseTemplateText,
    Send,
    batch_body,
    call_policy,
    check_request,
    chunk_key,
    compile_response,
    compile_value,
    deliver,
    form_body,
    http_connection,
    journey_key,
    make_call,
    per_item,
    refuse,
    rendered_once,
    templated,
    through_connection,
    with_query,
)

READ_ONLY = ("system_id", "groups", "created_at", "updated_at")


class HttpRequestSettings(ObjectSettings, RetrySettings):
    type: Literal["http-request"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: TemplateText
    headers: dict[str, TemplateText] = Field(default_factory=dict)
    fields: dict[str, Any] | None = None
    body: TemplateText | None = None
    format: Literal["json", "form"] = "json"
    batch: int = Field(default=1, ge=1, le=1000)
    timeout: Duration | None = None
    success: list[int] | None = None
    save: dict[CustomerField, ResponseTemplateText] = Field(default_factory=dict)
    batch_body: BatchBodyText | None = None
    connection: str | None = Field(
        default=None, description="an oauth2 or bearer connection: its token, its base_url"
    )
    items: ItemsSpec | None = None
    concurrency: int = Field(default=10, ge=1, le=500)
    rate_limit: float | None = Field(
        default=None, gt=0, description="calls per second at most, across every worker"
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("fields")
    @classmethod
    def _templates(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else templated(value)

    @field_validator("success")
    @classmethod
    def _statuses(cls, value: list[int] | None) -> list[int] | None:
        for status in value or ():
            if not 100 <= status <= 599:
                raise ValueError(f"success: {status} is not an HTTP status code (100-599)")
        return value

    @field_validator("save")
    @classmethod
    def _writable(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if name in READ_ONLY:
                raise ValueError(f"save: '{name}' cannot be set; sluis sets it itself")
        return value

    @model_validator(mode="after")
    def _connection(self, info: ValidationInfo) -> HttpRequestSettings:
        project = project_of(info)
        if self.connection is not None and project is not None:
            try:
                http_connection(project, self.connection)
            except SluisError as exc:
                raise ValueError(str(exc)) from None
        if self.connection is None and self.url.source.startswith("/"):
            raise ValueError(
                "url: a path needs a connection with a base_url; write the full URL or name "
                "the connection"
            )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> HttpRequestSettings:
        if self.fields is not None and self.body is not None:
            raise ValueError("give 'fields' or a raw 'body', not both")
        batched = self.batch > 1 or self.batch_body is not None
        if self.save and batched and self.items is None:
            raise ValueError(
                "with batches, 'save' reads the answer per item; say where the answer lists "
                "them with 'items' (e.g. items: {path: results}), or use batch: 1"
            )
        if self.items is not None and not batched:
            raise ValueError("'items' reads a batched answer; use batch > 1 or batch_body")
        if self.batch_body is not None and self.fields is None:
            raise ValueError("batch_body wraps the chunk's 'fields' ({{ items }}); give fields")
        check_request(self.url, self.headers, path_ok=self.connection is not None)
        if batched:
            if self.body is not None:
                raise ValueError(
                    "a raw 'body' is rendered per customer; use 'fields' with batch > 1"
                )
            if self.method == "GET":
                raise ValueError(
                    "GET sends fields in the query string, one customer per call; "
                    "use POST (or another method) with batch > 1"
                )
            if self.format == "form":
                raise ValueError("batch > 1 sends a JSON array; use format: json")
            per_customer = [
                name
                for name, template in {"url": self.url, **self.headers}.items()
                if template.names & PER_CUSTOMER
            ]
            if per_customer:
                raise ValueError(
                    f"with batch > 1, {', '.join(per_customer)} are rendered once per call and "
                    "cannot use customer or data; put customer values in 'fields'"
                )
        return self


class HttpRequest(CampaignObject[HttpRequestSettings]):
    type = "http-request"
    outputs = ("ok", "failed")

    def __init__(self, id: str, settings: HttpRequestSettings, flow: Flow) -> None:
        super().__init__(id, settings, flow)
        self.headers = Headers(settings.headers, f"object '{id}'")
        self.url = compile_value(settings.url)
        self.url_per_customer = bool(settings.url.names & PER_CUSTOMER)
        self.fields = compile_value(settings.fields) if settings.fields is not None else None
        self.body = compile_value(settings.body) if settings.body is not None else None
        self.save = {name: compile_response(t) for name, t in settings.save.items()}
        sends_json = settings.format == "json" and settings.method != "GET"
        self.json_fields = (
            JsonFields(settings.fields) if settings.fields is not None and sends_json else None
        )

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        spec = self.settings
        policy = call_policy(
            ctx,
            timeout=spec.timeout,
            retries=spec.retries,
            backoff=spec.backoff,
            success=spec.success,
            concurrency=spec.concurrency,
            rate_limit=spec.rate_limit,
        )
        secrets = self.headers.secrets()
        try:
            joined, sink = through_connection(ctx, spec.connection)
        except SluisError as exc:  # a ${VAR} of the connection is not set
            for journey in batch:
                refuse(routing, journey, exc)
            return
        if spec.batch == 1 and spec.batch_body is None:
            sends = self._per_customer(batch, routing, ctx, secrets, joined)
        else:
            sends = self._batched(batch, routing, ctx, secrets, joined)
        saved: dict[int, dict[str, Any]] = {}
        after_ok = self._saver(ctx, saved) if spec.save else None
        if spec.items is not None:
            after_ok = per_item(spec.items, sends, after_ok)
        deliver(ctx, routing, sends, policy, after_ok=after_ok, sink=sink)
        if saved:
            ctx.customers.set_fields(saved)

    def _per_customer(
        self,
        batch: Batch,
        routing: Routing,
        ctx: RunContext,
        secrets: tuple[str, ...],
        joined: Callable[[str], str],
    ) -> list[Send]:
        """One call per customer: URL, headers and body rendered for each (those that do not
        read the customer once for the batch)."""
        spec, sends, journeys = self.settings, [], batch.journeys
        content_type = CONTENT_TYPES[spec.format]
        bodies, failures = (
            self.json_fields.texts(journeys, _scopes(ctx)) if self.json_fields else (None, {})
        )
        url_of = self.url if self.url_per_customer else rendered_once(self.url, ctx.scope)
        headers_of = self.headers.for_batch(ctx.scope, secrets)
        for position, journey in enumerate(journeys):
            customer, data, scope = journey.customer, journey.data, partial(ctx.scope, journey)
            try:
                url = joined(url_of(customer, data, scope))
                content = None
                if self.body is not None:
                    content = str(self.body(customer, data, scope)).encode()
                elif bodies is not None:
                    if position in failures:
                        raise failures[position]
                    content = bodies[position].encode()
                elif self.fields is not None:
                    fields = self.fields(customer, data, scope)
                    if spec.method == "GET":
                        url = with_query(url, fields)
                    else:
                        content = form_body(fields)
                call = make_call(
                    method=spec.method,
                    url=url,
                    headers=headers_of(customer, data, scope),
                    key=journey_key(ctx, journey),
                    content=content,
                    content_type=content_type,
                )
            except SluisError as exc:
                refuse(routing, journey, exc)
                continue
            sends.append(Send(call, [journey]))
        return sends

    def _batched(
        self,
        batch: Batch,
        routing: Routing,
        ctx: RunContext,
        secrets: tuple[str, ...],
        joined: Callable[[str], str],
    ) -> list[Send]:
        """Chunks of ``batch`` customers per call, each a JSON array of their fields; URL and
        headers are the same for every call of the batch."""
        spec, sends, journeys = self.settings, [], batch.journeys
        url = joined(self.url({}, {}, ctx.scope))
        headers = self.headers.render({}, {}, ctx.scope, secrets)
        texts, failures = (
            self.json_fields.texts(journeys, _scopes(ctx)) if self.json_fields else (None, {})
        )
        for position, error in failures.items():
            refuse(routing, journeys[position], error)
        for start in range(0, len(journeys), spec.batch):
            positions: Sequence[int] = range(start, min(start + spec.batch, len(journeys)))
            if failures:
                positions = [p for p in positions if p not in failures]
            members = [journeys[p] for p in positions]
            content = None if texts is None else f"[{','.join([texts[p] for p in positions])}]"
            if not members:
                continue
            if spec.batch_body is not None and content is not None:
                try:
                    content = batch_body(spec.batch_body, content, [j.customer for j in members])
                except SluisError as exc:
                    for journey in members:
                        refuse(routing, journey, exc)
                    continue
            try:
                call = make_call(
                    method=spec.method,
                    url=url,
                    headers=headers,
                    key=chunk_key(ctx, members),
                    content=None if content is None else content.encode(),
                    content_type=CONTENT_TYPES["json"],
                )
            except SluisError as exc:
                for journey in members:
                    refuse(routing, journey, exc)
                continue
            sends.append(Send(call, members))
        return sends

    def _saver(self, ctx: RunContext, saved: dict[int, dict[str, Any]]) -> AfterOk:
        """Store ``save`` values of a successful answer; a value that does not fit its field
        fails the journey with the reason."""
        types = ctx.customers.field_types()
        readers = [(name, types[name], read) for name, read in self.save.items()]

        def save(journey: Journey, result: HttpOutcome) -> str | None:
            answer, status = result.json, result.status

            def scope() -> dict[str, Any]:  # built only for a template Jinja renders
                return ctx.scope(journey, response=result.response)

            values = {}
            for name, kind, read in readers:
                try:
                    values[name] = convert(read(answer, status, scope), kind)
                except (ValueError, SluisError) as exc:
                    return f"failed: {result.reason.removeprefix('ok: ')}, but save {name}: {exc}"
            saved[journey.customer_id] = values
            return None

        return save


def _scopes(ctx: RunContext) -> Callable[[Journey], Callable[[], dict[str, Any]]]:
    """For each journey, the function giving its full template scope (built only if asked)."""
    return lambda journey: partial(ctx.scope, journey)
