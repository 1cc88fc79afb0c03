"""Reading an API's pages as rows to import: each page is one GET through the run's HTTP sink
(retries, timeouts, the address guard, a connection's token), its items become rows whose
cells are the values at the ``columns`` paths, and the next page comes from the Link header,
a cursor field or the page number. Pages are read on a thread up to ``AHEAD`` pages ahead
of the import storing them, in order, so waiting for the API and storing overlap. A page that
fails (after its retries), an answer that is not JSON, or a page that repeats the one before
stops the pull with an ``InputError`` once the pages before it are stored: the caller's
transaction rolls back and the next pull asks again from the same point."""

from __future__ import annotations

import hashlib
import json
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit

from engine.errors import InputError, TransientError
from engine.http.calls import CallPolicy, HttpCall, HttpOutcome
from engine.model.durations import format_duration
from engine.pull.settings import CursorPaging, PagePaging, PullSettings
from engine.sdk.effects import HttpSink
from engine.webhooks.payload import MISSING, lookup, split_path

if TYPE_CHECKING:
    from engine.pull.nested import Spool

AHEAD = 16  # pages read ahead of the storing
_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*rel="?next"?', re.IGNORECASE)


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` URL of a Link header (RFC 8288), or None."""
    found = _NEXT.search(header or "")
    return found.group(1) if found else None


def cell(value: Any) -> str:
    """A JSON value as the text of a CSV cell (typed later as every import types cells)."""
    if value is MISSING or value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class ItemRows:
    """The items of every page as rows (``Rows`` of the import): ``header`` the item paths
    of ``columns``; the number of each row is the item's position in the pull."""

    delimiter = ","

    def __init__(
        self,
        settings: PullSettings,
        paths: Sequence[str],
        sink: HttpSink,
        policy: CallPolicy,
        *,
        since: str | None,
        base_url: str = "",
        nested: Sequence[Spool] = (),
    ) -> None:
        self.settings, self.sink, self.policy = settings, sink, policy
        self.header = list(paths)
        self._paths = [split_path(p) for p in paths]
        self._since_path = split_path(settings.since.field) if settings.since else None
        self.since = since
        self.newest: str | None = None  # the newest change time among the items read
        self.pages = 0
        self._read = 0
        self.base_url = base_url
        self.nested = nested
        self.source = self.first_url()

    @property
    def bytes_read(self) -> int:
        return self._read

    def first_url(self, extra: dict[str, str] | None = None) -> str:
        settings = self.settings
        scope = {"since": self.since or ""}
        query = {name: t.render(scope) for name, t in settings.query.items()}
        query.update(extra or {})
        url = settings.url
        if not query:
            return url
        return url + ("&" if "?" in url else "?") + urlencode(query)

    def _get(self, url: str) -> HttpOutcome:
        headers = {"Accept": "application/json", **self.settings.headers}
        [answer] = self.sink.send_all([HttpCall("GET", url, headers)], self.policy)
        self._read += len(answer.body)
        self.pages += 1
        if answer.later is not None:  # a longer wait than a pull waits out: the pull goes again
            raise TransientError(
                f"{_shown(url)}: {answer.reason.removeprefix('failed: ')}; nothing of this pull "
                f"is imported and it goes again in {_seconds(answer.later)}",
                later=answer.later,
            )
        if not answer.ok:
            raise InputError(
                f"{_shown(url)}: {answer.reason.removeprefix('failed: ')}; nothing of this pull "
                "is imported and the next pull asks again from the same point"
            )
        if answer.json is None and answer.body.strip():
            raise InputError(f"{_shown(url)}: the answer is not JSON")
        return answer

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        count = 0
        paths, nested = self._paths, self.nested
        for found in self._read_ahead():
            for item in found:
                count += 1
                self._note_since(item)
                row = [cell(lookup(item, path)) for path in paths]
                for spool in nested:
                    spool.add(count, item, row)
                yield count, row

    def _read_ahead(self) -> Iterator[list[Any]]:
        """The items of each page in order, read on a thread up to ``AHEAD`` pages ahead of
        the caller, so the API's time to answer overlaps the storing of the pages before. A
        failure comes out where its page would have: after the pages before it."""
        pages: queue.Queue[list[Any] | BaseException | None] = queue.Queue(AHEAD)
        stop = threading.Event()

        def put(value: list[Any] | BaseException | None) -> bool:
            while not stop.is_set():
                try:
                    pages.put(value, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def read() -> None:
            try:
                for found in self._pages():
                    if not put(found):
                        return
                put(None)
            except BaseException as exc:  # handed to the caller, raised there in page order
                put(exc)

        reader = threading.Thread(target=read, name="sluis-pull", daemon=True)
        reader.start()
        try:
            while (got := pages.get()) is not None:
                if isinstance(got, BaseException):
                    raise got
                yield got
        finally:
            stop.set()
            reader.join()

    def _pages(self) -> Iterator[list[Any]]:
        """The items of each page in order, following the paging to the end."""
        settings, paging = self.settings, self.settings.paginate
        page_number = paging.start if isinstance(paging, PagePaging) else 0
        url: str | None = (
            self.first_url({paging.page: str(page_number)})
            if isinstance(paging, PagePaging)
            else self.first_url()
        )
        seen_pages: set[bytes] = set()
        count = 0
        items_path = split_path(settings.items)
        while url is not None:
            if self.pages >= settings.max_pages:
                raise InputError(
                    f"{_shown(url)}: more than {settings.max_pages:,} pages; raise max_pages "
                    "or narrow the query"
                )
            answer = self._get(url)
            digest = hashlib.blake2b(answer.body, digest_size=16).digest()
            if digest in seen_pages and answer.body.strip():
                raise InputError(
                    f"{_shown(url)}: the API answered a page it answered before, so the pages "
                    "would never end; set paginate's total (or size) to where the API says "
                    "how many items there are"
                )
            seen_pages.add(digest)
            found = lookup(answer.json, items_path)
            if found is MISSING or found is None:
                found = []
            if not isinstance(found, list):
                raise InputError(f"{_shown(url)}: items '{settings.items}' is not a list")
            count += len(found)
            yield found
            url = self._next(url, answer, found, page_number, count)
            page_number += 1

    def _note_since(self, item: Any) -> None:
        if self._since_path is None:
            return
        value = lookup(item, self._since_path)
        if value is MISSING or value is None:
            return
        text = str(value)
        if self.newest is None or text > self.newest:
            self.newest = text

    def _next(
        self, url: str, answer: HttpOutcome, items: list[Any], page: int, count: int
    ) -> str | None:
        paging = self.settings.paginate
        if paging is None:
            return None
        if paging == "link":
            found = next_link(answer.headers.get("link"))
            return urljoin(url, found) if found else None
        if isinstance(paging, CursorPaging):
            value = lookup(answer.json, split_path(paging.cursor))
            if value is MISSING or value in (None, "", False):
                return None
            if paging.param is None:
                text = str(value)
                if text.startswith("/") and self.base_url:
                    return self.base_url + text
                return urljoin(url, text)
            return self.first_url({paging.param: str(value)})
        if not items:
            return None
        if paging.size is not None and len(items) < paging.size:
            return None
        if paging.total is not None:
            total = lookup(answer.json, split_path(paging.total))
            if isinstance(total, int | str) and str(total).isdigit() and count >= int(total):
                return None
        return self.first_url({paging.page: str(page + 1)})


def _seconds(seconds: float) -> str:
    return format_duration(timedelta(seconds=max(1, round(seconds))))


def _shown(url: str) -> str:
    """A URL for messages: without its query (which may be long, or hold a cursor)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else parts.path
