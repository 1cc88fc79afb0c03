"""HTTP from campaigns: the mechanics ``http-request`` and ``api`` share.

- ``calls``: ``HttpCall``, ``CallPolicy``, ``HttpOutcome``, idempotency keys, masking.
- ``guard``: the address guard at connect time (no loopback, private, link-local, ...).
- ``retry``: backoff with jitter, ``Retry-After``, the rate limit.
- ``client``: ``HttpClient``, the production sink (httpx, pooled, bounded, guarded).
- ``captured``: ``CapturedHttp``, the replay sink (no network; ``200 {}``).
- ``render``: headers with ``${VAR}`` secrets, bodies, query strings, ``save`` templates.
- ``delivery``: send an object's calls and route its journeys by the outcome.

Nothing is imported here, so loading a flow does not load httpx; import the modules.
"""
