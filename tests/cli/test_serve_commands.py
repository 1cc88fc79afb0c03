"""The commands of the HTTP API: users, tokens and webhook rotation."""

from __future__ import annotations

import re
from collections.abc import Callable

from typer.testing import CliRunner

from cli import app
from engine.model.project import Project

FLOW = """\
objects:
  hook:
    type: webhook
    endpoint: orders
    map: {id: external_id}
"""


def _run(project: Project, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--project", str(project.root)])
    return result.exit_code, result.output


def test_user_token_and_rotation_commands(make_project: Callable[..., Project]) -> None:
    project = make_project("timezone: UTC\ndatabase: sqlite:///cli.db\n", {"orders": FLOW})
    assert _run(project, "user", "create", "shop", "--service")[0] == 0
    code, out = _run(project, "token", "create", "--user", "shop", "--webhook", "orders")
    assert code == 0 and "shown once" in out
    secret = re.search(r"sluis_\S+", out)
    assert secret is not None
    code, out = _run(project, "token", "create", "--user", "shop", "--expires", "2099-12-31")
    assert code == 0
    code, out = _run(project, "token", "list")
    assert code == 0 and "orders" in out and secret.group(0) not in out
    code, out = _run(project, "webhook", "rotate", "orders")
    assert code == 0 and "new token" in out
    code, out = _run(project, "token", "list")
    assert "revoked" in out
    assert _run(project, "token", "revoke", "2")[0] == 0
    assert _run(project, "user", "reactivate", "shop")[0] == 0


def test_token_for_an_unknown_webhook_is_refused(make_project: Callable[..., Project]) -> None:
    project = make_project("timezone: UTC\ndatabase: sqlite:///cli.db\n", {"orders": FLOW})
    _run(project, "user", "create", "shop")
    result = CliRunner().invoke(
        app,
        ["token", "create", "--user", "shop", "--webhook", "nope", "--project", str(project.root)],
    )
    assert result.exit_code != 0
    assert "no webhook endpoint 'nope'" in str(result.exception)


def test_serve_answers_and_shuts_down_gracefully_on_sigterm(
    make_project: Callable[..., Project],
) -> None:
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    project = make_project("timezone: UTC\ndatabase: sqlite:///serve.db\n", {"orders": FLOW})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    SLUIS = (sys.executable, "-c", "from cli import main; main()")
    server = subprocess.Popen(
        [*SLUIS, "serve", "--port", str(port), "--project", str(project.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None, "sluis serve exited"
                assert time.monotonic() < deadline, "sluis serve did not come up"
                time.sleep(0.1)
        assert answer.json() == {"status": "ok", "database": "ok"}
        server.send_signal(signal.SIGTERM)
        # uvicorn finishes the requests in flight and the lifespan, then re-raises the signal
        _, log = server.communicate(timeout=30)
        assert server.returncode in (0, -signal.SIGTERM)
        assert b'"path":"/healthz"' in log  # one JSON access log line per request
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()


def test_user_list_deactivate_delete_and_scoped_tokens(
    make_project: Callable[..., Project],
) -> None:
    from datetime import UTC, datetime, timedelta

    from engine.store import Store
    from engine.store import tokens as store_tokens

    project = make_project("timezone: UTC\ndatabase: sqlite:///cli.db\n", {"orders": FLOW})
    store = Store.open(project)
    with store.db.write() as conn:  # a person last active 53 days ago: 7 days to go
        store_tokens.create_user(
            conn, "ann", service=False, now=datetime.now(UTC) - timedelta(days=53)
        )
    assert _run(project, "user", "create", "robot", "--service")[0] == 0
    code, out = _run(project, "token", "create", "--user", "ann", "--scope", "customers:read")
    assert code == 0
    code, out = _run(project, "token", "list")
    assert "customers:" in out and "never" in out
    assert "warning: token 1: user ann lapses in 7 day(s)" in out
    code, out = _run(project, "user", "list")
    assert code == 0 and "person" in out and "service" in out
    assert "warning: user ann lapses in 7 day(s)" in out
    assert _run(project, "user", "deactivate", "ann")[0] == 0
    assert "deactivated" in _run(project, "user", "list")[1]
    code, out = _run(project, "user", "delete", "ann")
    assert code == 0 and "1 token(s)" in out
    assert "ann" not in _run(project, "user", "list")[1]
    result = CliRunner().invoke(
        app,
        [
            "token",
            "create",
            "--user",
            "robot",
            "--scope",
            "everything",
            "--project",
            str(project.root),
        ],
    )
    assert result.exit_code != 0 and "unknown scope everything" in str(result.exception)
