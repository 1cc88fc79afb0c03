"""The connection limits ``sluis serve`` takes from ``api:`` in sluis.yaml (issue 21, item 7):
an idle keep-alive connection is closed after ``keep_alive_seconds``, and headers over
``max_header_bytes`` answer 431, on a real server process."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from api_helpers import FLOWS, SETTINGS
from served import prepare, serving

from engine.model.project import Project

LIMITS = "  keep_alive_seconds: 1\n  max_header_bytes: 4096\n"


def _ask(sock: socket.socket, request: bytes) -> bytes:
    """Send ``request`` and read its whole answer (head and Content-Length bytes of body)."""
    sock.sendall(request)
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return answer


def test_idle_connections_close_and_big_headers_answer_431(
    make_project: Callable[..., Project], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPIFY_SECRET", "shpss_test_secret")
    monkeypatch.setenv("STANDARD_SECRET", "whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXk=")
    project = make_project(SETTINGS + LIMITS, FLOWS)
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    prepare(project, url)
    with serving(project.root, url, tmp_path / "serve.log") as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            answer = _ask(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200")
            time.sleep(2.5)  # past keep_alive_seconds: the server hangs up
            assert sock.recv(1024) == b""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            big = b"X-Big: " + b"x" * 5000 + b"\r\n"
            answer = _ask(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
            assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
