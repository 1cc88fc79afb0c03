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
from engine.model.flowchecks import check_flow
from engine.model.project import Project, check_timezone
from engine.model.registry import object_types
from engine.model.routes import Routes, check_structure, read_routes
from engine.model.validation import describe, did_you_mean, fields_of, problems_from
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
    # what would fail at run time in this environment (an unset ${VAR}, a missing key):
    # `sluis validate` shows them, `--strict` and `sluis start` refuse them
    warnings: tuple[Problem, ...] = ()
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
        self.warnings: list[Problem] = []
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
        header = self._header(
            {k: v for k, v in data.items() if k in TOP_KEYS and k not in ("objects", "moved")}
        )
        objects = data.get("objects")
        if objects is None:
            self.report((), "the flow has no 'objects:'; add the objects of the flow under it")
            raise FlowError(self.problems)
        if not isinstance(objects, dict) or not objects:
            self.report(("objects",), "'objects' must be a mapping of object ids to objects")
            raise FlowError(self.problems)
        good = self._precheck(objects)
        moved = self._moved(data.get("moved"), objects)
        settings = {oid: self._settings(oid, body) for oid, body in good.items()}
        valid = {oid: s for oid, s in settings.items() if s is not None}
        specs = self._graph_checks(good, valid, unknown=[o for o in objects if o not in good])
        if self.problems or header is None:
            raise FlowError(sorted(self.problems, key=lambda p: (p.line, p.column)), self.warnings)
        return dataclasses.replace(self._build(header, specs), moved=moved)

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

    def _header(self, header: dict[str, Any]) -> FlowHeader | None:
        try:
            return FlowHeader.model_validate(header)
        except ValidationError as exc:
            known = list(TOP_KEYS)
            self.problems.extend(
                problems_from(exc, self.doc, subject=lambda loc: ("", loc, known, 0))
            )
            return None

    def _settings(self, oid: str, body: dict[str, Any]) -> ObjectSettings | None:
        """One object's settings, validated on their own: a broken object hides nothing of the
        others."""
        model = self.types[body["type"]].Settings
        try:
            return model.model_validate(body, context={"project": self.project})
        except ValidationError as exc:
            known = fields_of(model)
            self.problems.extend(
                problems_from(
                    exc,
                    self.doc,
                    base=("objects", oid),
                    subject=lambda loc: (f"object '{oid}': ", loc, known, 0),
                )
            )
            return None

    def _graph_checks(
        self, objects: dict[str, Any], valid: Mapping[str, ObjectSettings], unknown: list[str]
    ) -> dict[str, FlowObject]:
        ids = list(objects) + unknown
        specs: dict[str, FlowObject] = {}
        kinds = {oid: self.types[body["type"]] for oid, body in objects.items()}
        routes: dict[str, Routes] = {}
        for oid, body in objects.items():
            kind, settings = kinds[oid], valid.get(oid)
            outputs = kind.outputs_for(settings) if settings is not None else kind.outputs
            routes[oid] = read_routes(self.report, oid, body.get("next"), kind, outputs, ids)
            if settings is not None:
                specs[oid] = FlowObject(
                    oid, body["type"], settings, kind, outputs, routes[oid].routes
                )
        # the objects whose settings did not validate still count as their type for the checks
        # of other objects (a wait-for naming a mail object)
        every = {
            oid: valid.get(oid) or kinds[oid].Settings.model_construct(type=body["type"])
            for oid, body in objects.items()
        }
        for oid, spec in specs.items():
            for path, message in spec.kind.check(oid, spec.settings, every):
                self.report(("objects", oid, *path), f"object '{oid}': {message}")
        for oid in unknown:
            routes[oid] = _raw_targets(self.doc.value["objects"].get(oid), ids)
        check_structure(self.report, kinds, routes, self.types, unknown)
        check_flow(self.doc, self.project, objects, specs, self.problems, self.warnings)
        return specs

    def _build(self, header: FlowHeader, specs: dict[str, FlowObject]) -> Flow:
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
            warnings=tuple(self.warnings),
        )


def _raw_targets(body: Any, ids: list[str]) -> Routes:
    """What an object of unknown type seems to lead to (its ``next`` as written)."""
    spec = body.get("next") if isinstance(body, dict) else None
    targets = (
        [spec] if isinstance(spec, str) else list(spec.values()) if isinstance(spec, dict) else []
    )
    return Routes(meant={t for t in targets if isinstance(t, str) and t in ids})


def _slug(text: Any) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", str(text).lower()).strip("-") or "object"


def load_flows(
    project: Project, names: list[str] | None = None
) -> tuple[list[Flow], list[Problem]]:
    """Load the named flows (names or paths), or every flow of the project; return the valid
    flows and every problem of the invalid ones."""
    flows, problems, _ = check_flows(project, names)
    return flows, problems


def check_flows(
    project: Project, names: list[str] | None = None
) -> tuple[list[Flow], list[Problem], list[Problem]]:
    """``load_flows``, and the warnings of the invalid flows too (``sluis validate`` reports
    every problem of a file at once)."""
    paths = [resolve_flow_path(project, n) for n in names] if names else project.flow_files()
    flows, problems, warnings = [], [], []
    for path in paths:
        try:
            flows.append(load_flow(path, project))
        except FlowError as exc:
            problems.extend(exc.problems)
            warnings.extend(exc.warnings)
    return flows, problems, warnings


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
