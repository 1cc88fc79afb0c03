"""Run the golden replays: ``python tests/golden/golden_replay.py [--write]`` prints (or, with
``--write``, stores) each example flow's ``sluis replay --json`` beside its inputs. A folder
whose ``args.json`` names a ``project`` replays a flow of that project (beside the inputs)
instead of the example project's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1] / "flows"


def replay(folder: Path) -> dict:  # type: ignore[type-arg]
    args = json.loads((folder / "args.json").read_text())
    command = [
        sys.executable,
        "-m",
        "cli",
        "replay",
        folder.name,
        "--project",
        str(folder / args["project"] if "project" in args else PROJECT),
        "--customers",
        str(folder / "customers.csv"),
        "--start",
        args["start"],
        "--until",
        args["until"],
        "--json",
    ]
    for collection, name in args.get("records", {}).items():
        command += ["--records", f"{collection}={folder / name}"]
    for name, option in (("entries.jsonl", "--entries"), ("events.csv", "--events")):
        if (folder / name).exists():
            command += [option, str(folder / name)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"replay of {folder.name} failed: {result.stderr}")
    document: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return document


def folders() -> list[Path]:
    return sorted(p for p in HERE.iterdir() if (p / "args.json").exists())


if __name__ == "__main__":
    for folder in folders():
        document = replay(folder)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if "--write" in sys.argv:
            (folder / "expected.json").write_text(text)
            print(f"wrote {folder / 'expected.json'}")
        else:
            print(text)
