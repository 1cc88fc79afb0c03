"""Deploying, starting and stopping flows, and which versions of them run now.

What runs is what was started, never the file on disk: a start stores the flow's text as a new
version in the database when it differs from the running one (``engine.store.versions``), and
every runtime runs the versions stored there. Journeys record their version: a start moves the
journeys of the running version onto the new one (those at removed objects where the file's
``moved:`` says), or, with ``drain``, leaves them to finish on theirs while new entries take
the new one. A start that would strand journeys is refused (``engine.runtime.plan``).

A start also resets the schedules of the flow's start objects (one without a schedule fires
once, now, unless the start is by hand); a stop leaves journeys where they are until the flow
starts again. Both only write state: the worker acts on it.
"""

from __future__ import annotations

import dataclasses
import getpass
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from engine.errors import FlowError, SluisError
from engine.model.flow import Flow, parse_flow
from engine.model.project import Project
from engine.runtime.firing import first_due
from engine.runtime.plan import Plan, make_plan, refusal
from engine.sdk.campaign import Once
from engine.store import Store, flowstate, triggers, versions

if TYPE_CHECKING:
    from engine.runtime.runner import Runtime

log = logging.getLogger("sluis.runtime")
STARTED_TTL = 1.0  # seconds a runtime trusts its list of started flows


class DeployRefused(SluisError):
    """A start that would strand journeys at removed objects."""

    exit_code = 2


def ensure_safe(plan: Plan, *, drain: bool) -> None:
    """Refuse (``DeployRefused``, naming the objects, the counts and both fixes) a deploy
    that would strand journeys at removed objects, unless ``drain`` keeps them on their
    version."""
    if plan.changed_file and not plan.safe and not (drain and plan.running):
        raise DeployRefused(refusal(plan))


def load_version(project: Project, stored: versions.StoredVersion) -> Flow:
    """The flow of a stored version (validated as any file is)."""
    flow = parse_flow(
        stored.yaml,
        f"{stored.flow} (version {stored.number})",
        project,
        default_name=stored.flow,
    )
    return _as_version(flow, stored.number)


def _as_version(flow: Flow, number: int) -> Flow:
    return Flow(
        name=flow.name,
        file=flow.file,
        description=flow.description,
        timezone=flow.timezone,
        reentry=flow.reentry,
        objects=flow.objects,
        starts=flow.starts,
        moved=flow.moved,
        source=flow.source,
        version=number,
    )


def deployed_flows(store: Store) -> list[Flow]:
    """The running version of every flow with a stored version, started or stopped (a
    version this project can no longer read is skipped with a warning)."""
    with store.db.read() as conn:
        found = versions.deployed(conn)
        stored = [versions.version(conn, name, d.version) for name, d in sorted(found.items())]
    flows = []
    for version in stored:
        if version is None:
            continue
        try:
            flows.append(load_version(store.project, version))
        except FlowError as exc:
            log.warning(
                "version %s of flow %s no longer validates: %s",
                version.number,
                version.flow,
                "; ".join(map(str, exc.problems)),
            )
    return flows


def running_flows(store: Store, files: list[Flow]) -> list[Flow]:
    """What a runtime runs: the running version of every deployed flow, and the flow files
    of the flows never deployed (they run once started, which stores them)."""
    deployed = {flow.name: flow for flow in deployed_flows(store)}
    return [*deployed.values(), *(f for f in files if f.name not in deployed)]


def flow_at(runtime: Runtime, name: str, number: int) -> Flow:
    """The flow ``name`` as of version ``number`` (0: the running one), loaded once."""
    current = runtime.flow(name)
    if number in (0, current.version):
        return current
    key = (name, number)
    found = runtime.versions.get(key)
    if found is None:
        with runtime.store.db.read() as conn:
            stored = versions.version(conn, name, number)
        if stored is None:
            raise SluisError(f"flow {name} has no version {number} in the database")
        found = runtime.versions[key] = load_version(runtime.store.project, stored)
        runtime.claims_all.setdefault(name, set()).update(
            oid for oid, spec in found.objects.items() if spec.kind.claims_all
        )
    return found


