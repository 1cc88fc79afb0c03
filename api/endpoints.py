"""The webhook endpoints of a project: every ``webhook`` start object of its valid flows, read
once when the app is made (restart ``sluis serve`` after changing flows), with the HMAC key
resolved from the environment then, so a missing secret stops the server at start."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from api.security import signing_key
from engine.errors import ProjectError
from engine.model.flow import Flow
from engine.model.project import resolve_env
from engine.webhooks.auth import WebhookAuth
from engine.webhooks.receive import WebhookSpec


@dataclass(frozen=True)
class Endpoint:
    """One served webhook: what it stores (``spec``), how callers prove who they are
    (``auth``), and the HMAC key when it is signed."""

    spec: WebhookSpec
    auth: WebhookAuth
    key: bytes | None


def build_endpoints(flows: Iterable[Flow]) -> dict[str, Endpoint]:
    """Endpoints by name; ``ProjectError`` when two webhooks share one or a secret is unset."""
    found: dict[str, Endpoint] = {}
    for flow in flows:
        for oid in flow.starts:
            served = flow.instance(oid).endpoint()
            if served is None:
                continue
            name = served.name
            if name in found:
                other = found[name].spec
                raise ProjectError(
                    f"webhook endpoint '{name}' is served by object '{other.object_id}' of flow "
                    f"'{other.flow.name}' and by object '{oid}' of flow '{flow.name}'; give "
                    "each webhook its own endpoint"
                )
            auth = served.auth
            key = None
            if auth.type == "hmac-sha256" and auth.secret is not None:
                secret = resolve_env(auth.secret, what=f"the secret of webhook '{name}'")
                key = signing_key(auth, secret)
            found[name] = Endpoint(WebhookSpec(name, flow, oid, served.payload), auth, key)
    return found
