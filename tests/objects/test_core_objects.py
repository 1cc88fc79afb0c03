"""The core objects, run by the real runtime on a virtual clock, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.model.project import Project

SETTINGS = """
timezone: Europe/Amsterdam
profile:
  first_name: str
  country: str
  newsletter: bool
  birthday: date
  score: int
"""
CUSTOMERS = [
    "external_id,email,first_name,country,newsletter,birthday,score,timezone",
    "C001,c1@example.com,Ann,NL,true,1990-01-10,5,Europe/Amsterdam",
    "C002,c2@example.com,Bob,BE,true,,7,America/New_York",
    "C003,c3@example.com,Cas,,false,1985-03-01,,",
    "C004,c4@example.com,Dirk,DE,true,2000-12-31,1,",
]


def paths(doc: dict[str, Any]) -> dict[str, list[tuple[str, str | None]]]:
    return {
        j["customer"]: [(s["object"], s["output"]) for s in j["steps"]] for j in doc["journeys"]
    }


def reasons(doc: dict[str, Any], customer: str) -> list[str]:
    return [s["reason"] for j in doc["journeys"] if j["customer"] == customer for s in j["steps"]]


def at_times(doc: dict[str, Any], customer: str) -> list[str]:
    return [s["at"] for j in doc["journeys"] if j["customer"] == customer for s in j["steps"]]


Play = Callable[..., Any]


def flow(make_project: Callable[..., Project], body: str, settings: str = SETTINGS) -> Project:
    return make_project(settings, {"f": body})


def test_selection_filter_and_nulls(make_project: Callable[..., Project], replay_on: Play) -> None:
    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, where: customer.newsletter == true, next: dutch}
          dutch: {type: filter, when: customer.country != "BE", next: end}
          end: {type: end}
        """,
    )
    doc = replay_on(project, "f", CUSTOMERS).document()
    assert paths(doc) == {
        "C001": [("sel", "out"), ("dutch", "out"), ("end", None)],
        "C002": [("sel", "out"), ("dutch", "filtered")],
        "C004": [("sel", "out"), ("dutch", "out"), ("end", None)],
    }
    assert reasons(doc, "C002")[1] == 'filtered: customer.country != "BE" was false'
    assert all(j["state"] == "finished" for j in doc["journeys"])


def test_null_field_compares_false(make_project: Callable[..., Project], replay_on: Play) -> None:
    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, next: scored}
          scored: {type: filter, when: customer.score > 2}
        """,
    )
    doc = replay_on(project, "f", CUSTOMERS).document()
    outputs = {c: p[-1][1] for c, p in paths(doc).items()}
    assert outputs == {"C001": "out", "C002": "out", "C003": "filtered", "C004": "filtered"}


def test_selection_by_group_enters_in_system_id_order(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    project = flow(
        make_project,
        """
        objects:
          everyone: {type: selection, next: tag}
          tag: {type: group, add: [vip]}
        """,
        SETTINGS,
    )
    session = replay_on(project, "f", CUSTOMERS)
    doc = session.document()
    assert len(doc["journeys"]) == 4
    from engine.store.customers import iter_customers

    with session.store.db.read() as conn:
        members = [
            c["external_id"] for chunk in iter_customers(conn, project, group="vip") for c in chunk
        ]
    assert members == ["C001", "C002", "C003", "C004"]


def test_split_branches_first_match_wins(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, next: by}
          by:
            type: split
            branches:
              nl: customer.country == "NL"
              high: customer.score >= 5
            next: {nl: end, high: end, otherwise: end}
          end: {type: end}
        """,
    )
    doc = replay_on(project, "f", CUSTOMERS).document()
    chosen = {c: p[1][1] for c, p in paths(doc).items()}
    assert chosen == {"C001": "nl", "C002": "high", "C003": "otherwise", "C004": "otherwise"}


