"""``api``: an immediate JSON notification per customer, a POST of ``flow``, ``object``,
``customer`` (the profile) and ``data`` (the journey's entry data) to ``url`` with
``headers`` (or through an ``oauth2``/``bearer`` ``connection``, whose token it carries).
Journeys leave by ``ok`` or ``failed``."""

from __future__ import annotations

from functools import partial
from typing import Literal

from pydantic import Field, ValidationInfo, model_validator

from engine.sdk import (
    Batch,
    CampaignObject,
    Duration,
    Flow,
    ObjectSettings,
    RetrySettings,
    Routing,
    RunContext,
    SluisError,
    TemplateText,
    project_of,
)
from engine.sdk.http import (
    CONTENT_TYPES,
    Headers,
    Send,
    call_policy,
    check_request,
    compile_value,
    deliver,
    http_connection,
    journey_key,
    json_body,
    make_call,
    refuse,
    through_connection,
)


class ApiSettings(ObjectSettings, RetrySettings):
    type: Literal["api"]
    url: TemplateText
    headers: dict[str, TemplateText] = Field(default_factory=dict)
    timeout: Duration | None = None
    concurrency: int = Field(default=10, ge=1, le=500)
    connection: str | None = Field(
        default=None, description="an oauth2 or bearer connection: its token, its base_url"
    )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> ApiSettings:
        check_request(self.url, self.headers, path_ok=self.connection is not None)
        project = project_of(info)
        if self.connection is not None and project is not None:
            try:
                http_connection(project, self.connection)
            except SluisError as exc:
                raise ValueError(str(exc)) from None
        return self


class ApiCall(CampaignObject[ApiSettings]):
    type = "api"
    outputs = ("ok", "failed")

    def __init__(self, id: str, settings: ApiSettings, flow: Flow) -> None:
        super().__init__(id, settings, flow)
        self.headers = Headers(settings.headers, f"object '{id}'")
        self.url = compile_value(settings.url)

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        spec = self.settings
        policy = call_policy(
            ctx,
            timeout=spec.timeout,
            retries=spec.retries,
            backoff=spec.backoff,
            concurrency=spec.concurrency,
        )
        secrets = self.headers.secrets()
        try:
            joined, sink = through_connection(ctx, spec.connection)
        except SluisError as exc:  # a ${VAR} of the connection is not set
            for journey in batch:
                refuse(routing, journey, exc)
            return
        sends = []
        headers_of = self.headers.for_batch(ctx.scope, secrets)
        for journey in batch:
            customer, data, scope = journey.customer, journey.data, partial(ctx.scope, journey)
            notification = {
                "flow": ctx.flow.name,
                "object": self.id,
                "customer": customer,
                "data": data,
            }
            try:
                call = make_call(
                    method="POST",
                    url=joined(self.url(customer, data, scope)),
                    headers=headers_of(customer, data, scope),
                    key=journey_key(ctx, journey),
                    content=json_body(notification),
                    content_type=CONTENT_TYPES["json"],
                )
            except SluisError as exc:
                refuse(routing, journey, exc)
                continue
            sends.append(Send(call, [journey]))
        deliver(ctx, routing, sends, policy, sink=sink)
