"""Squeezely (now Spotler Activate) stand-in.

Documented publicly:
- https://app.squeezely.tech/developer/api/docs (also https://squeezely.tech/documentation):
  front-end and back-end ("server to server ... via our API") tracking; the standard events
  and their fields (Purchase with email, orderid, currency, products of {id, name, price,
  quantity}; EmailOptIn; PageView ...); dates in CET or ISO 8601/ATOM/W3C with a zone, else
  TIMESTAMP_ERROR; GET https://api.squeezely.tech/v1/contacts as an example of the API host.
- Squeezely's help pages on the back-end purchase
  (https://squeezely.atlassian.net/wiki/pages/viewpage.action?pageId=2617999488 and its Dutch
  versions; https://activate.spotler.help/hc/en-gb/articles/21715997222034): authentication by
  the headers X-AUTH-ACCOUNT (the account id) and X-AUTH-APIKEY (the API key, never in
  front-end code); a body in JSON or as POST parameters, answers always JSON; at least event,
  email, orderid and products {id (the SKU), quantity}; currency with several currencies;
  merged with front-end purchases on the order id. Custom back-end events need event and
  email.
Not in any public page found, built as Squeezely's own API clients call it (its Magento
plugin's SqueezelyApiHelper: TRACKER_END_POINT https://api.squeezely.tech/v1/track, and a
server-side GTM template): POST /v1/track with a body {"events": [...]}. The help pages say the
endpoints are "on https://squeezely.tech", the clients use api.squeezely.tech. The answer's
shape ({"success": true, "processed": N}), the statuses (401 for a wrong key, 400 for an event
without "event" or without email/userid), batch limits and rate limits are the stand-in's
assumptions: none is documented.
"""

from __future__ import annotations

from typing import Any

from vendors import Answer, Call, StandIn

TRACK = "/v1/track"


class Squeezely(StandIn):
    def __init__(self, account: str = "sqz-account", api_key: str = "sqz-key") -> None:
        super().__init__()
        self.account, self.api_key = account, api_key
        self.events: list[dict[str, Any]] = []

    def answer(self, call: Call) -> Answer:
        auth = (call.headers.get("x-auth-account"), call.headers.get("x-auth-apikey"))
        if auth != (self.account, self.api_key):
            return Answer(401, {"success": False, "errors": ["Not authorized"]})
        if call.path != TRACK or call.method != "POST":
            return Answer(404, {"success": False, "errors": ["Not found"]})
        events = call.json().get("events")
        if not isinstance(events, list) or not events:
            return Answer(400, {"success": False, "errors": ["events must be a non-empty list"]})
        for event in events:
            if not event.get("event") or not (event.get("email") or event.get("userid")):
                return Answer(
                    400,
                    {"success": False, "errors": ["each event needs event and email or userid"]},
                )
        with self.lock:
            self.events.extend(events)
        return Answer(200, {"success": True, "processed": len(events)})