def test_percent_split_is_deterministic_and_fair(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, next: ab}
          ab: {type: split, percent: {a: 30, b: 70}}
        """,
    )
    rows = ["external_id,country"] + [f"X{i:04d},NL" for i in range(2000)]
    first = paths(replay_on(project, "f", rows).document())
    second = paths(replay_on(project, "f", rows).document())
    assert first == second
    share_a = sum(1 for p in first.values() if p[1][1] == "a") / len(first)
    assert 0.26 < share_a < 0.34


def test_update_and_unsubscribe(make_project: Callable[..., Project], replay_on: Play) -> None:
    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, where: customer.country == "NL", next: set}
          set:
            type: update
            set: {first_name: "{{ customer.first_name|upper }}", score: 42, country: "{{ data.x }}"}
            next: unsub
          unsub: {type: unsubscribe}
        """,
    )
    session = replay_on(project, "f", CUSTOMERS)
    customers = session.store.customers([1])
    assert customers[1]["first_name"] == "ANN"
    assert customers[1]["score"] == 42
    assert customers[1]["country"] is None
    assert customers[1]["unsubscribed"] is True
    assert session.store.customers([2])[2]["unsubscribed"] is False


def test_wait_for_duration_and_at_across_dst(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    # 2026-03-29 02:00 Amsterdam clocks jump to 03:00 (UTC+1 -> UTC+2)
    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, where: customer.external_id == "C001", next: pause}
          pause: {type: wait, for: 1d, at: "09:00", next: end}
          end: {type: end}
        """,
    )
    doc = replay_on(project, "f", CUSTOMERS, start="2026-03-28T12:00:00+00:00").document()
    # entered Saturday 13:00 local; one day later is Sunday 14:00 (after DST), so the next
    # 09:00 is Monday 09:00 CEST = 07:00 UTC
    assert at_times(doc, "C001")[1] == "2026-03-30T07:00:00+00:00"


def test_wait_until_a_date_field_and_customer_timezone(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, where: customer.country != null, next: pause}
          pause: {type: wait, until: "date(\\"2026-01-07\\")", at: "08:00", timezone: customer}
        """,
    )
    doc = replay_on(project, "f", CUSTOMERS).document()
    times = {j["customer"]: j["steps"][1]["at"] for j in doc["journeys"]}
    assert times["C001"] == "2026-01-07T07:00:00+00:00"  # 08:00 in Amsterdam (CET)
    assert times["C002"] == "2026-01-07T13:00:00+00:00"  # 08:00 in New York (EST)


def test_a_wait_reads_customers_only_for_their_timezone_or_until(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    from engine.model.flow import find_flow

    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, where: customer.country != null, next: local}
          local: {type: wait, for: 1d, at: "08:00", timezone: customer, next: pause}
          pause: {type: wait, for: 1d, next: until}
          until: {type: wait, until: customer.birthday, next: done}
          done: {type: end}
        """,
    )
    f = find_flow(project, "f")
    needs = {oid: f.instance(oid).needs_customers() for oid in ("local", "pause", "until")}
    assert needs == {"local": True, "pause": False, "until": True}
    doc = replay_on(project, "f", CUSTOMERS).document()
    times = {j["customer"]: j["steps"][1]["at"] for j in doc["journeys"]}
    assert times["C001"] == "2026-01-07T07:00:00+00:00"  # a day on is past 08:00 in Amsterdam
    assert times["C002"] == "2026-01-06T13:00:00+00:00"  # but not yet in New York
    assert reasons(doc, "C002")[2] == "waited 1d"


def test_wait_days_skips_to_allowed_weekday(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, where: customer.external_id == "C001", next: pause}
          pause: {type: wait, days: [sat, sun], at: "10:00"}
        """,
    )
    doc = replay_on(project, "f", CUSTOMERS).document()  # Monday 2026-01-05
    assert at_times(doc, "C001")[1] == "2026-01-10T09:00:00+00:00"


