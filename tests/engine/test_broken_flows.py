"""The corpus of broken flows: every file is reported at its exact line and column with a
message that names the object and the fix; ``sluis validate`` exits with status 2 and prints
no traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import FlowError
from engine.model.flow import load_flow
from engine.model.project import Project
from engine.model.registry import object_types

ROOT = Path(__file__).parent / "broken"
PYDANTIC_WORDS = re.compile(r"literal\[|\.str\b|function-|\b[A-Z][a-z]+[A-Z][A-Za-z]*\b")

EXPECTED: dict[str, list[tuple[int, int, str]]] = {
    "bad-cron": [
        (
            4,
            15,
            "object 'start': 'schedule': 'every monday' is not a valid cron schedule; write five fields 'minute hour day month weekday', e.g. '0 9 * * 1' for Mondays at 09:00, or @hourly, @daily, @weekly, @monthly",
        ),
    ],
    "bad-duration": [
        (
            7,
            10,
            "object 'pause': 'for': '3 days' is not a duration; write it like 30s, 15m, 2h, 3d, 1w, 1d12h or ISO 8601 such as P3D",
        ),
    ],
    "bad-id": [
        (
            2,
            3,
            "object id 'Start Here' may hold only lowercase letters, digits, '-' and '_' (try 'start-here')",
        ),
    ],
    "bad-reentry": [
        (1, 10, "'reentry' is 'sometimes'; it must be one of 'never', 'after-exit' or 'always'"),
    ],
    "bad-timezone": [
        (
            1,
            11,
            "'timezone': 'Europe/Amsterdan' is not a time zone; use an IANA name such as Europe/Amsterdam or UTC",
        ),
    ],
    "busy-loop": [
        (
            5,
            3,
            "object 'a': the loop a -> b -> a passes no wait, wait-for or bucket, so customers would circle without pause; add a wait",
        ),
    ],
    "connection-wrong-type": [
        (
            4,
            11,
            "object 'start': 'from': connection 'smtp' is of type smtp; files need an sftp or folder connection",
        ),
    ],
    "duplicate-id": [
        (
            7,
            3,
            "duplicate key 'start' (first written at line 2); YAML would silently keep only the last one: rename or remove one",
        ),
    ],
    "duplicate-setting": [
        (
            5,
            5,
            "duplicate key 'where' (first written at line 4); YAML would silently keep only the last one: rename or remove one",
        ),
    ],
    "empty": [
        (
            1,
            1,
            "the flow file is empty; a flow needs 'objects:' with at least a start object (see 'sluis init' for an example)",
        ),
    ],
    "export-path-outside": [
        (
            7,
            9,
            "object 'out': 'to': '/etc/passwd' is an absolute path; write file:///etc/passwd to leave the project folder on purpose",
        ),
    ],
    "expression-syntax": [
        (
            4,
            40,
            "object 'start': 'where': expression error: expected a value after 'and' at column 29",
        ),
    ],
    "expression-unknown-field": [
        (
            4,
            21,
            "object 'start': 'where': unknown customer field 'contry'; did you mean 'country'?",
        ),
    ],
    "expression-unknown-function": [
        (
            4,
            12,
            "object 'start': 'where': expression error: unknown function 'lowr'; did you mean 'lower'?",
        ),
    ],
    "expression-unknown-name": [
        (
            4,
            12,
            "object 'start': 'where': expression error: unknown name 'custmer'; did you mean 'customer'?",
        ),
    ],
    "http-batch-too-big": [
        (8, 12, "object 'call': 'batch' must be at most 1000, not 5000"),
    ],
    "missing-type": [
        (
            2,
            3,
            # every installed type, third-party ones (examples/slack-notify) included
            f"object 'start' has no 'type'; add one of {', '.join(sorted(object_types()))}",
        ),
    ],
    "next-on-end": [
        (7, 11, "object 'stop': an end object has no outputs, so it cannot have 'next'; remove it"),
    ],
    "no-objects": [
        (1, 1, "the flow has no 'objects:'; add the objects of the flow under it"),
    ],
    "no-start": [
        (
            1,
            1,
            "the flow has no start object; add one of: csv-trigger, event, import, selection, webhook (with no object leading to it)",
        ),
    ],
    "not-a-mapping": [
        (1, 1, "a flow file must be a mapping with 'objects:', not a list"),
    ],
    "object-not-mapping": [
        (2, 10, "object 'start' must be a mapping with 'type:' and its settings, not 'selection'"),
    ],
    "only-comments": [
        (
            1,
            1,
            "the flow file is empty; a flow needs 'objects:' with at least a start object (see 'sluis init' for an example)",
        ),
    ],
    "split-both": [
        (
            5,
            3,
            "object 'divide': give either 'branches' (expressions) or 'percent' (shares), not both or neither",
        ),
    ],
    "split-unknown-branch": [
        (
            8,
            20,
            "object 'divide': a split object has no output 'c'; its outputs are a, b, otherwise",
        ),
    ],
    "start-with-incoming": [
        (5, 3, "object 'again': a selection object can only start a flow, but start leads to it"),
    ],
    "template-syntax": [
        (8, 14, "object 'mail': 'subject': template syntax error: unexpected '}'"),
    ],
    "template-unknown-variable": [
        (
            8,
            14,
            "object 'mail': 'subject': unknown template variable 'custmer'; did you mean 'customer'?",
        ),
    ],
    "unknown-connection": [
        (
            4,
            11,
            "object 'start': 'from': unknown connection 'crn'; did you mean 'crm'?; connections in sluis.yaml: crm, smtp",
        ),
    ],
    "unknown-flow-setting": [
        (1, 1, "unknown flow setting 'nme'; did you mean 'name'?"),
    ],
    "unknown-next": [
        (
            4,
            11,
            "object 'start': next 'welcom-mail' is not an object in this flow; did you mean 'welcome-mail'?",
        ),
    ],
    "unknown-output": [
        (
            8,
            22,
            "object 'check': a filter object has no output 'filterd'; did you mean 'filtered'?",
        ),
    ],
    "unknown-setting": [
        (4, 5, "object 'start': unknown setting 'wher'; did you mean 'where'?"),
    ],
    "unknown-type": [
        (3, 11, "object 'start': unknown type 'selektion'; did you mean 'selection'?"),
    ],
    "unreachable": [
        (
            5,
            3,
            "object 'lonely' cannot be reached from a start object (start); route an output to it or remove it",
        ),
    ],
    "update-unknown-field": [
        (
            7,
            11,
            "object 'set': 'set.contry': unknown customer field 'contry'; did you mean 'country'?",
        ),
    ],
    "wait-bad-at": [
        (
            7,
            9,
            "object 'pause': 'at': at '25:00' is not a time of day; write HH:MM, e.g. \"09:00\"",
        ),
    ],
    "wait-for-bad-event": [
        (
            7,
            12,
            "object 'opened': 'event' is 'opened'; it must be one of 'open', 'click', 'bounce' or 'unsubscribe'",
        ),
    ],
    "wait-for-unknown-mail": [
        (8, 11, "object 'opened': mail 'welcom' is not a mail object of this flow"),
    ],
    "wait-nothing": [
        (5, 3, "object 'pause': a wait needs 'for', 'until', 'at' or 'days'"),
    ],
    "wrong-value-type": [
        (7, 11, "object 'grouped': 'size' must be a whole number, not 'lots'"),
    ],
    "yaml-syntax": [
        (
            4,
            10,
            "YAML syntax error: mapping values are not allowed here; check the indentation and quoting on this line and the one before",
        ),
    ],
    # issue 14: what used to fail later, or hide behind other problems
    "after-not-delete": [
        (
            5,
            12,
            "object 'load': 'after' must be 'delete' or a mapping (key: value lines), not 'remove'",
        ),
    ],
    "export-column-shapes": [
        (10, 9, "object 'out': missing setting 'columns.1.header'; add it"),
        (10, 10, "object 'out': unknown setting 'headr'; did you mean 'header'?"),
        (11, 9, "object 'out': 'columns.2' must be text or a mapping (key: value lines), not 5"),
    ],
    "every-problem-at-once": [
        (
            4,
            21,
            "object 'start': 'where': unknown customer field 'contry'; did you mean 'country'?",
        ),
        (
            9,
            31,
            "object 'mail': 'subject': unknown customer field 'voornaam'; add it to profile in sluis.yaml",
        ),
        (
            13,
            10,
            "object 'wait': 'for': '3 days' is not a duration; write it like 30s, 15m, 2h, 3d, 1w, 1d12h or ISO 8601 such as P3D",
        ),
        (
            15,
            3,
            "object 'lonely' cannot be reached from a start object (start); route an output to it or remove it",
        ),
    ],
    "split-next-string": [
        (
            10,
            11,
            "object 'pick': a split object routes each output by name (nl, be, otherwise), so 'next: done' would route only 'nl'; write next: {nl: done, be: done, otherwise: done} (or leave out the outputs that end there)",
        ),
    ],
    "template-unknown-customer-field": [
        (
            8,
            31,
            "object 'mail': 'subject': unknown customer field 'voornaam'; add it to profile in sluis.yaml",
        ),
    ],
    "template-fields-everywhere": [
        (
            7,
            47,
            "object 'call': 'url': unknown customer field 'extrnal_id'; did you mean 'external_id'?",
        ),
        (
            8,
            33,
            "object 'call': 'fields.naam': unknown customer field 'frist_name'; did you mean 'first_name'?",
        ),
        (
            12,
            33,
            "object 'up': 'set.country': unknown customer field 'contry'; did you mean 'country'?",
        ),
        (
            16,
            9,
            "object 'out': 'to': unknown customer field 'lnd'; add it to profile in sluis.yaml",
        ),
        (
            17,
            60,
            "object 'out': 'columns.1.value': unknown customer field 'birthdy'; did you mean 'birthday'?",
        ),
    ],
    "unreachable-behind-typo": [
        (
            4,
            11,
            "object 'start': next 'welcom' is not an object in this flow; did you mean 'welcome'?",
        ),
    ],
}


def test_corpus_is_complete() -> None:
    files = {p.stem for p in (ROOT / "flows").glob("*.yaml")}
    assert files == set(EXPECTED)
    assert len(files) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_flow_is_reported_at_its_line(name: str) -> None:
    project = Project.load(ROOT)
    with pytest.raises(FlowError) as caught:
        load_flow(ROOT / "flows" / f"{name}.yaml", project)
    found = [(p.line, p.column, p.message) for p in caught.value.problems]
    assert found == EXPECTED[name]
    for problem in caught.value.problems:
        assert str(problem).startswith(f"{problem.file}:{problem.line}:{problem.column}: ")
        # pydantic's names of union members (literal['delete'], columns.1.str, ExportColumn)
        assert not PYDANTIC_WORDS.search(problem.message), problem.message


def test_validate_command_exits_2_with_every_problem_and_no_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "validate", "--project", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    total = sum(len(v) for v in EXPECTED.values())
    assert f"{total} problems found" in result.stderr
    assert "unknown-type.yaml:3:11: object 'start': unknown type 'selektion'" in result.stderr
