"""The HTTP API of sluis (``sluis serve``): the webhook receiver, the REST API under
``/api/v1``, health, and mail tracking when that part is installed.

``create_app(project)`` builds one app for one project: it runs the deployed versions of the
flows (and the valid files of flows never started), follows deploys without a restart
(``api.endpoints.follow_deploys``), and makes the database schema. Routes reach the engine
through ``request.app.state.sluis`` (``api.state.AppState``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import Depends, FastAPI

from api import errors, openapi, services
from api.answers import JSONResponse
from api.batching import GroupWriter, write_together
from api.deps import strict_query
from api.endpoints import build_endpoints
from api.lookups import Lookups
from api.middleware import AccessLog, BodyLimit
from api.routes import (
    bounces,
    customers,
    datamodel,
    events,
    flows,
    groups,
    health,
    mails,
    tracking,
    users,
    webhooks,
)
from api.soap import route as soap_route
from api.state import AppState
from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.clock import Clock, SystemClock
from engine.runtime.deploys import running_flows
from engine.runtime.runner import Runtime
from engine.store import Store

log = logging.getLogger("sluis.api")
API_PREFIX = "/api/v1"


def create_app(project: Project, store: Store | None = None, clock: Clock | None = None) -> FastAPI:
    """The app for ``project`` (on ``store``, default: the project's database; with
    ``clock``, default: the system clock)."""
    valid, problems = load_flows(project)
    for problem in problems:
        log.warning("skipped invalid flow: %s", problem)
    store = store or Store.open(project)
    store.db.create_schema()
    runtime = Runtime(store, running_flows(store, valid), clock or SystemClock())
    state = AppState(project, store, runtime)
    state.webhooks = build_endpoints(runtime.flows.values())
    state.endpoints_of = runtime.generation

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop_checkpoints = store.db.checkpoint_in_background()
        yield
        await state.settle()
        services.close_mail(state)
        stop_checkpoints()
        store.db.dispose()

    app = FastAPI(
        title="sluis",
        version="1",
        description="Webhook receiver and REST API of a sluis project.",
        lifespan=lifespan,
        default_response_class=JSONResponse,
    )
    app.state.sluis = state
    app.state.webhook_writer = GroupWriter(partial(write_together, state))
    errors.install(app)
    app.include_router(health.router)
    app.include_router(soap_route.router)  # early: FastAPI tries the routes in order
    app.include_router(webhooks.router)
    app.include_router(bounces.router)
    for module in (customers, datamodel, groups, flows, events, mails, users):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=[Depends(strict_query)])
    app.include_router(tracking.router)
    app.add_middleware(webhooks.Receiver)  # inside the body cap and the access log
    app.add_middleware(Lookups)
    app.add_middleware(soap_route.SoapCalls)
    limits = project.settings.api
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes, header_limit=limits.max_header_bytes)
    app.add_middleware(AccessLog)
    openapi.install(app, project)
    return app
