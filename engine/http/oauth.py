"""HTTP connections of ``sluis.yaml`` that authorize calls: ``oauth2`` (client credentials)
and ``bearer`` (a fixed token), both for APIs at a ``base_url``.

An object that names a connection (``connection: salesforce``) sends its calls through
``AuthorizedSink``: each call gets ``Authorization: Bearer TOKEN`` (masked in every reason and
record, dropped when a redirect leaves the host), a URL written as a path (``/services/...``)
goes to the connection's ``base_url``, and a call answered ``401`` is sent once more with a
freshly fetched token. The token of an ``oauth2`` connection comes from its ``token_url`` by
the client-credentials grant, built and read by authlib (the request body, the client
authentication as ``client_secret_basic`` or ``client_secret_post``, the token and its expiry);
it is cached per process and renewed a minute before it expires. The token request goes
through the same HTTP sink as the calls, so the address guard and timeouts apply to it too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from engine.errors import EffectError, ProjectError
from engine.http.calls import CallPolicy, HttpCall, HttpOutcome, mask
from engine.model.project import Connection, Project, resolve_env
from engine.sdk.context import RunContext
from engine.sdk.effects import HttpSink

RENEW_BEFORE = 60  # seconds before its expiry a token is renewed
AUTHORIZATION = "Authorization"
_TOKENS: dict[tuple[str, ...], Any] = {}  # (token_url, client_id, scope) -> OAuth2Token
_LOCK = threading.Lock()


def http_connection(project: Project, name: str) -> Connection:
    """The connection ``name`` of the project, which must authorize HTTP calls."""
    found = project.settings.connections.get(name)
    if found is None:
        raise ProjectError(
            f"no connection '{name}' in sluis.yaml; add it under connections "
            "(type: oauth2 or bearer, with base_url)"
        )
    if found.type not in ("oauth2", "bearer"):
        raise ProjectError(
            f"connection '{name}' is of type {found.type}; HTTP objects need one of type "
            "oauth2 or bearer"
        )
    return found


class ConnectionAuth:
    """The token of one connection: fetched when needed, cached, renewed."""

    def __init__(self, name: str, connection: Connection) -> None:
        self.name = name
        self.connection = connection
        base = connection.base_url or ""
        self.base_url = resolve_env(base, what=f"connection {name} base_url").rstrip("/")

    def url(self, url: str) -> str:
        """A path (``/api/...``) on the connection's ``base_url``; a full URL as it is."""
        return self.base_url + url if url.startswith("/") else url

    def _key(self) -> tuple[str, ...]:
        c = self.connection
        return (self.name, c.token_url or "", c.client_id or "", c.scope or "")

    def token(self, sink: HttpSink, *, renew: bool = False, stale: str | None = None) -> str:
        """The access token; ``renew`` fetches a new one unless another call already replaced
        ``stale`` (the token that was refused)."""
        connection = self.connection
        if connection.type == "bearer":
            return str(connection.secret("token"))
        key = self._key()
        with _LOCK:
            cached = _TOKENS.get(key)
            fresh = cached is not None and not cached.is_expired(leeway=RENEW_BEFORE)
            if cached is not None and fresh and not (renew and cached["access_token"] == stale):
                return str(cached["access_token"])
            token = self._fetch(sink)
            _TOKENS[key] = token
            return str(token["access_token"])

    def _fetch(self, sink: HttpSink) -> Any:
        from authlib.oauth2.auth import ClientAuth
        from authlib.oauth2.rfc6749 import OAuth2Token
        from authlib.oauth2.rfc6749.parameters import prepare_token_request

        c = self.connection
        secret = str(c.secret("client_secret"))
        client_id = resolve_env(str(c.client_id), what=f"connection {self.name} client_id")
        body = prepare_token_request("client_credentials", scope=c.scope)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        token_url = resolve_env(str(c.token_url), what=f"connection {self.name} token_url")
        url, headers, body = ClientAuth(client_id, secret, c.auth_method).prepare(
            "POST", token_url, headers, body
        )
        secrets = (secret, client_id) if c.auth_method == "client_secret_post" else (secret,)
        call = HttpCall(
            "POST",
            url,
            dict(headers),
            body.encode(),
            secrets=secrets,
            secret_headers=frozenset({AUTHORIZATION}),
        )
        [answer] = sink.send_all([call], CallPolicy(timeout=c.timeout, retries=2))
        found = answer.json if isinstance(answer.json, dict) else {}
        if not answer.ok or not found.get("access_token"):
            if _replaying(sink):
                return OAuth2Token.from_dict({"access_token": "replay", "token_type": "Bearer"})
            said = found.get("error_description") or found.get("error") or ""
            raise EffectError(
                mask(
                    f"connection '{self.name}': the token request to {token_url} "
                    f"{answer.reason.removeprefix('failed: ')}"
                    + (f" ({said})" if said else "")
                    + "; check client_id, client_secret and scope",
                    secrets,
                )
            )
        return OAuth2Token.from_dict(found)


def _replaying(sink: HttpSink) -> bool:
    from engine.http.captured import CapturedHttp

    return isinstance(sink, CapturedHttp)


def forget_tokens() -> None:
    """Drop every cached token (tests; a changed secret)."""
    with _LOCK:
        _TOKENS.clear()


class AuthorizedSink:
    """An HTTP sink whose calls carry the connection's token; a call answered 401 goes once
    more with a renewed token."""

    def __init__(self, sink: HttpSink, auth: ConnectionAuth) -> None:
        self.sink = sink
        self.auth = auth

    def _authorized(self, call: HttpCall, token: str) -> HttpCall:
        name = self.auth.connection.token_header
        header, value = (name, token) if name else (AUTHORIZATION, f"Bearer {token}")
        return replace(
            call,
            url=self.auth.url(call.url),
            headers={**call.headers, header: value},
            secrets=(*call.secrets, token),
            secret_headers=call.secret_headers | {header},
        )

    def send_all(self, calls: Sequence[HttpCall], policy: CallPolicy) -> list[HttpOutcome]:
        token = self.auth.token(self.sink)
        outcomes = self.sink.send_all([self._authorized(c, token) for c in calls], policy)
        refused = [i for i, o in enumerate(outcomes) if o.status == 401]
        if refused and self.auth.connection.type == "oauth2":
            token = self.auth.token(self.sink, renew=True, stale=token)
            again = self.sink.send_all([self._authorized(calls[i], token) for i in refused], policy)
            for index, result in zip(refused, again, strict=True):
                outcomes[index] = result
        return outcomes


def through_connection(
    ctx: RunContext, name: str | None
) -> tuple[Callable[[str], str], HttpSink | None]:
    """For an object's ``connection``: how its URLs are completed (a path goes to the
    ``base_url``) and the sink that authorizes its calls (None: the run's own sink)."""
    if name is None:
        return _as_is, None
    auth = ConnectionAuth(name, http_connection(ctx.project, name))
    http = ctx.effects.http
    return auth.url, AuthorizedSink(http, auth) if http is not None else None


def _as_is(url: str) -> str:
    return url
