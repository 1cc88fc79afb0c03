"""What a sender answers for each mail (``Delivery``), and the ``Handover`` it calls right
before a mail leaves, which records it in the send log (see ``senders.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from engine.mail.compose import Letter

DeliveryState = Literal["sent", "failed", "refused", "unknown"]
Handover = Callable[[Letter], bool]
TAKEN = "another run took this mail over"


@dataclass(frozen=True)
class Delivery:
    """What became of one mail."""

    journey_id: int
    state: DeliveryState
    detail: str = ""
