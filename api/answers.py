"""The JSON answers of the API. Text read from the database is served even when it is not
valid Unicode (a lone surrogate stored before sluis refused them at the edge): such characters
go out as U+FFFD, the replacement character, instead of failing the answer, until
``sluis db check --fix`` repairs the rows."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse as _Plain

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
