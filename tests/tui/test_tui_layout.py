"""The graph layout as a pure function: no overlapping boxes, every edge drawn from its source
box to its target box, labels on the border, for the example flows and random graphs."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.monitor import ObjectCounts
from tui.canvas import draw, number
from tui.layout import Box, Diagram, Layout, Node, Route, layers_of, layout

EXAMPLES = Path(__file__).resolve().parents[2] / "flows"
ZOOMS = ("normal", "compact")


def example_diagrams() -> list[Diagram]:
    flows, problems = load_flows(Project.load(EXAMPLES))
    assert not problems
    return [Diagram.of(flow) for flow in flows]


def _border(box: Box) -> set[tuple[int, int]]:
    cells = {(x, box.y) for x in range(box.x, box.right)}
    cells |= {(x, box.bottom - 1) for x in range(box.x, box.right)}
    cells |= {(box.x, y) for y in range(box.y, box.bottom)}
    cells |= {(box.right - 1, y) for y in range(box.y, box.bottom)}
    return cells


def _next_to(cell: tuple[int, int], box: Box) -> bool:
    """The cell is outside the box and shares a side with one of its border cells."""
    x, y = cell
    if box.contains(x, y):
        return False
    return any(abs(x - bx) + abs(y - by) == 1 for bx, by in _border(box))


def check(diagram: Diagram, result: Layout) -> None:
    """Every property a drawable layout must have."""
    boxes = result.boxes
    assert set(boxes) == {n.id for n in diagram.nodes}
    # no overlapping boxes: not even touching, a column or row stays free between them
    for a in boxes.values():
        assert a.x >= 0 and a.y >= 0 and a.right <= result.width and a.bottom <= result.height
        for b in boxes.values():
            if a.id < b.id:
                apart = a.right < b.x or b.right < a.x or a.bottom < b.y or b.bottom < a.y
                assert apart, f"boxes {a} and {b} overlap or touch"
    # every routed output is drawn, by exactly one edge per (source, target)
    wanted: dict[tuple[str, str], list[str]] = {}
    for route in diagram.routes:
        wanted.setdefault((route.source, route.target), []).append(route.output)
    drawn = {(e.source, e.target): list(e.outputs) for e in result.edges}
    assert drawn == wanted
    # each edge's path connects its two boxes, one cell at a time, outside every box
    runs: dict[tuple[tuple[int, int], str], str] = {}
    arrows = set()
    for edge in result.edges:
        source, target = boxes[edge.source], boxes[edge.target]
        cells = edge.cells
        assert edge.port in _border(source)
        assert abs(cells[0][0] - edge.port[0]) + abs(cells[0][1] - edge.port[1]) == 1
        assert _next_to(cells[0], source)
        assert _next_to(cells[-1], target)
        for a, b in pairwise(cells):
            assert abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1, f"{edge} jumps from {a} to {b}"
        for cell in cells:
            assert 0 <= cell[0] < result.width and 0 <= cell[1] < result.height
            assert not any(box.contains(*cell) for box in boxes.values()), (
                f"edge {edge.source}->{edge.target} runs through a box at {cell}"
            )
        assert cells[-1] not in arrows, "two arrowheads in one cell"
        arrows.add(cells[-1])
        # edges cross, but never run along each other in the same cell
        for a, b in pairwise(cells):
            way = "|" if a[0] == b[0] else "-"
            for cell in (a, b):
                owner = runs.setdefault((cell, way), f"{edge.source}->{edge.target}")
                assert owner == f"{edge.source}->{edge.target}", (
                    f"{owner} and {edge.source}->{edge.target} overlap at {cell}"
                )
    # labels where the source has several outputs, on its border, clear of every port
    nodes = {n.id: n for n in diagram.nodes}
    ports = {e.port for e in result.edges}
    for edge in result.edges:
        if len(nodes[edge.source].outputs) > 1:
            assert edge.label is not None
            assert edge.label.text.startswith(edge.outputs[0][:3])
            if edge.source != edge.target:
                box = boxes[edge.source]
                assert edge.label.y in (box.y, box.bottom - 1)
                assert box.x < edge.label.x and edge.label.x + len(edge.label.text) < box.right
                span = {(edge.label.x + i, edge.label.y) for i in range(len(edge.label.text))}
                assert not span & ports
        else:
            assert edge.label is None


@pytest.mark.parametrize("zoom", ZOOMS)
def test_example_flows_lay_out_cleanly(zoom: str) -> None:
    for diagram in example_diagrams():
        check(diagram, layout(diagram, zoom))  # type: ignore[arg-type]


def test_starts_on_top_and_edges_point_down() -> None:
    for diagram in example_diagrams():
        result = layout(diagram)
        for start in diagram.starts:
            assert result.boxes[start].layer == 0
        for edge in result.edges:
            assert result.boxes[edge.target].layer > result.boxes[edge.source].layer


def test_compact_boxes_are_smaller() -> None:
    for diagram in example_diagrams():
        normal, compact = layout(diagram), layout(diagram, "compact")
        assert compact.height < normal.height
        for oid, box in compact.boxes.items():
            assert box.height < normal.boxes[oid].height


def test_welcome_drawing() -> None:
    """The welcome flow as text: the mail's two outputs labelled and routed apart."""
    diagram = next(d for d in example_diagrams() if d.starts == ("new-subscribers",))
    result = layout(diagram)
    counts = {"welcome-mail": ObjectCounts(2, {"sent": 12, "skipped": 1}, 3)}
    text = draw(result, {n.id: n for n in diagram.nodes}, counts, selected="opened").text()
    assert "┬sent" in text and "┬skipped" in text
    assert "2 waiting 3 failed" in text
    assert "╔" in text  # the selected box
    lines = text.splitlines()
    mail = result.boxes["welcome-mail"]
    assert lines[mail.y + 4][mail.x + 1 : mail.right - 1].split() == ["sent", "12"]


