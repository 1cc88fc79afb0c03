"""Reading a JSON body as untrusted input, the same way for webhooks and the REST API: the
media type must be JSON (415 otherwise), nesting is bounded (400 naming
``api.max_json_depth``), and every text must be Unicode scalar values, since JSON's ``\\ud800``
escape spells a lone UTF-16 surrogate that no database column can hold (422 naming where it
is). Nothing of a refused body reaches the store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.errors import BodyRefused, FieldProblems, field_problem
from engine.store.textcheck import servable

Loc = tuple[str | int, ...]
# a lone surrogate can only come from a \uD800-\uDFFF escape: raw surrogate bytes are not UTF-8
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def check_media_type(content_type: str | None) -> None:
    """Refuse a body that is not declared JSON (``application/json`` or ``*+json``)."""
    if content_type is None:
        return  # curl -d without -H and some senders leave it out; the body must still parse
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json")):
        return
    raise BodyRefused(
        415,
        f"the body is sent as '{kind or content_type}'; this endpoint takes JSON: send "
        "'Content-Type: application/json'",
    )


def _too_deep(limit: int) -> BodyRefused:
    return BodyRefused(
        400,
        f"the JSON is nested deeper than {limit} levels, the most this server reads "
        "(api.max_json_depth in sluis.yaml)",
    )


def read_json(raw: bytes, max_depth: int) -> Any:
    """The parsed body; ``BodyRefused`` or a 422 (``FieldProblems``) saying what is wrong."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise field_problem(("body",), f"the body is not JSON: {exc}", "json_invalid") from None
    check_tree(value, max_depth, texts=_SURROGATE_ESCAPE.search(raw) is not None)
    return value


def check_tree(value: Any, max_depth: int, *, texts: bool = True) -> None:
    """Refuse nesting deeper than ``max_depth`` and (with ``texts``) any text, key or value,
    holding a lone surrogate. Walks without recursion, so any depth is safe to look at."""
    problems: list[tuple[Loc, str, str]] = []
    stack: list[tuple[Any, Loc]] = [(value, ("body",))]
    while stack:
        item, loc = stack.pop()
        if type(item) is str:
            if texts and not servable(item):
                problems.append((loc, _SURROGATE, "unicode_invalid"))
            continue
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if len(loc) > max_depth:
            raise _too_deep(max_depth)
        for key, child in children:
            if texts and type(key) is str and not servable(key):
                problems.append(((*loc, _shown(key)), _SURROGATE_KEY, "unicode_invalid"))
                continue
            stack.append((child, (*loc, key)))
        if len(problems) >= 20:
            break
    if problems:
        raise FieldProblems(problems)


_SURROGATE = (
    "the text holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair), "
    "which is not a Unicode character; send valid UTF-8 text"
)
_SURROGATE_KEY = "this key holds a lone UTF-16 surrogate, which is not a Unicode character"


def _shown(text: str) -> str:
    """A key with its lone surrogates written as escapes, so the answer can name it."""
    return "".join(c if servable(c) else f"\\u{ord(c):04x}" for c in text)


class CheckedRoute(APIRoute):
    """A REST route whose JSON body is read by ``read_json`` before FastAPI validates it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            raw = await request.body()
            if raw:
                check_media_type(request.headers.get("content-type"))
                depth = request.app.state.sluis.project.settings.api.max_json_depth
                request._json = read_json(raw, depth)  # FastAPI's request.json() reuses it
            return await handler(request)

        return checked
