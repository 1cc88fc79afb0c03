"""``mail``: sends a templated mail to each customer of the batch.

The body is ``templates/TEMPLATE`` (HTML with a text alternative, or text); ``subject``,
``from``, ``reply_to`` and ``to`` are templates too. Customers who are unsubscribed (from all
mail or from this flow), hard-bounced, at the soft-bounce limit within its window, or without
an address leave by ``skipped`` with the reason. A mail the server refuses (SMTP 5xx) fails
the journey at once; one it defers (4xx, or no connection) is tried again under ``retries`` and
``backoff``. ``throttle`` caps mails per hour for this object across every worker. Each mail
goes out at most once per journey (the send log), with a stable Message-ID, and is recorded as
a ``sent`` event.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from engine.sdk import (
    Batch,
    CampaignObject,
    CustomerField,
    EffectError,
    MailSink,
    ObjectSettings,
    ProjectError,
    RetrySettings,
    Routing,
    RunContext,
    Template,
    TemplateText,
    customer_label,
    project_of,
)
from engine.sdk.mail import Composer, MailSpec, Outcome, deliver, template_problem, tracking_links


class MailSettings(ObjectSettings, RetrySettings):
    type: Literal["mail"]
    template: str
    subject: TemplateText
    from_: TemplateText | None = Field(default=None, alias="from")
    reply_to: TemplateText | None = None
    to: TemplateText | None = None
    link_params: bool | list[CustomerField] = False
    track: list[Literal["opens", "clicks"]] | bool = ["opens", "clicks"]
    throttle: int | None = Field(default=None, ge=1, description="mails per hour at most")

    @field_validator("track", mode="before")
    @classmethod
    def _track(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str, info: ValidationInfo) -> str:
        project = project_of(info)
        if project is not None:
            problem = template_problem(project.templates_dir, value)
            if problem is not None:
                raise ValueError(problem)
        return value


class Mail(CampaignObject[MailSettings]):
    type = "mail"
    outputs = ("sent", "skipped")

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        sink = ctx.effects.mail
        if sink is None:
            raise EffectError(
                "this runtime has no mail sender; sluis builds one from mail.connection"
            )
        events = []
        at = ctx.now.astimezone(UTC).isoformat()  # the moment of every mail of the batch
        for outcome in deliver(
            batch,
            ctx,
            sink,
            self._composer(ctx, sink),
            per_hour=self.settings.throttle,
            retry=self.settings,
        ):
            journey = outcome.journey
            if outcome.kind == "held":
                routing.hold(journey, outcome.until, data=outcome.data)
            elif outcome.kind == "failed":
                routing.fail(journey, outcome.reason)
            else:
                routing.leave(journey, outcome.kind, outcome.reason)
            if outcome.accepted:
                events.append(self._sent_event(outcome, ctx))
            if outcome.letter is not None:
                ctx.effects.record(
                    "mail",
                    {
                        "object": self.id,
                        "customer": customer_label(journey.customer),
                        "to": outcome.letter.to,
                        "subject": outcome.letter.subject,
                        "at": at,
                    },
                )
        if events:
            ctx.events.add(events)

    def _composer(self, ctx: RunContext, sink: MailSink) -> Composer:
        settings, project = self.settings, ctx.project
        sender = settings.from_
        if sender is None and project.settings.mail.from_:
            sender = Template.parse(project.settings.mail.from_)
        if sender is None:
            raise ProjectError(
                f"mail object '{self.id}' has no sender: set 'from' on it or mail.from in "
                "sluis.yaml"
            )
        reply_to = settings.reply_to
        if reply_to is None and project.settings.mail.reply_to:
            reply_to = Template.parse(project.settings.mail.reply_to)
        track = {"opens", "clicks"} if settings.track is True else set(settings.track or ())
        links = tracking_links(ctx, sink)
        link_fields = settings.link_params
        spec = MailSpec(
            template=settings.template,
            subject=settings.subject,
            sender=sender,
            reply_to=reply_to,
            to=settings.to,
            track_opens="opens" in track,
            track_clicks="clicks" in track,
            link_fields=tuple(link_fields)
            if isinstance(link_fields, list)
            else (() if link_fields else None),
        )
        return Composer(
            project.templates_dir,
            spec,
            object_id=self.id,
            links=links,
            link_key=sink.link_key if spec.link_fields is not None else None,
        )

    def _sent_event(self, outcome: Outcome, ctx: RunContext) -> dict[str, Any]:
        journey = outcome.journey
        data: dict[str, Any] = {"message_id": outcome.message_id}
        if outcome.letter is not None:
            data["to"] = outcome.letter.to
        return {
            "kind": "sent",
            "at": ctx.now,
            "customer_id": journey.customer_id,
            "flow": ctx.flow.name,
            "object": self.id,
            "journey_id": journey.id,
            "data": data,
        }
