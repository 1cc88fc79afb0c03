"""Salesforce stand-in.

Follows:
- OAuth 2.0 client credentials flow:
  https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm
  (POST /services/oauth2/token, grant_type=client_credentials, client id and secret as HTTP
  Basic or in the body; the answer has access_token, instance_url, token_type, issued_at and
  no expires_in; a bad client answers 400 {"error": "invalid_client", ...}).
- Upsert records using sObject Collections:
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html
  (PATCH /services/data/vXX.X/composite/sobjects/SobjectName/ExternalIdFieldName, body
  {"allOrNone": false, "records": [...]}, at most 200 records, each with attributes.type; the
  answer lists UpsertResults in the order sent: id, success, errors, created).
- Execute a SOQL query: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm
  (GET /services/data/vXX.X/query?q=SOQL answers totalSize, done, records and, while not done,
  nextRecordsUrl to GET for the next batch, "without any parameters"). The stand-in reads
  ``FROM Contact`` or ``FROM Lead``, ``IsConverted = false`` and ``LastModifiedDate > X``.
- SOQL dateTime literals (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm):
  YYYY-MM-DDThh:mm:ssZ or with +hh:mm / -hh:mm, unquoted (the REST API's date page,
  https://developer.salesforce.com/docs/platform/api-rest/guide/intro-valid-date-formats.html,
  adds optional milliseconds). The records' own dateTimes come with a +0000 offset without
  colon, a form neither page lists: the stand-in refuses it in a query as MALFORMED_QUERY.
- An expired or unknown session answers 401 [{"message": "Session expired or invalid",
  "errorCode": "INVALID_SESSION_ID"}].
"""

from __future__ import annotations

import base64
import itertools
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from vendors import Answer, Call, StandIn, bearer

VERSION = "v60.0"
INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


class Salesforce(StandIn):
    def __init__(
        self,
        client_id: str = "3MVG9sf",
        client_secret: str = "sf-secret",
        *,
        expires_in: int | None = None,
        page_size: int = 2000,
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.expires_in = expires_in  # Salesforce sends none; set it to test renewal
        self.page_size = page_size
        self.tokens: dict[str, float] = {}  # token -> when it stops working (monotonic)
        self.issued = 0
        self.contacts: dict[str, dict[str, Any]] = {}
        self.queried: list[dict[str, Any]] = []  # the contacts SOQL queries return
        self.leads: list[dict[str, Any]] = []  # the leads (IsConverted true or false)
        self._ids = itertools.count(1)
        self._cursors: dict[str, tuple[list[dict[str, Any]], int, str]] = {}

    def revoke_tokens(self) -> None:
        """Sessions end (an admin revoked them): the next call answers 401."""
        with self.lock:
            self.tokens.clear()

    def answer(self, call: Call) -> Answer:
        if call.path == "/services/oauth2/token":
            return self._token(call)
        token = bearer(call.headers)
        with self.lock:
            valid = token is not None and self.tokens.get(token, 0) > time.monotonic()
        if not valid:
            return Answer(401, INVALID_SESSION)
        base = f"/services/data/{VERSION}"
        found = re.fullmatch(base + r"/composite/sobjects/(\w+)/(\w+)", call.path)
        if found and call.method == "PATCH":
            return self._upsert(call, found.group(1), found.group(2))
        if call.path == base + "/query" and call.method == "GET":
            return self._query(call)
        if call.path.startswith(base + "/query/"):
            return self._more(call.path.rsplit("/", 1)[1])
        return Answer(
            404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
        )

    def _token(self, call: Call) -> Answer:
        form = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return Answer(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = call.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        if (client_id, secret) != (self.client_id, self.client_secret):
            return Answer(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        with self.lock:
            self.issued += 1
            token = f"00Dxx!sf-token-{self.issued}"
            life = self.expires_in if self.expires_in is not None else 7200
            self.tokens[token] = time.monotonic() + life
        answer: dict[str, Any] = {
            "access_token": token,
            "instance_url": self.base_url,
            "id": f"{self.base_url}/id/00Dxx/005xx",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": "c2lnbmF0dXJl",
        }
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        return Answer(200, answer)

    def _upsert(self, call: Call, sobject: str, external_field: str) -> Answer:
        body = call.json()
        records = body.get("records") or []
        if len(records) > 200:
            return Answer(
                400,
                [
                    {
                        "message": "Maximum number of records is 200",
                        "errorCode": "INVALID_BATCH_SIZE",
                    }
                ],
            )
        results = []
        for record in records:
            if (record.get("attributes") or {}).get("type") != sobject:
                results.append(_error("INVALID_TYPE", "attributes.type must be " + sobject))
                continue
            key = record.get(external_field)
            if not key:
                results.append(
                    _error(
                        "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{external_field}]"
                    )
                )
                continue
            if not record.get("LastName"):
                results.append(
                    _error("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]")
                )
                continue
            with self.lock:
                created = key not in self.contacts
                stored = self.contacts.setdefault(key, {"Id": f"003{next(self._ids):012d}"})
                stored.update({k: v for k, v in record.items() if k != "attributes"})
            results.append({"id": stored["Id"], "success": True, "errors": [], "created": created})
        return Answer(200, results)

    def _query(self, call: Call) -> Answer:
        soql = call.arg("q") or ""
        sobject = re.search(r"\bFROM\s+(\w+)", soql)
        if sobject is None or sobject.group(1) not in ("Contact", "Lead"):
            return Answer(400, [{"message": "unknown sObject", "errorCode": "INVALID_TYPE"}])
        rows = self.queried if sobject.group(1) == "Contact" else self.leads
        since = re.search(r"LastModifiedDate\s*>\s*(\S+)", soql)
        if since is not None:
            literal = since.group(1)
            if not re.fullmatch(
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?(Z|[+-]\d\d:\d\d)", literal
            ):
                return Answer(
                    400,
                    [{"message": f"invalid dateTime {literal!r}", "errorCode": "MALFORMED_QUERY"}],
                )
            after = _moment(literal)
            rows = [r for r in rows if _moment(r["LastModifiedDate"]) > after]
        if re.search(r"IsConverted\s*=\s*false", soql, re.IGNORECASE):
            rows = [r for r in rows if not r.get("IsConverted")]
        rows = sorted(rows, key=lambda r: (_moment(r["LastModifiedDate"]), r["Id"]))
        return self._page(rows, 0, sobject.group(1))

    def _more(self, cursor: str) -> Answer:
        with self.lock:
            found = self._cursors.get(cursor)
        if found is None:
            return Answer(
                400, [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]
            )
        return self._page(*found)

    def _page(self, rows: list[dict[str, Any]], start: int, sobject: str) -> Answer:
        end = start + self.page_size
        answer: dict[str, Any] = {
            "totalSize": len(rows),
            "done": end >= len(rows),
            "records": [{"attributes": {"type": sobject}, **r} for r in rows[start:end]],
        }
        if end < len(rows):
            cursor = f"01gxx{len(self._cursors):06d}-{end}"
            with self.lock:
                self._cursors[cursor] = (rows, end, sobject)
            answer["nextRecordsUrl"] = f"/services/data/{VERSION}/query/{cursor}"
        return Answer(200, answer)


def _moment(text: str) -> datetime:
    """A Salesforce dateTime (2026-02-01T10:00:00.000+0000, or a SOQL literal)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _error(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": []}]}
