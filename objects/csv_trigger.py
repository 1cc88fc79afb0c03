"""``csv-trigger``: watches a folder; a file dropped in ``upload/`` whose name matches starts
the flow for exactly the customers in it.

Every ``poll`` (default 30s) the trigger looks at ``WATCH/upload/`` for files matching ``match``
(a glob on the file name, any case; default ``<flow name>*.csv``). A file is taken only once its
size and modification time are the same at two polls in a row, so a file still being uploaded
waits. Taking a file moves it to ``active/``; then it is imported into customers (``key``,
``columns``, ``delimiter``, ``encoding``, ``max_rejects`` as for ``import``), and every imported
customer (new, changed or unchanged) enters the flow with ``data.file``, ``data.import_status``
and ``data.row``, in one transaction. Then the file moves to ``done/`` (its rejected rows beside
it as ``NAME.rejects.csv``), or, when it could not be imported, to ``failed/`` with
``NAME.error.txt`` saying why; nothing of a failed file is written. Names never replace a file:
``-2``, ``-3``, ... go before the extension.

Progress is recorded in the database, so a file is processed once even when the engine stops
halfway (see ``engine/files/trigger.py``, which keeps the folder's state).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Literal

from engine.sdk import CampaignObject, Duration, Entry, Every, LocationText, RunContext, Trigger
from objects.import_ import CsvImportSettings


class CsvTriggerSettings(CsvImportSettings):
    type: Literal["csv-trigger"]
    watch: LocationText
    match: str | None = None
    poll: Duration = timedelta(seconds=30)


class CsvTrigger(CampaignObject[CsvTriggerSettings]):
    type = "csv-trigger"
    can_start = True
    only_start = True
    entry_reason = "in the dropped file"

    def trigger(self) -> Trigger:
        return Every(self.settings.poll)

    def entries(self, *, ctx: RunContext) -> Iterator[list[Entry]]:
        settings = self.settings
        match = settings.match or f"{self.flow.name}*.csv"
        found = ctx.files.trigger(
            settings.watch, settings.spec(), match=match, retries=settings.retries
        )
        return found.entries()
