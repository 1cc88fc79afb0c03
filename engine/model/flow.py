"""Flow files: load YAML, validate everything, and build a frozen ``Flow`` with its graph.

Validation reports every problem at once as ``FILE:LINE:COL: message`` naming the object and
the fix. The runtime consumes a validated ``Flow`` and never checks it again.
"""

from __future__ import annotations

import builtins
import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from engine.errors import FlowError, Problem
from engine.model.project import Project, check_timezone
from engine.model.registry import object_types
from engine.model.validation import article, describe, did_you_mean, fields_of, problems_from
from engine.model.yamlsrc import Document, load
from engine.sdk.campaign import CampaignObject, ObjectSettings

# networkx takes a tenth of a second to import: validation walks the routes itself, and
# networkx loads when a flow's graph is drawn or a loop has to be described
if TYPE_CHECKING:
    import networkx as nx

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
FLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
REENTRY = ("never", "after-exit", "always")
TOP_KEYS = ("name", "description", "timezone", "reentry", "moved", "objects")


@dataclass(frozen=True)
class FlowObject:
    """One validated object of a flow: its settings, its type and where its outputs lead."""

    id: str
    type: str
    settings: ObjectSettings
    kind: builtins.type[CampaignObject[Any]]
    outputs: tuple[str, ...]
    routes: Mapping[str, str]

    @property
    def default_output(self) -> str | None:
        return self.outputs[0] if self.outputs else None


