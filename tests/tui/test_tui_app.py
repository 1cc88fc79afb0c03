"""The TUI's behaviour through ``App.run_test()`` and ``Pilot``: choosing flows, selecting an
object with keys and the mouse, the object panel (paging, search), a customer's journeys, the
empty-database and invalid-flow messages, and step mode on a replay."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.replay import Replay
from engine.store import Database, Store
from tui.app import EMPTY, SluisApp, create_app
from tui.customer_screen import CustomerScreen
from tui.flow_list import FlowList
from tui.graph_view import GraphView
from tui.help_screen import HelpScreen
from tui.object_panel import ObjectPanel
from tui.problems_view import ProblemsView
from tui.status_bar import StatusBar

pytestmark = pytest.mark.anyio


def rows(app: SluisApp, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(widget: Static) -> str:
    return str(widget.render())


async def test_select_an_object_and_open_a_customer(
    example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, seeded_store, clock, flow="welcome")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settle()
        graph = app.query_one(GraphView)
        assert graph.selected == "new-subscribers"
        assert graph.counts["welcome-mail"].passed == {"sent": 4, "skipped": 1}
        assert graph.counts["welcome-mail"].failed == 1
        assert graph.counts["opened"].waiting == 2
        await pilot.press("down", "down")
        assert graph.selected == "opened"
        await pilot.press("enter")
        await app.settle()
        assert app.opened == "opened"
        panel = app.query_one(ObjectPanel)
        assert panel.display
        assert "within: 3d" in text_of(app.query_one("#object-settings", Static))
        assert [r[0] for r in rows(app, "#waiting")] == ["C005", "C006"]
        app.query_one("#waiting", DataTable).focus()
        await pilot.press("down", "enter")
        await app.settle()
        screen = app.screen
        assert isinstance(screen, CustomerScreen)
        assert screen.found.customer["external_id"] == "C006"
        (journey,) = screen.found.journeys
        assert (journey.flow, journey.state, journey.at) == ("welcome", "waiting", "opened")
        steps = rows(app, "#journey-0")
        assert [s[1:] for s in steps] == [
            ["new-subscribers", "out", "selected"],
            ["welcome-mail", "sent", "sent"],
        ]
        await pilot.press("escape")
        assert not isinstance(app.screen, CustomerScreen)
        await pilot.press("escape")
        assert app.opened is None and not panel.display


async def test_the_panel_follows_the_selection_and_shows_failures(
    example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, seeded_store, clock, flow="welcome")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settle()
        await pilot.press("enter", "down")
        await app.settle()
        assert app.opened == "welcome-mail"
        events = rows(app, "#object-events")
        assert ["failed", "C004"] in [e[1:] for e in events]
        log = rows(app, "#log")
        assert any(r[1] == "failed" and "SMTP 550" in r[4] for r in log)


async def test_click_on_a_box_opens_it(
    example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, seeded_store, clock, flow="welcome")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settle()
        graph = app.query_one(GraphView)
        assert graph.graph_layout is not None
        box = graph.graph_layout.boxes["reminder"]
        graph.scroll_to(0, box.y, animate=False, immediate=True)
        await pilot.pause()
        # the graph has a one-cell border, so content cell (x, y) is at offset (x+1, y+1)
        await pilot.click(GraphView, offset=(box.x + 3, box.y - int(graph.scroll_y) + 2))
        await app.settle()
        assert graph.selected == "reminder" and app.opened == "reminder"


async def test_paging_and_searching_waiting_customers(
    example_project: Project, crowded_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, crowded_store, clock, flow="welcome")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settle()
        app.query_one(GraphView).select("opened")
        await pilot.press("enter")
        await app.settle()
        first = [r[0] for r in rows(app, "#waiting")]
        assert first == [f"C{n:03d}" for n in range(5, 15)]
        title = app.query_one("#waiting-title")
        assert "1–10 of 25" in str(title.render())
        app.query_one(ObjectPanel).focus()
        await pilot.press("right_square_bracket")
        await app.settle()
        assert rows(app, "#waiting")[0][0] == "C015"
        await pilot.press("right_square_bracket", "right_square_bracket")
        await app.settle()
        assert [r[0] for r in rows(app, "#waiting")] == [f"C{n:03d}" for n in range(25, 30)]
        await pilot.press("left_square_bracket")
        await app.settle()
        assert rows(app, "#waiting")[0][0] == "C015"
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"c02")
        await app.settle()
        assert [r[0] for r in rows(app, "#waiting")] == [f"C{n:03d}" for n in range(20, 30)]
        await pilot.press("3")
        await app.settle()
        assert [r[0] for r in rows(app, "#waiting")] == ["C023"]


async def test_flow_list_switches_flows_and_shows_totals(
    example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, seeded_store, clock, flow="welcome")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settle()
        flows = app.query_one(FlowList)
        assert flows.totals["welcome"].entered == 6
        assert flows.totals["welcome"].waiting == 2
        assert flows.totals["welcome"].failed == 1
        assert flows.started == {"welcome": True, "order-confirmation": False}
        await pilot.press("f")
        assert app.focused is flows
        await pilot.press("up", "up")
        await app.settle()
        assert app.current == "order-confirmation"
        graph = app.query_one(GraphView)
        assert graph.selected == "order-placed"
        assert graph.counts["wait-a-week"].waiting == 1


async def test_empty_database_says_so(
    example_project: Project, empty_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, empty_store, clock)
    async with app.run_test(size=(80, 24)):
        await app.settle()
        notice = app.query_one("#notice", Static)
        assert notice.display and "database is empty" in text_of(notice)
        assert EMPTY.startswith("The database is empty")
        assert app.current == "csv-campaign"


async def test_invalid_flow_shows_its_problems(
    make_project: object, tmp_path: Path, clock: VirtualClock
) -> None:
    bad = textwrap.dedent(
        """\
        objects:
          start:
            type: selection
            next: mial
          mail:
            type: mail
            template: x.html
            subject: Hi
        """
    )
    good = "objects:\n  start:\n    type: selection\n"
    project = make_project(flows={"broken": bad, "fine": good})  # type: ignore[operator]
    store = Store(Database(f"sqlite:///{tmp_path / 'db.sqlite'}"), project)
    app = create_app(project, store, clock, flow="broken")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.settle()
        problems = app.query_one(ProblemsView)
        assert problems.display and not app.query_one(GraphView).display
        text = text_of(problems)
        assert "The flow 'broken' is invalid" in text
        assert "broken.yaml:4:11: object 'start': next 'mial' is not an object" in text
        await pilot.press("f", "down")
        await app.settle()
        assert app.current == "fine"
        assert app.query_one(GraphView).display and not problems.display
    store.db.dispose()


async def test_help_zoom_log_and_theme_keys(
    example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, seeded_store, clock, flow="welcome")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.settle()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        graph = app.query_one(GraphView)
        await pilot.press("z")
        assert graph.zoom == "compact"
        await pilot.press("z")
        assert graph.zoom == "normal"
        await pilot.press("l")
        assert not app.query_one("#log").display
        dark = app.current_theme.dark
        await pilot.press("t")
        assert app.current_theme.dark is not dark
        footer_keys = {b.key for _, b, _, _ in app.screen.active_bindings.values() if b.show}
        assert {"q", "question_mark", "f", "g", "l", "t", "enter", "z"} <= footer_keys
        assert not {"s", "n", "e"} & {
            b.key
            for _, b, enabled, _ in app.screen.active_bindings.values()
            if enabled and app.check_action(b.action, ()) is not False
        }


async def test_step_mode_runs_batches_and_marks_them(
    example_project: Project, welcome_replay: Replay
) -> None:
    app = create_app(
        example_project, welcome_replay.store, welcome_replay.clock, replay=welcome_replay
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settle()
        graph = app.query_one(GraphView)
        status = app.query_one(StatusBar)
        assert not app.query_one(FlowList).display
        assert "virtual time 2026-01-05 09:00 UTC" in str(status.render())
        assert graph.ran is None
        await pilot.press("s")
        await app.settle()
        # the selection fired (its step is the entry) and the first batch ran: the mail
        assert graph.ran == "welcome-mail"
        assert graph.counts["new-subscribers"].passed == {"out": 3}
        mail = graph.counts["welcome-mail"].passed
        assert mail.get("sent", 0) + mail.get("skipped", 0) == 3
        assert "welcome-mail ran a batch of 3" in str(status.render())
        await pilot.press("s")
        await app.settle()
        assert graph.ran == "opened"
        assert graph.counts["opened"].waiting == 3
        await pilot.press("n")
        await app.settle()
        # nothing else was due: the clock moved on to C001's open, the next thing to happen
        assert graph.ran is None
        assert "virtual time 2026-01-06 10:00 UTC" in str(status.render())
        assert "clock moved to 2026-01-06 10:00" in str(status.render())
        await pilot.press("s")
        await app.settle()
        assert graph.ran == "opened"
        assert graph.counts["opened"].passed == {"yes": 1}
        assert graph.counts["opened"].waiting == 2
        await pilot.press("e")
        await app.settle()
        assert welcome_replay.finished
        assert "the replay has ended" in str(status.render())
        total = graph.counts
        assert sum(c.waiting for c in total.values()) == 0
        assert total["opened"].passed.get("yes", 0) == 1


async def test_live_header_shows_workers_claims_and_lag(
    example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    from datetime import timedelta

    from engine.store.models import CLAIMS, JOURNEYS, WORKERS

    now = clock.now()
    with seeded_store.db.write() as conn:
        conn.execute(
            WORKERS.insert().values(id="w1", host="h", pid=1, started_at=now, heartbeat_at=now)
        )
        conn.execute(
            CLAIMS.insert().values(
                flow="welcome",
                object="opened",
                owner="w9",
                lease_until=now - timedelta(minutes=1),
                created_at=now,
            )
        )
        journeys = JOURNEYS
        waiting = journeys.c.state == "active"
        ready = conn.execute(
            journeys.update().where(waiting).values(ready_at=now - timedelta(minutes=3))
        )
    app = create_app(example_project, seeded_store, clock, flow="welcome")
    async with app.run_test(size=(160, 40)):
        await app.settle()
        header = text_of(app.query_one(StatusBar))
        assert (
            f"workers 1 · batches 1 (1 lease run out) · ready {ready.rowcount} (lag 3m)" in header
        ), header
