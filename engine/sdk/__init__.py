"""The door for objects: everything a campaign object type may use of the engine.

An object module imports from here (and, for the delivery machinery of mail, HTTP and files,
from ``engine.sdk.mail``, ``engine.sdk.http`` and ``engine.sdk.files``) and from nowhere else in
the engine. See ``docs/plugins.md`` for how to write one. Names load on first use, so the
model and the runtime can import the SDK's own modules without a cycle.

- The interface: ``CampaignObject[S]`` with its ``ObjectSettings`` model ``S`` and its ``Flow``;
  start objects' triggers (``Once``, ``CronTrigger``, ``Every``); ``Batch`` of ``Journey``,
  ``Routing`` (which raises ``UndeclaredOutput``), ``Entry``, ``IncomingEvent``,
  ``WebhookEndpoint`` and ``WebhookAuth``, ``PayloadMap`` and ``RecordsMap``.
- The world while running: ``RunContext`` with its services (``Customers``, ``Groups``,
  ``Events``, ``Records``, ``ctx.files``), its journal and ``Effects`` (``MailSink``,
  ``HttpSink``, ``FileSink``).
- Set-based decisions (``CampaignObject.batch_decision``): ``BatchDecision`` of ``Way``s (a
  condition, or a percent ``Share``) and changes (``SetFields``, ``AddToGroups``,
  ``RemoveFromGroups``, ``UnsubscribeAll``, ``RecordEvent``); ``percent_point``.
- Setting types for settings models: ``ExpressionText``, ``TemplateText``, ``Duration``,
  ``Cron``, ``LocationText``, ``CustomerField``, ``SegmentText`` (and the ``Segment`` a
  start object lets in), ``Settings`` (a nested settings model) and
  ``project_of`` (the project a model is validated against).
- Retries: ``RetrySettings`` (the shared ``retries`` / ``backoff`` settings), ``Tries``,
  ``tries_so_far``.
- Helpers objects share: ``format_duration``, ``did_you_mean``, ``check_timezone``,
  ``convert`` (a value to a field's type), ``customer_label`` (how replay names a customer),
  ``render_value``, ``Template``, ``CUSTOMER_KEYS``.
- Errors: ``SluisError`` and the kinds objects raise (``InputError``, ``EffectError``,
  ``TransientError``, ``ProjectError``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.errors import EffectError, InputError, ProjectError, SluisError, TransientError
    from engine.model.durations import format_duration
    from engine.model.fields import KEYS as CUSTOMER_KEYS  # the fields that identify a customer
    from engine.model.fields import convert, customer_label
    from engine.model.flow import Flow
    from engine.model.project import check_timezone
    from engine.model.retries import RetrySettings, Tries, tries_so_far
    from engine.model.settings import (
        ColumnValueText,
        Cron,
        CustomerField,
        Duration,
        ExpressionText,
        LocationText,
        Settings,
        TemplateText,
        project_of,
    )
    from engine.model.shares import percent_point
    from engine.model.templates import Template, render_value
    from engine.model.validation import did_you_mean
    from engine.sdk.batch import Batch, Entries, Entry, Journey, Routing, UndeclaredOutput
    from engine.sdk.campaign import (
        CampaignObject,
        CronTrigger,
        Every,
        ObjectSettings,
        Once,
        Trigger,
    )
    from engine.sdk.context import ProjectFiles, RunContext
    from engine.sdk.decisions import (
        AddToGroups,
        BatchDecision,
        RecordEvent,
        RemoveFromGroups,
        SetFields,
        Share,
        UnsubscribeAll,
        Way,
    )
    from engine.sdk.effects import Effects, FileSink, HttpSink, MailSink
    from engine.sdk.events import IncomingEvent
    from engine.sdk.segments import Segment, SegmentText
    from engine.sdk.services import Customers, Events, Groups, Records
    from engine.webhooks.auth import WebhookAuth, WebhookEndpoint
    from engine.webhooks.payload import PayloadMap, RecordsMap


__all__ = [
    "CUSTOMER_KEYS",
    "AddToGroups",
    "Batch",
    "BatchDecision",
    "CampaignObject",
    "ColumnValueText",
    "Cron",
    "CronTrigger",
    "CustomerField",
    "Customers",
    "Duration",
    "EffectError",
    "Effects",
    "Entries",
    "Entry",
    "Events",
    "Every",
    "ExpressionText",
    "FileSink",
    "Flow",
    "Groups",
    "HttpSink",
    "IncomingEvent",
    "InputError",
    "Journey",
    "LocationText",
    "MailSink",
    "ObjectSettings",
    "Once",
    "PayloadMap",
    "ProjectError",
    "ProjectFiles",
    "RecordEvent",
    "Records",
    "RecordsMap",
    "RemoveFromGroups",
    "RetrySettings",
    "Routing",
    "RunContext",
    "Segment",
    "SegmentText",
    "SetFields",
    "Settings",
    "Share",
    "SluisError",
    "Template",
    "TemplateText",
    "TransientError",
    "Tries",
    "Trigger",
    "UndeclaredOutput",
    "UnsubscribeAll",
    "Way",
    "WebhookAuth",
    "WebhookEndpoint",
    "check_timezone",
    "convert",
    "customer_label",
    "did_you_mean",
    "format_duration",
    "percent_point",
    "project_of",
    "render_value",
    "tries_so_far",
]

_HOME = {
    "AddToGroups": "engine.sdk.decisions",
    "BatchDecision": "engine.sdk.decisions",
    "RecordEvent": "engine.sdk.decisions",
    "RemoveFromGroups": "engine.sdk.decisions",
    "SetFields": "engine.sdk.decisions",
    "Share": "engine.sdk.decisions",
    "UnsubscribeAll": "engine.sdk.decisions",
    "Way": "engine.sdk.decisions",
    "percent_point": "engine.model.shares",
    "CUSTOMER_KEYS": "engine.model.fields",
    "Batch": "engine.sdk.batch",
    "CampaignObject": "engine.sdk.campaign",
    "ColumnValueText": "engine.model.settings",
    "Cron": "engine.model.settings",
    "CronTrigger": "engine.sdk.campaign",
    "CustomerField": "engine.model.settings",
    "Customers": "engine.sdk.services",
    "Duration": "engine.model.settings",
    "EffectError": "engine.errors",
    "Effects": "engine.sdk.effects",
    "Entries": "engine.sdk.batch",
    "Entry": "engine.sdk.batch",
    "Events": "engine.sdk.services",
    "Every": "engine.sdk.campaign",
    "ExpressionText": "engine.model.settings",
    "FileSink": "engine.sdk.effects",
    "Flow": "engine.model.flow",
    "Groups": "engine.sdk.services",
    "HttpSink": "engine.sdk.effects",
    "IncomingEvent": "engine.sdk.events",
    "InputError": "engine.errors",
    "Journey": "engine.sdk.batch",
    "RetrySettings": "engine.model.retries",
    "TransientError": "engine.errors",
    "Tries": "engine.model.retries",
    "tries_so_far": "engine.model.retries",
    "LocationText": "engine.model.settings",
    "MailSink": "engine.sdk.effects",
    "ObjectSettings": "engine.sdk.campaign",
    "Once": "engine.sdk.campaign",
    "PayloadMap": "engine.webhooks.payload",
    "ProjectError": "engine.errors",
    "ProjectFiles": "engine.sdk.context",
    "Records": "engine.sdk.services",
    "RecordsMap": "engine.webhooks.payload",
    "Routing": "engine.sdk.batch",
    "RunContext": "engine.sdk.context",
    "Segment": "engine.sdk.segments",
    "SegmentText": "engine.sdk.segments",
    "Settings": "engine.model.settings",
    "SluisError": "engine.errors",
    "Template": "engine.model.templates",
    "TemplateText": "engine.model.settings",
    "Trigger": "engine.sdk.campaign",
    "UndeclaredOutput": "engine.sdk.batch",
    "WebhookAuth": "engine.webhooks.auth",
    "WebhookEndpoint": "engine.webhooks.auth",
    "check_timezone": "engine.model.project",
    "convert": "engine.model.fields",
    "customer_label": "engine.model.fields",
    "did_you_mean": "engine.model.validation",
    "format_duration": "engine.model.durations",
    "project_of": "engine.model.settings",
    "render_value": "engine.model.templates",
}

_RENAMED = {"CUSTOMER_KEYS": "KEYS"}  # the SDK's name -> the engine's


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'engine.sdk' has no attribute '{name}'")
    value = getattr(importlib.import_module(home), _RENAMED.get(name, name))
    globals()[name] = value
    return value
