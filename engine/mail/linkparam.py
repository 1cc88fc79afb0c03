"""Encrypted link parameters: who clicked, for the website.

A mail object with ``link_params: true`` appends ``?sluis=VALUE`` to every link in its mails.
VALUE is URL-safe base64 of a random 12-byte nonce followed by the AES-GCM encryption of a
small JSON object: the customer's ``external_id`` and any fields the object names. Only holders
of the key can read or forge it.

This module is standalone on purpose: it needs only the standard library and ``cryptography``,
so the website can copy it as it is. On the website::

    from linkparam import decode          # this file, copied
    visitor = decode(request.args["sluis"])   # key from SLUIS_LINK_KEY
    visitor["external_id"]                # -> "C001"

The key is 16, 24 or 32 random bytes in base64, shared through the environment variable
``SLUIS_LINK_KEY`` (make one with ``sluis linkparam new-key``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Mapping
from typing import Any

PARAM = "sluis"
KEY_VARIABLE = "SLUIS_LINK_KEY"
_NONCE = 12
_PURPOSE = b"sluis link parameter v1"  # bound into every value: it cannot be reused elsewhere


class LinkParamError(ValueError):
    """The key is missing or malformed, or a value is not one this key made."""


def new_key() -> str:
    """A fresh 256-bit key, base64, for ``SLUIS_LINK_KEY``."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def load_key(key: str | bytes | None = None) -> bytes:
    """The AES key from ``key`` (base64 text, or raw bytes), else from ``SLUIS_LINK_KEY``."""
    if isinstance(key, bytes):
        raw = key
    else:
        text = key if key is not None else os.environ.get(KEY_VARIABLE)
        if not text:
            raise LinkParamError(
                f"link parameters need a key: set {KEY_VARIABLE} to 32 random bytes in base64 "
                "(make one with 'sluis linkparam new-key')"
            )
        try:
            raw = base64.b64decode(_padded(text.strip()), altchars=_altchars(text), validate=True)
        except (binascii.Error, ValueError):
            raise LinkParamError(f"{KEY_VARIABLE} is not base64") from None
    if len(raw) not in (16, 24, 32):
        raise LinkParamError(
            f"{KEY_VARIABLE} must hold 16, 24 or 32 bytes in base64, not {len(raw)} bytes"
        )
    return raw


def encode(fields: Mapping[str, Any], key: str | bytes | None = None) -> str:
    """Encrypt ``fields`` (JSON-serialisable values) into a URL-safe parameter value."""
    # cryptography loads with the first link, not with every mail object (flow validation)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes = AESGCM(load_key(key))
    nonce = secrets.token_bytes(_NONCE)
    plain = json.dumps(dict(fields), separators=(",", ":"), default=str).encode("utf-8")
    sealed = nonce + aes.encrypt(nonce, plain, _PURPOSE)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def decode(value: str, key: str | bytes | None = None) -> dict[str, Any]:
    """The fields inside a parameter value; ``LinkParamError`` when it was not made with this
    key or was changed on the way."""
    try:
        sealed = base64.urlsafe_b64decode(_padded(value.strip()))
    except (binascii.Error, ValueError):
        raise LinkParamError("the value is not URL-safe base64") from None
    if len(sealed) <= _NONCE + 16:
        raise LinkParamError("the value is too short to be a link parameter")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes = AESGCM(load_key(key))
    try:
        plain = aes.decrypt(sealed[:_NONCE], sealed[_NONCE:], _PURPOSE)
    except InvalidTag:
        raise LinkParamError("the value was not made with this key, or it was changed") from None
    fields = json.loads(plain)
    if not isinstance(fields, dict):
        raise LinkParamError("the value does not hold fields")
    return fields


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _altchars(text: str) -> bytes | None:
    return b"-_" if ("-" in text or "_" in text) else None
