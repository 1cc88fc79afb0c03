"""HTTP from campaigns: the mechanics ``http-request`` and ``api`` share.

- ``calls``: ``HttpCall``, ``CallPolicy``, ``HttpOutcome``, idempotency keys, masking.
- ``guard``: the address guard at connect time (no loopback, private, link-local, ...).
- ``retry``: backoff with jitter, ``Retry-After``.
- ``rates``: the rate limit, per process or shared by every worker through the database.
- ``client``: ``HttpClient``, the production sink (httpx, pooled, bounded, guarded).
- ``captured``: ``CapturedHttp``, the replay sink (no network; ``200 {}``).
- ``render``: headers with ``${VAR}`` secrets, bodies, query strings, ``save`` templates.
- ``lookups``: per-customer values compiled once (plain lookups without Jinja).
- ``bodies``: JSON bodies of ``fields`` written column by column for a whole batch.
- ``delivery``: send an object's calls and route its journeys by the outcome.

Nothing is imported here, so loading a flow does not load httpx; import the modules.
"""
