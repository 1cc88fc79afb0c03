"""Shopify stand-in.

Follows:
- Admin REST API customers: https://shopify.dev/docs/api/admin-rest/2024-10/resources/customer
  (GET /admin/api/2024-10/customers.json with limit (at most 250) and updated_at_min; customers
  with id, email, first_name, last_name, updated_at, email_marketing_consent.state).
- Cursor-based pagination: https://shopify.dev/docs/api/usage/pagination-rest
  (the Link header gives rel="next" with page_info; a request with page_info may add only
  limit and fields, other parameters answer 400).
- Authentication: X-Shopify-Access-Token (otherwise 401 {"errors": "[API] Invalid API key or
  access token (unrecognized login or wrong password)"}).
- Webhooks: https://shopify.dev/docs/apps/build/webhooks/subscribe/https
  (X-Shopify-Hmac-Sha256 is base64 HMAC-SHA256 of the raw body with the app's secret;
  X-Shopify-Webhook-Id is the same for every retry of a delivery).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from vendors import Answer, Call, StandIn

VERSION = "2024-10"
CUSTOMERS = f"/admin/api/{VERSION}/customers.json"
START = datetime(2026, 1, 1, tzinfo=UTC)


def shopify_customer(i: int) -> dict[str, Any]:
    return {
        "id": 207119551 + i,
        "email": f"bob{i}@example.com",
        "first_name": f"Bob{i}",
        "last_name": "Norman",
        "updated_at": (START + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "email_marketing_consent": {
            "state": "subscribed" if i % 2 else "not_subscribed",
            "opt_in_level": "single_opt_in",
        },
    }


def webhook(
    secret: str, topic: str, payload: dict[str, Any], webhook_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return body, {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Shop-Domain": "standin.myshopify.com",
        "X-Shopify-API-Version": VERSION,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        "Content-Type": "application/json",
    }


class Shopify(StandIn):
    def __init__(self, token: str = "shpat_standin", customers: int = 0) -> None:
        super().__init__()
        self.token = token
        self.count = customers

    def answer(self, call: Call) -> Answer:
        if call.headers.get("x-shopify-access-token") != self.token:
            return Answer(
                401,
                {
                    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
                },
            )
        if call.path != CUSTOMERS or call.method != "GET":
            return Answer(404, {"errors": "Not Found"})
        limit = int(call.arg("limit", "50") or 50)
        if limit > 250:
            return Answer(400, {"errors": {"limit": ["must be at most 250"]}})
        page_info = call.arg("page_info")
        if page_info is not None:
            if set(call.query) - {"page_info", "limit", "fields"}:
                return Answer(
                    400,
                    {
                        "errors": {
                            "page_info": [
                                "Invalid value: only limit and fields may go with page_info"
                            ]
                        }
                    },
                )
            since, after = json.loads(base64.urlsafe_b64decode(page_info))
        else:
            since, after = call.arg("updated_at_min"), 0
        rows = [
            c
            for c in (shopify_customer(i) for i in range(1, self.count + 1))
            if (since is None or c["updated_at"] >= since) and c["id"] > after
        ]
        page = rows[:limit]
        headers = {}
        if len(rows) > limit:
            cursor = base64.urlsafe_b64encode(json.dumps([since, page[-1]["id"]]).encode()).decode()
            headers["Link"] = (
                f'<{self.base_url}{CUSTOMERS}?limit={limit}&page_info={cursor}>; rel="next"'
            )
        return Answer(200, {"customers": page}, headers)
