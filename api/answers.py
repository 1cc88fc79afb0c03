"""The JSON answers of the API. Text read from the database is served even when it is not
valid Unicode (a lone surrogate stored before sluis refused them at the edge): such characters
go out as U+FFFD, the replacement character, instead of failing the answer, until
``sluis db check --fix`` repairs the rows."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse as _Plain
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from engine.store.textcheck import unicode_safe


class JSONResponse(_Plain):
    """FastAPI's JSON answer, with lone surrogates sent as U+FFFD."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        )
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return unicode_safe(text).encode("utf-8")


def model_answer(value: BaseModel, status_code: int = 200) -> Response:
    """``value`` as a JSON answer, serialized by pydantic in one step. A route that returns a
    model instead has FastAPI validate it again into its response model, dump that to Python
    values and then to JSON, which costs more than a lookup by key does. The JSON is the
    same; text that is not valid Unicode goes the ``JSONResponse`` way (as U+FFFD)."""
    try:
        body = value.model_dump_json()
    except PydanticSerializationError:
        return JSONResponse(value.model_dump(mode="json"), status_code)
    return Response(body, status_code, media_type="application/json")
