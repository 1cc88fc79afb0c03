"""``sluis integrate NAME [--dry-run]``: the standard integrations (shopify, magento2, hubspot,
salesforce, squeezely). Each writes its connection, profile fields and collections into
``sluis.yaml`` (secrets as ``${VAR}``), its flows into ``flows/`` and a section into the
project's README.md saying which settings to make at the vendor.

Nothing is overwritten: a flow file that exists with other content, or a setting of
``sluis.yaml`` that says something else, is shown as a diff and the command refuses (exit 2)
before writing anything. The result is validated (in a copy of the project) before it is
written, so what is written validates. ``--dry-run`` shows what would change and writes
nothing. The integrations' files are in ``cli/integrations/NAME``."""

from __future__ import annotations

import difflib
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import ProjectOpt, console, err_console
from engine.errors import InputError, ProjectError

INTEGRATIONS = Path(__file__).parent / "integrations"
NAMES = ("shopify", "magento2", "hubspot", "salesforce", "squeezely")
SECTIONS = ("profile", "datamodel", "connections")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _type_of(spec: Any) -> Any:
    return spec.get("type") if isinstance(spec, dict) else spec


def _conflict(section: str, name: str, have: Any, want: Any) -> str | None:
    """Why an existing entry cannot serve the integration, or None when it can."""
    if section == "profile":
        same = _type_of(have) == _type_of(want)
    elif section == "datamodel":
        fields = (have or {}).get("fields") or {}
        same = (have or {}).get("key") == want.get("key") and all(
            _type_of(fields.get(f)) == _type_of(t) for f, t in want["fields"].items()
        )
    else:
        same = have == want
    if same:
        return None
    return f"{section}.{name}: sluis.yaml has {have!r}; this integration needs {want!r}"


def merged_settings(text: str, fragment: dict[str, Any]) -> tuple[str, list[str]]:
    """``sluis.yaml``'s text with the fragment's entries added where they are missing (its
    comments and order kept), and the conflicts with entries that exist."""
    import yaml

    current = yaml.safe_load(text) or {}
    lines = text.splitlines()
    conflicts: list[str] = []
    for section in SECTIONS:
        wanted: dict[str, Any] = fragment.get(section) or {}
        have = current.get(section) or {}
        add = {}
        for name, value in wanted.items():
            if name not in have:
                add[name] = value
            elif (problem := _conflict(section, name, have[name], value)) is not None:
                conflicts.append(problem)
        if not add:
            continue
        dumped = yaml.safe_dump({section: add}, sort_keys=False, width=1000).splitlines()
        if section not in current:
            if lines and lines[-1].strip():
                lines.append("")
            lines.extend(dumped)
            continue
        header = next(
            (i for i, line in enumerate(lines) if re.match(rf"{section}:\s*(#.*)?$", line)), None
        )
        if header is None:
            conflicts.append(
                f"{section}: write it as a block (one entry a line) so entries can be added"
            )
            continue
        end = header + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][:1] in (" ", "#")):
            end += 1
        while end > header + 1 and not lines[end - 1].strip():
            end -= 1
        lines[end:end] = dumped[1:]
    return "\n".join(lines) + "\n", conflicts


def _diff(old: str, new: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(True), new.splitlines(True), f"{name} (yours)", f"{name} (integration)"
        )
    )


def _validate(root: Path, settings: str, flows: dict[str, str]) -> None:
    """Load the project as it would be, in a copy; ``ProjectError`` lists what is wrong."""
    from engine.model.flow import load_flows
    from engine.model.project import Project

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "project"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.db*", ".*"))
        (copy / "sluis.yaml").write_text(settings)
        (copy / "flows").mkdir(exist_ok=True)
        for name, text in flows.items():
            (copy / "flows" / name).write_text(text)
        project = Project.load(copy)
        _, problems = load_flows(project, [str(copy / "flows" / n) for n in flows])
        if problems:
            shown = "; ".join(str(p).replace(str(copy) + "/", "") for p in problems)
            raise ProjectError(f"the integration does not validate in this project: {shown}")


def integrate(
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(NAMES)}.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """Add a standard integration: its connection to sluis.yaml, its flows to flows/ and
    the vendor settings to make to README.md; never overwrites."""
    import yaml

    from engine.model.project import find_project

    if name not in NAMES:
        from engine.model.validation import did_you_mean

        raise InputError(
            f"no integration '{name}'{did_you_mean(name, NAMES)}; one of {', '.join(NAMES)}"
        )
    root = project or find_project()
    if root is None or not (root / "sluis.yaml").exists():
        raise ProjectError("no sluis.yaml here or above; run 'sluis init' first, or pass --project")
    source = INTEGRATIONS / name
    settings_path = root / "sluis.yaml"
    old_settings = settings_path.read_text()
    fragment = yaml.safe_load((source / "settings.yaml").read_text())
    new_settings, conflicts = merged_settings(old_settings, fragment)
    flows: dict[str, str] = {}
    unchanged: list[str] = []
    for template in sorted((source / "flows").glob("*.yaml")):
        text, target = template.read_text(), root / "flows" / template.name
        if not target.exists():
            flows[template.name] = text
        elif target.read_text() == text:
            unchanged.append(template.name)
        else:
            conflicts.append(
                f"flows/{template.name} exists with other content:\n"
                + _diff(target.read_text(), text, f"flows/{template.name}")
            )
    if conflicts:
        for conflict in conflicts:
            err_console.print(conflict, markup=False, highlight=False, soft_wrap=True)
        raise InputError(
            f"sluis integrate {name} changes nothing: the files above say something else. "
            "Rename or remove your file (or that setting), or merge the integration's by hand "
            f"from {source}"
        )
    _validate(root, new_settings, flows)
    section = (source / "readme.txt").read_text()
    readme = root / "README.md"
    old_readme = readme.read_text() if readme.exists() else ""
    heading = section.splitlines()[0]
    new_readme = (
        old_readme
        if heading in old_readme
        else (
            old_readme + ("\n" if old_readme and not old_readme.endswith("\n\n") else "") + section
        )
    )
    if dry_run:
        console.print(f"sluis integrate {name} --dry-run: nothing is written")
        if new_settings != old_settings:
            console.print(_diff(old_settings, new_settings, "sluis.yaml"), markup=False)
        for flow in flows:
            console.print(f"would write flows/{flow}", markup=False)
        if new_readme != old_readme:
            console.print("would add to README.md:\n" + section, markup=False)
        return
    if new_settings != old_settings:
        settings_path.write_text(new_settings)
    (root / "flows").mkdir(exist_ok=True)
    for flow, text in flows.items():
        (root / "flows" / flow).write_text(text)
    if new_readme != old_readme:
        readme.write_text(new_readme)
    for flow in flows:
        console.print(f"wrote flows/{flow}", markup=False)
    for flow in unchanged:
        console.print(f"flows/{flow} is already there", markup=False)
    own = (source / "settings.yaml").read_text() + "".join(
        template.read_text() for template in (source / "flows").glob("*.yaml")
    )
    variables = sorted(set(_VAR.findall(own)))
    console.print(
        f"{name}: set {', '.join(variables)} in the environment; README.md says what to set up "
        f"at the vendor. Then 'sluis validate' and 'sluis start' the flows.",
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("integrate")(integrate)
