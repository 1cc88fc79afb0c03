"""The mail effect sink (``Effects.mail``): a sender plus the keys that sign tracking links and
encrypt link parameters. Production sends through the project's ``mail.connection`` with keys
from the environment (the tracking key may also live in the database); replay captures mails
and uses throwaway keys, so nothing leaves and no secret is needed."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from engine.errors import ProjectError
from engine.mail import linkparam
from engine.mail.senders import CapturedSender, Sender, sender_for
from engine.mail.tracking import tracking_key
from engine.model.project import Project

if TYPE_CHECKING:
    from engine.store import Database


def _link_key() -> bytes:
    try:
        return linkparam.load_key()
    except linkparam.LinkParamError as exc:
        raise ProjectError(str(exc)) from None


class MailSink:
    """What the mail object sends through. Sender and keys are made on first use, so a
    project that sends no mail needs neither a connection nor keys."""

    def __init__(
        self,
        make_sender: Callable[[], Sender],
        *,
        tracking: Callable[[Database], bytes] = tracking_key,
        link: Callable[[], bytes] = _link_key,
    ) -> None:
        self._make_sender = make_sender
        self._tracking = tracking
        self._tracking_key: bytes | None = None
        self._sender: Sender | None = None
        self._lock = threading.Lock()
        self._link = link

    @classmethod
    def production(cls, project: Project) -> MailSink:
        return cls(lambda: sender_for(project))

    @classmethod
    def captured(cls, *, keep: bool = False) -> MailSink:
        """For replay: mails are taken, not sent (with ``keep``, kept in the sender's
        ``letters``); keys are random and live as long as the sink."""
        tracking, link = secrets.token_bytes(32), secrets.token_bytes(32)
        return cls(
            lambda: CapturedSender(keep=keep), tracking=lambda _db: tracking, link=lambda: link
        )

    @property
    def sender(self) -> Sender:
        with self._lock:  # a worker runs batches in threads; they share one sender
            if self._sender is None:
                self._sender = self._make_sender()
            return self._sender

    def tracking_key(self, db: Database) -> bytes:
        """The key that signs tracking links (made once per sink)."""
        if self._tracking_key is None:
            self._tracking_key = self._tracking(db)
        return self._tracking_key

    @cached_property
    def link_key(self) -> bytes:
        return self._link()

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
