"""Delivery over SMTP: up to ``max_connections`` connections in parallel, kept open and reused
across batches, with STARTTLS or implicit TLS and a login whose password comes from the
environment (``password: ${SMTP_PASSWORD}``).

The SMTP exchange is driven step by step (MAIL, RCPT, DATA, the message, its reply) so that
only a failure after the message was handed over counts as ``unknown``; any failure before it
is ``failed`` (known not sent, tried again) and a 5xx answer is ``refused`` (known not sent, a
permanent failure). A server's answer reads ``SMTP 550 5.1.1 ...``.
"""

from __future__ import annotations

import queue
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from engine.mail.compose import Letter
from engine.mail.handover import TAKEN, Delivery, DeliveryState, Handover
from engine.model.project import Connection

_EOL = re.compile(rb"\r\n|\n|\r")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)
PER_CONNECTION = 10  # mails per connection between two send-log commits
IDLE_CHECK = 30.0  # seconds idle after which a pooled connection is checked with NOOP


class _Link:
    """One open SMTP connection and when it was last used."""

    def __init__(self, client: smtplib.SMTP) -> None:
        self.client = client
        self.used = time.monotonic()
        self.fresh = True  # nothing sent over it yet: a failure cannot be a dropped idle link

    def close(self) -> None:
        try:
            self.client.quit()
        except (OSError, smtplib.SMTPException):
            self.client.close()


class SmtpSender:
    """Sends over one ``smtp`` connection of ``sluis.yaml``."""

    def __init__(self, connection: Connection, name: str) -> None:
        if not connection.host:
            from engine.errors import ProjectError

            raise ProjectError(f"connection '{name}' (smtp) needs a host")
        self.connection = connection
        self.name = name
        self.host = connection.host
        self.port = connection.port or (465 if connection.security == "ssl" else 25)
        self.size = connection.max_connections
        self.in_flight = self.size * PER_CONNECTION
        self._idle: queue.LifoQueue[_Link] = queue.LifoQueue()
        # workers running several batches at once share the sender: never more connections
        self._slots = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # -- connections -----------------------------------------------------------------------

    def _connect(self) -> _Link:
        c = self.connection
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if c.security == "ssl":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=c.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=c.timeout)
        try:
            client.ehlo()
            if c.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if c.username:
                client.login(c.secret("username") or "", c.secret("password") or "")
        except BaseException:
            client.close()
            raise
        return _Link(client)

    def _take(self) -> _Link:
        """A pooled connection (checked when it idled long), else a new one."""
        while True:
            try:
                link = self._idle.get_nowait()
            except queue.Empty:
                return self._connect()
            if time.monotonic() - link.used < IDLE_CHECK:
                return link
            try:
                if link.client.noop()[0] == 250:
                    return link
            except (OSError, smtplib.SMTPException):
                pass
            link.close()

    def close(self) -> None:
        """Close every pooled connection."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    # -- sending ---------------------------------------------------------------------------

    def send(self, letters: Sequence[Letter], handover: Handover) -> list[Delivery]:
        """Deliver ``letters`` over up to ``max_connections`` connections at once."""
        if not letters:
            return []
        lanes = min(self.size, len(letters))
        groups = [list(letters[i::lanes]) for i in range(lanes)]
        if lanes == 1:
            done = self._send_group(groups[0], handover)
        else:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="sluis-smtp")
                pool = self._pool
            futures = [pool.submit(self._send_group, group, handover) for group in groups]
            done = [delivery for future in futures for delivery in future.result()]
        order = {letter.journey_id: n for n, letter in enumerate(letters)}
        return sorted(done, key=lambda d: order[d.journey_id])

    def _send_group(self, letters: list[Letter], handover: Handover) -> list[Delivery]:
        with self._slots:
            return self._send_on_one_connection(letters, handover)

    def _send_on_one_connection(self, letters: list[Letter], handover: Handover) -> list[Delivery]:
        done: list[Delivery] = []
        link: _Link | None = None
        for number, letter in enumerate(letters):
            for attempt in (1, 2):
                if link is None:
                    try:
                        link = self._take() if attempt == 1 else self._connect()
                    except (OSError, smtplib.SMTPException) as exc:
                        why = f"cannot connect to {self.host}:{self.port}: {_describe(exc)}"
                        done += [Delivery(x.journey_id, "failed", why) for x in letters[number:]]
                        return done
                reused = not link.fresh
                link.fresh = False
                delivery, healthy, broken = self._send_one(link, letter, handover)
                if not healthy:
                    link.close()
                    link = None
                # a pooled connection the server dropped while idle: once more on a new one
                if not (broken and reused and attempt == 1):
                    done.append(delivery)
                    break
        if link is not None:
            link.used = time.monotonic()
            self._idle.put(link)
        return done

    def _send_one(
        self, link: _Link, letter: Letter, handover: Handover
    ) -> tuple[Delivery, bool, bool]:
        """Deliver one letter. Flags: the connection can be used again; the connection broke
        before the message was handed over (so trying again cannot duplicate it)."""
        jid = letter.journey_id
        client = link.client
        try:
            code, reply = client.mail(letter.envelope_from)
            if code >= 400:
                return (*self._reject(jid, client, code, reply), False)
            code, reply = client.rcpt(letter.to)
            if code >= 400:
                return (*self._reject(jid, client, code, reply), False)
            if not handover(letter):
                client.rset()
                return Delivery(jid, "unknown", TAKEN), True, False
            code, reply = client.docmd("DATA")
            if code != 354:
                return (*self._reject(jid, client, code, reply), False)
        except (OSError, smtplib.SMTPException) as exc:
            why = f"SMTP error before the message: {_describe(exc)}"
            return Delivery(jid, "failed", why), False, True
        try:
            client.send(_dot_stuffed(letter.as_bytes(smtp=True)))
            code, reply = client.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            why = f"the connection broke after the message was handed over: {_describe(exc)}"
            return Delivery(jid, "unknown", why), False, False
        if code == 250:
            return Delivery(jid, "sent"), True, False
        return Delivery(jid, _state(code), _answer(code, reply)), code != 421, False

    def _reject(
        self, jid: int, client: smtplib.SMTP, code: int, reply: bytes
    ) -> tuple[Delivery, bool]:
        healthy = code != 421
        if healthy:
            try:
                client.rset()
            except (OSError, smtplib.SMTPException):
                healthy = False
        return Delivery(jid, _state(code), _answer(code, reply)), healthy


def _dot_stuffed(data: bytes) -> bytes:
    data = _LEADING_DOT.sub(b"..", _EOL.sub(b"\r\n", data))
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _state(code: int) -> DeliveryState:
    return "refused" if 500 <= code < 600 else "failed"


def _answer(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"SMTP {code} {text}".strip()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _answer(exc.smtp_code, exc.smtp_error)
    return str(exc) or type(exc).__name__
