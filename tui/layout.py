"""The flow graph laid out in character cells: boxes with positions and edge routes.

A pure function of the flow's shape (objects, their outputs, where the outputs lead): no counts,
no terminal. Layers come from the start objects (networkx: back edges of a depth-first search
from the starts are turned round, then each object sits one layer below its deepest
predecessor); grandalf's Sugiyama layout orders each layer to keep crossings low and places
the boxes; edges are routed orthogonally: out of the bottom of a box, along a track in the
channel between two layers, into the top of the next box (an edge that skips layers passes
through the layers between in a column of its own; an edge back up a loop leaves by the top).
Edges of an object with several outputs carry their output names on the box border.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import networkx as nx
from grandalf.graphs import Edge as GEdge
from grandalf.graphs import Vertex, graph_core
from grandalf.layouts import DummyVertex, Layer, SugiyamaLayout

if TYPE_CHECKING:
    from engine.model.flow import Flow

Zoom = Literal["normal", "compact"]
Cell = tuple[int, int]  # (x, y)

GAP = 2  # columns between neighbours in a layer (one stays empty)
COMPONENT_GAP = 4
LABEL_MAX = 20
SELF_LOOP_COLUMNS = 3


@dataclass(frozen=True)
class Node:
    """What the layout needs to know of one object."""

    id: str
    type: str
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """One routed output: ``source``'s ``output`` leads to ``target``."""

    source: str
    output: str
    target: str


@dataclass(frozen=True)
class Diagram:
    """The shape of a flow: its objects in file order, their routes and its start objects."""

    nodes: tuple[Node, ...]
    routes: tuple[Route, ...]
    starts: tuple[str, ...]

    @classmethod
    def of(cls, flow: Flow) -> Diagram:
        nodes = tuple(Node(oid, spec.type, spec.outputs) for oid, spec in flow.objects.items())
        routes = tuple(
            Route(oid, output, target)
            for oid, spec in flow.objects.items()
            for output in spec.outputs
            if (target := spec.routes.get(output)) is not None
        )
        return cls(nodes, routes, tuple(flow.starts))


