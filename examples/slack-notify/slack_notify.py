"""``slack-notify``: posts one message per batch to a Slack incoming-webhook URL, ``text``
followed by how many customers passed; an example of a third-party sluis object, written against
``engine.sdk`` only.

```yaml
notify:
  type: slack-notify
  webhook_url: https://hooks.slack.com/services/T000/B000/XXXX   # any URL taking {"text"}
  text: "New in {{ flow }}"        # the message says ": N customers" after it
  next: {ok: mail, failed: end}
```
The batch leaves by ``ok`` when Slack accepted the message and by ``failed`` when it did not
(after ``retries``). In replay the call is captured, not sent, and listed under
``effects.http``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.sdk import (
    Batch,
    CampaignObject,
    Duration,
    ObjectSettings,
    Routing,
    RunContext,
    SluisError,
    TemplateText,
)
from engine.sdk.http import (
    CONTENT_TYPES,
    RenderedHeaders,
    Send,
    call_policy,
    chunk_key,
    deliver,
    json_body,
    make_call,
)

NO_HEADERS = RenderedHeaders({}, (), frozenset())


class SlackNotifySettings(ObjectSettings):
    type: Literal["slack-notify"]
    webhook_url: TemplateText = Field(description="the incoming-webhook URL")
    text: TemplateText | None = Field(
        default=None, description="the message (templates see flow, object, now, today)"
    )
    timeout: Duration | None = None
    retries: int = Field(default=3, ge=0, le=20)


class SlackNotify(CampaignObject[SlackNotifySettings]):
    type = "slack-notify"
    outputs = ("ok", "failed")

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        scope = ctx.scope()
        text = settings.text.render(scope) if settings.text else f"{self.id} of {self.flow.name}"
        try:
            call = make_call(
                method="POST",
                url=settings.webhook_url.render(scope),
                headers=NO_HEADERS,
                key=chunk_key(ctx, batch.journeys),
                content=json_body({"text": f"{text}: {len(batch)} customers"}),
                content_type=CONTENT_TYPES["json"],
            )
        except SluisError as exc:
            for journey in batch:
                routing.fail(journey, f"failed: {exc}")
            return
        policy = call_policy(ctx, timeout=settings.timeout, retries=settings.retries)
        deliver(ctx, routing, [Send(call, batch.journeys)], policy)
