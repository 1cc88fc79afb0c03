"""HubSpot stand-in.

Follows:
- Contacts batch upsert: https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-upsert
  (POST /crm/v3/objects/contacts/batch/upsert, {"inputs": [{"idProperty": "email", "id": ...,
  "properties": {...}}]}, at most 100 inputs; 200 with {"status": "COMPLETE", "results": [...]}
  or 207 Multi-Status with the failed inputs in "errors", each naming its ids in
  context.ids; a malformed batch answers 400 with category VALIDATION_ERROR).
- Private app tokens: https://developers.hubspot.com/docs/api/private-apps
  (Authorization: Bearer TOKEN; otherwise 401 with category INVALID_AUTHENTICATION).
- Rate limits: https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details
  (429 with category RATE_LIMITS when the burst limit is passed).
- Webhook v3 signatures: https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests
  (``sign_v3``: base64 HMAC-SHA256 over METHOD + URI + BODY + TIMESTAMP in milliseconds).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import time
from typing import Any

from vendors import Answer, Call, StandIn, bearer

UPSERT = "/crm/v3/objects/contacts/batch/upsert"


def sign_v3(secret: str, method: str, url: str, body: bytes, at_ms: int) -> str:
    message = method.encode() + url.encode() + body + str(at_ms).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def webhook_headers(secret: str, url: str, body: bytes, at_ms: int | None = None) -> dict[str, str]:
    at = at_ms if at_ms is not None else int(time.time() * 1000)
    return {
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, at),
        "X-HubSpot-Request-Timestamp": str(at),
        "Content-Type": "application/json",
    }


class HubSpot(StandIn):
    def __init__(self, token: str = "pat-eu1-standin") -> None:
        super().__init__()
        self.token = token
        self.contacts: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(51)

    def answer(self, call: Call) -> Answer:
        if bearer(call.headers) != self.token:
            return Answer(
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
            )
        if call.path == UPSERT and call.method == "POST":
            return self._upsert(call.json())
        return Answer(
            404, {"status": "error", "message": "Not found", "category": "OBJECT_NOT_FOUND"}
        )

    def _upsert(self, body: dict[str, Any]) -> Answer:
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return Answer(400, _invalid("inputs must be a non-empty list"))
        if len(inputs) > 100:
            return Answer(400, _invalid(f"Batch input limit is 100, got {len(inputs)}"))
        results, errors = [], []
        for given in inputs:
            email = str(given.get("id") or "")
            if given.get("idProperty") != "email":
                return Answer(400, _invalid("idProperty must be a unique property such as email"))
            if "@" not in email:
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": f"Property values were not valid: {email!r} is not a valid email",
                        "context": {"ids": [email]},
                    }
                )
                continue
            with self.lock:
                new = email.lower() not in self.contacts
                stored = self.contacts.setdefault(email.lower(), {"id": str(next(self._ids))})
                stored.update(given.get("properties") or {})
            results.append(
                {
                    "id": stored["id"],
                    "properties": {**stored, "email": email.lower()},
                    "new": new,
                    "archived": False,
                }
            )
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            answer["errors"] = errors
            answer["numErrors"] = len(errors)
        return Answer(207 if errors else 200, answer)


def _invalid(message: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "category": "VALIDATION_ERROR"}
