"""How well the classifier reads a corpus of real mail with known answers (``expected.csv``
beside a ``mail/`` folder, as in ``../shared/corpora/bounces/``): the figures the corpus test
asserts and ``make bench`` prints.

Scoring: a bounce is detected when its kind is "bounce"; a recipient counts when its address
is among ours; hard/soft and statuses are compared per message as multisets (the reference
lists recipients sorted but statuses in message order). Status codes of the form ``x.0.9yy``
are the reference's placeholders for "no code in the message": for those only the class
(the first digit: permanent or temporary) is compared, and they are left out of the
real-status figure.
"""

from __future__ import annotations

import csv
import email
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.mail.bounces.classify import classify

_PLACEHOLDER = re.compile(r"^[245]\.0\.9\d\d$")


@dataclass
class Figures:
    """Counts over a corpus; the ratios are what the targets are about."""

    messages: int = 0
    bounces: int = 0
    detected: int = 0
    non_bounces: int = 0
    false_bounces: list[str] = field(default_factory=list)
    recipients: int = 0
    recipients_found: int = 0
    hard_agree: int = 0
    statuses: int = 0
    statuses_agree: int = 0
    placeholders: int = 0
    placeholders_agree: int = 0
    reasons_agree: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)

    def ratio(self, part: int, whole: int) -> float:
        return part / whole if whole else 1.0

    def line(self) -> str:
        """One line of figures, as ``make bench`` prints it."""
        r = self.ratio
        return (
            f"bounce corpus: {self.messages} messages in {self.seconds:.2f}s; "
            f"detected {r(self.detected, self.bounces):.1%} of {self.bounces} bounces, "
            f"{len(self.false_bounces)} of {self.non_bounces} non-bounces called a bounce, "
            f"recipients {r(self.recipients_found, self.recipients):.1%}, "
            f"hard/soft {r(self.hard_agree, self.recipients):.1%}, "
            f"real statuses {r(self.statuses_agree, self.statuses):.1%} of {self.statuses}, "
            f"placeholder classes {r(self.placeholders_agree, self.placeholders):.1%}, "
            f"reasons {r(self.reasons_agree, self.recipients):.1%}"
        )


def _overlap(ours: list[Any], theirs: list[Any]) -> int:
    return sum((Counter(ours) & Counter(theirs)).values())


def score(folder: Path) -> Figures:
    """Classify every message under ``folder/mail`` and compare with ``folder/expected.csv``."""
    with (folder / "expected.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    figures = Figures()
    started = time.perf_counter()
    verdicts = {
        row["file"]: classify(
            email.message_from_bytes((folder / "mail" / row["file"]).read_bytes())
        )
        for row in rows
    }
    figures.seconds = time.perf_counter() - started
    for row in rows:
        verdict = verdicts[row["file"]]
        figures.messages += 1
        if row["is_bounce"] != "yes":
            figures.non_bounces += 1
            if verdict.kind == "bounce":
                figures.false_bounces.append(row["file"])
            continue
        figures.bounces += 1
        figures.detected += verdict.kind == "bounce"
        expected = row["recipients"].lower().split()
        ours = {r.address.lower(): r for r in verdict.recipients}
        found = sum(a in ours for a in expected)
        figures.recipients += len(expected)
        figures.recipients_found += found
        statuses = row["statuses"].split()
        real = [s for s in statuses if not _PLACEHOLDER.match(s)]
        held = [s[0] for s in statuses if _PLACEHOLDER.match(s)]
        our_statuses = [r.status for r in verdict.recipients]
        figures.statuses += len(real)
        figures.statuses_agree += _overlap(our_statuses, real)
        figures.placeholders += len(held)
        figures.placeholders_agree += _overlap([s[:1] for s in our_statuses], held)
        hard = [h == "hard" for h in row["hard"].split()]
        figures.hard_agree += _overlap([r.hard for r in verdict.recipients], hard)
        figures.reasons_agree += _overlap(
            [r.reason for r in verdict.recipients], row["reasons"].split()
        )
        if found < len(expected) or verdict.kind != "bounce":
            figures.misses.append(row["file"])
    return figures
