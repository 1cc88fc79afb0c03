"""The mail commands as a user runs them (the installed ``sluis``), and replay of a mail flow:
captured, nothing sent, no keys needed."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from mailtest import START, WELCOME_HTML, mail_flow, make_runtime, smtp_settings

from cli import main
from engine.mail import linkparam
from engine.model.flow import load_flows
from engine.runtime.clock import VirtualClock
from engine.runtime.replay import Replay
from engine.store import Store
from engine.store.customers import upsert_customers

SLUIS = str(Path(sys.executable).parent / "sluis")
CORPUS = Path(__file__).parent / "bounces"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def sluis(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``sluis ARGS`` in this process, through the same entry point as the command."""

    def run(*args: str) -> Ran:
        monkeypatch.setattr(sys, "argv", ["sluis", *args])
        monkeypatch.setenv("COLUMNS", "200")
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def maildir_project(make_project):
    settings = smtp_settings(0).replace(
        "    type: smtp\n    host: 127.0.0.1\n    port: 0\n", "    type: maildir\n    path: out\n"
    )
    return make_project(
        "database: sqlite:///sluis.db\n" + settings,
        {"welcome": mail_flow()},
        {"welcome.html": WELCOME_HTML},
    )


def test_a_user_sees_one_line_and_no_traceback(mail_keys: str) -> None:
    value = linkparam.encode({"external_id": "C001"}, mail_keys)
    done = subprocess.run(
        [SLUIS, "linkparam", "decode", "--key", linkparam.new_key(), "--", value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "error: cannot decode the link parameter: the value was not made with this key, or it "
        "was changed\n"
    )


def test_linkparam_commands(sluis, mail_keys: str) -> None:
    key = sluis("linkparam", "new-key").stdout.strip()
    assert len(linkparam.load_key(key)) == 32
    value = ""
    while not value.startswith("-"):  # values may start like an option; they still work
        value = linkparam.encode({"external_id": "C001", "city": "Delft"}, mail_keys)
    done = sluis("linkparam", "decode", value)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"city": "Delft", "external_id": "C001"}
    wrong = sluis("linkparam", "decode", value, "--key", key)
    assert wrong.returncode == 2
    assert "not made with this key" in wrong.stderr


def test_bounces_and_activity_commands(sluis, make_project) -> None:
    project = maildir_project(make_project)
    store = Store.open(project)
    clock = VirtualClock(START)
    with store.db.write() as conn:
        upsert_customers(
            conn,
            [{"external_id": "ann", "email": "ann.dekker@mail.example.nl"}],
            key="external_id",
            project=project,
            now=START,
        )
    runtime = make_runtime(project, store, clock)
    runtime.start("welcome")
    runtime.fire_due()
    runtime.run_until_idle()
    store.db.dispose()

    root = str(project.root)
    done = sluis("bounces", "ingest", str(CORPUS), "--project", root)
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())
    assert "8 message(s): 1 hard and 0 soft bounce(s) recorded" in said
    assert "0 complaint(s), 0 delivery notice(s), 1 not a bounce" in said
    assert "6 bounced address(es) match no customer" in " ".join(done.stdout.split())

    export = sluis("activity", "export", "--to", "exports/activity.csv", "--project", root)
    assert export.returncode == 0, export.stderr
    assert "wrote 2 event(s) to" in export.stdout
    lines = (project.root / "exports" / "activity.csv").read_text().splitlines()
    assert lines[0] == "time,event,external_id,email,flow,object,message_id,url,bounce_type"
    assert [line.split(",")[1] for line in lines[1:]] == ["sent", "bounce"]
    again = sluis("activity", "export", "--to", "exports/activity.csv", "--project", root)
    assert again.stdout.strip() == "no new activity; nothing written"

    missing = sluis("bounces", "ingest", "nowhere", "--project", root)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: nowhere: no such file or folder")


def test_bounces_classify_prints_one_json_line_per_message(sluis, tmp_path) -> None:
    box = tmp_path / "box.mbox"
    box.write_bytes(
        b"".join(
            b"From MAILER-DAEMON Mon Jan  5 09:00:00 2026\n" + (CORPUS / name).read_bytes() + b"\n"
            for name in ("qmail-hard.eml", "autoreply-not-a-bounce.eml")
        )
    )
    done = sluis(
        "bounces", "classify", str(CORPUS / "postfix-dsn-delayed-soft.eml"), str(box), "--json"
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines == [
        {
            "file": str(CORPUS / "postfix-dsn-delayed-soft.eml"),
            "kind": "bounce",
            "recipients": [
                {
                    "address": "frank@full.example",
                    "status": "4.2.2",
                    "reason": "mailboxfull",
                    "hard": False,
                }
            ],
        },
        {
            "file": f"{box}#1",
            "kind": "bounce",
            "recipients": [
                {
                    "address": "eva@oldhost.example",
                    "status": "5.1.1",
                    "reason": "userunknown",
                    "hard": True,
                }
            ],
        },
        {"file": f"{box}#2", "kind": "auto-reply", "recipients": []},
    ]
    table = sluis("bounces", "classify", str(CORPUS))
    assert table.returncode == 0
    assert "eva@oldhost.example" in table.stdout and "auto-reply" in table.stdout
    missing = sluis("bounces", "classify", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "no such file or folder; give a Maildir, an mbox or .eml files" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_replay_captures_mails_and_needs_no_keys(make_project, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("SLUIS_TRACKING_KEY")
    monkeypatch.delenv("SLUIS_LINK_KEY")
    project = maildir_project(make_project)
    customers = tmp_path / "customers.csv"
    customers.write_text("external_id,email,first_name\nC001,ann@example.com,Ann\nC002,,Bob\n")
    [flow], _problems = load_flows(project)
    replay = Replay(project, flow, customers, start=START)
    try:
        replay.run()
        document = replay.document()
    finally:
        replay.close()
    assert document["effects"]["mail"] == [
        {
            "object": "welcome-mail",
            "customer": "C001",
            "to": "ann@example.com",
            "subject": "Welkom, Ann!",
            "at": "2026-01-05T09:00:00+00:00",
        },
    ]
    reasons = {j["customer"]: j["steps"][-1]["reason"] for j in document["journeys"]}
    assert reasons == {"C001": "sent", "C002": "skipped: no address"}
    assert not (project.root / "out").exists()
