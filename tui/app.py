"""The Textual app of ``sluis tui``: the flow list, the graph with live counts, the object
panel, the event log, and in step mode a replay driven key by key.

``create_app`` builds it from a store and a clock (tests give a fixed clock and a seeded
store; step mode gives the replay's). Every database read and replay step runs on one store
thread; the UI awaits them in async workers, so it never blocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, Static

from engine.errors import SluisError
from engine.model.flow import Flow
from engine.model.project import Project
from engine.runtime.clock import Clock
from engine.runtime.deploys import deployed_flows
from engine.runtime.monitor import drain_line
from engine.runtime.replay import Replay
from engine.store import Store
from tui.catalog import Entry, catalog, of_flows, with_deployed
from tui.customer_screen import CustomerScreen
from tui.flow_list import FlowList
from tui.graph_view import GraphView
from tui.help_screen import HelpScreen
from tui.log_panel import LogPanel
from tui.object_panel import ObjectPanel
from tui.problems_view import ProblemsView
from tui.reader import Focus, Reader, Snapshot
from tui.status_bar import StatusBar
from tui.stepper import Stepper, StepResult
from tui.store_thread import StoreThread

EMPTY = (
    "The database is empty: no customer has entered a flow yet. Start a flow with "
    "'sluis start FLOW' and keep 'sluis run' going; the counts show here within a second."
)
NO_FLOWS = "This project has no flows yet: add flows/NAME.yaml (see 'sluis init')."
STEP_ACTIONS = ("step", "next_timer", "to_end")
PLAY_SECONDS = 0.15  # real time per slice of 'to the end', between screen refreshes


def describe(result: StepResult) -> str:
    """The step-mode note: what the last action did."""
    if result.batches and result.last is not None:
        outputs = ", ".join(f"{o} {n}" for o, n in result.last.outputs.items())
        ran = f"{result.last.object} ran a batch of {result.last.size}"
        note = f"{ran}: {outputs}" if outputs else ran
        if result.batches > 1:
            note = f"{result.batches} batches, the last: {note}"
    elif result.moved:
        note = f"clock moved to {result.now:%Y-%m-%d %H:%M}"
    else:
        note = "nothing to do"
    if result.finished:
        note += "; the replay has ended"
    return note


class SluisApp(App[None]):
    """Live monitor of a project's flows, or step mode of one replay."""

    CSS_PATH = "app.tcss"
    TITLE = "sluis"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("f", "focus_flows", "Flows"),
        Binding("g", "focus_graph", "Graph"),
        Binding("l", "toggle_log", "Log"),
        Binding("t", "toggle_theme", "Theme"),
        Binding("s", "step", "Step"),
        Binding("n", "next_timer", "Next timer"),
        Binding("e", "to_end", "To end"),
        Binding("r", "retry", "Retry failed"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(
        self,
        *,
        project: Project,
        store: Store,
        clock: Clock,
        entries: list[Entry],
        flow: str | None = None,
        stepper: Stepper | None = None,
        refresh: float = 1.0,
    ) -> None:
        super().__init__()
        self.project = project
        self.entries = entries
        self.flows: dict[str, Flow] = {e.name: e.flow for e in entries if e.flow is not None}
        names = [e.name for e in entries]
        valid = [e.name for e in entries if e.valid]
        self.current: str | None = flow if flow in names else next(iter(valid or names), None)
        self.opened: str | None = None
        self.stepper = stepper
        self.refresh_seconds = refresh
        self.store_thread = StoreThread()
        self.reader = Reader(store, self.flows.values(), clock)
        self.snapshot: Snapshot | None = None
        self.playing = False
        self._reading = False
        self._again = False
        self._acting = False

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.project.root.name, step_mode=self.stepper is not None, id="status")
        with Horizontal(id="main"):
            yield FlowList(id="flows")
            with Vertical(id="centre"):
                yield Static(id="notice")
                yield GraphView(id="graph")
                yield ProblemsView(id="problems")
            yield ObjectPanel(id="panel")
        yield LogPanel(id="log")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.run_worker(self.store_thread.run, thread=True, group="store", name="store thread")
        flows = self.query_one(FlowList)
        flows.show_entries(self.entries, self.current)
        if self.stepper is not None:
            flows.display = False
        self._show_flow(self.current)
        self.query_one(GraphView).focus()
        if self.stepper is None:
            self.set_interval(self.refresh_seconds, self.request_refresh)
        self.request_refresh()

    def on_unmount(self) -> None:
        self.store_thread.stop()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in STEP_ACTIONS:
            return self.stepper is not None
        if action == "focus_flows":
            return self.stepper is None
        if action == "close":
            return self.opened is not None
        if action == "retry":  # live only: a replay's journeys are not retried by hand
            return self.stepper is None and self._failed_at(self._retry_target()) > 0
        return True

    # -- the flow on screen ----------------------------------------------------------------

    def _show_flow(self, name: str | None) -> None:
        self.current = name
        self._close_panel()
        entry = next((e for e in self.entries if e.name == name), None)
        graph, problems = self.query_one(GraphView), self.query_one(ProblemsView)
        graph.show_flow(entry.flow if entry is not None else None)
        graph.display = entry is None or entry.valid
        problems.display = entry is not None and not entry.valid
        if entry is not None and not entry.valid:
            problems.show_problems(entry.name, entry.problems)
        self.query_one(StatusBar).show(flow=name or "")
        self._notice()

    def _notice(self) -> None:
        notice = self.query_one("#notice", Static)
        text = NO_FLOWS if not self.entries else ""
        if not text and self.snapshot is not None and self.snapshot.empty and self.stepper is None:
            text = EMPTY
        flow = self.flows.get(self.current or "")
        if not text and self.snapshot is not None and flow is not None:
            text = drain_line(flow, self.snapshot.drains.get(flow.name, ()))
        notice.update(text)
        notice.display = bool(text)

    @on(FlowList.Chosen)
    def _flow_chosen(self, event: FlowList.Chosen) -> None:
        if event.name != self.current:
            self._show_flow(event.name)
            self.request_refresh()

    # -- the object panel ------------------------------------------------------------------

    @on(GraphView.Opened)
    def _opened(self, event: GraphView.Opened) -> None:
        self._open_panel(event.object_id)

    @on(GraphView.Selected)
    def _selected(self, event: GraphView.Selected) -> None:
        if self.opened is not None:
            self._open_panel(event.object_id)

    def _open_panel(self, object_id: str) -> None:
        flow = self.flows.get(self.current or "")
        if flow is None or object_id not in flow.objects:
            return
        self.opened = object_id
        panel = self.query_one(ObjectPanel)
        panel.show_object(flow.objects[object_id])
        panel.display = True
        self.screen.add_class("-panel")
        self.refresh_bindings()
        self.request_refresh()

    def _close_panel(self) -> None:
        self.opened = None
        self.query_one(ObjectPanel).display = False
        self.screen.remove_class("-panel")
        self.refresh_bindings()

    @on(ObjectPanel.Changed)
    def _panel_changed(self) -> None:
        self.request_refresh()

    @on(ObjectPanel.CustomerChosen)
    def _customer_chosen(self, event: ObjectPanel.CustomerChosen) -> None:
        self.open_customer(event.customer_id)

    @work(group="customer", exclusive=True)
    async def open_customer(self, customer_id: int) -> None:
        try:
            found = await self.store_thread.call(lambda: self.reader.customer(customer_id))
        except SluisError as exc:
            self.notify(f"cannot read the customer: {exc}", severity="error")
            return
        if found is None:
            self.notify(f"no customer with system_id {customer_id}", severity="warning")
            return
        await self.push_screen(CustomerScreen(found))

    # -- reading the store -----------------------------------------------------------------

    def focus_now(self) -> Focus:
        panel = self.query_one(ObjectPanel)
        return Focus(self.current, self.opened, panel.start, panel.search)

    def request_refresh(self) -> None:
        """Read the screen's data again (at once, or right after the read in progress)."""
        if self._reading:
            self._again = True
            return
        self._reading = True
        self._refresh()

    @work(group="refresh")
    async def _refresh(self) -> None:
        try:
            await self._read_until_current()
        except NoMatches:  # the screen is gone: the app is closing
            pass
        finally:
            self._reading = False

    async def _read_until_current(self) -> None:
        while True:
            self._again = False
            read = partial(self.reader.snapshot, self.focus_now())
            try:
                snapshot = await self.store_thread.call(read)
            except SluisError as exc:
                self.query_one(StatusBar).show(note=f"cannot read the database: {exc}")
                return
            self.apply(snapshot)
            if not self._again:
                return

    def apply(self, snapshot: Snapshot) -> None:
        """Show a snapshot everywhere it belongs."""
        self.snapshot = snapshot
        self.query_one(StatusBar).show(now=snapshot.now, status=snapshot.status)
        self.query_one(FlowList).show_totals(snapshot.totals, snapshot.started)
        counts = snapshot.counts.get(self.current or "", {})
        self.query_one(GraphView).show_counts(counts)
        self.query_one(LogPanel).show_events(snapshot.events)
        if self.opened is not None:
            panel = self.query_one(ObjectPanel)
            panel.show_data(counts.get(self.opened), snapshot.waiting, snapshot.object_events)
            panel.show_failed(snapshot.failed, snapshot.failed_total)
        self._notice()
        self.refresh_bindings()

    async def settle(self) -> None:
        """Wait until every read and step asked for so far is on screen (for tests)."""
        while True:
            await self.store_thread.call(lambda: None)
            busy = [w for w in self.workers if w.group != "store" and not w.is_finished]
            if busy:
                await self.workers.wait_for_complete(busy)
            await asyncio.sleep(0)
            if not (self._reading or self._acting or self.playing) and not [
                w for w in self.workers if w.group != "store" and not w.is_finished
            ]:
                return

    # -- step mode -------------------------------------------------------------------------

    def action_step(self) -> None:
        if self.stepper is not None:
            self._act(self.stepper.step)

    def action_next_timer(self) -> None:
        if self.stepper is not None:
            self._act(self.stepper.next_timer)

    def action_to_end(self) -> None:
        if self.stepper is None:
            return
        if self.playing:
            self.playing = False
            return
        self.playing = True
        self._play()

    def _act(self, step: Callable[[], StepResult]) -> None:
        if self._acting or self.playing:
            return
        self._acting = True
        self._step(step)

    @work(group="step")
    async def _step(self, step: Callable[[], StepResult]) -> None:
        try:
            await self._run_step(step)
        except NoMatches:  # the screen is gone: the app is closing
            pass
        finally:
            self._acting = False

    @work(group="step")
    async def _play(self) -> None:
        assert self.stepper is not None
        stepper = self.stepper
        try:
            while self.playing:
                result = await self._run_step(lambda: stepper.run_for(PLAY_SECONDS))
                if result is None or result.finished:
                    return
        except NoMatches:  # the screen is gone: the app is closing
            pass
        finally:
            self.playing = False

    async def _run_step(self, step: Callable[[], StepResult]) -> StepResult | None:
        """One action on the store thread, then the screen read in the same job."""
        focus = self.focus_now()

        def job() -> tuple[StepResult, Snapshot]:
            result = step()
            return result, self.reader.snapshot(focus)

        try:
            result, snapshot = await self.store_thread.call(job)
        except SluisError as exc:
            self.query_one(StatusBar).show(note=f"the replay stopped: {exc}")
            return None
        self.apply(snapshot)
        ran = result.last.object if result.batches and result.last is not None else None
        self.query_one(GraphView).mark_ran(ran)
        self.query_one(StatusBar).show(note=describe(result))
        return result

    # -- retry -----------------------------------------------------------------------------

    def _retry_target(self) -> str | None:
        """The object whose failed journeys ``r`` retries: the one in the panel, else the
        one selected in the graph."""
        return self.opened or self.query_one(GraphView).selected

    def _failed_at(self, object_id: str | None) -> int:
        if object_id is None or self.snapshot is None:
            return 0
        if object_id == self.opened:
            return self.query_one(ObjectPanel).failed_total
        counts = self.snapshot.counts.get(self.current or "", {}).get(object_id)
        return counts.failed if counts is not None else 0

    def action_retry(self) -> None:
        target = self._retry_target()
        if self.stepper is None and self.current is not None and target is not None:
            self._retry(self.current, target)

    @work(group="retry", exclusive=True)
    async def _retry(self, flow: str, object_id: str) -> None:
        try:
            count = await self.store_thread.call(lambda: self.reader.retry(flow, object_id))
        except SluisError as exc:
            self.notify(f"cannot retry: {exc}", severity="error")
            return
        self.notify(
            f"{count} failed journey{'s' if count != 1 else ''} put back at {object_id}; "
            "the workers take them from there"
        )
        self.request_refresh()

    # -- other keys ------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_focus_flows(self) -> None:
        self.query_one(FlowList).focus()

    def action_focus_graph(self) -> None:
        self.query_one(GraphView).focus()

    def action_toggle_log(self) -> None:
        log = self.query_one(LogPanel)
        log.display = not log.display

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_close(self) -> None:
        if self.opened is not None:
            self._close_panel()
            self.query_one(GraphView).focus()


def create_app(
    project: Project,
    store: Store,
    clock: Clock,
    *,
    flow: str | None = None,
    replay: Replay | None = None,
    refresh: float = 1.0,
) -> SluisApp:
    """The app on a store and a clock: the live monitor of the project's flows, or with
    ``replay`` step mode on the replay's in-memory store and virtual clock."""
    if replay is not None:
        return SluisApp(
            project=project,
            store=store,
            clock=clock,
            entries=of_flows([replay.flow]),
            flow=replay.flow.name,
            stepper=Stepper(replay),
            refresh=refresh,
        )
    return SluisApp(
        project=project,
        store=store,
        clock=clock,
        entries=with_deployed(catalog(project), deployed_flows(store)),
        flow=flow,
        refresh=refresh,
    )
