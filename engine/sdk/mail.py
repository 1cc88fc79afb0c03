"""The mail machinery the ``mail`` object builds on: composing a letter from templates,
delivering a batch through the context's mail sink (send log, throttle, bounces), and signed
tracking links."""

from engine.mail.compose import Composer, MailSpec, template_problem
from engine.mail.delivery import Outcome, deliver
from engine.mail.sink import MailSink as ProjectMailSink
from engine.mail.tracking import TrackingLinks, tracking_links

__all__ = [
    "Composer",
    "MailSpec",
    "Outcome",
    "ProjectMailSink",
    "TrackingLinks",
    "deliver",
    "template_problem",
    "tracking_links",
]
