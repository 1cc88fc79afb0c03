"""What a deploy would change (``sluis plan FLOW``, and the check ``sluis start`` makes first):
the flow file against the running version, object by object, and for every object that goes
away, how many journeys wait there and where they will go.

Stranded journeys are never guessed about: they go where the file's ``moved:`` says, or stay on
their version (``--drain``); else the deploy is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.model.flow import Flow


@dataclass(frozen=True)
class Removed:
    """An object the new version lacks, and the journeys waiting there."""

    object: str
    waiting: int
    goes_to: str | None  # the object ``moved:`` names, or None


@dataclass(frozen=True)
class Plan:
    """The difference between the running version and the file."""

    flow: str
    running: int  # the running version's number (0: none stored)
    changed_file: bool  # False: the file is the running version
    added: list[str] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)  # object, what changed
    rerouted: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    draining: Mapping[int, int] = field(default_factory=dict)  # older versions still in use

    @property
    def stranded(self) -> list[Removed]:
        """Removed objects where journeys wait with nowhere to go."""
        return [r for r in self.removed if r.waiting and r.goes_to is None]

    @property
    def safe(self) -> bool:
        return not self.stranded


def make_plan(
    new: Flow,
    old: Flow | None,
    waiting: Mapping[str, int],
    *,
    running: int,
    changed_file: bool,
    draining: Mapping[int, int],
) -> Plan:
    """Compare ``new`` (the file) with ``old`` (the running version; None when none is
    stored), given how many journeys on the running version wait at each object."""
    plan = Plan(new.name, running, changed_file, draining=dict(draining))
    old_objects = old.objects if old is not None else {}
    plan.added.extend(oid for oid in new.objects if old is not None and oid not in old_objects)
    gone = [oid for oid in old_objects if oid not in new.objects]
    # journeys of a version not stored (made before versions were kept) may stand anywhere
    gone += sorted(oid for oid in waiting if oid not in new.objects and oid not in gone)
    for oid in gone:
        plan.removed.append(Removed(oid, waiting.get(oid, 0), new.moved.get(oid)))
    for oid, spec in new.objects.items():
        before = old_objects.get(oid)
        if before is None:
            continue
        what = _changes(before.type, spec.type, before.settings, spec.settings)
        if what:
            plan.changed.append((oid, what))
        for output in dict.fromkeys([*before.routes, *spec.routes]):
            was, now = before.routes.get(output), spec.routes.get(output)
            if was != now:
                plan.rerouted.append((oid, output, was, now))
    return plan


def _changes(old_type: str, new_type: str, old: object, new: object) -> list[str]:
    if old_type != new_type:
        return [f"type {old_type} -> {new_type}"]
    before = _dump(old)
    after = _dump(new)
    return [
        key
        for key in dict.fromkeys([*before, *after])
        if key not in ("type", "next") and before.get(key) != after.get(key)
    ]


def _dump(settings: object) -> dict[str, object]:
    dump = getattr(settings, "model_dump", None)
    return dict(dump(mode="json")) if dump is not None else {}


def describe(plan: Plan) -> list[str]:
    """The plan as lines a person reads."""
    drains = [
        f"  version {number} drains: {count} journey(s) finish on it"
        for number, count in sorted(plan.draining.items())
    ]
    if not plan.changed_file:
        head = f"{plan.flow}: the file is the running version {plan.running}; nothing to deploy"
        return [head, *drains]
    head = (
        f"{plan.flow}: the file differs from the running version {plan.running}"
        if plan.running
        else f"{plan.flow}: no version deployed yet; 'sluis start' stores version 1"
    )
    lines = [head]
    lines += [f"  + added   {oid}" for oid in plan.added]
    for r in plan.removed:
        if not r.waiting:
            lines.append(f"  - removed {r.object}: none wait there")
            continue
        where = f"they go to '{r.goes_to}' (moved)" if r.goes_to else "stranded: nowhere to go"
        lines.append(f"  - removed {r.object}: {r.waiting} journey(s) wait there; {where}")
    lines += [f"  ~ changed {oid}: {', '.join(what)}" for oid, what in plan.changed]
    for oid, output, was, now in plan.rerouted:
        lines.append(f"  > re-routed {oid}.{output}: {was or '(end)'} -> {now or '(end)'}")
    lines += drains
    if len(lines) == 1:
        lines.append("  no object changed (only text such as comments or the description)")
    return lines


def refusal(plan: Plan) -> str:
    """Why a deploy is refused, with both fixes."""
    stranded = "; ".join(f"{r.waiting} at '{r.object}'" for r in plan.stranded)
    example = ", ".join(f"{r.object}: NEW_ID" for r in plan.stranded)
    moved = f"a top-level 'moved: {{{example}}}' in the flow file"
    if not plan.running:  # no stored version to drain on (journeys from before versions)
        return (
            f"starting {plan.flow} would strand journeys at removed objects ({stranded}); say "
            f"where they go with {moved}; see 'sluis plan {plan.flow}'"
        )
    return (
        f"starting {plan.flow} would strand journeys at removed objects ({stranded}). Either "
        f"say where they go with {moved}, or let them finish on version {plan.running} with "
        f"'sluis start {plan.flow} --drain'; see 'sluis plan {plan.flow}'"
    )
