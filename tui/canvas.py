"""The flow drawn into a grid of characters: boxes with their counts, edges with box-drawing
lines, arrowheads and output labels. Pure: a layout and counts in, characters and style roles
out; the graph widget turns roles into the theme's styles.

Roles: ``edge``, ``label``, ``border``, ``selected``, ``ran``, ``id``, ``type``, ``waiting``,
``draining``, ``failed``, ``passed``, ``muted`` and ``""`` (plain).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from engine.runtime.monitor import ObjectCounts
from tui.layout import Box, Edge, Layout, Node

UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
LINES = {
    UP: "│",
    DOWN: "│",
    UP | DOWN: "│",
    LEFT: "─",
    RIGHT: "─",
    LEFT | RIGHT: "─",
    DOWN | RIGHT: "┌",
    DOWN | LEFT: "┐",
    UP | RIGHT: "└",
    UP | LEFT: "┘",
    UP | DOWN | RIGHT: "├",
    UP | DOWN | LEFT: "┤",
    DOWN | LEFT | RIGHT: "┬",
    UP | LEFT | RIGHT: "┴",
    UP | DOWN | LEFT | RIGHT: "┼",
}
# border pieces: corners, sides, and ports (down out of the bottom, up out of the top, right)
SINGLE = {"tl": "┌", "tr": "┐", "bl": "└", "br": "┘", "h": "─", "v": "│", "down": "┬",
          "up": "┴", "right": "├"}  # fmt: skip
DOUBLE = {"tl": "╔", "tr": "╗", "bl": "╚", "br": "╝", "h": "═", "v": "║", "down": "╤",
          "up": "╧", "right": "╟"}  # fmt: skip
EMPTY = ObjectCounts(0, {}, 0)


def number(value: int) -> str:
    """A count in at most five characters (cut, never rounded up): 9999, 12.3k, 999k, 1.2M."""
    for unit, size in (("G", 1_000_000_000), ("M", 1_000_000), ("k", 1000)):
        if value >= size * (10 if unit == "k" else 1):
            whole, tenths = divmod(value * 10 // size, 10)
            return f"{whole}.{tenths}{unit}" if whole < 100 else f"{whole}{unit}"
    return str(value)


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis when cut."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…" if width > 0 else ""


@dataclass
class Canvas:
    """A grid of characters, each with a style role."""

    width: int
    height: int
    chars: list[list[str]]
    roles: list[list[str]]

    @classmethod
    def blank(cls, width: int, height: int) -> Canvas:
        return cls(
            width,
            height,
            [[" "] * width for _ in range(height)],
            [[""] * width for _ in range(height)],
        )

    def put(self, x: int, y: int, text: str, role: str) -> None:
        for i, char in enumerate(text):
            if 0 <= x + i < self.width and 0 <= y < self.height:
                self.chars[y][x + i] = char
                self.roles[y][x + i] = role

    def runs(self, y: int) -> list[tuple[str, str]]:
        """Row ``y`` as runs of (text, role)."""
        runs: list[tuple[str, str]] = []
        for char, role in zip(self.chars[y], self.roles[y], strict=True):
            if runs and runs[-1][1] == role:
                runs[-1] = (runs[-1][0] + char, role)
            else:
                runs.append((char, role))
        return runs

    def text(self) -> str:
        """The plain characters, one line per row, trailing blanks removed."""
        return "\n".join("".join(row).rstrip() for row in self.chars)


def draw(
    layout: Layout,
    nodes: Mapping[str, Node],
    counts: Mapping[str, ObjectCounts],
    *,
    selected: str | None = None,
    ran: str | None = None,
) -> Canvas:
    """Draw the flow with its counts; ``selected`` gets a double border and ``ran`` (the object
    whose batch just ran, in step mode) a marker on its top border."""
    canvas = Canvas.blank(layout.width, layout.height)
    _edges(canvas, layout.edges)
    for box in layout.boxes.values():
        _box(
            canvas,
            box,
            nodes[box.id],
            counts.get(box.id, EMPTY),
            layout,
            selected=box.id == selected,
            ran=box.id == ran,
        )
    for edge in layout.edges:
        if edge.label is not None:
            _label(canvas, edge, layout)
    return canvas


def _edges(canvas: Canvas, edges: tuple[Edge, ...]) -> None:
    masks: dict[tuple[int, int], int] = {}
    for edge in edges:
        cells = edge.cells
        px, py = edge.port
        first = cells[0]
        masks[first] = masks.get(first, 0) | _toward(first, (px, py))
        for a, b in pairwise(cells):
            masks[a] = masks.get(a, 0) | _toward(a, b)
            masks[b] = masks.get(b, 0) | _toward(b, a)
    for (x, y), mask in masks.items():
        canvas.put(x, y, LINES.get(mask, "┼"), "edge")
    for edge in edges:
        x, y = edge.cells[-1]
        canvas.put(x, y, edge.arrow, "edge")


def _toward(a: tuple[int, int], b: tuple[int, int]) -> int:
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dy < 0:
        return UP
    if dy > 0:
        return DOWN
    return LEFT if dx < 0 else RIGHT


def _box(
    canvas: Canvas,
    box: Box,
    node: Node,
    counts: ObjectCounts,
    layout: Layout,
    *,
    selected: bool,
    ran: bool,
) -> None:
    pieces = DOUBLE if selected else SINGLE
    role = "selected" if selected else "ran" if ran else "border"
    inner = box.width - 2
    if box.height == 1:  # compact: [id 3 ✗1], no border
        canvas.put(box.x, box.y, "[", role)
        x = box.x + 1
        for text, part_role in _content(node, counts, inner, "compact")[0]:
            canvas.put(x, box.y, text, "selected" if selected and part_role == "id" else part_role)
            x += len(text)
        canvas.put(box.right - 1, box.y, "]", role)
        return
    canvas.put(box.x, box.y, pieces["tl"] + pieces["h"] * inner + pieces["tr"], role)
    for y in range(box.y + 1, box.bottom - 1):
        canvas.put(box.x, y, pieces["v"] + " " * inner + pieces["v"], role)
        canvas.roles[y][box.x + 1 : box.right - 1] = [""] * inner
    canvas.put(box.x, box.bottom - 1, pieces["bl"] + pieces["h"] * inner + pieces["br"], role)
    if ran:
        canvas.put(box.x + 2, box.y, fit(" ran ", inner - 2), "ran")
    for edge in layout.edges:
        if edge.source != box.id:
            continue
        x, y = edge.port
        side = "right" if edge.source == edge.target else "up" if edge.back else "down"
        canvas.put(x, y, pieces[side], role)
    lines = _content(node, counts, inner, layout.zoom)
    for i, parts in enumerate(lines):
        x = box.x + 1
        for text, part_role in parts:
            canvas.put(x, box.y + 1 + i, text, part_role)
            x += len(text)


def _content(
    node: Node, counts: ObjectCounts, inner: int, zoom: str
) -> list[list[tuple[str, str]]]:
    """The text lines inside a box as (text, role) parts, each line at most ``inner`` wide."""
    if zoom == "compact":
        tail = number(counts.waiting) if counts.waiting else ""
        if counts.draining:
            tail += "+" + number(sum(counts.draining.values()))
        if counts.failed:
            tail = (tail + " " if tail else "") + "✗" + number(counts.failed)
        name = fit(node.id, inner - len(tail) - (1 if tail else 0))
        pad = " " * (inner - len(name) - len(tail))
        role = "failed" if counts.failed else "waiting"
        return [[(name, "id"), (pad, ""), (tail, role)]]
    lines = [[(fit(node.id, inner), "id")], [(fit(node.type, inner), "type")]]
    lines.append(_status(counts, inner))
    outputs = node.outputs or ("end",)
    for output in outputs:
        count = number(counts.passed.get(output, 0))
        name = fit(output, inner - len(count) - 1)
        pad = " " * (inner - len(name) - len(count))
        lines.append([(name, "muted"), (pad, ""), (count, "passed")])
    return lines


def _status(counts: ObjectCounts, inner: int) -> list[tuple[str, str]]:
    """``12 waiting (+3 draining v1) 2 failed``, in fewer words where the box is narrow."""
    waiting, failed = number(counts.waiting), number(counts.failed)
    words = (
        (" waiting", "(+{n} draining v{v})", "failed"),
        ("", "(+{n} draining v{v})", "failed"),
        (" wait", "+{n} v{v}", "fail"),
        (" w", "+{n}v{v}", "f"),
    )
    for wait_word, drain_words, fail_word in words:
        if not wait_word and not counts.draining:
            continue
        parts = [(f"{waiting}{wait_word}", "waiting" if counts.waiting else "muted")]
        for version, n in sorted(counts.draining.items()):
            parts += [(" ", ""), (drain_words.format(n=number(n), v=version), "draining")]
        if counts.failed:
            parts += [(" ", ""), (f"{failed} {fail_word}", "failed")]
        if sum(len(t) for t, _ in parts) <= inner:
            return parts
    drained = sum(counts.draining.values())
    return [
        (fit(f"{waiting}{f'+{number(drained)}' if drained else ''}/{failed}", inner), "waiting")
    ]


def _label(canvas: Canvas, edge: Edge, layout: Layout) -> None:
    """The output names on the border right of the port, up to the next port or corner."""
    assert edge.label is not None
    box = layout.boxes[edge.source]
    x, y = edge.label.x, edge.label.y
    if edge.source == edge.target:
        canvas.put(x, y, edge.label.text, "label")
        return
    room = 0
    while x + room < box.right - 1 and canvas.chars[y][x + room] in ("─", "═"):
        room += 1
    canvas.put(x, y, fit(edge.label.text, room), "label")
