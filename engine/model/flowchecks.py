"""Checks of a flow file that need more than one setting's validator: ``customer.X`` in every
template of an object (settings, untyped ``fields``, mail body files) against the profile, and
what would fail at run time in this environment: ``${VAR}``s that are not set (in the flow and
in the connections it uses) and ``SLUIS_LINK_KEY`` for ``link_params``. Unknown fields are
errors; the environment's gaps are warnings (``sluis validate --strict`` and ``sluis start``
refuse them), since the variables may be set where the flow runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from engine.errors import Problem
from engine.model.settings import unknown_customer_field
from engine.model.templates import references_in

if TYPE_CHECKING:
    from engine.model.flow import FlowObject
    from engine.model.project import Project
    from engine.model.yamlsrc import Document, Path

ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SFTP_CONNECTION = re.compile(r"^sftp://([^/]+)/")
LINK_KEY = (
    "SLUIS_LINK_KEY"  # engine.mail.linkparam.KEY_VARIABLE (not imported: validation stays light)
)


def check_flow(
    doc: Document,
    project: Project,
    objects: Mapping[str, Any],
    specs: Mapping[str, FlowObject],
    problems: list[Problem],
    warnings: list[Problem],
) -> None:
    """Add the problems and warnings of every object (``objects``: the raw bodies with a known
    type; ``specs``: those whose settings validated)."""
    fields = project.customer_fields
    for oid, body in objects.items():
        base: Path = ("objects", oid)
        used: dict[str, Path] = {}
        for path, text in _strings(body, base):
            if "{" in text:
                found = unknown_customer_field(references_in(text), fields)
                if found is not None:
                    problems.append(
                        _at(doc, path, f"object '{oid}': {_where(path)}{found[0]}", found[1])
                    )
            for name in ENV_VAR.findall(text):
                if name not in os.environ:
                    warnings.append(
                        _at(
                            doc,
                            path,
                            f"object '{oid}': {_where(path)}reads ${{{name}}}, but {name} is not "
                            f"set here; export {name} where sluis runs (every journey would "
                            "fail without it)",
                        )
                    )
            match = SFTP_CONNECTION.match(text)
            if match:
                used.setdefault(match.group(1), path)
            if path[-1] == "connection":
                used.setdefault(text, path)
        spec = specs.get(oid)
        if spec is not None and spec.type == "mail":
            used.update(_mail(doc, project, oid, spec, problems, warnings))
        for name, path in used.items():
            warnings.extend(_connection(doc, project, oid, name, path))


def _mail(
    doc: Document,
    project: Project,
    oid: str,
    spec: FlowObject,
    problems: list[Problem],
    warnings: list[Problem],
) -> dict[str, Path]:
    """A mail object's body files against the profile, its key for link parameters, and the
    mail connection it sends through."""
    settings: Any = spec.settings
    base: Path = ("objects", oid)
    name = str(settings.template)
    for each in (name, re.sub(r"\.html?$", ".txt", name)):
        file = project.templates_dir / each
        if not file.is_file():
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        found = unknown_customer_field(references_in(text), project.customer_fields)
        if found is not None:
            line = text.count("\n", 0, max(found[1], 0)) + 1
            problems.append(
                _at(doc, (*base, "template"), f"object '{oid}': {each} line {line}: {found[0]}")
            )
    if settings.link_params and not os.environ.get(LINK_KEY):
        warnings.append(
            _at(
                doc,
                (*base, "link_params"),
                f"object '{oid}': link_params needs the key {LINK_KEY}, which is not set here; "
                f"make one with 'sluis linkparam new-key' and export {LINK_KEY} (or remove "
                "link_params)",
            )
        )
    connection = project.settings.mail.connection
    return {connection: (*base, "type")} if connection else {}


def _connection(
    doc: Document, project: Project, oid: str, name: str, path: Path
) -> Iterator[Problem]:
    connection = project.settings.connections.get(name)
    if connection is None:
        return
    for setting, value in connection.model_dump().items():
        for var in ENV_VAR.findall(value) if isinstance(value, str) else ():
            if var not in os.environ:
                yield _at(
                    doc,
                    path,
                    f"object '{oid}': connection '{name}' reads ${{{var}}} ({setting}), but "
                    f"{var} is not set here; export {var} where sluis runs",
                )


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def _where(path: Path) -> str:
    return "'" + ".".join(str(p) for p in path[2:]) + "': "


def _at(doc: Document, path: Path, message: str, offset: int = -1) -> Problem:
    pos = doc.pos(path)
    column = pos.column
    value = _value(doc.value, path)
    if offset >= 0 and isinstance(value, str) and "\n" not in value[:offset]:
        column += offset + (1 if doc.quoted.get(path) else 0)
    return Problem(doc.file, pos.line, column, message)


def _value(root: Any, path: Path) -> Any:
    for part in path:
        if isinstance(root, dict):
            root = root.get(part)
        elif isinstance(root, list) and isinstance(part, int) and part < len(root):
            root = root[part]
        else:
            return None
    return root