def test_wait_until_null_does_not_wait(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    project = flow(
        make_project,
        """
        objects:
          sel: {type: selection, where: customer.external_id == "C002", next: pause}
          pause: {type: wait, until: customer.birthday}
        """,
    )
    doc = replay_on(project, "f", CUSTOMERS).document()
    assert reasons(doc, "C002")[1] == "not waiting: customer.birthday gave no date"


WAIT_FOR = """
objects:
  sel: {type: selection, where: customer.newsletter == true, next: opened}
  opened:
    type: wait-for
    event: open
    within: 3d
    next: {yes: end, no: end}
  end: {type: end}
"""


def test_wait_for_timer_and_events(make_project: Callable[..., Project], replay_on: Play) -> None:
    project = flow(make_project, WAIT_FOR)
    events = [
        "C001,open,2026-01-06T10:00:00+00:00,",
        "C002,open,2026-01-09T10:00:00+00:00,",  # too late: the window closed on the 8th
        "C004,click,2026-01-06T10:00:00+00:00,",  # not the awaited event
    ]
    doc = replay_on(project, "f", CUSTOMERS, events=events).document()
    outcome = {c: p[1] for c, p in ((c, p[1]) for c, p in paths(doc).items())}
    assert outcome == {"C001": "yes", "C002": "no", "C004": "no"}
    assert at_times(doc, "C001")[1] == "2026-01-06T10:00:00+00:00"
    assert at_times(doc, "C002")[1] == "2026-01-08T09:00:00+00:00"
    assert reasons(doc, "C002")[1] == "no open within 3d"


def test_waiting_journeys_are_reported(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    project = flow(make_project, WAIT_FOR)
    doc = replay_on(project, "f", CUSTOMERS, until="1d").document()
    assert {j["state"] for j in doc["journeys"]} == {"waiting"}
    assert {j["at"] for j in doc["journeys"]} == {"opened"}


BUCKET = """
objects:
  sel: {type: selection, next: pool}
  pool: {type: bucket, size: %d, every: 1d, next: after}
  after: {type: end}
"""


def test_bucket_releases_exact_groups_then_the_rest(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    project = flow(make_project, BUCKET % 3)
    rows = ["external_id"] + [f"X{i:02d}" for i in range(8)]
    session = replay_on(project, "f", rows, run=False)
    sizes: list[tuple[str, int]] = []
    session.runtime.on_batch.append(lambda r: sizes.append((r.object, r.size)))
    session.run()
    doc = session.document()
    released = sorted((at_times(doc, c)[1], c) for c in paths(doc))
    first_wave = [c for t, c in released if t == "2026-01-05T09:00:00+00:00"]
    assert first_wave == ["X00", "X01", "X02", "X03", "X04", "X05"]
    rest = [c for t, c in released if t == "2026-01-06T09:00:00+00:00"]
    assert rest == ["X06", "X07"]
    # each release moves on as one batch: two groups of 3, then the 2 left
    assert [s for o, s in sizes if o == "after"] == [3, 3, 2]
    assert reasons(doc, "X07")[1] == "released 2 after 1d"


def test_bucket_group_larger_than_batch_size_moves_as_one_batch(
    make_project: Callable[..., Project], replay_on: Play
) -> None:
    project = flow(make_project, BUCKET % 1500, SETTINGS + "batch_size: 500\n")
    rows = ["external_id"] + [f"X{i:04d}" for i in range(1600)]
    session = replay_on(project, "f", rows, run=False)
    sizes: list[tuple[str, int]] = []
    session.runtime.on_batch.append(lambda r: sizes.append((r.object, r.size)))
    session.run()
    assert [s for o, s in sizes if o == "after"] == [1500, 100]


@pytest.mark.parametrize(
    ("reentry", "expected"),
    [("never", 1), ("after-exit", 2), ("always", 3)],
)
def test_reentry_rules(
    make_project: Callable[..., Project], replay_on: Play, reentry: str, expected: int
) -> None:
    project = flow(
        make_project,
        f"""
        reentry: {reentry}
        objects:
          hook: {{type: webhook, endpoint: hook, next: pause}}
          pause: {{type: wait, for: 1h}}
        """,
    )
    entries = [
        '{"customer": "C001", "at": "2026-01-05T09:00:00+00:00"}',
        '{"customer": "C001", "at": "2026-01-05T09:30:00+00:00"}',
        '{"customer": "C001", "at": "2026-01-05T11:00:00+00:00"}',
    ]
    doc = replay_on(project, "f", CUSTOMERS, entries=entries).document()
    assert len(doc["journeys"]) == expected
