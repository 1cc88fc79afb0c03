"""A real ``sluis serve`` follows deploys: a webhook flow started (or stopped) while it runs
answers within 2 s, without a restart; a webhook whose secret variable is unset answers 503
naming it while the rest serves; a port in use fails before "serving"."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from typer.testing import CliRunner

from cli import app
from engine.model.project import Project

SLUIS = (sys.executable, "-c", "from cli import main; main()")
ORDERS = """\
objects:
  hook: {type: webhook, endpoint: orders, map: {id: external_id}}
"""
SIGNED = """\
objects:
  hook:
    type: webhook
    endpoint: signed
    auth: {type: hmac-sha256, header: X-Signature, secret: "${DEPLOY_TEST_UNSET_SECRET}"}
    map: {id: external_id}
"""
LATE = """\
reentry: always
objects:
  hook: {type: webhook, endpoint: late, map: {id: external_id}, next: done}
  done: {type: end}
"""


def _cli(project: Project, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--project", str(project.root)])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def served(
    make_project: Callable[..., Project],
) -> Iterator[tuple[Project, int, str]]:
    project = make_project(
        "timezone: UTC\ndatabase: sqlite:///serve.db\n", {"orders": ORDERS, "signed": SIGNED}
    )
    _cli(project, "user", "create", "shop", "--service")
    token = re.search(r"sluis_\S+", _cli(project, "token", "create", "--user", "shop"))
    assert token is not None
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DEPLOY_TEST_UNSET_SECRET"}
    server = subprocess.Popen(
        [*SLUIS, "serve", "--port", str(port), "--project", str(project.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "sluis serve did not come up"
                time.sleep(0.1)
        yield project, port, token.group(0)
    finally:
        server.terminate()
        server.communicate(timeout=30)


def _post(port: int, token: str, endpoint: str, body: object) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/webhooks/{endpoint}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def _within(seconds: float, check: Callable[[], bool]) -> float:
    """How long until ``check`` holds (fails after ``seconds``)."""
    begin = time.monotonic()
    while not check():
        assert time.monotonic() - begin < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - begin


def test_serve_picks_up_a_flow_started_and_stopped_while_it_runs(
    served: tuple[Project, int, str],
) -> None:
    project, port, token = served
    assert _post(port, token, "late", {"id": "C1"}).status_code == 404
    (project.root / "flows" / "late.yaml").write_text(textwrap.dedent(LATE))
    assert "started late (version 1)" in _cli(project, "start", "late")
    _within(2.0, lambda: _post(port, token, "late", {"id": "C1"}).status_code == 200)
    answer = _post(port, token, "late", {"id": "C2"})
    assert answer.status_code == 200 and answer.json()["flow"] == "late"
    _cli(project, "stop", "late")
    _within(2.0, lambda: _post(port, token, "late", {"id": "C3"}).status_code == 409)


def test_an_unset_webhook_secret_answers_503_and_the_rest_serves(
    served: tuple[Project, int, str],
) -> None:
    _, port, token = served
    answer = httpx.post(f"http://127.0.0.1:{port}/webhooks/signed", json={"id": "C1"}, timeout=5)
    assert answer.status_code == 503
    assert "DEPLOY_TEST_UNSET_SECRET" in answer.json()["detail"]
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    assert _post(port, token, "orders", {"id": "C1"}).status_code == 409  # not started: served


def test_a_port_in_use_fails_before_serving(make_project: Callable[..., Project]) -> None:
    project = make_project("timezone: UTC\ndatabase: sqlite:///serve.db\n", {"orders": ORDERS})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*SLUIS, "serve", "--port", str(port), "--project", str(project.root)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "serving" not in done.stdout
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr
    assert "Traceback" not in done.stderr
