"""Turning an object's HTTP settings into requests: headers with secrets, bodies, query strings,
and the templates of ``save`` that read the answer.

Secrets are written in headers as ``${VAR}`` and read from the environment when a batch runs.
They enter a header as a template variable, never as template text, so a secret cannot be
interpreted by Jinja and customer data that happens to contain ``${...}`` is never resolved.
The resolved values travel with each call, which masks them in every reason it gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from engine.errors import EffectError, TemplateError
from engine.http.calls import IDEMPOTENCY_HEADER, HttpCall
from engine.http.lookups import Render, Scope, compile_value, rendered_once
from engine.model.fields import to_json
from engine.model.project import resolve_env
from engine.model.templates import TEMPLATE_NAMES, Template

SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
PER_CUSTOMER = frozenset({"customer", "data", "records"})
SECRET_NAMES = TEMPLATE_NAMES | {"secrets"}
CONTENT_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded"}


def _response_template(value: Any) -> Template:
    if isinstance(value, Template):
        return value
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise PydanticCustomError(
            "sluis", "{message}", {"message": "a save value must be a template", "offset": -1}
        )
    try:
        return Template.parse(str(value), TEMPLATE_NAMES | {"response"})
    except TemplateError as exc:
        raise PydanticCustomError(
            "sluis", "{message}", {"message": str(exc), "offset": -1}
        ) from None


ResponseTemplateText = Annotated[
    Template,
    PlainValidator(_response_template),
    PlainSerializer(str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "a template over response.status, response.json, response.headers",
        }
    ),
]


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def check_request(url: Template, headers: Mapping[str, Template], *, path_ok: bool = False) -> None:
    """Settings checks of every object that makes HTTP calls: secrets only in headers, and
    no ``Idempotency-Key`` of its own (sluis sets it). ``path_ok``: the object names a
    connection, so a path (``/api/...``) on its ``base_url`` will do. Raises ``ValueError``
    for pydantic."""
    if SECRET.search(url.source):
        raise ValueError("url: ${VAR} secrets are read in headers only; send the token in one")
    source = url.source.strip()
    by_template = source.startswith(("{{", "{%"))  # a URL made by a template: checked per call
    if not by_template and not (path_ok and source.startswith("/")):
        scheme = _SCHEME.match(source)
        if scheme is None or scheme.group(1).lower() not in ("http", "https"):
            raise ValueError(
                f"url: '{source[:80]}' is not an http:// or https:// URL; sluis sends HTTP "
                "requests only (no file://, ftp:// or other schemes)"
            )
    for name in headers:
        if name.lower() == IDEMPOTENCY_HEADER.lower():
            raise ValueError(
                f"headers: sluis sets {IDEMPOTENCY_HEADER} on every request; remove it"
            )


@dataclass(frozen=True)
class RenderedHeaders:
    """Headers for one call, with the secrets in them."""

    values: dict[str, str]
    secrets: tuple[str, ...]
    secret_names: frozenset[str]


class Headers:
    """An object's header templates, parsed once. Each ``${VAR}`` becomes ``secrets[i]``, the
    i-th variable the headers read; the values come from the environment per batch."""

    def __init__(self, headers: Mapping[str, Template], owner: str) -> None:
        self.owner = owner
        # when no header reads the customer, a batch renders its headers once for every call
        self.per_customer = any(template.names & PER_CUSTOMER for template in headers.values())
        self.variables: dict[str, str] = {}  # variable -> the first header that reads it
        self.renders: dict[str, Render] = {}
        secret_names = set()
        for name, template in headers.items():
            found = SECRET.findall(template.source)
            if not found:
                self.renders[name] = compile_value(template)
                continue
            secret_names.add(name)
            for variable in found:
                self.variables.setdefault(variable, name)
            source = SECRET.sub(self._placeholder, template.source)
            self.renders[name] = _with_secrets(Template.parse(source, SECRET_NAMES))
        self.secret_names = frozenset(secret_names)

    def _placeholder(self, match: re.Match[str]) -> str:
        return "{{ secrets[" + str(list(self.variables).index(match.group(1))) + "] }}"

    def secrets(self) -> tuple[str, ...]:
        """The environment's values of the ``${VAR}``s the headers read, in order; a missing
        variable is an error that names the header and the variable to set."""
        return tuple(
            resolve_env(f"${{{variable}}}", what=f"{self.owner}: header '{header}'")
            for variable, header in self.variables.items()
        )

    def render(
        self,
        customer: Mapping[str, Any],
        data: Mapping[str, Any],
        scope: Scope,
        secrets: tuple[str, ...],
    ) -> RenderedHeaders:
        """The headers of one call (``scope`` gives the full template scope when needed)."""

        def full() -> Mapping[str, Any]:
            return {**scope(), "secrets": secrets}

        values = {
            name: str(render(customer, data, full)).strip() for name, render in self.renders.items()
        }
        return RenderedHeaders(values, tuple(s for s in secrets if s), self.secret_names)

    def for_batch(self, scope: Scope, secrets: tuple[str, ...]) -> Render:
        """The headers' renderer for one batch: when no header reads the customer, they are
        rendered once and every call gets them."""

        def render(customer: Mapping[str, Any], data: Mapping[str, Any], s: Scope) -> Any:
            return self.render(customer, data, s, secrets)

        return render if self.per_customer else rendered_once(render, scope)


def _with_secrets(template: Template) -> Render:
    return lambda c, d, s: template.render(s())


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    converted = to_json(value)
    return str(value) if converted is value else converted


def json_body(value: Any) -> bytes:
    """``value`` as compact JSON; dates, datetimes and decimals as text."""
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode()


def form_body(fields: Mapping[str, Any]) -> bytes:
    return urlencode({k: _text(v) for k, v in fields.items()}).encode()


def with_query(url: str, fields: Mapping[str, Any]) -> str:
    """``url`` with ``fields`` added to its query string (GET requests)."""
    if not fields:
        return url
    base, _, fragment = url.partition("#")
    query = urlencode({k: _text(v) for k, v in fields.items()})
    joined = f"{base}{'&' if '?' in base else '?'}{query}"
    return f"{joined}#{fragment}" if fragment else joined


def _text(value: Any) -> str:
    value = to_json(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def templated(value: Any, path: str = "fields") -> Any:
    """``fields`` as settings hold them: every text (also inside lists and mappings) parsed as
    a template, numbers, booleans and null kept as they are."""
    if isinstance(value, str):
        try:
            return Template.parse(value)
        except TemplateError as exc:
            raise ValueError(f"{path}: {exc}") from None
    if isinstance(value, Mapping):
        return {k: templated(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [templated(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def make_call(
    *,
    method: str,
    url: str,
    headers: RenderedHeaders,
    key: str,
    content: bytes | None = None,
    content_type: str | None = None,
) -> HttpCall:
    """One call as sent: the URL checked, ``Content-Type`` added when the headers have none,
    and the ``Idempotency-Key``."""
    url = url.strip()
    origin = _ORIGIN.match(url)
    problem = _url_problem(origin.group() if origin else url)
    if problem is not None:
        raise EffectError(f"url '{url}' {problem}")
    values = dict(headers.values)
    if (
        content is not None
        and content_type
        and not any(name.lower() == "content-type" for name in values)
    ):
        values["Content-Type"] = content_type
    values[IDEMPOTENCY_HEADER] = key
    return HttpCall(method, url, values, content, headers.secrets, headers.secret_names)


# The scheme and the authority of a URL: everything up to the first "/", "?" or "#" after "//".
# They decide whether a URL may be called, and a batch's URLs mostly share them.
_ORIGIN = re.compile(r"[^/?#]*//[^/?#]*")


@lru_cache(maxsize=1024)
def _url_problem(origin: str) -> str | None:
    """Why a URL starting with ``origin`` cannot be called, or None when it can."""
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError as exc:
        return f"is not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not host:
        return "is not an http:// or https:// URL with a host"
    return None