@pytest.mark.parametrize(
    ("counts", "shown"),
    [
        (ObjectCounts(2, {}, 0, {2: 3}), "2 (+3 draining v2)"),
        (ObjectCounts(12, {}, 0, {2: 3}), "12 wait +3 v2"),
        (ObjectCounts(12, {}, 1, {2: 3}), "12 w +3v2 1 f"),
        (ObjectCounts(12, {}, 0, {1: 3, 2: 4}), "12 w +3v1 +4v2"),
    ],
)
def test_a_box_counts_the_draining_versions_beside_the_running_one(
    counts: ObjectCounts, shown: str
) -> None:
    diagram = next(d for d in example_diagrams() if d.starts == ("new-subscribers",))
    result = layout(diagram)
    nodes = {n.id: n for n in diagram.nodes}
    text = draw(result, nodes, {"welcome-mail": counts}).text()
    mail = result.boxes["welcome-mail"]
    assert text.splitlines()[mail.y + 3][mail.x + 1 : mail.right - 1].rstrip() == shown


def test_loops_leave_by_the_top_and_loops_to_itself_on_the_right() -> None:
    diagram = Diagram(
        nodes=(
            Node("start", "selection", ("out",)),
            Node("mail", "mail", ("sent", "skipped")),
            Node("wait", "wait-for", ("yes", "no")),
            Node("pause", "wait", ("out",)),
        ),
        routes=(
            Route("start", "out", "mail"),
            Route("mail", "sent", "wait"),
            Route("wait", "no", "mail"),
            Route("wait", "yes", "pause"),
            Route("pause", "out", "pause"),
        ),
        starts=("start",),
    )
    for zoom in ZOOMS:
        result = layout(diagram, zoom)  # type: ignore[arg-type]
        check(diagram, result)
        back = next(e for e in result.edges if e.source == "wait" and e.target == "mail")
        assert back.back and back.arrow == "▲"
        assert back.port[1] == result.boxes["wait"].y
        loop = next(e for e in result.edges if e.source == "pause")
        assert loop.arrow == "◀" and loop.cells[0][0] == result.boxes["pause"].right
        text = draw(result, {n.id: n for n in diagram.nodes}, {}).text()
        assert "▲" in text and "◀" in text


def test_layers_follow_the_deepest_predecessor() -> None:
    import networkx as nx

    graph = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "c"), ("c", "a")])
    assert layers_of(graph, ["a"]) == {"a": 0, "b": 1, "c": 2}


def test_the_same_diagram_gives_the_same_layout() -> None:
    for diagram in example_diagrams():
        assert layout(diagram) == layout(diagram)


def test_numbers_fit_in_five_characters() -> None:
    for value in (0, 9999, 10_000, 99_999, 100_000, 999_999, 1_000_000, 987_654_321, 10**12):
        assert len(number(value)) <= 5


@st.composite
def diagrams(draw_: st.DrawFn) -> Diagram:
    """Random flows: objects with one to four outputs, routes to later objects (a DAG), and
    now and then a route back up or to the object itself."""
    size = draw_(st.integers(1, 14))
    names = [
        f"o{i}" + draw_(st.sampled_from(["", "-mail", "-long-object-name"])) for i in range(size)
    ]
    nodes = []
    routes = []
    for i, name in enumerate(names):
        outputs = tuple(
            draw_(
                st.sampled_from(
                    [("out",), ("sent", "skipped"), ("yes", "no"), ("a", "b", "c", "otherwise")]
                )
            )
        )
        nodes.append(Node(name, draw_(st.sampled_from(["mail", "filter", "split"])), outputs))
        for output in outputs:
            choice = draw_(st.integers(0, 9))
            if choice < 6 and i + 1 < size:
                routes.append(Route(name, output, names[draw_(st.integers(i + 1, size - 1))]))
            elif choice == 6 and i > 0:
                routes.append(Route(name, output, names[draw_(st.integers(0, i))]))
    targets = {r.target for r in routes if names.index(r.target) > names.index(r.source)}
    starts = tuple(n for n in names if n not in targets)
    return Diagram(tuple(nodes), tuple(routes), starts)


@settings(max_examples=200, deadline=None)
@given(diagrams(), st.sampled_from(ZOOMS))
def test_random_graphs_lay_out_cleanly(diagram: Diagram, zoom: str) -> None:
    check(diagram, layout(diagram, zoom))  # type: ignore[arg-type]
