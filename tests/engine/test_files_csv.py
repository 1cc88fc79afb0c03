"""Reading CSV files: encodings and byte order marks, delimiters, quoting, line endings, and a
clear error for every file that cannot be read."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.files import LocalFolder, Place
from engine.files.csvin import read_csv, sniff


def place_of(tmp_path: Path, data: bytes, name: str = "in.csv") -> Place:
    (tmp_path / name).write_bytes(data)
    return Place(LocalFolder(tmp_path, str(tmp_path)), name, "local")


def rows_of(place: Place, **options: str) -> tuple[list[str], str, list[tuple[int, list[str]]]]:
    with read_csv(place, **options) as rows:  # type: ignore[arg-type]
        return rows.header, rows.delimiter, list(rows)


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("external_id,email\n", ","),
        ("external_id;email;name\n", ";"),
        ("external_id\temail\n", "\t"),
        ("external_id|email\n", "|"),
        ('"last, first";id;mail\n', ";"),
        ("external_id\n", ","),
    ],
)
def test_the_delimiter_is_the_one_the_header_uses_most(text: str, delimiter: str) -> None:
    assert sniff(text) == delimiter


def test_quoted_values_hold_delimiters_quotes_and_line_breaks(tmp_path: Path) -> None:
    data = b'external_id;note\r\nC1;"a; b"\r\nC2;"line one\r\nline two"\r\nC3;"say ""hi"""\r\n'
    header, delimiter, rows = rows_of(place_of(tmp_path, data))
    assert header == ["external_id", "note"] and delimiter == ";"
    assert rows == [
        (2, ["C1", "a; b"]),
        (3, ["C2", "line one\r\nline two"]),
        (5, ["C3", 'say "hi"']),
    ]


def test_mixed_line_endings(tmp_path: Path) -> None:
    data = b"external_id,n\r\nC1,1\nC2,2\rC3,3\r\n\r\nC4,4"
    _, _, rows = rows_of(place_of(tmp_path, data))
    assert rows == [(2, ["C1", "1"]), (3, ["C2", "2"]), (4, ["C3", "3"]), (6, ["C4", "4"])]


def test_blank_lines_before_the_header_count_as_lines(tmp_path: Path) -> None:
    header, _, rows = rows_of(place_of(tmp_path, b"\n\nexternal_id\nC1\n"))
    assert header == ["external_id"] and rows == [(4, ["C1"])]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_a_utf8_byte_order_mark_is_skipped(tmp_path: Path, encoding: str) -> None:
    data = codecs.BOM_UTF8 + "external_id,name\nC1,Zoë\n".encode()
    header, _, rows = rows_of(place_of(tmp_path, data), encoding=encoding)
    assert header == ["external_id", "name"] and rows == [(2, ["C1", "Zoë"])]


def test_utf8_sig_reads_files_without_a_mark(tmp_path: Path) -> None:
    _, _, rows = rows_of(place_of(tmp_path, "id\nZoë\n".encode()), encoding="utf-8-sig")
    assert rows == [(2, ["Zoë"])]


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_single_byte_encodings(tmp_path: Path, encoding: str) -> None:
    data = "external_id,name\nC1,Zoë Ångström\n".encode(encoding)
    _, _, rows = rows_of(place_of(tmp_path, data), encoding=encoding)
    assert rows == [(2, ["C1", "Zoë Ångström"])]


def test_cp1252_is_not_utf8(tmp_path: Path) -> None:
    data = "external_id,name\nC1,Ann\nC2,Zoë\n".encode("cp1252")
    with pytest.raises(InputError) as caught:
        rows_of(place_of(tmp_path, data))
    message = str(caught.value)
    assert "in.csv: line 3 is not valid utf-8 text (bytes eb 0a at byte offset 29)" in message
    assert "set encoding: cp1252" in message


def test_bytes_cp1252_does_not_have(tmp_path: Path) -> None:
    data = b"external_id,name\r\nC1,x\rC2,\x81\n"
    with pytest.raises(InputError, match=r"line 3 is not valid cp1252 text .*set encoding: to"):
        rows_of(place_of(tmp_path, data), encoding="cp1252")


def test_a_utf8_mark_in_a_cp1252_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + b"external_id\nC1\n"
    with pytest.raises(
        InputError, match=r"UTF-8 byte order mark, .* not cp1252; set encoding: utf-8-sig"
    ):
        rows_of(place_of(tmp_path, data), encoding="cp1252")


def test_utf16_is_refused(tmp_path: Path) -> None:
    data = "external_id\nC1\n".encode("utf-16")
    with pytest.raises(InputError, match="the file is UTF-16 text"):
        rows_of(place_of(tmp_path, data))


def test_nul_bytes_are_refused(tmp_path: Path) -> None:
    data = b"external_id,name\n" + b"C1,x\n" * 20_000 + b"C2,\x00\n"
    with pytest.raises(InputError, match=r"line 20002 holds a NUL byte \(byte offset 100020\)"):
        rows_of(place_of(tmp_path, data))


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n"])
def test_empty_files(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(InputError, match=r"in\.csv: the file is empty; it needs a header row"):
        rows_of(place_of(tmp_path, data))


def test_a_header_without_rows_is_an_empty_import(tmp_path: Path) -> None:
    assert rows_of(place_of(tmp_path, b"external_id,email\n"))[2] == []


def test_an_unbalanced_quote(tmp_path: Path) -> None:
    data = b'external_id,note\nC1,ok\nC2,"never closed\nC3,x\n'
    with pytest.raises(InputError, match=r"the quoted value that starts on line 3 is never closed"):
        rows_of(place_of(tmp_path, data))


def test_text_after_a_closing_quote(tmp_path: Path) -> None:
    data = b'external_id,note\nC1,"quoted"text\n'
    with pytest.raises(InputError, match="line 2 has text right after a closing quote"):
        rows_of(place_of(tmp_path, data))


def test_a_huge_field(tmp_path: Path) -> None:
    data = b'external_id,note\nC1,"' + b"x" * 200_000 + b'"\n'
    with pytest.raises(InputError, match=r"line 2 holds a value longer than 131,072 characters"):
        rows_of(place_of(tmp_path, data))


def test_a_large_field_within_the_limit(tmp_path: Path) -> None:
    data = b'external_id,note\nC1,"' + b"x" * 100_000 + b'"\n'
    assert rows_of(place_of(tmp_path, data))[2][0][1][1] == "x" * 100_000


def test_a_header_naming_a_column_twice(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="names column 'email' twice"):
        rows_of(place_of(tmp_path, b"email,email\n"))


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    place = Place(LocalFolder(tmp_path, str(tmp_path)), "gone.csv", "local")
    with pytest.raises(Exception, match=r"cannot read .*gone\.csv"):
        rows_of(place)


@settings(deadline=None, max_examples=50)
@given(
    st.lists(
        st.lists(
            st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
            min_size=2,
            max_size=2,
        ),
        max_size=5,
    )
)
def test_what_csv_writes_reads_back(rows: list[list[str]]) -> None:
    import csv
    import io
    import tempfile

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["a", "b"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as folder:
        place = place_of(Path(folder), buffer.getvalue().encode())
        _, _, got = rows_of(place)
    assert [cells for _, cells in got] == rows