@dataclass(frozen=True)
class Box:
    """An object's box: top-left corner, size (borders included) and layer."""

    id: str
    x: int
    y: int
    width: int
    height: int
    layer: int

    @property
    def right(self) -> int:
        """The first column right of the box."""
        return self.x + self.width

    @property
    def bottom(self) -> int:
        """The first row below the box."""
        return self.y + self.height

    def contains(self, x: int, y: int) -> bool:
        return self.x <= x < self.right and self.y <= y < self.bottom

    @property
    def center(self) -> Cell:
        return (self.x + self.width // 2, self.y + self.height // 2)


@dataclass(frozen=True)
class Label:
    """Output names written on a box border, right of the port they name."""

    text: str
    x: int
    y: int


@dataclass(frozen=True)
class Edge:
    """One drawn arrow: every output of ``source`` that leads to ``target``.

    ``cells`` is the route from the cell next to the source's border to the cell next to the
    target's border (where the arrowhead goes), each cell next to the one before. ``port`` is
    the border cell of the source where the edge leaves.
    """

    source: str
    target: str
    outputs: tuple[str, ...]
    cells: tuple[Cell, ...]
    port: Cell
    label: Label | None
    back: bool = False

    @property
    def arrow(self) -> str:
        """The arrowhead at the last cell, pointing into the target."""
        if len(self.cells) >= 2:
            (x0, y0), (x1, y1) = self.cells[-2], self.cells[-1]
            if y1 > y0:
                return "▼"
            if y1 < y0:
                return "▲"
            return "▶" if x1 > x0 else "◀"
        return "▲" if self.back else "▼"


@dataclass(frozen=True)
class Layout:
    """Boxes and edges in character cells, and the size of the whole drawing."""

    boxes: Mapping[str, Box]
    edges: tuple[Edge, ...]
    width: int
    height: int
    layers: tuple[tuple[str, ...], ...]
    zoom: Zoom = "normal"

    def box_at(self, x: int, y: int) -> str | None:
        """The object whose box covers the cell, if any."""
        for box in self.boxes.values():
            if box.contains(x, y):
                return box.id
        return None

    def neighbour(self, current: str, direction: str) -> str | None:
        """The nearest box from ``current`` in a direction (up, down, left, right)."""
        here = self.boxes[current].center
        best: tuple[float, str] | None = None
        for box in self.boxes.values():
            if box.id == current:
                continue
            dx, dy = box.center[0] - here[0], box.center[1] - here[1]
            ahead, aside = {
                "up": (-dy, dx),
                "down": (dy, dx),
                "left": (-dx, dy),
                "right": (dx, dy),
            }[direction]
            if ahead <= 0:
                continue
            # columns are about half as tall as rows are wide, so weigh rows double
            score = (
                ahead + 2 * abs(aside) if direction in ("left", "right") else ahead * 2 + abs(aside)
            )
            if best is None or score < best[0]:
                best = (score, box.id)
        return best[1] if best else None


def box_lines(node: Node, zoom: Zoom) -> int:
    """How many text lines the box of ``node`` holds (the canvas fills them)."""
    if zoom == "compact":
        return 1
    return 3 + max(1, len(node.outputs))  # id, type, waiting/failed, one line per output


def box_height(node: Node, zoom: Zoom) -> int:
    """Rows of a box, borders included: compact boxes are one row, ``[id 3 ✗1]``, without a
    border, so that a flow of a dozen objects fits a 120x40 terminal."""
    return 1 if zoom == "compact" else box_lines(node, zoom) + 2


def _edge_label(node: Node, outputs: Sequence[str]) -> str | None:
    if len(node.outputs) < 2:
        return None
    text = ", ".join(outputs)
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


# -- layers --------------------------------------------------------------------------------


def back_edges(graph: nx.DiGraph, starts: Sequence[str]) -> list[tuple[str, str]]:
    """Edges that lead back up a loop: in a depth-first search from the start objects (then
    from any object not reached yet), an edge to an object still on the search path."""
    on_path, done = 1, 2
    state: dict[str, int] = {}
    found: list[tuple[str, str]] = []
    for root in [*starts, *graph.nodes]:
        if root in state or root not in graph:
            continue
        state[root] = on_path
        stack = [(root, iter(graph.successors(root)))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in state:
                    state[child] = on_path
                    stack.append((child, iter(graph.successors(child))))
                    break
                if state[child] == on_path:
                    found.append((node, child))
            else:
                state[node] = done
                stack.pop()
    return found


def layers_of(graph: nx.DiGraph, starts: Sequence[str]) -> dict[str, int]:
    """Each object's layer: start objects on top, every other object one layer below its
    deepest predecessor once loops are turned round."""
    dag = nx.DiGraph()
    dag.add_nodes_from(graph.nodes)
    backs = set(back_edges(graph, starts))
    for u, v in graph.edges:
        if u == v:
            continue
        dag.add_edge(*((v, u) if (u, v) in backs else (u, v)))
    layer: dict[str, int] = {}
    for node in nx.topological_sort(dag):
        layer[node] = max((layer[p] + 1 for p in dag.predecessors(node)), default=0)
    return layer


# -- the layout ----------------------------------------------------------------------------


Vertex_ = str | tuple[int, int]  # an object id, or a dummy point (edge index, layer)


@dataclass
class _Segment:
    """One stretch of an edge between two neighbouring layers, as drawn downwards."""

    edge: int
    upper: Vertex_
    lower: Vertex_
    channel: int  # the layer above the stretch
    top_x: int = 0
    bottom_x: int = 0
    track: int = -1

    @property
    def span(self) -> tuple[int, int]:
        return (min(self.top_x, self.bottom_x), max(self.top_x, self.bottom_x))

    def touches(self, other: _Segment) -> bool:
        """Whether the two horizontal runs would meet on one row (a cell apart counts)."""
        (a0, a1), (b0, b1) = self.span, other.span
        return not (a1 + 1 < b0 or b1 + 1 < a0)


@dataclass(frozen=True)
class _Chain:
    """An edge: its outputs and label, and its ends as drawn downwards (``upper`` is the
    target of an edge that goes back up a loop)."""

    index: int
    source: str
    target: str
    outputs: tuple[str, ...]
    label: str | None
    back: bool
    upper: str
    lower: str


class _View:
    """The size grandalf sees for a vertex; grandalf writes the centre into ``xy``."""

    def __init__(self, w: int, h: int) -> None:
        self.w = w
        self.h = h
        self.xy = (0.0, 0.0)


def layout(diagram: Diagram, zoom: Zoom = "normal") -> Layout:
    """Lay the diagram out: boxes that never overlap and a route for every edge."""
    return _Builder(diagram, zoom).build()


class _Builder:
    """Works out a layout step by step: edges and layers, box sizes, columns, ports, tracks,
    rows, and finally the cells of every edge."""

    def __init__(self, diagram: Diagram, zoom: Zoom) -> None:
        self.diagram = diagram
        self.zoom = zoom
        self.nodes = {n.id: n for n in diagram.nodes}
        self.chains: list[_Chain] = []
        self.loops: dict[str, _Chain] = {}
        self.sizes: dict[str, tuple[int, int]] = {}
        self.xs: dict[Vertex_, int] = {}
        self.order: list[list[Vertex_]] = []
        self.segments: list[_Segment] = []
        self.band: list[int] = []
        self.rows: list[int] = []
        self.lead: list[int] = []  # per channel: rows before its tracks (the ports' row)

    def build(self) -> Layout:
        self._edges_and_layers()
        self._box_sizes()
        self._columns()
        self._segments()
        self._spread_ports()
        tracks = self._tracks()
        self._rows(tracks)
        boxes = {
            n.id: Box(
                n.id,
                self.xs[n.id],
                self.rows[self.layer[n.id]],
                *self.sizes[n.id],
                self.layer[n.id],
            )
            for n in self.diagram.nodes
        }
        edges: list[Edge] = []
        for chain in sorted([*self.chains, *self.loops.values()], key=lambda c: c.index):
            if chain.source == chain.target:
                edges.append(self._loop(chain, boxes[chain.source]))
            else:
                edges.append(self._edge(chain, boxes))
        right = [b.right for b in boxes.values()]
        right += [x + 1 for e in edges for x, _ in e.cells]
        right += [e.label.x + len(e.label.text) for e in edges if e.label is not None]
        height = max((b.bottom for b in boxes.values()), default=0)
        layers = tuple(tuple(v for v in row if isinstance(v, str)) for row in self.order)
        return Layout(boxes, tuple(edges), max(right, default=0) + 1, height, layers, self.zoom)

    # -- edges and layers ------------------------------------------------------------------

    def _edges_and_layers(self) -> None:
        grouped: dict[tuple[str, str], list[str]] = {}
        for route in self.diagram.routes:
            grouped.setdefault((route.source, route.target), []).append(route.output)
        graph = nx.DiGraph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from(pair for pair in grouped if pair[0] != pair[1])
        self.layer = layers_of(graph, self.diagram.starts)
        backs = set(back_edges(graph, self.diagram.starts))
        for index, ((source, target), outputs) in enumerate(grouped.items()):
            back = (source, target) in backs
            upper, lower = (target, source) if back else (source, target)
            chain = _Chain(
                index,
                source,
                target,
                tuple(outputs),
                _edge_label(self.nodes[source], outputs),
                back,
                upper,
                lower,
            )
            if source == target:
                self.loops[source] = chain
            else:
                self.chains.append(chain)

    def _box_sizes(self) -> None:
        for node in self.diagram.nodes:
            if self.zoom == "compact":
                width = min(max(len(node.id) + 4, 8), 18)
            else:
                width = min(max(len(node.id), len(node.type), 16) + 4, 28)
            height = box_height(node, self.zoom)
            if any(c.back and c.source == node.id for c in self.chains):
                height = max(height, 3)  # ports on the top and on the bottom border
            if node.id in self.loops:
                height = max(height, 4)
            for side in ("upper", "lower"):
                ends = [c for c in self.chains if getattr(c, side) == node.id]
                need = sum(2 + self._label_length(c, node.id) for c in ends) + 1
                width = max(width, need + 1)
            self.sizes[node.id] = (width, height)

    @staticmethod
    def _label_length(chain: _Chain, at: str) -> int:
        return len(chain.label) if chain.label and chain.source == at else 0

    def _slot(self, vertex: Vertex_) -> int:
        """Columns a vertex takes in its layer: a box (and room for its loop), or one."""
        if not isinstance(vertex, str):
            return 1
        width = self.sizes[vertex][0]
        loop = self.loops.get(vertex)
        if loop is not None:
            width += SELF_LOOP_COLUMNS + (len(loop.label) if loop.label else 0)
        return width

    # -- columns ---------------------------------------------------------------------------

    def _columns(self) -> None:
        """Each component ordered and placed by grandalf, overlaps swept away layer by layer,
        components side by side in file order."""
        depth = max(self.layer.values(), default=-1) + 1
        self.order = [[] for _ in range(depth)]
        graph = nx.Graph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from((c.upper, c.lower) for c in self.chains)
        position = {n.id: i for i, n in enumerate(self.diagram.nodes)}
        components = sorted(
            (sorted(c, key=position.__getitem__) for c in nx.connected_components(graph)),
            key=lambda c: position[c[0]],
        )
        offset = 1
        for members in components:
            centres = self._grandalf(members)
            rows: dict[int, list[tuple[float, int, Vertex_]]] = {}
            for i, (vertex, (r, centre)) in enumerate(centres.items()):
                rows.setdefault(r, []).append((centre, i, vertex))
            lefts: dict[Vertex_, int] = {}
            for r, items in sorted(rows.items()):
                items.sort()
                edge = None
                for centre, _, vertex in items:
                    left = round(centre - self._slot(vertex) / 2)
                    if edge is not None:
                        left = max(left, edge + GAP)
                    lefts[vertex] = left
                    edge = left + self._slot(vertex)
                    self.order[r].append(vertex)
            least = min(lefts.values())
            for vertex, left in lefts.items():
                self.xs[vertex] = left - least + offset
            offset = max(self.xs[v] + self._slot(v) for v in lefts) + COMPONENT_GAP

    def _grandalf(self, members: Sequence[str]) -> dict[Vertex_, tuple[int, float]]:
        """Layer and centre column of every vertex of one component (objects and the dummy
        points of edges that skip layers), from grandalf's Sugiyama layout on our layers."""
        if len(members) == 1:
            only = members[0]
            return {only: (self.layer[only], self._slot(only) / 2)}
        inside = set(members)
        vertices = {}
        for oid in members:
            vertex = Vertex(oid)
            vertex.view = _View(self._slot(oid), self.sizes[oid][1])
            vertices[oid] = vertex
        edges = []
        for chain in self.chains:
            if chain.upper in inside:
                edge = GEdge(vertices[chain.upper], vertices[chain.lower])
                edge.chain = chain
                edges.append(edge)
        sugiyama = SugiyamaLayout(graph_core(list(vertices.values()), edges))
        sugiyama.xspace = GAP
        sugiyama.yspace = 1
        sugiyama.alt_e = []  # our layers already point every edge downwards
        sugiyama.layers = [Layer([]) for _ in range(max(self.layer[m] for m in members) + 1)]
        for oid in members:
            sugiyama.grx[vertices[oid]].rank = self.layer[oid]
            sugiyama.layers[self.layer[oid]].append(vertices[oid])
        dummies: dict[object, tuple[int, int]] = {}
        for edge in edges:
            sugiyama.setdummies(edge)
            for r, dummy in sugiyama.ctrls.get(edge, {}).items():
                if dummy not in (edge.v[0], edge.v[1]):
                    dummy.view.w, dummy.view.h = 1, 1
                    dummies[dummy] = (edge.chain.index, r)
        for row in sugiyama.layers:
            row.setup(sugiyama)
        sugiyama.initdone = True
        sugiyama.draw(N=3)
        centres: dict[Vertex_, tuple[int, float]] = {}
        for r, row in enumerate(sugiyama.layers):
            for vertex in row:
                key = dummies[vertex] if isinstance(vertex, DummyVertex) else vertex.data
                centres[key] = (r, float(vertex.view.xy[0]))
        return centres

    # -- ports -----------------------------------------------------------------------------

    def _segments(self) -> None:
        for chain in self.chains:
            top, bottom = self.layer[chain.upper], self.layer[chain.lower]
            stops: list[Vertex_] = [
                chain.upper,
                *((chain.index, r) for r in range(top + 1, bottom)),
            ]
            stops.append(chain.lower)
            for i in range(len(stops) - 1):
                segment = _Segment(chain.index, stops[i], stops[i + 1], top + i)
                if not isinstance(segment.upper, str):
                    segment.top_x = self.xs[segment.upper]
                if not isinstance(segment.lower, str):
                    segment.bottom_x = self.xs[segment.lower]
                self.segments.append(segment)

    def _centre(self, vertex: Vertex_) -> float:
        return (
            self.xs[vertex] + self._slot(vertex) / 2 if isinstance(vertex, str) else self.xs[vertex]
        )

    def _spread_ports(self) -> None:
        """Ports on the bottom border of each box, then on the top border: each as near as
        it can be to the column its segment comes from or goes to (straight lines where
        possible), in that order (fewer crossings), with room for its label."""
        chains = {c.index: c for c in self.chains}
        for side in ("bottom", "top"):
            for oid in self.nodes:
                if side == "bottom":
                    segments = [s for s in self.segments if s.upper == oid]
                    ideal = {id(s): round(self._centre(s.lower)) for s in segments}
                else:
                    segments = [s for s in self.segments if s.lower == oid]
                    ideal = {id(s): s.top_x for s in segments}
                if not segments:
                    continue
                segments.sort(key=lambda s: (ideal[id(s)], s.edge))
                needs = [1 + self._label_length(chains[s.edge], oid) for s in segments]
                ports = _pack(
                    [ideal[id(s)] for s in segments],
                    needs,
                    self.xs[oid] + 1,
                    self.xs[oid] + self.sizes[oid][0] - 2,
                    [self._crowded(s, side) for s in segments],
                )
                for segment, port in zip(segments, ports, strict=True):
                    if side == "bottom":
                        segment.top_x = port
                    else:
                        segment.bottom_x = port

    def _crowded(self, segment: _Segment, side: str) -> set[int]:
        """Columns a port should keep off: where another segment of the same channel comes
        down (for a bottom port) or leaves (for a top port), so that no two segments need
        one column at once."""
        near = [s for s in self.segments if s.channel == segment.channel and s is not segment]
        if side == "bottom":
            return {s.bottom_x for s in near if not isinstance(s.lower, str)}
        return {s.top_x for s in near}

    # -- tracks and rows -------------------------------------------------------------------

    def _tracks(self) -> list[int]:
        """Rows for the bent segments of each channel: a segment turns above any segment
        that comes down its column; segments that do not touch share a row."""
        counts = []
        for channel in range(len(self.order) - 1):
            bent = [s for s in self.segments if s.channel == channel and s.top_x != s.bottom_x]
            above = nx.DiGraph()
            above.add_nodes_from(range(len(bent)))
            above.add_edges_from(
                (i, j)
                for i, a in enumerate(bent)
                for j, b in enumerate(bent)
                if i != j and a.top_x == b.bottom_x
            )
            while not nx.is_directed_acyclic_graph(above):
                # two segments swap columns: no order of rows avoids touching; break it
                u, v = nx.find_cycle(above)[0][:2]
                above.remove_edge(u, v)
            for i in nx.lexicographical_topological_sort(above, key=lambda i: bent[i].span):
                segment = bent[i]
                track = max((bent[p].track + 1 for p in above.predecessors(i)), default=0)
                while any(
                    o.track == track and o.touches(segment) for o in bent if o is not segment
                ):
                    track += 1
                segment.track = track
            counts.append(max((s.track + 1 for s in bent), default=0))
        return counts

    def _rows(self, tracks: Sequence[int]) -> None:
        """Each layer as tall as its tallest box; the channel below it has a row for the
        ports, its tracks, and a row for the arrowheads (compact: the tracks start right
        under the boxes, so a straight arrow takes one row)."""
        y = 0
        backs = {c.index for c in self.chains if c.back}
        for r, row in enumerate(self.order):
            self.rows.append(y)
            self.band.append(max((self.sizes[v][1] for v in row if isinstance(v, str)), default=1))
            if r < len(tracks):
                # an edge back up a loop arrives from below: it needs the ports' row to turn
                # into its target upwards
                bent_back = any(
                    s.channel == r and s.edge in backs and s.top_x != s.bottom_x
                    for s in self.segments
                )
                self.lead.append(1 if self.zoom != "compact" or bent_back else 0)
                y += self.band[r] + self.lead[r] + 1 + tracks[r]

    # -- cells -----------------------------------------------------------------------------

    def _edge(self, chain: _Chain, boxes: Mapping[str, Box]) -> Edge:
        cells: list[Cell] = []
        for part in (s for s in self.segments if s.edge == chain.index):
            r = part.channel
            stub = self.rows[r] + self.band[r]
            start = boxes[chain.upper].bottom if part.upper == chain.upper else stub
            arrow_row = self.rows[r + 1] - 1
            turn = stub + self.lead[r] + part.track
            x0, x1 = part.top_x, part.bottom_x
            if x0 == x1:
                cells += [(x0, y) for y in range(start, arrow_row + 1)]
            else:
                cells += [(x0, y) for y in range(start, turn)]
                step = 1 if x1 > x0 else -1
                cells += [(x, turn) for x in range(x0, x1, step)]
                cells += [(x1, y) for y in range(turn, arrow_row + 1)]
            if part.lower != chain.lower:  # down through the layer the edge skips
                cells += [
                    (x1, y) for y in range(self.rows[r + 1], self.rows[r + 1] + self.band[r + 1])
                ]
        source = boxes[chain.source]
        if chain.back:
            cells.reverse()
            port = (cells[0][0], source.y)
        else:
            port = (cells[0][0], source.bottom - 1)
        label = Label(chain.label, port[0] + 1, port[1]) if chain.label else None
        return Edge(
            chain.source, chain.target, chain.outputs, tuple(cells), port, label, chain.back
        )

    @staticmethod
    def _loop(chain: _Chain, box: Box) -> Edge:
        """A loop to itself, drawn on the right of the box."""
        out, back = box.y + 1, box.bottom - 2
        cells = [(box.right, out), (box.right + 1, out)]
        cells += [(box.right + 1, y) for y in range(out + 1, back + 1)]
        cells.append((box.right, back))
        label = Label(chain.label, box.right + 2, out) if chain.label else None
        return Edge(
            chain.source, chain.target, chain.outputs, tuple(cells), (box.right - 1, out), label
        )


def _pack(
    ideal: Sequence[int],
    needs: Sequence[int],
    low: int,
    high: int,
    avoid: Sequence[set[int]] | None = None,
) -> list[int]:
    """Columns as near ``ideal`` as they can be, in order, each ``need`` wide plus a gap,
    all within ``low``..``high``, and off the columns in ``avoid`` where there is room."""
    shun = avoid or [set() for _ in ideal]
    ports: list[int] = []
    floor = low
    for want, need, bad in zip(ideal, needs, shun, strict=True):
        port = max(min(want, high - need + 1), floor)
        while port in bad:
            port += 1
        ports.append(port)
        floor = port + need + 1
    ceiling = high + 2
    for i in range(len(ports) - 1, -1, -1):
        ceiling = min(ports[i], ceiling - needs[i] - 1)
        while ceiling in shun[i] and ceiling > low:
            ceiling -= 1
        ports[i] = max(ceiling, low)
    return ports


def layout_flow(flow: Flow, zoom: Zoom = "normal") -> Layout:
    """The layout of a validated flow."""
    return layout(Diagram.of(flow), zoom)


def all_cells(edges: Iterable[Edge]) -> set[Cell]:
    return {cell for edge in edges for cell in edge.cells}
