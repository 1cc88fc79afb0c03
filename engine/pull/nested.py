"""Records nested in pulled items, such as an order's line items: ``records`` of an HTTP import
names, per list inside each item, the collection its elements go to and their ``columns``.
Each nested record keeps its parent's key (a line item gets its order's ``order_id``) and its
parent's customer link (``customer.email`` and the like), so it joins back to its order and
belongs to the order's customer, as nested records of a webhook payload do.

While the pages are read the nested rows are spooled to a temporary CSV (in memory up to a
MB, then on disk); once the items are imported they are imported from it in the same
transaction, with the same rules (typing, rejects with the parent item's number,
``max_rejects``, all or nothing).
The header cells the parent gives are named ``^PATH`` (its item path), in the rejects file too.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.errors import InputError
from engine.files.imports import LINKS, ImportSpec
from engine.model.project import collection_of
from engine.model.validation import did_you_mean
from engine.pull.pages import cell
from engine.pull.settings import NestedRecords
from engine.webhooks.payload import lookup, split_path

if TYPE_CHECKING:
    from engine.model.project import Project

PARENT = "^"
_IN_MEMORY = 1 << 20  # bytes of spooled rows kept in memory before they go to a file


def inherited(spec: ImportSpec, nested: NestedRecords, project: Project) -> dict[str, str]:
    """The parent's item paths a nested record keeps, by the field they fill: the parent's key
    (when the nested collection has that field and its columns do not fill it) and its
    customer link columns. ``InputError`` when the nested records cannot keep the key."""
    if spec.into == "customers":
        raise InputError("records: nested records come with a collection import (into: ...)")
    key = spec.key or collection_of(project, spec.into).key
    target = collection_of(project, nested.collection)
    for name in nested.columns.values():
        if name not in target.fields and name not in LINKS:
            raise InputError(
                f"records: '{name}' is not a field of collection '{nested.collection}'"
                f"{did_you_mean(name, list(target.fields))}"
            )
    mapped = set(nested.columns.values())
    if key not in target.fields:
        raise InputError(
            f"records: collection '{nested.collection}' has no field '{key}' to keep its "
            f"parent's key in; add {key} to its fields"
        )
    kept = {}
    for path, name in (spec.columns or {}).items():
        if (name == key or name in LINKS) and name not in mapped:
            kept[name] = path
    if target.key not in mapped:
        raise InputError(
            f"records: map an element path to '{target.key}', the key of "
            f"'{nested.collection}'; every record needs it"
        )
    return kept


class Spool:
    """The rows of one ``records`` entry while a pull reads its pages, then read back as the
    ``Rows`` of their import (each row numbered with its parent item's number)."""

    delimiter = ","
    bytes_read = 0

    def __init__(self, nested: NestedRecords, kept: Mapping[str, str], header: Sequence[str]):
        self.nested = nested
        self.source = f"{nested.path} ({nested.collection})"
        self._list = split_path(nested.path)
        self._paths = [split_path(path) for path in nested.columns]
        self._parent = [list(header).index(path) for path in kept.values()]
        self.header = [*nested.columns, *(PARENT + path for path in kept.values())]
        self.spec_columns = {
            **nested.columns,
            **{PARENT + path: name for name, path in kept.items()},
        }
        # closed by ``close`` once imported (the pull closes every spool it made)
        self._file = tempfile.SpooledTemporaryFile(_IN_MEMORY, mode="w+", newline="")  # noqa: SIM115
        self._writer = csv.writer(self._file)
        self.count = 0

    def add(self, number: int, item: Any, row: Sequence[str]) -> None:
        """The elements of the item's list, with the parent's cells."""
        found = lookup(item, self._list)
        if not isinstance(found, list):
            return
        parent = [row[index] for index in self._parent]
        for element in found:
            self._writer.writerow(
                [number, *[cell(lookup(element, p)) for p in self._paths], *parent]
            )
            self.count += 1

    def spec(self, parent: ImportSpec) -> ImportSpec:
        return ImportSpec(
            into=self.nested.collection, columns=self.spec_columns, max_rejects=parent.max_rejects
        )

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        self._file.seek(0)
        for number, *cells in csv.reader(self._file):
            yield int(number), cells

    def close(self) -> None:
        self._file.close()
