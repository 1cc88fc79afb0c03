"""The classifier measured on the shared corpus of real bounce mail (``../shared/corpora/
bounces/`` beside the repository: half of a public collection, the other half kept back to
check that the rules generalise). The figures are the targets of issue 18; how they are
scored (multisets per message, placeholder codes by class only) is in
``engine.mail.bounces.corpus``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.mail.bounces.corpus import score

VALID = re.compile(r'(?:"[^"]+"|[^\s"{}|<>;,@]+)@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+')
CORPUS = Path(__file__).parents[3] / ".." / "shared" / "corpora" / "bounces"

pytestmark = pytest.mark.skipif(
    not (CORPUS / "expected.csv").is_file(),
    reason=f"the bounce corpus is not at {CORPUS.resolve()} (a copy of shared/ beside the repo)",
)


def test_every_message_of_the_corpus_is_read_to_target() -> None:
    figures = score(CORPUS)
    assert figures.messages == len(list((CORPUS / "mail").iterdir()))
    r = figures.ratio
    assert figures.false_bounces == [], "a complaint, auto-reply or delivery called a bounce"
    assert r(figures.detected, figures.bounces) >= 0.97, figures.line()
    assert r(figures.hard_agree, figures.recipients) >= 0.95, figures.line()
    assert r(figures.recipients_found, figures.recipients) >= 0.95, figures.line()
    assert r(figures.statuses_agree, figures.statuses) >= 0.90, figures.line()
    assert r(figures.placeholders_agree, figures.placeholders) >= 0.85, figures.line()


def test_no_recipient_is_the_sender_a_message_id_json_or_a_command() -> None:
    from email import message_from_bytes

    from engine.mail.bounces.classify import classify

    for path in sorted((CORPUS / "mail").iterdir()):
        message = message_from_bytes(path.read_bytes())
        sender = str(message.get("From", "")).lower()
        verdict = classify(message)
        for recipient in verdict.recipients:
            address = recipient.address
            assert VALID.fullmatch(address), (path.name, address)
            if verdict.kind == "bounce":  # (a request to unsubscribe comes from the customer)
                assert address.lower() not in sender, (path.name, address)
