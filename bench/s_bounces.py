"""Bounces: classify every message of the shared bounce corpus (``../shared/corpora/bounces``
beside the repository) and print how well and how fast: the issue's targets are >= 97% of
bounces detected, no non-bounce called a bounce, hard/soft >= 95%, recipients >= 95%, real
status codes >= 90%, and the whole corpus in under 2 s.

    python -m bench bounces
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import Result, scenario
from engine.mail.bounces.corpus import score

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "bounces"


@scenario("bounces")
def run(scale: float) -> list[Result]:
    if not (CORPUS / "expected.csv").is_file():
        return [Result("corpus missing", "-", 0.0, notes={"expected at": str(CORPUS.resolve())})]
    figures = score(CORPUS)  # the whole corpus whatever the scale: it is small
    r = figures.ratio
    print(figures.line())
    notes = {
        "messages": str(figures.messages),
        "non-bounces called a bounce": str(len(figures.false_bounces)),
    }
    return [
        Result(
            "classify corpus",
            "s",
            figures.seconds,
            higher_is_better=False,
            target="< 2 s",
            notes=notes,
        ),
        Result("bounces detected", "%", 100 * r(figures.detected, figures.bounces), target=">= 97"),
        Result(
            "hard/soft agree", "%", 100 * r(figures.hard_agree, figures.recipients), target=">= 95"
        ),
        Result(
            "recipients", "%", 100 * r(figures.recipients_found, figures.recipients), target=">= 95"
        ),
        Result(
            "real statuses", "%", 100 * r(figures.statuses_agree, figures.statuses), target=">= 90"
        ),
        Result(
            "placeholder classes", "%", 100 * r(figures.placeholders_agree, figures.placeholders)
        ),
    ]
