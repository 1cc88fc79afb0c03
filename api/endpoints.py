"""The webhook endpoints of a project: every ``webhook`` start object of the flows the server
runs (their deployed versions), rebuilt when a deploy changes them (``follow_deploys``: a
start, stop or new version shows within about a second, without a restart). The HMAC key is
resolved from the environment when an endpoint is built; an endpoint whose secret variable is
unset answers 503 naming it, and the rest of the server runs."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from api.security import signing_key
from engine.errors import ProjectError
from engine.model.flow import Flow
from engine.model.project import resolve_env
from engine.webhooks.auth import WebhookAuth
from engine.webhooks.receive import WebhookSpec

if TYPE_CHECKING:
    from api.state import AppState

log = logging.getLogger("sluis.api")


@dataclass(frozen=True)
class Endpoint:
    """One served webhook: what it stores (``spec``), how callers prove who they are
    (``auth``), and the HMAC key when it is signed."""

    spec: WebhookSpec
    auth: WebhookAuth
    key: bytes | None
    unavailable: str | None = None  # why it cannot serve now (a secret variable unset)


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
            key, unavailable = None, None
            if auth.type == "hmac-sha256" and auth.secret is not None:
                try:
                    secret = resolve_env(auth.secret, what=f"the secret of webhook '{name}'")
                except ProjectError as exc:
                    unavailable = f"webhook '{name}' cannot check signatures: {exc}"
                    log.error("%s", unavailable)
                else:
                    key = signing_key(auth, secret)
            spec = WebhookSpec(name, flow, oid, served.payload)
            found[name] = Endpoint(spec, auth, key, unavailable)
    return found


def follow_deploys(state: AppState) -> None:
    """Bring the server's flows and webhook endpoints up to the deployed versions (read at
    most once a second). A deploy that makes two webhooks share an endpoint is logged and
    leaves the endpoints as they were."""
    state.runtime.started_flows()
    if state.endpoints_of == state.runtime.generation:
        return
    try:
        state.webhooks = build_endpoints(state.runtime.flows.values())
    except ProjectError as exc:
        log.error("webhook endpoints not changed: %s", exc)
    state.endpoints_of = state.runtime.generation
