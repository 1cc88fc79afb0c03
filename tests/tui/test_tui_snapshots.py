"""Screens of the TUI as committed SVGs (pytest-textual-snapshot), at 80x24 and 120x40: every
example flow live on a small seeded store, the object panel, a customer's journeys, the help
screen, an empty database, and step mode. Fixed clock, fixed data, fixed theme: no wall-clock
time reaches the screen. After an intended change: pytest tests/tui --snapshot-update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.replay import Replay
from engine.store import Store
from tui.app import SluisApp, create_app
from tui.graph_view import GraphView

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
FLOWS = ["csv-campaign", "order-confirmation", "weekly-export", "welcome"]
Snap = Callable[..., bool]


def themed(app: SluisApp) -> SluisApp:
    app.theme = "textual-dark"
    return app


def settled(*keys: str, select: str | None = None) -> Callable[[Pilot[None]], Awaitable[None]]:
    """A ``run_before`` that waits for the data, selects an object and presses keys."""

    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, SluisApp)
        await app.settle()
        if select is not None:
            app.query_one(GraphView).select(select)
        for key in keys:
            await pilot.press(key)
            await app.settle()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("flow", FLOWS)
def test_live_flow(
    snap_compare: Snap,
    example_project: Project,
    seeded_store: Store,
    clock: VirtualClock,
    flow: str,
    size: tuple[int, int],
) -> None:
    app = themed(create_app(example_project, seeded_store, clock, flow=flow))
    assert snap_compare(app, terminal_size=size, run_before=settled())


@pytest.mark.parametrize("size", SIZES)
def test_object_panel(
    snap_compare: Snap,
    example_project: Project,
    seeded_store: Store,
    clock: VirtualClock,
    size: tuple[int, int],
) -> None:
    app = themed(create_app(example_project, seeded_store, clock, flow="welcome"))
    assert snap_compare(app, terminal_size=size, run_before=settled("enter", select="opened"))


def test_light_theme(
    snap_compare: Snap, example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = create_app(example_project, seeded_store, clock, flow="welcome")
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled("enter", select="opened"))


def test_compact_zoom(
    snap_compare: Snap, example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = themed(create_app(example_project, seeded_store, clock, flow="welcome"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled("z"))


def test_customer_journeys(
    snap_compare: Snap, example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = themed(create_app(example_project, seeded_store, clock, flow="welcome"))

    async def run_before(pilot: Pilot[None]) -> None:
        await settled("enter", select="opened")(pilot)
        app.query_one("#waiting").focus()
        await pilot.press("down", "enter")  # C006, waiting at 'opened'
        await app.settle()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help(
    snap_compare: Snap, example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = themed(create_app(example_project, seeded_store, clock, flow="welcome"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled("question_mark"))


def test_empty_database(
    snap_compare: Snap, example_project: Project, empty_store: Store, clock: VirtualClock
) -> None:
    app = themed(create_app(example_project, empty_store, clock, flow="welcome"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled())


@pytest.mark.parametrize("size", SIZES)
def test_step_mode(
    snap_compare: Snap,
    example_project: Project,
    welcome_replay: Replay,
    size: tuple[int, int],
) -> None:
    app = themed(
        create_app(
            example_project, welcome_replay.store, welcome_replay.clock, replay=welcome_replay
        )
    )
    assert snap_compare(app, terminal_size=size, run_before=settled("s", "s", "n", "s"))


def test_failed_journeys_in_the_panel(
    snap_compare: Snap, example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    app = themed(create_app(example_project, seeded_store, clock, flow="welcome"))
    assert snap_compare(
        app, terminal_size=(120, 40), run_before=settled("enter", select="welcome-mail")
    )
