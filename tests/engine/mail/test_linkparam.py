"""Encrypted link parameters: round trips, URL safety, tampering and wrong keys refused."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.mail import linkparam
from engine.mail.linkparam import LinkParamError, decode, encode

KEY = linkparam.new_key()
FIELDS = st.dictionaries(
    st.text(max_size=20),
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=50)),
    max_size=5,
)


@given(FIELDS)
def test_round_trip_and_url_safe(fields: dict) -> None:
    value = encode(fields, KEY)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", value)
    assert decode(value, KEY) == fields


def test_the_same_fields_encrypt_differently_each_time() -> None:
    fields = {"external_id": "C001"}
    assert encode(fields, KEY) != encode(fields, KEY)


def test_a_changed_value_is_refused() -> None:
    value = encode({"external_id": "C001"}, KEY)
    changed = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    with pytest.raises(LinkParamError, match="not made with this key, or it was changed"):
        decode(changed, KEY)


def test_another_key_is_refused() -> None:
    value = encode({"external_id": "C001"}, KEY)
    with pytest.raises(LinkParamError, match="not made with this key"):
        decode(value, linkparam.new_key())


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUIS_LINK_KEY", KEY)
    assert decode(encode({"a": 1})) == {"a": 1}
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(KEY)).decode()
    assert decode(encode({"a": 1}), urlsafe) == {"a": 1}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, r"link parameters need a key: set SLUIS_LINK_KEY"),
        ("not base64!", r"SLUIS_LINK_KEY is not base64"),
        (base64.b64encode(b"short").decode(), r"must hold 16, 24 or 32 bytes in base64, not 5"),
    ],
)
def test_key_problems_say_what_to_do(monkeypatch: pytest.MonkeyPatch, key, message) -> None:
    monkeypatch.delenv("SLUIS_LINK_KEY", raising=False)
    with pytest.raises(LinkParamError, match=message):
        encode({"a": 1}, key)


@pytest.mark.parametrize("value", ["", "abc", "!!!!"])
def test_garbage_is_refused(value: str) -> None:
    with pytest.raises(LinkParamError):
        decode(value, KEY)


def test_the_module_stands_alone() -> None:
    """The website copies linkparam.py: it may import only the standard library and
    cryptography."""
    source = Path(linkparam.__file__).read_text()
    imports = re.findall(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE)
    assert {name.split(".")[0] for name in imports} <= {
        "__future__",
        "base64",
        "binascii",
        "json",
        "os",
        "secrets",
        "collections",
        "typing",
        "cryptography",
    }
