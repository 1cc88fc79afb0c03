"""Composing one customer's mail: body templates from the project's ``templates/`` (Jinja2,
sandboxed; HTML autoescaped), a text alternative (``NAME.txt`` beside ``NAME.html``, else
converted from the HTML), templated headers, link parameters, click tracking, the open pixel,
``List-Unsubscribe`` (RFC 8058) and a Message-ID that is the same every time the same
(journey, object) is composed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import format_datetime, parseaddr
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import TemplateError
from engine.mail import linkparam, mime
from engine.mail.htmltext import html_to_text
from engine.mail.links import add_param, add_pixel, rewrite_html, rewrite_text
from engine.mail.tracking import MailRef, TrackingLinks, web_url
from engine.model.fields import to_json
from engine.model.templates import TEMPLATE_NAMES, Template, fill, make_environment
from engine.sdk.batch import Journey

BODY_NAMES = TEMPLATE_NAMES | {"unsubscribe_url"}


@dataclass(frozen=True)
class MailSpec:
    """What a mail object says about its mails (templates already parsed)."""

    template: str
    subject: Template
    sender: Template
    reply_to: Template | None = None
    to: Template | None = None
    track_opens: bool = False
    track_clicks: bool = False
    link_fields: tuple[str, ...] | None = None  # None: no link parameter


@dataclass(frozen=True)
class Letter:
    """A composed mail, ready for a sender. Its templates are rendered (a template that fails
    for the customer fails the journey before anything is queued); the message itself (links
    rewritten, the text alternative, MIME) is built when a sender first asks for it, so a
    sender that only keeps mails (replay) never pays for it."""

    journey_id: int
    to: str
    subject: str
    envelope_from: str
    message_id: str
    build: Callable[[], Message] = field(repr=False, compare=False)

    @cached_property
    def message(self) -> Message:
        return self.build()

    def as_bytes(self, *, smtp: bool = False) -> bytes:
        """The mail as bytes: CRLF line ends for SMTP, LF for files."""
        return mime.as_bytes(self.message, smtp=smtp)


@lru_cache(maxsize=32)
def _environments(folder: str) -> tuple[SandboxedEnvironment, SandboxedEnvironment]:
    loader = jinja2.FileSystemLoader(folder)
    return make_environment(loader=loader, autoescape=True), make_environment(loader=loader)


def template_problem(templates_dir: Path, name: str) -> str | None:
    """Why the body template ``name`` (and its ``.txt`` companion) cannot be used, or None:
    for flow validation, with the same checks as every other template (syntax, known
    variables, no internals)."""
    html_env, _text_env = _environments(str(templates_dir))
    loader = jinja2.FileSystemLoader(str(templates_dir))
    names = [name]
    if _is_html(name):
        names.append(_text_name(name))
    for each in names:
        try:
            source, _file, _fresh = loader.get_source(html_env, each)
        except jinja2.TemplateNotFound:
            if each != name:
                continue
            return f"template '{name}' is not in {templates_dir.name}/; add it or fix the name"
        try:
            Template.parse(source, BODY_NAMES)
        except TemplateError as exc:
            return f"template '{each}' line {exc.line}: {exc}"
    return None


def _text_name(name: str) -> str:
    return name.rsplit(".", 1)[0] + ".txt"


def _is_html(name: str) -> bool:
    return name.lower().endswith((".html", ".htm"))


def _render(template: jinja2.Template, scope: Mapping[str, Any], name: str) -> str:
    try:
        return fill(template, scope)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template '{name}' failed: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise TemplateError(f"template '{name}' failed: {exc}") from exc


@lru_cache(maxsize=1024)
def _address(text: str) -> str:
    return parseaddr(text)[1]


@lru_cache(maxsize=64)  # the mails of a batch are composed at one moment
def _date(now: datetime) -> str:
    return format_datetime(now)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def message_id(journey: Journey, object_id: str, domain: str) -> str:
    """The Message-ID of the mail of (journey, object): stable across runs, and unique across
    databases because it holds the moment the journey entered."""
    return f"<{_digits(journey.entered_at)}.{journey.id}.{object_id}@{domain}>"


@lru_cache(maxsize=256)  # journeys enter by the batch: a few moments for many mails
def _digits(moment: datetime) -> str:
    return f"{moment:%Y%m%d%H%M%S%f}"


class Composer:
    """Composes the mails of one mail object."""

    def __init__(
        self,
        templates_dir: Path,
        spec: MailSpec,
        *,
        object_id: str,
        links: TrackingLinks | None,
        link_key: bytes | None,
    ) -> None:
        self.spec = spec
        self.object_id = object_id
        self.links = links
        self.link_key = link_key
        html_env, text_env = _environments(str(templates_dir))
        try:
            if _is_html(spec.template):
                self.html: jinja2.Template | None = html_env.get_template(spec.template)
                try:
                    self.text: jinja2.Template | None = text_env.get_template(
                        _text_name(spec.template)
                    )
                except jinja2.TemplateNotFound:
                    self.text = None
            else:
                self.html, self.text = None, text_env.get_template(spec.template)
        except jinja2.TemplateNotFound:
            raise TemplateError(
                f"template '{spec.template}' is not in {templates_dir}; add it or fix the name"
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"template '{spec.template}' line {exc.lineno}: {exc.message}"
            ) from None

    def address(self, journey: Journey, scope: Mapping[str, Any]) -> str:
        """The recipient (``to``, else the customer's email); empty when there is none."""
        if self.spec.to is not None:
            return _one_line(self.spec.to.render(scope))
        return (journey.customer.get("email") or "").strip()

    def compose(self, journey: Journey, scope: Mapping[str, Any], to: str, now: datetime) -> Letter:
        """The mail for one journey; ``TemplateError`` when a template fails for it."""
        spec = self.spec
        ref = MailRef(journey.id, self.object_id)
        sender = _one_line(spec.sender.render(scope))
        envelope_from = _address(sender)
        domain = envelope_from.rpartition("@")[2] or "sluis.invalid"
        unsubscribe = self.links.unsubscribe_url(ref) if self.links else ""
        body_scope = {**scope, "unsubscribe_url": unsubscribe}
        html = _render(self.html, body_scope, spec.template) if self.html else None
        text = _render(self.text, body_scope, spec.template) if self.text else None
        subject = _one_line(spec.subject.render(scope))
        mid = message_id(journey, self.object_id, domain)
        headers = [
            ("From", sender),
            ("To", to),
            ("Subject", subject),
            ("Date", _date(now)),
            ("Message-ID", mid),
        ]
        reply_to = _one_line(spec.reply_to.render(scope)) if spec.reply_to is not None else ""
        if reply_to:
            headers.append(("Reply-To", reply_to))
        if unsubscribe:
            headers.append(("List-Unsubscribe", f"<{unsubscribe}>"))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        try:
            mime.check_headers(headers)
        except ValueError as exc:
            raise TemplateError(f"mail headers: {exc}") from None
        build = partial(self._message, journey, ref, unsubscribe, headers, text, html)
        return Letter(journey.id, to, subject, envelope_from, mid, build)

    def _message(
        self,
        journey: Journey,
        ref: MailRef,
        unsubscribe: str,
        headers: list[tuple[str, str]],
        text: str | None,
        html: str | None,
    ) -> Message:
        """The MIME message of rendered bodies: links rewritten, the text alternative
        converted from the HTML when there is no text template, the open pixel."""
        rewrite = self._rewriter(journey, ref, unsubscribe)
        if html is not None:
            html = rewrite_html(html, rewrite)
            text = rewrite_text(text, rewrite) if text is not None else html_to_text(html)
            if self.spec.track_opens and self.links is not None:
                html = add_pixel(html, self.links.open_url(ref))
        else:
            text = rewrite_text(text or "", rewrite)
        return mime.build(headers, text, html)

    def _rewriter(self, journey: Journey, ref: MailRef, unsubscribe: str) -> Any:
        spec, links = self.spec, self.links
        param = None
        if spec.link_fields is not None:
            customer = journey.customer
            fields = {"external_id": customer.get("external_id")}
            fields.update({name: to_json(customer.get(name)) for name in spec.link_fields})
            param = linkparam.encode(fields, self.link_key)
        track = spec.track_clicks and links is not None

        def rewrite(url: str) -> str:
            if not web_url(url) or url == unsubscribe:
                return url
            if param is not None:
                url = add_param(url, linkparam.PARAM, param)
            if track:
                assert links is not None
                url = links.click_url(ref, url)
            return url

        return rewrite
