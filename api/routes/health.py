"""``GET /healthz``: is the server up and its database reachable? (No token needed.)"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.models import Health
from engine.errors import SluisError

router = APIRouter(tags=["operations"])
log = logging.getLogger("sluis.api")


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database is unreachable"}},
)
def healthz(state: StateDep) -> Health | JSONResponse:
    """200 when the database answers, else 503."""
    try:
        state.store.db.ping()
    except SluisError as exc:
        log.error("health check: database unreachable: %s", exc)
        body = Health(status="error", database="unreachable")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok")
