"""What a sender answers for each mail (``Delivery``), and the ``Handover`` it calls right
before a mail leaves, which records it in the send log (see ``senders.py``): mail by mail, or
for a whole window at once by a sender that hands them all over at one moment (one that only
keeps them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from engine.mail.compose import Letter

DeliveryState = Literal["sent", "failed", "refused", "unknown"]
TAKEN = "another run took this mail over"


@dataclass(frozen=True)
class Delivery:
    """What became of one mail."""

    journey_id: int
    state: DeliveryState
    detail: str = ""


class Handover(Protocol):
    """Records in the send log that mails are handed over now, and commits. A mail it turns
    down was taken over by another run and must not be handed over."""

    def __call__(self, letter: Letter) -> bool:
        """One mail; False when it must not go."""
        ...

    def all(self, letters: Sequence[Letter]) -> set[int]:
        """All of them at once; the journeys whose mails may go."""
        ...
