from __future__ import annotations

from pathlib import Path

from engine.model.yamlsrc import Document, Pos, _compose, _Loader, load


def test_positions_of_keys_and_values() -> None:
    doc = load("objects:\n  start:\n    type: selection\n    where: 'x'\n", "f.yaml")
    assert doc.problems == []
    assert doc.keys[("objects", "start")] == Pos(2, 3)
    assert doc.values[("objects", "start", "type")] == Pos(3, 11)
    assert doc.quoted[("objects", "start", "where")] is True


def test_duplicate_keys_are_problems_not_silently_dropped() -> None:
    doc = load("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert [(p.line, p.column) for p in doc.problems] == [(3, 1)]
    assert "duplicate key 'a' (first written at line 1)" in doc.problems[0].message
    assert doc.value == {"a": 1, "b": 2}


def test_yes_no_and_times_stay_text() -> None:
    doc = load("next: {yes: a, no: b}\nat: 09:30\non: off\nflag: true\nn: 3\nf: 1.5\n")
    assert doc.value == {
        "next": {"yes": "a", "no": "b"},
        "at": "09:30",
        "on": "off",
        "flag": True,
        "n": 3,
        "f": 1.5,
    }


def test_syntax_error_has_position() -> None:
    doc = load("a:\n  b: 1\n   c: 2\n", "f.yaml")
    assert doc.value is None
    assert doc.problems[0].line == 3
    assert "YAML syntax error" in doc.problems[0].message


def test_unsafe_tags_are_refused() -> None:
    doc = load("a: !!python/object/apply:os.system ['echo hi']\n", "f.yaml")
    assert doc.value is None
    assert doc.problems


def test_missing_path_falls_back_to_parent() -> None:
    doc = load("objects:\n  start:\n    type: selection\n")
    assert doc.pos(("objects", "start", "where")) == Pos(3, 5)


def test_libyaml_reads_what_pyyaml_reads() -> None:
    """Flows are parsed by libyaml (fast); the documents, positions and quoting are those of
    PyYAML's own loader, which still words the errors."""
    root = Path(__file__).resolve().parents[2]
    texts = [path.read_text() for path in sorted(root.glob("flows/flows/*.yaml"))]
    texts.append("a: 'q'\nb: \"r\"\nc: [1, 2.5, yes, 09:30, ~]\nd: {e: f}\na: 2\n")
    assert len(texts) > 3
    for text in texts:
        fast = load(text, "f.yaml")
        slow = Document(file="f.yaml", value=None)
        _compose(slow, _Loader(text))
        assert fast == slow


def test_a_syntax_error_is_worded_as_pyyaml_words_it() -> None:
    doc = load("a: b: c\n", "f.yaml")
    assert doc.value is None
    assert [(p.line, p.column) for p in doc.problems] == [(1, 5)]
    assert doc.problems[0].message.startswith(
        "YAML syntax error: mapping values are not allowed here"
    )
