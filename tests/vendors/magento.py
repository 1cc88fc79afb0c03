"""Magento 2 stand-in.

Follows:
- Search using REST endpoints (searchCriteria):
  https://developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/
  (``searchCriteria[filterGroups][0][filters][0][field|value|conditionType]``,
  ``searchCriteria[pageSize]``, ``searchCriteria[currentPage]`` from 1; the answer is
  ``{"items": [...], "search_criteria": {...}, "total_count": N}``. As Magento does, a
  ``currentPage`` past the last page answers the last page again, so a client must stop on
  ``total_count``.)
- GET /rest/V1/customers/search and GET /rest/V1/orders (Adobe Commerce REST reference,
  https://adobe-commerce.redoc.ly/2.4.7-admin/): customers with id, email, firstname,
  lastname, updated_at and extension_attributes.is_subscribed; orders with entity_id,
  increment_id, customer_email, grand_total, status, updated_at and their ``items``.
- Order items: each element of an order's ``items`` is a sales order item
  (the Sales module's OrderItemInterface in the reference above; the same shape
  GET /V1/orders/items answers, e.g.
  https://prismatic.io/docs/example-payloads/adobe-commerce-magento/actions/listOrderItems.json):
  item_id, order_id, sku, name, product_type, qty_ordered, price, row_total, created_at,
  updated_at.
- Newsletter subscribers: Magento's own REST API lists none (its Newsletter module has no
  web API for subscribers; guests subscribe through the storefront or GraphQL
  subscribeEmailToNewsletter, https://developer.adobe.com/commerce/webapi/graphql/schema/customer/mutations/subscribe-email-to-newsletter/).
  The stand-in answers GET /rest/V1/subscribers as the albedo/module-newsletter-api extension
  does (https://github.com/adamkarnowka/magento2-newsletter-api, etc/webapi.xml: route
  GET /V1/subscribers, searchCriteria, resource Albedo_NewsletterApi::read; items with
  subscriber_id, store_id, subscriber_email, subscriber_status (1 subscribed, 2 not active,
  3 unsubscribed, 4 unconfirmed, as Magento's Newsletter Subscriber model has them), change_status_at),
  filtering on the table's columns (customer_id 0 for guests).
- Token-based authentication with an integration's access token:
  https://developer.adobe.com/commerce/webapi/get-started/authentication/gs-authentication-token/
  (``Authorization: Bearer TOKEN``; otherwise 401 "The consumer isn't authorized to access
  %resources.").
Rows are made from their position (``customer(i)``, ``order(i)``), with ``updated_at``
growing with it, so 100,000 orders cost no memory in the stand-in.
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta
from typing import Any

from vendors import Answer, Call, StandIn, bearer

START = datetime(2026, 1, 1, tzinfo=UTC)
SC = "searchCriteria"
FILTER = f"{SC}[filterGroups][0][filters][0]"


def stamp(i: int) -> str:
    return (START + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")


def customer(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "group_id": 1,
        "email": f"m{i}@example.com",
        "firstname": f"Mia{i}",
        "lastname": "Jansen",
        "created_at": stamp(i),
        "updated_at": stamp(i),
        "website_id": 1,
        "extension_attributes": {"is_subscribed": i % 2 == 0},
    }


def order(i: int) -> dict[str, Any]:
    return {
        "entity_id": i,
        "increment_id": f"{100000000 + i}",
        "customer_id": i % 500 + 1,
        "customer_email": f"m{i % 500 + 1}@example.com",
        "customer_firstname": f"Mia{i % 500 + 1}",
        "grand_total": round(10 + (i % 90) + 0.95, 2),
        "status": "complete" if i % 3 else "processing",
        "created_at": stamp(i),
        "updated_at": stamp(i),
        "items": [
            {
                "item_id": i * 10 + line,
                "order_id": i,
                "sku": f"SKU-{(i + line) % 40}",
                "name": f"Product {(i + line) % 40}",
                "product_type": "simple",
                "qty_ordered": line,
                "price": 10.0,
                "row_total": 10.0 * line,
                "created_at": stamp(i),
                "updated_at": stamp(i),
            }
            for line in range(1, 1 + (i % 2) + 1)  # one or two lines
        ],
    }


def subscriber(i: int) -> dict[str, Any]:
    """Subscriber i: odd ones are guests (customer_id 0); every third has unsubscribed."""
    return {
        "subscriber_id": i,
        "store_id": 1,
        "customer_id": 0 if i % 2 else i,
        "subscriber_email": f"guest{i}@example.com" if i % 2 else f"m{i}@example.com",
        "subscriber_status": 3 if i % 3 == 0 else 1,
        "change_status_at": stamp(i),
        "subscriber_confirm_code": f"code{i}",
    }


class Magento(StandIn):
    def __init__(
        self,
        token: str = "magento-integration-token",
        *,
        customers: int = 0,
        orders: int = 0,
        subscribers: int = 0,
        max_page_size: int = 300,
    ) -> None:
        super().__init__()
        self.token = token
        self.counts = {"customers": customers, "orders": orders}
        self.subscribers = [subscriber(i) for i in range(1, subscribers + 1)]
        self.max_page_size = max_page_size

    def answer(self, call: Call) -> Answer:
        if bearer(call.headers) != self.token:
            return Answer(
                401,
                {
                    "message": "The consumer isn't authorized to access %resources.",
                    "parameters": {"resources": "Magento_Customer::customer"},
                },
            )
        if call.method != "GET":
            return Answer(405, {"message": "Request does not match any route."})
        if call.path == "/rest/V1/customers/search":
            return self._search(call, "customers", customer)
        if call.path == "/rest/V1/orders":
            return self._search(call, "orders", order)
        if call.path == "/rest/V1/subscribers":
            return self._subscribers(call)
        return Answer(404, {"message": "Request does not match any route."})

    def _search(self, call: Call, kind: str, make: Any) -> Answer:
        count = self.counts[kind]
        first = 1
        field, value = call.arg(f"{FILTER}[field]"), call.arg(f"{FILTER}[value]")
        condition = call.arg(f"{FILTER}[conditionType]", "eq")
        if field is not None:
            if field != "updated_at" or condition not in ("gt", "gteq"):
                return Answer(400, {"message": f'"{field}" with {condition} is not supported here'})
            stamps = _Stamps(count)
            if condition == "gt":
                first = bisect.bisect_right(stamps, value or "")
            else:
                first = bisect.bisect_left(stamps, value or "")
            first += 1
        try:
            size = int(call.arg(f"{SC}[pageSize]", "20") or 20)
            page = int(call.arg(f"{SC}[currentPage]", "1") or 1)
        except ValueError:
            return Answer(400, {"message": "pageSize and currentPage must be numbers"})
        if size > self.max_page_size:
            return Answer(400, {"message": f"pageSize may be at most {self.max_page_size}"})
        total = max(0, count - first + 1)
        pages = max(1, -(-total // size))
        page = min(max(page, 1), pages)  # past the end: Magento answers the last page again
        start = first + (page - 1) * size
        items = [make(i) for i in range(start, min(start + size, count + 1))]
        return Answer(
            200,
            {
                "items": items,
                "search_criteria": {"page_size": size, "current_page": page},
                "total_count": total,
            },
        )

    def _subscribers(self, call: Call) -> Answer:
        """searchCriteria over the subscribers: filter groups AND, filters in a group OR."""
        groups: dict[str, list[tuple[str, str, str]]] = {}
        for name, values in call.query.items():
            if name.startswith(f"{SC}[filterGroups][") and name.endswith("[field]"):
                prefix = name.removesuffix("[field]")
                group = name.split("][")[1]
                condition = call.arg(f"{prefix}[conditionType]", "eq") or "eq"
                value = call.arg(f"{prefix}[value]", "") or ""
                groups.setdefault(group, []).append((values[0], condition, value))
        tests = {"eq": str.__eq__, "gt": str.__gt__, "gteq": str.__ge__}
        columns = set(subscriber(1))
        for field, condition, _ in [f for filters in groups.values() for f in filters]:
            if field not in columns or condition not in tests:
                return Answer(400, {"message": f'"{field}" with {condition} is not supported here'})
        found = [
            s
            for s in self.subscribers
            if all(
                any(tests[c](str(s[f]), v) for f, c, v in filters) for filters in groups.values()
            )
        ]
        size = int(call.arg(f"{SC}[pageSize]", "20") or 20)
        pages = max(1, -(-len(found) // size))
        page = min(max(int(call.arg(f"{SC}[currentPage]", "1") or 1), 1), pages)
        items = [
            {k: v for k, v in s.items() if k != "customer_id"}  # not in SubscriberInterface
            for s in found[(page - 1) * size : page * size]
        ]
        return Answer(
            200,
            {
                "items": items,
                "search_criteria": {"page_size": size, "current_page": page},
                "total_count": len(found),
            },
        )


class _Stamps:
    """updated_at of rows 1..count as a sequence, for bisect (row i is at index i - 1)."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> str:
        return stamp(index + 1)
