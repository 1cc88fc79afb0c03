"""The content hashes of the running flow versions, read without SQLAlchemy: ``sluis validate``
notes flows whose file differs from what was started, and must stay fast (SQLite through the
standard library, read-only; PostgreSQL through psycopg alone). No database, or one without
versions, means nothing was started: an empty answer, never an error."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

QUERY = (
    "SELECT v.flow, v.hash FROM flow_states s JOIN flow_versions v "
    "ON v.flow = s.flow AND v.number = s.version WHERE s.version > 0"
)


def content_hash(text: str) -> str:
    """The hash a flow version is known by: sha256 of the file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def running_hashes(url: str) -> dict[str, str]:
    """Flow name -> the content hash of its running version."""
    try:
        if url.startswith("sqlite:///"):
            return _sqlite(url[len("sqlite:///") :].split("?", 1)[0])
        if url.startswith("postgresql"):
            return _postgres(url)
    except Exception:  # no database yet, an old schema, a server away: nothing to note
        return {}
    return {}


def _sqlite(path: str) -> dict[str, str]:
    if not path or path == ":memory:":
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    try:
        return {flow: digest for flow, digest in conn.execute(QUERY)}
    finally:
        conn.close()


def _postgres(url: str) -> dict[str, str]:
    import psycopg

    rest = url.split("://", 1)[1]
    found: dict[str, Any]
    with psycopg.connect(f"postgresql://{rest}", connect_timeout=2) as conn:
        found = {flow: digest for flow, digest in conn.execute(QUERY)}
    return found
