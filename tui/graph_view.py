"""The graph of the flow on screen: a scrollable canvas of boxes and arrows with live counts.
Arrow keys move between boxes, enter (or a click) opens one, ``z`` switches to the compact
view; the object whose batch just ran in step mode carries a marker."""

from __future__ import annotations

from collections.abc import Mapping

from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.model.flow import Flow
from engine.runtime.monitor import ObjectCounts
from tui.canvas import Canvas, draw
from tui.layout import Diagram, Layout, Zoom, layout

ROLES = (
    "edge",
    "label",
    "border",
    "selected",
    "ran",
    "id",
    "type",
    "waiting",
    "draining",
    "failed",
    "passed",
    "muted",
)


class GraphView(ScrollView, can_focus=True):
    """The selected flow drawn as boxes and arrows."""

    COMPONENT_CLASSES = {f"graph-view--{role}" for role in ROLES}
    BINDINGS = [
        Binding("enter", "open", "Open"),
        Binding("z", "zoom", "Zoom"),
        Binding("up", "move('up')", "Up", show=False),
        Binding("down", "move('down')", "Down", show=False),
        Binding("left", "move('left')", "Left", show=False),
        Binding("right", "move('right')", "Right", show=False),
        Binding("tab", "cycle(1)", "Next object", show=False),
        Binding("shift+tab", "cycle(-1)", "Previous object", show=False),
    ]

    class Selected(Message):
        """The selection moved to an object."""

        def __init__(self, object_id: str) -> None:
            super().__init__()
            self.object_id = object_id

    class Opened(Message):
        """An object was opened (enter or a click): show its panel."""

        def __init__(self, object_id: str) -> None:
            super().__init__()
            self.object_id = object_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.flow: Flow | None = None
        self.diagram: Diagram | None = None
        self.graph_layout: Layout | None = None
        self.zoom: Zoom = "normal"
        self.counts: Mapping[str, ObjectCounts] = {}
        self.selected: str | None = None
        self.ran: str | None = None
        self._canvas: Canvas | None = None

    # -- what is shown ---------------------------------------------------------------------

    def show_flow(self, flow: Flow | None) -> None:
        """Draw ``flow`` (None: nothing), its start object selected."""
        if flow is self.flow:
            return
        self.flow = flow
        self.diagram = Diagram.of(flow) if flow is not None else None
        self.counts = {}
        self.ran = None
        self.selected = flow.starts[0] if flow is not None and flow.starts else None
        self._relayout()
        self.scroll_to(0, 0, animate=False)

    def show_counts(self, counts: Mapping[str, ObjectCounts]) -> None:
        if counts != self.counts:
            self.counts = counts
            self._redraw()

    def mark_ran(self, object_id: str | None) -> None:
        """Mark the object whose batch just ran (step mode) and bring it into view."""
        if object_id != self.ran:
            self.ran = object_id
            self._redraw()
        if object_id is not None:
            self._reveal(object_id)

    def select(self, object_id: str) -> None:
        """Select an object and bring its box into view."""
        if self.graph_layout is None or object_id not in self.graph_layout.boxes:
            return
        if object_id != self.selected:
            self.selected = object_id
            self._redraw()
            self.post_message(self.Selected(object_id))
        self._reveal(object_id)

    def _relayout(self) -> None:
        self.graph_layout = layout(self.diagram, self.zoom) if self.diagram is not None else None
        size = (
            Size(self.graph_layout.width, self.graph_layout.height)
            if self.graph_layout
            else Size(0, 0)
        )
        self.virtual_size = size
        self._redraw()

    def _redraw(self) -> None:
        if self.graph_layout is None or self.diagram is None:
            self._canvas = None
        else:
            nodes = {n.id: n for n in self.diagram.nodes}
            self._canvas = draw(
                self.graph_layout, nodes, self.counts, selected=self.selected, ran=self.ran
            )
        self.refresh()

    def _reveal(self, object_id: str) -> None:
        if self.graph_layout is None:
            return
        box = self.graph_layout.boxes[object_id]
        region = Region(box.x, box.y, box.width, box.height)
        self.scroll_to_region(region, animate=False, force=True)

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        canvas = self._canvas
        row = y + scroll_y
        if canvas is None or row >= canvas.height:
            return Strip.blank(width, base)
        segments = [
            Segment(text, base + self.get_component_rich_style(f"graph-view--{role}"))
            if role
            else Segment(text, base)
            for text, role in canvas.runs(row)
        ]
        return Strip(segments, canvas.width).crop_extend(scroll_x, scroll_x + width, base)

    # -- keys and mouse --------------------------------------------------------------------

    def action_move(self, direction: str) -> None:
        if self.graph_layout is None or self.selected is None:
            return
        found = self.graph_layout.neighbour(self.selected, direction)
        if found is not None:
            self.select(found)
        elif direction in ("up", "down"):  # at the edge: scroll as a plain view would
            self.scroll_relative(y=-3 if direction == "up" else 3, animate=False)

    def action_cycle(self, step: int) -> None:
        if self.graph_layout is None or not self.graph_layout.boxes:
            return
        ids = [oid for row in self.graph_layout.layers for oid in row]
        at = ids.index(self.selected) if self.selected in ids else -1
        self.select(ids[(at + step) % len(ids)])

    def action_open(self) -> None:
        if self.selected is not None:
            self.post_message(self.Opened(self.selected))

    def action_zoom(self) -> None:
        self.zoom = "compact" if self.zoom == "normal" else "normal"
        self._relayout()
        if self.selected is not None:
            self._reveal(self.selected)

    def on_click(self, event: events.Click) -> None:
        if self.graph_layout is None:
            return
        offset = event.get_content_offset(self)
        if offset is None:
            return
        found = self.graph_layout.box_at(
            offset.x + self.scroll_offset.x, offset.y + self.scroll_offset.y
        )
        if found is not None:
            self.focus()
            self.select(found)
            self.post_message(self.Opened(found))