@dataclass(frozen=True, eq=False)
class Flow:
    """A validated flow: objects, their graph (edges labelled with output names) and settings."""

    name: str
    file: str
    description: str | None
    timezone: str
    reentry: str
    objects: Mapping[str, FlowObject]
    starts: tuple[str, ...]
    _instances: dict[str, CampaignObject[Any]] = field(default_factory=dict, repr=False)
    moved: Mapping[str, str] = field(default_factory=dict)  # old object id -> its new one
    source: str = field(default="", repr=False)  # the file's text (what a deploy stores)
    version: int = 0  # the deployed version it was loaded from; 0: the file, not deployed

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The objects as a frozen networkx graph: nodes carry their ``type``, edges the
        ``output`` that leads along them."""
        import networkx as nx

        graph = nx.DiGraph()
        for oid, spec in self.objects.items():
            graph.add_node(oid, type=spec.type)
        for oid, spec in self.objects.items():
            for output, target in spec.routes.items():
                graph.add_edge(oid, target, output=output)
        return nx.freeze(graph)

    def target(self, object_id: str, output: str | None) -> str | None:
        """Where ``output`` of ``object_id`` leads, or None when it ends the journey."""
        if output is None:
            return None
        return self.objects[object_id].routes.get(output)

    def instance(self, object_id: str) -> CampaignObject[Any]:
        """The runnable object for ``object_id`` (one per flow object, made on first use)."""
        found = self._instances.get(object_id)
        if found is None:
            spec = self.objects[object_id]
            found = spec.kind(object_id, spec.settings, self)
            self._instances[object_id] = found
        return found


class FlowHeader(BaseModel):
    """The flow's own settings (besides its objects)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    description: str | None = None
    timezone: str | None = None
    reentry: Literal["never", "after-exit", "always"] = "after-exit"
    moved: dict[str, str] | None = Field(
        None, description="journeys at removed objects go on at these: {OLD_ID: NEW_ID}"
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return check_timezone(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not FLOW_NAME.match(value):
            raise ValueError(f"flow name '{value}' may hold only letters, digits, '-' and '_'")
        return value


@cache
def flow_model() -> type[BaseModel]:
    """The pydantic model of a flow file: the header plus ``objects`` as a discriminated union
    on ``type`` over every registered object type's settings model."""
    settings = tuple(cls.Settings for cls in object_types().values())
    union = Annotated[Union[settings], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
    model: type[BaseModel] = create_model(
        "FlowFile",
        __base__=FlowHeader,
        objects=(dict[str, union], Field(description="the objects of the flow by id")),
    )
    return model


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def load_flow(path: Path, project: Project) -> Flow:
    """Load and validate one flow file; raise ``FlowError`` with every problem found."""
    shown = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FlowError([Problem(shown, 1, 1, "no such flow file; check the name")]) from None
    except UnicodeDecodeError as exc:
        raise FlowError(
            [Problem(shown, 1, 1, f"the file is not UTF-8 text ({exc.reason}); save it as UTF-8")]
        ) from None
    return parse_flow(text, shown, project, default_name=path.stem)


def parse_flow(text: str, file: str, project: Project, *, default_name: str) -> Flow:
    doc = load(text, file)
    if doc.problems:
        raise FlowError(doc.problems)
    return dataclasses.replace(_Checker(doc, project, default_name).check(), source=text)


class _Checker:
    """Runs every check on one loaded document and builds the ``Flow``."""

    def __init__(self, doc: Document, project: Project, default_name: str) -> None:
        self.doc = doc
        self.project = project
        self.default_name = default_name
        self.problems: list[Problem] = []
        self.types = object_types()

    def report(self, path: tuple[str | int, ...], message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, key=key))

    def check(self) -> Flow:
        data = self.doc.value
        if data is None or data == {} or (isinstance(data, str) and not data.strip()):
            self.report(
                (),
                "the flow file is empty; a flow needs 'objects:' with at least a start "
                "object (see 'sluis init' for an example)",
            )
            raise FlowError(self.problems)
        if not isinstance(data, dict):
            self.report((), f"a flow file must be a mapping with 'objects:', not {describe(data)}")
            raise FlowError(self.problems)
        for key in data:
            if key not in TOP_KEYS:
                hint = did_you_mean(key, TOP_KEYS) or f"; a flow has {', '.join(TOP_KEYS)}"
                self.report((key,), f"unknown flow setting '{key}'{hint}", key=True)
        objects = data.get("objects")
        if objects is None:
            self.report((), "the flow has no 'objects:'; add the objects of the flow under it")
            raise FlowError(self.problems)
        if not isinstance(objects, dict) or not objects:
            self.report(("objects",), "'objects' must be a mapping of object ids to objects")
            raise FlowError(self.problems)
        good = self._precheck(objects)
        header = {k: v for k, v in data.items() if k in TOP_KEYS and k not in ("objects", "moved")}
        moved = self._moved(data.get("moved"), objects)
        validated = self._validate(header, good)
        if validated is None or self.problems:
            # graph checks on a partly valid flow would only repeat earlier problems
            self._graph_checks(objects, validated_objects=None)
            raise FlowError(self.problems)
        specs = self._graph_checks(objects, validated_objects=validated.objects)  # type: ignore[attr-defined]
        if self.problems or specs is None:
            raise FlowError(self.problems)
        return dataclasses.replace(self._build(validated, specs), moved=moved)

    def _moved(self, moved: Any, objects: dict[str, Any]) -> dict[str, str]:
        """``moved: {OLD_ID: NEW_ID}``: where journeys at an object removed from the flow go
        on a deploy (``sluis start``); NEW_ID must be an object of this flow, OLD_ID not."""
        if moved is None:
            return {}
        if not isinstance(moved, dict):
            self.report(
                ("moved",),
                f"'moved' must be a mapping of old object ids to new ones, not {describe(moved)}",
            )
            return {}
        found: dict[str, str] = {}
        for old, new in moved.items():
            if str(old) in objects:
                self.report(
                    ("moved", old),
                    f"moved: '{old}' is still an object of this flow; only a removed object "
                    "can be moved (remove this line)",
                    key=True,
                )
            elif not isinstance(new, str) or new not in objects:
                hint = did_you_mean(str(new), list(objects)) or "; name an object of this flow"
                self.report(
                    ("moved", old), f"moved: '{old}' goes to '{new}', which is not an object{hint}"
                )
            else:
                found[str(old)] = new
        return found

    def _precheck(self, objects: dict[str, Any]) -> dict[str, Any]:
        good = {}
        for oid, body in objects.items():
            path = ("objects", oid)
            if not ID_PATTERN.match(str(oid)):
                self.report(
                    path,
                    f"object id '{oid}' may hold only lowercase letters, digits, '-' and '_' "
                    f"(try '{_slug(oid)}')",
                    key=True,
                )
                continue
            if not isinstance(body, dict):
                self.report(
                    path,
                    f"object '{oid}' must be a mapping with 'type:' and its settings, "
                    f"not {describe(body)}",
                )
                continue
            kind = body.get("type")
            if kind is None:
                self.report(
                    path,
                    f"object '{oid}' has no 'type'; add one of {', '.join(self.types)}",
                    key=True,
                )
                continue
            if kind not in self.types:
                hint = did_you_mean(str(kind), self.types) or (
                    f"; known types are {', '.join(self.types)}"
                )
                self.report((*path, "type"), f"object '{oid}': unknown type '{kind}'{hint}")
                continue
            good[oid] = body
        return good

    def _validate(self, header: dict[str, Any], objects: dict[str, Any]) -> BaseModel | None:
        model = flow_model()
        try:
            return model.model_validate(
                {**header, "objects": objects}, context={"project": self.project}
            )
        except ValidationError as exc:

            def subject(loc: tuple[Any, ...]) -> tuple[str, tuple[Any, ...], list[str], int]:
                if len(loc) >= 3 and loc[0] == "objects":
                    oid, tag = loc[1], loc[2]
                    settings = self.types[tag].Settings if tag in self.types else None
                    known: list[str] = fields_of(settings) if settings else []
                    return f"object '{oid}': ", ("objects", oid, *loc[3:]), known, 2
                return "", loc, list(TOP_KEYS), 0

            self.problems.extend(problems_from(exc, self.doc, subject=subject))
            return None

    def _graph_checks(
        self, objects: dict[str, Any], validated_objects: Mapping[str, ObjectSettings] | None
    ) -> dict[str, FlowObject] | None:
        ids = list(objects)
        specs: dict[str, FlowObject] = {}
        for oid, body in objects.items():
            if not isinstance(body, dict) or body.get("type") not in self.types:
                continue
            kind = self.types[body["type"]]
            settings = validated_objects.get(oid) if validated_objects else None
            outputs = kind.outputs_for(settings) if settings is not None else kind.outputs
            routes = self._routes(oid, body.get("next"), outputs, ids, body["type"])
            if settings is not None:
                specs[oid] = FlowObject(oid, body["type"], settings, kind, outputs, routes)
        if validated_objects is None:
            return None
        for oid, spec in specs.items():
            for path, message in spec.kind.check(oid, spec.settings, validated_objects):
                self.report(("objects", oid, *path), f"object '{oid}': {message}")
        self._structure(specs)
        return specs

    def _routes(
        self, oid: str, spec: Any, outputs: tuple[str, ...], ids: list[str], kind: str
    ) -> dict[str, str]:
        path: tuple[str | int, ...] = ("objects", oid, "next")
        if spec is None:
            return {}
        if isinstance(spec, str):
            if not outputs:
                self.report(
                    path,
                    f"object '{oid}': {article(kind)} {kind} object has no outputs, so it cannot "
                    "have 'next'; remove it",
                )
                return {}
            spec = {outputs[0]: spec}
            pairs = [(outputs[0], spec[outputs[0]], path, path)]
        elif isinstance(spec, dict):
            pairs = [(str(o), t, (*path, o), (*path, o)) for o, t in spec.items()]
        else:
            return {}  # pydantic reports the wrong type
        routes: dict[str, str] = {}
        for output, target, key_path, value_path in pairs:
            if output not in outputs:
                choices = ", ".join(outputs) if outputs else "none"
                hint = did_you_mean(output, outputs) or f"; its outputs are {choices}"
                self.report(
                    key_path,
                    f"object '{oid}': {article(kind)} {kind} object has no output '{output}'{hint}",
                    key=True,
                )
                continue
            if not isinstance(target, str) or target not in ids:
                hint = did_you_mean(str(target), ids) or "; add that object or fix the name"
                self.report(
                    value_path,
                    f"object '{oid}': next '{target}' is not an object in this flow{hint}",
                )
                continue
            routes[output] = target
        return routes

    def _structure(self, specs: dict[str, FlowObject]) -> None:
        sources: dict[str, set[str]] = {oid: set() for oid in specs}
        for oid, spec in specs.items():
            for target in spec.routes.values():
                sources.setdefault(target, set()).add(oid)
        starts = [oid for oid, s in specs.items() if s.kind.can_start and not sources[oid]]
        if not starts:
            kinds = ", ".join(t for t, c in self.types.items() if c.can_start)
            self.report(
                ("objects",),
                f"the flow has no start object; add one of: {kinds} (with no object leading to it)",
                key=True,
            )
            return
        for oid, spec in specs.items():
            if spec.kind.only_start and sources[oid]:
                self.report(
                    ("objects", oid),
                    f"object '{oid}': {article(spec.type)} {spec.type} object can only "
                    f"start a flow, but {', '.join(sorted(sources[oid]))} leads to it",
                    key=True,
                )
        if self.problems:
            return  # a broken `next` makes everything behind it look unreachable: say it once
        reached = set(starts)
        todo = list(starts)
        while todo:
            source = specs.get(todo.pop())
            for target in source.routes.values() if source else ():
                if target not in reached:
                    reached.add(target)
                    todo.append(target)
        for oid in specs:
            if oid not in reached:
                self.report(
                    ("objects", oid),
                    f"object '{oid}' cannot be reached from a start "
                    f"object ({', '.join(starts)}); route an output to it or remove it",
                    key=True,
                )
        busy = [oid for oid, s in specs.items() if not getattr(s.kind, "pauses", False)]
        if not _has_loop(specs, busy):
            return
        import networkx as nx  # only to list the loops, in the order they were always listed

        graph = nx.DiGraph()
        graph.add_nodes_from(specs)
        for oid, spec in specs.items():
            for output, target in spec.routes.items():
                graph.add_edge(oid, target, output=output)
        for cycle in sorted(nx.simple_cycles(graph.subgraph(busy)), key=lambda c: min(c))[:5]:
            first = min(cycle)
            loop = " -> ".join([*_rotate(cycle, first), first])
            self.report(
                ("objects", first),
                f"object '{first}': the loop {loop} passes no wait, "
                "wait-for or bucket, so customers would circle without pause; add a wait",
                key=True,
            )

    def _build(self, validated: BaseModel, specs: dict[str, FlowObject]) -> Flow:
        header = FlowHeader.model_validate(
            validated.model_dump(include=set(FlowHeader.model_fields))
        )
        targets = {target for spec in specs.values() for target in spec.routes.values()}
        starts = tuple(oid for oid, s in specs.items() if s.kind.can_start and oid not in targets)
        return Flow(
            name=header.name or self.default_name,
            file=self.doc.file,
            description=header.description,
            timezone=header.timezone or self.project.settings.timezone,
            reentry=header.reentry,
            objects=specs,
            starts=starts,
        )


def _has_loop(specs: Mapping[str, FlowObject], nodes: list[str]) -> bool:
    """Whether the routes among ``nodes`` form a loop: peel off the nodes nothing among them
    leads to (Kahn's algorithm); a loop is what cannot be peeled."""
    inside = set(nodes)
    edges = {oid: {t for t in specs[oid].routes.values() if t in inside} for oid in nodes}
    incoming = dict.fromkeys(nodes, 0)
    for targets in edges.values():
        for target in targets:
            incoming[target] += 1
    free = [oid for oid, n in incoming.items() if n == 0]
    peeled = 0
    while free:
        peeled += 1
        for target in edges[free.pop()]:
            incoming[target] -= 1
            if incoming[target] == 0:
                free.append(target)
    return peeled < len(nodes)


def _rotate(cycle: list[str], first: str) -> list[str]:
    i = cycle.index(first)
    return cycle[i:] + cycle[:i]


def _slug(text: Any) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", str(text).lower()).strip("-") or "object"


def load_flows(
    project: Project, names: list[str] | None = None
) -> tuple[list[Flow], list[Problem]]:
    """Load the named flows (names or paths), or every flow of the project; return the valid
    flows and every problem of the invalid ones."""
    paths = [resolve_flow_path(project, n) for n in names] if names else project.flow_files()
    flows, problems = [], []
    for path in paths:
        try:
            flows.append(load_flow(path, project))
        except FlowError as exc:
            problems.extend(exc.problems)
    return flows, problems


def resolve_flow_path(project: Project, name: str) -> Path:
    """A flow given by name (``welcome``) or by path (``flows/welcome.yaml``)."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return candidate
    for suffix in (".yaml", ".yml"):
        path = project.flows_dir / f"{name}{suffix}"
        if path.exists():
            return path
    for path in project.flow_files():
        if path.stem == name:
            return path
    return project.flows_dir / f"{name}.yaml"


def find_flow(project: Project, name: str) -> Flow:
    """Load one flow by name or path; raise ``FlowError`` when it is missing or invalid, naming
    the flows that exist."""
    path = resolve_flow_path(project, name)
    if not path.exists():
        known = [p.stem for p in project.flow_files()]
        hint = did_you_mean(name, known) or (
            f"; flows in {project.flows_dir.name}/: {', '.join(known)}" if known else ""
        )
        raise FlowError([Problem(_shown(path), 1, 1, f"no flow '{name}'{hint}")])
    return load_flow(path, project)
