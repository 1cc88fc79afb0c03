"""The OpenAPI document of one app: FastAPI's, with the project's profile fields written into
the customer models (their types come from sluis.yaml, so they differ per project), and the
ways callers prove who they are (``securitySchemes``): a Bearer token for the REST API, and for
webhooks that token, Basic with it, or an HMAC signature of the body (which OpenAPI cannot
describe, so a webhook also allows no scheme)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from engine.model.project import Project

_INPUT: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "decimal": {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}]},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}
_OUTPUT = {**_INPUT, "decimal": {"type": "string"}}
CUSTOMER_MODELS = {"CustomerCreate": _INPUT, "CustomerUpdate": _INPUT, "CustomerPublic": _OUTPUT}


def install(app: FastAPI, project: Project) -> None:
    """Make ``app.openapi()`` describe the project's profile fields (built once, cached)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            models = schema.get("components", {}).get("schemas", {})
            for name, types in CUSTOMER_MODELS.items():
                model = models.get(name)
                if model is None:
                    continue
                properties = model.setdefault("properties", {})
                for field, kind in project.settings.profile.items():
                    properties[field] = {"anyOf": [types[kind], {"type": "null"}], "title": field}
                model["additionalProperties"] = False
            _security(schema)
            _names(schema, project, app)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "basic": {"type": "http", "scheme": "basic"},
}


def _security(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {})["securitySchemes"] = SCHEMES
    for path, operations in schema.get("paths", {}).items():
        if path.startswith("/api/"):
            needed: list[dict[str, list[str]]] = [{"bearer": []}]
        elif path.startswith("/webhooks/"):
            needed = [{"bearer": []}, {"basic": []}, {}]
        else:
            continue
        for operation in operations.values():
            operation["security"] = needed


def _names(schema: dict[str, Any], project: Project, app: FastAPI) -> None:
    """Path parameters that name a project's collection, webhook endpoint or flow list the
    names this server knows, so clients (and fuzzers) can reach the resources behind them."""
    state = app.state.sluis
    known = {
        "collection": sorted(project.settings.datamodel),
        "endpoint": sorted(state.webhooks),
        "name": sorted(flow.name for flow in state.runtime.flows.values()),
    }
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(("/api/v1/datamodel/", "/webhooks/", "/api/v1/flows/")):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                names = known.get(parameter["name"])
                if parameter["in"] == "path" and names:
                    parameter["schema"] = {**parameter["schema"], "enum": names}