def started_flows(runtime: Runtime) -> list[str]:
    """The flows that run now, with the runtime's flows brought up to their running
    versions. Read at most once a second: another process's start, stop or deploy shows
    within a second, and a busy worker saves a query per batch."""
    moment = time.monotonic()
    if runtime._started is not None and moment - runtime._started[0] < STARTED_TTL:
        return runtime._started[1]
    with runtime.store.db.read() as conn:
        started = flowstate.started_flows(conn)
        found = versions.deployed(conn)
        stale = {
            name: versions.version(conn, name, d.version)
            for name, d in found.items()
            if name not in runtime.flows or runtime.flows[name].version != d.version
        }
    for name, stored in stale.items():
        if stored is None:
            continue
        try:
            runtime.adopt(load_version(runtime.store.project, stored))
        except FlowError as exc:
            log.warning("version %s of flow %s no longer validates: %s", stored.number, name, exc)
    started = [n for n in started if n in runtime.flows]
    runtime._started = (moment, started)
    return started


def plan(runtime: Runtime, flow: Flow) -> Plan:
    """What starting ``flow`` (the file) would change for the running version."""
    with runtime.store.db.read() as conn:
        return _plan(runtime, conn, flow)


def _plan(runtime: Runtime, conn: Connection, flow: Flow) -> Plan:
    running = versions.running_version(conn, flow.name)
    stored = versions.version(conn, flow.name, running) if running else None
    old = None
    if stored is not None:
        loaded = runtime.flows.get(flow.name)
        old = loaded if loaded is not None and loaded.version == running else None
        if old is None:
            try:
                old = load_version(runtime.store.project, stored)
            except FlowError:
                old = None  # compared by the journeys' objects alone
    changed = stored is None or stored.hash != versions.content_hash(flow.source)
    waiting = versions.waiting_at(conn, flow.name, [0, running]) if changed else {}
    return make_plan(
        flow,
        old,
        waiting,
        running=running,
        changed_file=changed,
        draining=versions.draining(conn, flow.name, running),
    )


def start(
    runtime: Runtime, name: str, *, fire: bool = True, drain: bool = False, by: str | None = None
) -> Plan:
    """Deploy and start ``runtime.flows[name]``: store it as a new version when it differs
    from the running one, move the running version's journeys onto it (or, with ``drain``,
    leave them to finish on theirs), then its schedules, triggers and webhooks act from now
    on. Start objects without a schedule fire once, now (unless ``fire`` is False: a start
    by hand). Refused (``DeployRefused``) when journeys would be stranded."""
    flow = runtime.flow(name)
    now = runtime.clock.now()
    with runtime.store.db.write() as conn:
        deploy = _plan(runtime, conn, flow)
        ensure_safe(deploy, drain=drain)
        runtime._started = None
        flowstate.set_started(conn, name, True, now)
        if deploy.changed_file:
            number = versions.add_version(conn, name, flow.source, by or _who(), now)
            older = [0] if drain else [0, deploy.running]
            versions.move_journeys(conn, name, older, number, flow.moved, now)
            # the same text: the flow keeps its objects (made once), now as this version
            runtime.adopt(dataclasses.replace(flow, version=number))
            flow = runtime.flows[name]
        elif deploy.running and flow.version != deploy.running:
            # the file of the running version: its journeys record that version
            runtime.adopt(dataclasses.replace(flow, version=deploy.running))
            flow = runtime.flows[name]
        for oid in flow.starts:
            trigger = flow.instance(oid).trigger()
            if trigger is None:
                continue
            due = first_due(trigger, flow, now) if fire or not isinstance(trigger, Once) else None
            triggers.reset(conn, name, oid, due)
        triggers.keep_only(conn, name, list(flow.starts))
    return deploy


def _who() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def stop(runtime: Runtime, name: str) -> None:
    """Stop a flow; journeys already in it stay where they are until it starts again."""
    runtime.flow(name)
    with runtime.store.db.write() as conn:
        runtime._started = None
        flowstate.set_started(conn, name, False, runtime.clock.now())
