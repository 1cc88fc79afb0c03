"""Links inside mail bodies: find them in HTML and text, add a query parameter, add the open
pixel. Rewriting itself (which parameter, which tracking URL) is decided by the caller."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import quote_plus, unquote_plus, urlsplit, urlunsplit

Rewrite = Callable[[str], str]

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_TEXT_URL = re.compile(r"""https?://[^\s<>"'()\[\]]+""")
_TRAILING = ".,;:!?"
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def rewrite_html(body: str, rewrite: Rewrite) -> str:
    """Apply ``rewrite`` to the href of every ``<a>`` (entities decoded before, escaped after)."""

    def replace(match: re.Match[str]) -> str:
        url = html.unescape(match.group(3).strip())
        new = rewrite(url)
        if new == url:
            return match.group(0)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{html.escape(new, quote=True)}{quote}"

    return _HREF.sub(replace, body)


def rewrite_text(body: str, rewrite: Rewrite) -> str:
    """Apply ``rewrite`` to every http(s) URL in plain text (trailing punctuation stays out)."""

    def replace(match: re.Match[str]) -> str:
        url = match.group(0)
        tail = ""
        while url and url[-1] in _TRAILING:
            url, tail = url[:-1], url[-1] + tail
        return rewrite(url) + tail

    return _TEXT_URL.sub(replace, body)


def add_param(url: str, name: str, value: str) -> str:
    """``url`` with ``name=value`` added to its query, before any fragment; the rest of the
    query stays exactly as written."""
    parts = urlsplit(url)
    query = _without(parts.query, name)
    pair = f"{quote_plus(name)}={quote_plus(value)}"
    return urlunsplit(parts._replace(query=f"{query}&{pair}" if query else pair))


def strip_param(url: str, name: str) -> str:
    """``url`` without the query parameter ``name`` (to record clicks readably)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=_without(parts.query, name)))


def _without(query: str, name: str) -> str:
    return "&".join(
        pair for pair in query.split("&") if pair and unquote_plus(pair.split("=", 1)[0]) != name
    )


def add_pixel(body: str, url: str) -> str:
    """The open pixel as the last thing in the HTML body."""
    pixel = (
        f'<img src="{html.escape(url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px">'
    )
    ends = [m.start() for m in _BODY_END.finditer(body)]
    if not ends:
        return body + pixel
    return body[: ends[-1]] + pixel + body[ends[-1] :]
