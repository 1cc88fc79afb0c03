"""Squeezely stand-in.

What is documented publicly (https://squeezely.tech/documentation and
https://app.squeezely.tech/developer/api/docs): server-side ("back-end") tracking through the
API, the events and their fields (Purchase with email, orderid, currency and products of
{id, name, price, quantity}; EmailOptIn; PageView ...), the API host api.squeezely.tech/v1,
dates as CET or ISO 8601 (else TIMESTAMP_ERROR).
What is not confirmed by those pages, and built here as Squeezely's API clients use it:
POST /v1/track with a body {"events": [...]}, authenticated by the headers X-AUTH-ACCOUNT and
X-AUTH-APIKEY, answering {"success": true, "processed": N} (401 on a wrong key, 400 for an
event without "event" or without email/userid).
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
