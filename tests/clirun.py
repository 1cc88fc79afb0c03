"""``sluis ARGS`` run in the test's own process, through the command's entry point: the exit
status and what it printed (tests whose project or clock is set up in the process)."""

from __future__ import annotations

import sys

import pytest

from cli import main


def run_sluis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["sluis", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
