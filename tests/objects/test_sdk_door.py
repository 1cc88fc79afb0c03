"""Objects reach the engine through one door, ``engine.sdk``, and the door's interface holds:
typed settings, hooks by interface, routing only to declared outputs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import engine.sdk
from engine.model.flow import load_flow
from engine.model.project import Project
from engine.sdk import (
    CampaignObject,
    IncomingEvent,
    ObjectSettings,
    Routing,
    UndeclaredOutput,
)
from engine.sdk.batch import Entry, chunks_of

OBJECTS = sorted((Path(__file__).parents[2] / "objects").glob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_an_object_imports_nothing_of_the_engine_but_the_sdk(path: Path) -> None:
    wrong = [
        f"{path.name}:{line}: {module}"
        for line, module in _imports(path)
        if (module.startswith("engine") and not module.startswith("engine.sdk"))
        or module.split(".")[0] == "sqlalchemy"
    ]
    assert not wrong, "objects import only engine.sdk: " + ", ".join(wrong)


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_an_object_opens_no_transaction_and_asserts_no_settings_type(path: Path) -> None:
    text = path.read_text()
    for needle in ("assert isinstance(settings", "ctx.store", ".begin(", "db.write", "db.read"):
        assert needle not in text, f"{path.name} uses {needle!r}"


def test_every_name_the_sdk_exports_resolves() -> None:
    for name in engine.sdk.__all__:
        assert getattr(engine.sdk, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'Store'"):
        engine.sdk.Store  # noqa: B018


class NoteSettings(ObjectSettings):
    text: str = ""


class Note(CampaignObject[NoteSettings]):
    type = "note"
    outputs = ("out", "other")


def test_the_settings_model_comes_from_the_generic_parameter() -> None:
    assert Note.Settings is NoteSettings


def test_hooks_have_defaults_on_the_base() -> None:
    note = Note("n", NoteSettings(type="note"), flow=None)  # type: ignore[arg-type]
    event = IncomingEvent("open", 1, at=None)  # type: ignore[arg-type]
    assert note.accepts(event=event) is False
    assert note.endpoint() is None
    assert list(note.entries(ctx=None)) == []  # type: ignore[arg-type]


def test_routing_to_an_undeclared_output_is_a_programming_error() -> None:
    routing = Routing(("out", "other"), "note")
    routing.leave(1, "other", "fine")
    routing.leave(2, None, "ends here")
    with pytest.raises(UndeclaredOutput, match="object 'note' routed to output 'otherwise'"):
        routing.leave(3, "otherwise", "oops")
    with pytest.raises(UndeclaredOutput, match="outputs: out, other"):
        routing.leave_all([], "nope", "oops")


def test_entries_are_handed_on_in_chunks_and_lists_at_once() -> None:
    single = [Entry(i) for i in range(5)]
    assert [len(c) for c in chunks_of(single, 2)] == [2, 2, 1]
    mixed = [Entry(1), [Entry(2), Entry(3)], Entry(4)]
    assert [[e.customer_id for e in c] for c in chunks_of(mixed, 10)] == [[1], [2, 3], [4]]


def test_webhooks_are_found_by_their_endpoint(make_project) -> None:  # type: ignore[no-untyped-def]
    flow_text = (
        "objects:\n"
        "  signup:\n"
        "    type: webhook\n"
        "    endpoint: signups\n"
        "    map: {email: email}\n"
        "    key: email\n"
        "    next: done\n"
        "  done: {type: end}\n"
    )
    project: Project = make_project("timezone: UTC\n", flows={"hooks": flow_text})
    flow = load_flow(project.flows_dir / "hooks.yaml", project)
    served = flow.instance("signup").endpoint()
    assert served is not None and served.name == "signups"
    assert served.payload.key == "email" and served.auth.type == "token"
    assert flow.instance("done").endpoint() is None
