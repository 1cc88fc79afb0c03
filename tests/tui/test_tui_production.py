"""The TUI for flows in production (issue 14): failed journeys with their reasons in the object
panel and ``r`` to retry them, the flow's recent activity in the events panel from the start,
and the compact graph of a dozen objects fitting a 120x40 terminal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from textual.widgets import DataTable, Label, Static

from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.store import Database, Store
from engine.store.models import EVENTS, JOURNEYS
from tui.app import SluisApp, create_app
from tui.graph_view import GraphView

pytestmark = pytest.mark.anyio


def rows(app: SluisApp, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_events_panel_shows_the_flows_activity_when_it_opens(
    example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    # order-confirmation records no events: its customer's steps are its activity
    app = create_app(example_project, seeded_store, clock, flow="order-confirmation")
    async with app.run_test(size=(120, 40)):
        await app.settle()
        log = rows(app, "#log")
        assert [r[1:4] for r in log] == [
            ["step", "confirmation", "C001"],
            ["step", "paid", "C001"],
            ["step", "order-placed", "C001"],
        ]
        assert log[0][4] == "sent: sent"
        assert not any("no events" in cell for r in log for cell in r)


async def test_an_empty_flow_says_so_in_full(
    example_project: Project, empty_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, empty_store, clock, flow="welcome")
    async with app.run_test(size=(120, 40)):
        await app.settle()
        assert rows(app, "#log") == [["", "", "", "", "nothing happened in this flow yet"]]


async def test_failed_journeys_show_their_reasons_and_r_retries_them(
    example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, seeded_store, clock, flow="welcome")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settle()
        graph = app.query_one(GraphView)
        assert graph.selected == "new-subscribers"
        assert not app.check_action("retry", ())  # nothing failed there
        await pilot.press("down")
        assert graph.selected == "welcome-mail"
        assert graph.counts["welcome-mail"].failed == 1
        assert app.check_action("retry", ())  # from the graph alone
        await pilot.press("enter")
        await app.settle()
        title = app.query_one("#failed-title", Label)
        assert str(title.render()) == "Failed here: 1 (r: retry)"
        failed = str(app.query_one("#failed", Static).render())
        assert failed.split("\n")[:2] == [
            "C004 01-05 10:00",
            "  failed: SMTP 550 mailbox unavailable",
        ]

        await pilot.press("r")
        await app.settle()
        with seeded_store.db.read() as conn:
            journey = conn.execute(
                select(JOURNEYS.c.state, JOURNEYS.c.object).where(
                    JOURNEYS.c.customer_id == 4, JOURNEYS.c.flow == "welcome"
                )
            ).one()
            retried = conn.execute(select(EVENTS.c.object).where(EVENTS.c.kind == "retried")).all()
        assert tuple(journey) == ("active", "welcome-mail")
        assert [r[0] for r in retried] == ["welcome-mail"]
        assert graph.counts["welcome-mail"].failed == 0
        assert graph.counts["welcome-mail"].waiting == 1
        assert str(title.render()) == "Failed here: none"
        assert not app.check_action("retry", ())
        assert any(r[1] == "retried" and r[2] == "welcome-mail" for r in rows(app, "#log"))


def _chain(n: int) -> str:
    lines = ["objects:", "  start: {type: selection, next: o1}"]
    for i in range(1, n - 1):
        following = f"o{i + 1}" if i < n - 2 else "done"
        lines.append(f"  o{i}: {{type: group, add: [g{i}], next: {following}}}")
    lines.append("  done: {type: end}")
    return "\n".join(lines) + "\n"


def _wide(branches: int, steps: int) -> str:
    """selection -> split into ``branches`` -> ``steps`` objects each -> one end."""
    names = [f"b{i}" for i in range(1, branches + 1)]
    lines = ["objects:", "  start: {type: selection, next: pick}", "  pick:", "    type: split"]
    lines.append("    branches:")
    lines += [f'      {b}: customer.country == "{b}"' for b in names[:-1]]
    routes = ", ".join(f"{b}: {b}-1" for b in names[:-1])
    lines.append(f"    next: {{{routes}, otherwise: {names[-1]}-1}}")
    for b in names:
        for s in range(1, steps + 1):
            following = f"{b}-{s + 1}" if s < steps else "done"
            if s % 2:
                lines.append(f"  {b}-{s}: {{type: wait, for: 1d, next: {following}}}")
            else:
                lines.append(f"  {b}-{s}: {{type: group, add: [{b}], next: {following}}}")
    lines.append("  done: {type: end}")
    return "\n".join(lines) + "\n"


FLOWS: dict[str, Callable[[], str]] = {
    "chain-12": lambda: _chain(12),
    "wide-9": lambda: _wide(3, 2),  # 1 + 1 + 3 x 2 + 1
    "wide-12": lambda: _wide(3, 3),  # 1 + 1 + 3 x 3 + 1
    "fan-12": lambda: _wide(9, 1),  # 1 + 1 + 9 + 1
}


@pytest.mark.parametrize("name", sorted(FLOWS))
async def test_the_compact_graph_of_twelve_objects_fits_120x40(
    tmp_path: Path, make_project: Callable[..., Project], clock: VirtualClock, name: str
) -> None:
    project = make_project(
        "timezone: UTC\nprofile: {country: str}\n", {name: FLOWS[name]()}, folder="fit"
    )
    store = Store(Database(f"sqlite:///{tmp_path / 'fit.db'}"), project)
    try:
        app = create_app(project, store, clock, flow=name)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.settle()
            graph = app.query_one(GraphView)
            assert graph.diagram is not None and len(graph.diagram.nodes) in (9, 12)
            await pilot.press("z")
            await pilot.pause()
            drawn = graph.graph_layout
            assert drawn is not None and drawn.zoom == "compact"
            room = graph.scrollable_content_region.size
            print(f"{name}: {drawn.width}x{drawn.height} in {room.width}x{room.height}")
            assert drawn.width <= room.width and drawn.height <= room.height, (
                f"{name}: {drawn.width}x{drawn.height} in {room.width}x{room.height}"
            )
    finally:
        store.db.dispose()


async def test_a_drain_shows_both_versions_in_the_boxes_and_the_header(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    """While version 1 drains (sluis start --drain), each box counts version 2's journeys and
    version 1's beside them, and a header line names version 1 and what it still holds."""
    from draining import draining

    def store_for(project: Project) -> Store:
        return Store(Database(f"sqlite:///{tmp_path / 'drain.db'}"), project)

    project, store, runtime = draining(make_project, store_for)
    app = create_app(project, store, runtime.clock, flow="hold")
    async with app.run_test(size=(120, 40)):
        await app.settle()
        notice = app.query_one("#notice", Static)
        assert notice.display
        assert str(notice.render()) == (
            "version 1 drains: 3 journeys still on it (2 at wait-nl, 1 at hold) · "
            "new entries take version 2"
        )
        graph = app.query_one(GraphView)
        assert graph.counts["hold"].waiting == 2 and graph.counts["hold"].draining == {1: 1}
        assert graph._canvas is not None
        assert "│2 (+1 draining v1)│" in graph._canvas.text()
        for _ in range(2):  # wait-nl 3d, then hold 5d: version 1 empties, the drain ends
            runtime.clock.advance(timedelta(days=6))
            runtime.run_until_idle()
        app.request_refresh()
        await app.settle()
        assert not notice.display
        assert graph.counts["hold"].draining == {}
    store.db.dispose()
