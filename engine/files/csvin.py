"""Reading CSV files for imports, streamed: a row at a time, whatever the file's size.

The file's encoding is one of utf-8, utf-8-sig, cp1252 and latin-1; a UTF-8 byte order mark is
skipped (and refused, with the fix, when the file is said to be cp1252 or latin-1), UTF-16 and
binary files are refused. The delimiter is the one given, else the one of ``, ; TAB |`` that the
header row holds most. Quoted values may hold delimiters and line breaks; line endings may be
mixed. Everything that makes the file unreadable (wrong encoding, an unbalanced quote, a value
longer than the csv module's limit, NUL bytes, no header) raises an ``InputError`` naming the
file, the line and the fix. Rows carry the line they start on (the header is line 1).

``read_csv`` reads a place of a flow (imports, csv-trigger); ``read_csv_file`` a file named on
the command line (replay's and start's ``--customers``, replay's ``--events``), the same way.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from engine.errors import InputError

if TYPE_CHECKING:
    from engine.files.places import Place

ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1")
DELIMITERS = (",", ";", "\t", "|")
SAMPLE = 65536
_QUOTED = re.compile(r'"[^"]*"')
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


class _NulByte(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class _Bytes(io.RawIOBase):
    """The file's bytes after the byte order mark, refusing NUL bytes, counting what was read
    (for progress bars)."""

    def __init__(self, handle: BinaryIO, first: bytes) -> None:
        self.handle = handle
        self.first = memoryview(first)
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.first:
            count = min(len(buffer), len(self.first))
            buffer[:count] = self.first[:count]
            self.first = self.first[count:]
        else:
            data = self.handle.read(len(buffer))
            count = len(data)
            buffer[:count] = data
            at = data.find(b"\x00")
            if at >= 0:
                raise _NulByte(self.consumed + at)
        self.consumed += count
        return count


@dataclass
class CsvRows:
    """An open CSV: its header (names stripped of spaces), its delimiter, and its rows."""

    source: str
    header: list[str]
    delimiter: str
    encoding: str
    _reader: Any
    _bytes: _Bytes
    _start: int
    _place: Place

    @property
    def bytes_read(self) -> int:
        return self._bytes.consumed

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        """(line the row starts on, its cells); blank lines are skipped."""
        reader = self._reader
        start = self._start
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, _NulByte) as exc:
                raise _undecodable(self._place, self.encoding, exc) from None
            except csv.Error as exc:
                raise _unreadable(self.source, start, exc) from None
            if cells and (len(cells) > 1 or cells[0]):
                yield start, cells
            start = reader.line_num + 1

    def dicts(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        """(line the row starts on, its cells by column name); a missing cell is None, a
        column without a name is left out, and a row with more cells than the header has
        columns is refused."""
        header = self.header
        for line, cells in self:
            if len(cells) > len(header):
                raise InputError(f"{self.source}:{line}: more cells than header columns")
            row: dict[str, str | None] = dict.fromkeys(header)
            row.update(zip(header, cells, strict=False))
            row.pop("", None)
            yield line, row


@contextmanager
def read_csv(
    place: Place, *, encoding: str = "utf-8", delimiter: str | None = None
) -> Iterator[CsvRows]:
    """Open ``place`` as a CSV; the header row is read, the rows stream as you iterate."""
    if encoding not in ENCODINGS:
        raise InputError(f"encoding '{encoding}' is not supported; use {', '.join(ENCODINGS)}")
    source = str(place)
    with place.reader() as handle:
        first = handle.read(SAMPLE)
        codec = _check_start(source, first, encoding)
        if first.startswith(codecs.BOM_UTF8):
            first = first[len(codecs.BOM_UTF8) :]
        if b"\x00" in first:
            raise _undecodable(place, encoding, _NulByte(first.find(b"\x00")))
        raw = _Bytes(handle, first)
        text = io.TextIOWrapper(io.BufferedReader(raw, SAMPLE), encoding=codec, newline="")
        yield _open(place, text, raw, encoding, delimiter)


@contextmanager
def read_csv_file(path: Path, *, encoding: str = "utf-8") -> Iterator[CsvRows]:
    """``read_csv`` of a file on this machine named on the command line; messages name it
    as it was given."""
    from engine.files.folder import LocalFolder
    from engine.files.places import Place

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with read_csv(Place(LocalFolder(Path(), ""), str(path), "local"), encoding=encoding) as rows:
        yield rows


def _check_start(source: str, first: bytes, encoding: str) -> str:
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(
            f"{source}: the file is UTF-16 text (it starts with a UTF-16 byte order mark); save "
            "it as UTF-8 (in Excel: CSV UTF-8), or as cp1252 and set encoding: cp1252"
        )
    if first.startswith(codecs.BOM_UTF8):
        if encoding in ("cp1252", "latin-1"):
            raise InputError(
                f"{source}: the file starts with a UTF-8 byte order mark, so it is UTF-8 text, "
                f"not {encoding}; set encoding: utf-8-sig"
            )
        return "utf-8"
    return "utf-8" if encoding == "utf-8-sig" else encoding


def _open(
    place: Place, text: io.TextIOWrapper, raw: _Bytes, encoding: str, delimiter: str | None
) -> CsvRows:
    source = str(place)
    blank: list[str] = []
    try:
        line = text.readline()
        while line and not line.strip():
            blank.append(line)
            line = text.readline()
    except (UnicodeDecodeError, _NulByte) as exc:
        raise _undecodable(place, encoding, exc) from None
    if not line:
        raise InputError(
            f"{source}: the file is empty; it needs a header row naming the columns, then a "
            "row per customer or record"
        )
    chosen = delimiter or sniff(line)
    reader = csv.reader(chain(blank, [line], text), delimiter=chosen, strict=True)
    header: list[str] = []
    try:
        while not header:
            header = next(reader)
    except (UnicodeDecodeError, _NulByte) as exc:
        raise _undecodable(place, encoding, exc) from None
    except csv.Error as exc:
        raise _unreadable(source, len(blank) + 1, exc) from None
    names = [name.strip() for name in header]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise InputError(
                f"{source}: the header names column '{name}' twice; give every column its own name"
            )
        seen.add(name)
    return CsvRows(source, names, chosen, encoding, reader, raw, reader.line_num + 1, place)


def sniff(line: str) -> str:
    """The delimiter a header line uses most, outside quotes (a comma when it uses none)."""
    bare = _QUOTED.sub("", line)
    counts = {d: bare.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def delimiter_name(delimiter: str) -> str:
    return _NAMES.get(delimiter, f"'{delimiter}'")


def _undecodable(place: Place, encoding: str, exc: Exception) -> InputError:
    """The error for bytes that are not text in ``encoding`` (or NUL bytes), with the line
    they are on: the file is read again up to them (decoding runs ahead of the lines)."""
    source = str(place)
    line, offset, bad = _locate(place, encoding)
    if isinstance(exc, _NulByte):
        return InputError(
            f"{source}: line {line} holds a NUL byte (byte offset {offset}), so the file is not "
            "CSV text; is it UTF-16 or a spreadsheet (.xlsx)? Save it as CSV UTF-8"
        )
    hint = (
        "files saved by Excel on Windows are usually cp1252: set encoding: cp1252"
        if encoding.startswith("utf-8")
        else "set encoding: to the file's encoding (utf-8, utf-8-sig, cp1252 or latin-1)"
    )
    return InputError(
        f"{source}: line {line} is not valid {encoding} text (bytes {bad.hex(' ')} at byte "
        f"offset {offset}); {hint}"
    )


def _locate(place: Place, encoding: str) -> tuple[int, int, bytes]:
    """(line, byte offset, bytes) of the first NUL byte or undecodable bytes in the file."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    decoder = codecs.getincrementaldecoder(codec)("strict")
    line, offset, last = 1, 0, b""
    with place.reader() as handle:
        while chunk := handle.read(SAMPLE):
            stop = chunk.find(b"\x00")
            try:
                decoder.decode(chunk if stop < 0 else chunk[:stop])
            except UnicodeDecodeError as exc:
                stop = max(0, exc.start - (len(exc.object) - len(chunk)))
            if stop >= 0:
                line += _breaks(chunk[:stop], last)
                return line, offset + stop, chunk[stop : stop + 4]
            line += _breaks(chunk, last)
            last, offset = chunk[-1:], offset + len(chunk)
    return line, offset, b""


def _breaks(chunk: bytes, last: bytes) -> int:
    """Line breaks (CRLF, CR or LF) in ``chunk``; ``last`` is the byte before it."""
    count = chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
    return count - 1 if last == b"\r" and chunk.startswith(b"\n") else count


def _unreadable(source: str, line: int, exc: Exception) -> InputError:
    message = str(exc)
    if "unexpected end of data" in message:
        return InputError(
            f"{source}: the quoted value that starts on line {line} is never closed (an "
            'unbalanced "); close the quote, and double quotes inside a value ("")'
        )
    if "field larger than field limit" in message:
        return InputError(
            f"{source}: line {line} holds a value longer than {csv.field_size_limit():,} "
            'characters; is a quote (") left open?'
        )
    if "expected after" in message:
        return InputError(
            f"{source}: line {line} has text right after a closing quote; quotes inside a "
            'quoted value must be doubled ("")'
        )
    return InputError(f"{source}: line {line} is not valid CSV: {message}")
