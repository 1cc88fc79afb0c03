"""Durations as marketers write them: ``30s``, ``15m``, ``2h``, ``3d``, ``1w``, combinations such
as ``1d12h``, and ISO 8601 (``P3D``, ``PT2H30M``, ``P1W``)."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

_SHORT = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ISO = re.compile(
    r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.IGNORECASE
)
HINT = "write it like 30s, 15m, 2h, 3d, 1w, 1d12h or ISO 8601 such as P3D"


def parse_duration(text: str | int | float) -> timedelta:
    """Parse a duration; raise ``ValueError`` with a readable message when it is not one.
    A bare number counts as seconds."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration; {HINT}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"a duration cannot be negative ({text}); {HINT}")
        return timedelta(seconds=text)
    raw = text.strip().replace(" ", "")
    if not raw:
        raise ValueError(f"the duration is empty; {HINT}")
    if raw[0] in "Pp":
        if re.match(r"P(\d+Y|\d+M)", raw, re.IGNORECASE):
            raise ValueError(
                f"'{text}' uses years or months, which have no fixed length; use days or weeks"
            )
        iso = _ISO.fullmatch(raw)
        if not iso or raw.upper() in ("P", "PT") or raw.upper().endswith("T"):
            raise ValueError(f"'{text}' is not a duration; {HINT}")
        weeks, days, hours, minutes, seconds = iso.groups()
        return timedelta(
            weeks=int(weeks or 0),
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=float(seconds or 0),
        )
    short = _SHORT.fullmatch(raw.lower())
    if not short or not any(short.groups()):
        raise ValueError(f"'{text}' is not a duration; {HINT}")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in short.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


@lru_cache(maxsize=256)  # a wait gives every journey of a batch the same reason
def format_duration(delta: timedelta) -> str:
    """The shortest ``1d12h`` form of a duration, for reasons and tables."""
    total = int(delta.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
