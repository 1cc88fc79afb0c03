"""Pulls: an ``import`` whose source is an HTTP API instead of a file (``from: https://...``
or a path on a ``connection``). The answer's JSON items (``items``) become rows and go through
the same import as CSV files (types, rejects, ``max_rejects``, all or nothing); ``paginate``
follows the API's pages (``link`` header, a ``cursor`` field, or ``page`` numbers) and
``since`` keeps, per object in the database, the newest change time seen by the last
successful pull, so the next one asks only for what changed since."""
