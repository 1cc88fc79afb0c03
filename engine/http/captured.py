"""The HTTP sink of replay: calls are captured, not sent. Every call answers ``200`` with an
empty JSON body ``{}``, judged by the object's policy like a real answer."""

from __future__ import annotations

from collections.abc import Sequence

from engine.http.calls import CallPolicy, HttpAnswer, HttpCall, HttpOutcome, outcome

REPLAY_HEADER = "x-sluis-replay"  # marks an answer replay made up, not a server's
REPLAY_ANSWER = HttpAnswer(200, {"content-type": "application/json", REPLAY_HEADER: "1"}, b"{}")


class CapturedHttp:
    """Keeps the calls it was given (``calls``) and answers each with ``REPLAY_ANSWER``."""

    def __init__(self) -> None:
        self.calls: list[HttpCall] = []

    def send_all(self, calls: Sequence[HttpCall], policy: CallPolicy) -> list[HttpOutcome]:
        self.calls.extend(calls)
        return [outcome(REPLAY_ANSWER, call, policy, 1) for call in calls]
