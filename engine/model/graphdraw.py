"""Drawings of a flow: readable text for a terminal, Mermaid, and Graphviz dot."""

from __future__ import annotations

from engine.model.flow import Flow


def draw(flow: Flow, fmt: str = "text") -> str:
    if fmt == "mermaid":
        return mermaid(flow)
    if fmt == "dot":
        return dot(flow)
    return text(flow)


def _label(flow: Flow, oid: str) -> str:
    return f"[{oid}] {flow.objects[oid].type}"


def text(flow: Flow) -> str:
    """The flow as an indented tree from each start object; an object reached a second time is
    shown as a reference instead of drawn again."""
    lines = [f"flow {flow.name} ({flow.file})"]
    if flow.description:
        lines.append(f"  {flow.description}")
    drawn: set[str] = set()

    def walk(oid: str, prefix: str) -> None:
        spec = flow.objects[oid]
        edges = [(o, t) for o in spec.outputs if (t := spec.routes.get(o))]
        for i, (output, target) in enumerate(edges):
            last = i == len(edges) - 1
            branch = "└─" if last else "├─"
            again = target in drawn
            lines.append(
                f"{prefix}{branch}{output}─▶ {_label(flow, target)}"
                + ("  (see above)" if again else "")
            )
            if not again:
                drawn.add(target)
                walk(target, prefix + ("   " if last else "│  "))
        unrouted = [o for o in spec.outputs if o not in spec.routes]
        if unrouted and edges:
            lines.append(f"{prefix}   ({', '.join(unrouted)}: ends)")

    for start in flow.starts:
        lines.append(_label(flow, start))
        drawn.add(start)
        walk(start, "")
    return "\n".join(lines)


def mermaid(flow: Flow) -> str:
    lines = ["flowchart TD"]
    for oid, spec in flow.objects.items():
        shape = ("([", "])") if oid in flow.starts else ("[", "]")
        lines.append(f'    {_mid(oid)}{shape[0]}"{oid}<br/><small>{spec.type}</small>"{shape[1]}')
    for source, target, output in flow.graph.edges(data="output"):
        lines.append(f"    {_mid(source)} -->|{output}| {_mid(target)}")
    return "\n".join(lines)


def _mid(oid: str) -> str:
    return "n_" + oid.replace("-", "_")


def dot(flow: Flow) -> str:
    lines = [f'digraph "{flow.name}" {{', "    rankdir=TB;", "    node [shape=box];"]
    for oid, spec in flow.objects.items():
        style = ", style=rounded" if oid in flow.starts else ""
        lines.append(f'    "{oid}" [label="{oid}\\n{spec.type}"{style}];')
    for source, target, output in flow.graph.edges(data="output"):
        lines.append(f'    "{source}" -> "{target}" [label="{output}"];')
    lines.append("}")
    return "\n".join(lines)
