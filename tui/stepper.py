"""Step mode: a replay driven a batch at a time. Runs on the store thread (the replay's
in-memory database has one connection); the runtime tells it which object each batch ran."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from engine.runtime.passage import BatchReport
from engine.runtime.replay import Replay


@dataclass(frozen=True)
class StepResult:
    """What one action did: batches run (the last one's report), where the clock stands,
    whether it moved, whether the replay ended."""

    batches: int
    last: BatchReport | None
    now: datetime
    moved: bool
    finished: bool


class Stepper:
    """Steps one replay: one batch, everything up to the next timer, or on to the end."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.last: BatchReport | None = None
        self._batches = 0
        replay.runtime.on_batch.append(self._ran)

    def _ran(self, report: BatchReport) -> None:
        self.last = report
        self._batches += 1

    def _result(self, batches: int, start: datetime) -> StepResult:
        now = self.replay.clock.now()
        return StepResult(
            self._batches - batches, self.last, now, now != start, self.replay.finished
        )

    def step(self) -> StepResult:
        """Run the next batch, moving the clock on to it when nothing is due now."""
        batches, start = self._batches, self.replay.clock.now()
        while self._batches == batches and self.replay.step():
            pass
        return self._result(batches, start)

    def next_timer(self) -> StepResult:
        """Run every batch due now, then move the clock to the next moment something is due."""
        batches, start = self._batches, self.replay.clock.now()
        while self.replay.clock.now() == start and self.replay.step():
            pass
        return self._result(batches, start)

    def run_for(self, seconds: float) -> StepResult:
        """Play on towards the end for at most ``seconds`` of real time (the UI calls again
        until the replay has ended, refreshing the screen in between)."""
        batches, start = self._batches, self.replay.clock.now()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.replay.step():
            pass
        return self._result(batches, start)
