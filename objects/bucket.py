"""``bucket``: collects customers and releases them in groups of exactly ``size``, in order of
arrival (ties by system_id), as soon as that many wait; what is left goes when ``every`` has
passed since the first of them entered. Each release moves on as one batch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from engine.sdk import (
    Batch,
    CampaignObject,
    Duration,
    ObjectSettings,
    Routing,
    RunContext,
    format_duration,
)

SLICE = 10_000  # journeys decided (and held in memory) at a time when many wait


class BucketSettings(ObjectSettings):
    type: Literal["bucket"]
    size: int | None = Field(default=None, ge=1, le=10_000_000)
    every: Duration | None = None

    @model_validator(mode="after")
    def _something(self) -> BucketSettings:
        if self.size is None and self.every is None:
            raise ValueError("a bucket needs 'size' (a count), 'every' (a duration) or both")
        return self


class Bucket(CampaignObject[BucketSettings]):
    type = "bucket"
    claims_all = True
    pauses = True
    reads_customers = False

    def claim_slice(self) -> int | None:
        """Whole groups at a time: a slice holds a multiple of ``size``, so only the last
        one can leave a rest (the ``every`` rule applies to it). Without a size everything
        goes at once: it moves on as one batch anyway."""
        size = self.settings.size
        return None if size is None else size * max(1, SLICE // size)

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        waiting = sorted(batch, key=lambda j: (j.arrived_at, j.customer_id, j.id))
        size = settings.size
        if size is not None:
            full = len(waiting) - len(waiting) % size
            for start in range(0, full, size):
                routing.release(
                    waiting[start : start + size], "out", f"released in a group of {size}"
                )
            waiting = waiting[full:]
        if not waiting:
            return
        if settings.every is None:
            for journey in waiting:
                routing.hold(journey, None)
            return
        due = waiting[0].arrived_at + settings.every
        if ctx.now >= due:
            routing.release(
                waiting,
                "out",
                f"released {len(waiting)} after {format_duration(settings.every)}",
            )
        else:
            for journey in waiting:
                routing.hold(journey, due)
