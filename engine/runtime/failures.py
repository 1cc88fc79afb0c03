"""What failed during a run, for ``sluis run --once``'s summary (DESIGN.md 8): journeys that
failed, journeys that ended through an unrouted ``failed`` output, and start objects whose
firing failed, counted per object and reason (``3 journeys failed at crm-push: HTTP 503 after
5 tries``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from engine.model.flow import Flow
from engine.runtime.retry import unrouted_failed
from engine.store import Store
from engine.store.raw import fetch, json_value, marks, time_param


@dataclass(frozen=True)
class Failures:
    """What failed: one line per (object, reason), and the flows with failed journeys (those
    ``sluis retry`` puts back; a start object's firing goes again on its schedule)."""

    lines: list[str]
    flows: list[str]

    def __bool__(self) -> bool:
        return bool(self.lines)


def failures_since(store: Store, flows: Iterable[Flow], since: datetime) -> Failures:
    """What failed at or after ``since``."""
    flows = list(flows)
    if not flows:
        return Failures([], [])
    journeys: Counter[tuple[str, str, str]] = Counter()
    starts: Counter[tuple[str, str, str]] = Counter()
    names = [flow.name for flow in flows]
    with store.db.read() as conn:
        at = time_param(conn, since)
        events = fetch(
            conn,
            "SELECT flow, object, customer_id, data FROM events WHERE kind = 'failed' "
            f"AND at >= ? AND flow IN ({marks(len(names))})",
            [at, *names],
        )
        for flow, object_id, customer, data in events:
            reason = str((json_value(data) or {}).get("reason") or "failed")
            (journeys if customer is not None else starts)[(flow, object_id, reason)] += 1
        for flow in flows:
            unrouted = unrouted_failed(flow)
            if not unrouted:
                continue
            ended = fetch(
                conn,
                "SELECT object, reason, count(*) FROM steps WHERE flow = ? AND at >= ? "
                f"AND output = 'failed' AND object IN ({marks(len(unrouted))}) "
                "GROUP BY object, reason",
                [flow.name, at, *unrouted],
            )
            for object_id, reason, count in ended:
                journeys[(flow.name, object_id, reason)] += count
    lines = [
        f"{n} journey{'s' if n != 1 else ''} failed at {obj}: {_why(reason)}"
        for (_, obj, reason), n in sorted(journeys.items())
    ]
    lines += [
        f"start object {obj} of flow {flow} failed{'' if n == 1 else f' {n} times'}: {_why(reason)}"
        for (flow, obj, reason), n in sorted(starts.items())
    ]
    return Failures(lines, sorted({flow for flow, _, _ in journeys}))


def _why(reason: str) -> str:
    return reason.removeprefix("failed: ").removeprefix("failed") or "failed"
