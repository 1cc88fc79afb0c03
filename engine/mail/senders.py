"""Senders: where composed mails go. ``sender_for`` builds one from the project's
``mail.connection``: SMTP (``smtp.py``), or a folder of .eml files (``folder``, or a Maildir
with ``maildir``) for development and the demo. Replay uses ``CapturedSender``.

A sender answers for each mail with a ``Delivery``: ``sent`` (accepted), ``failed`` (known not
accepted, may be tried again), ``refused`` (rejected for good) or ``unknown`` (the connection
broke after the mail was handed over, so it may have gone out). Right before it hands a mail
over, a sender calls ``handover(letter)``, which records that in the send log; when it answers
False (another run took the mail over) the mail is not handed over.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from engine.errors import ProjectError
from engine.mail.compose import Letter
from engine.mail.handover import TAKEN, Delivery, Handover
from engine.model.project import Project
from engine.model.validation import did_you_mean

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Sender(Protocol):
    """Delivers composed mails; one ``Delivery`` per letter, in the same order.
    ``in_flight`` is how many mails to queue in the send log at once."""

    in_flight: int

    def send(self, letters: Sequence[Letter], handover: Handover) -> list[Delivery]: ...

    def close(self) -> None: ...


class CapturedSender:
    """Takes mails instead of sending them (replay, tests). With ``keep`` it keeps them in
    ``letters`` (the mail benchmark sends them itself); replay records what it needs of each
    mail as an effect, so its sender keeps none (they would hold every mail to the end)."""

    in_flight = 1000

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep
        self.letters: list[Letter] = []

    def send(self, letters: Sequence[Letter], handover: Handover) -> list[Delivery]:
        handed = handover.all(letters)  # kept in one moment: handed over in one
        done = []
        for letter in letters:
            if letter.journey_id not in handed:
                done.append(Delivery(letter.journey_id, "unknown", TAKEN))
                continue
            if self.keep:
                self.letters.append(letter)
            done.append(Delivery(letter.journey_id, "sent"))
        return done

    def close(self) -> None:
        pass


class FolderSender:
    """Writes each mail as an .eml file named after its Message-ID (so writing it again
    replaces it); with ``maildir`` in a Maildir's ``new/``, through ``tmp/``."""

    in_flight = 100

    def __init__(self, folder: Path, *, maildir: bool) -> None:
        self.folder = folder
        self.maildir = maildir

    def send(self, letters: Sequence[Letter], handover: Handover) -> list[Delivery]:
        final = self.folder / "new" if self.maildir else self.folder
        scratch = self.folder / "tmp" if self.maildir else self.folder
        try:
            for sub in ("tmp", "new", "cur") if self.maildir else ():
                (self.folder / sub).mkdir(parents=True, exist_ok=True)
            final.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return [
                Delivery(x.journey_id, "failed", f"cannot write to {final}: {exc}") for x in letters
            ]
        done = []
        for letter in letters:
            if not handover(letter):
                done.append(Delivery(letter.journey_id, "unknown", TAKEN))
                continue
            name = _UNSAFE.sub("_", letter.message_id.strip("<>")) + ".eml"
            temporary = scratch / f".{name}.{os.getpid()}.tmp"
            try:
                temporary.write_bytes(letter.as_bytes())
                os.replace(temporary, final / name)
            except OSError as exc:
                temporary.unlink(missing_ok=True)
                done.append(Delivery(letter.journey_id, "failed", f"cannot write {name}: {exc}"))
                continue
            done.append(Delivery(letter.journey_id, "sent"))
        return done

    def close(self) -> None:
        pass


def sender_for(project: Project) -> Sender:
    """The sender of ``project``'s ``mail.connection``."""
    name = project.settings.mail.connection
    connections = project.settings.connections
    if name is None:
        raise ProjectError(
            "mail needs a connection: set mail.connection in sluis.yaml to an smtp, maildir or "
            "folder connection"
        )
    if name not in connections:
        known = ", ".join(sorted(connections)) or "none are defined"
        raise ProjectError(
            f"mail.connection '{name}' is not a connection{did_you_mean(name, connections)}; "
            f"connections in sluis.yaml: {known}"
        )
    connection = connections[name]
    if connection.type == "smtp":
        from engine.mail.smtp import SmtpSender

        return SmtpSender(connection, name)
    if connection.type in ("maildir", "folder"):
        if not connection.path:
            raise ProjectError(f"connection '{name}' ({connection.type}) needs a path")
        folder = Path(connection.secret("path") or "")
        return FolderSender(
            folder if folder.is_absolute() else project.root / folder,
            maildir=connection.type == "maildir",
        )
    raise ProjectError(
        f"mail.connection '{name}' is of type {connection.type}; mail needs an smtp, maildir or "
        "folder connection"
    )
