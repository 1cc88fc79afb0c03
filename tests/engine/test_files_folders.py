"""One contract, three folders: a local folder, OpenSSH's sshd (or the in-process server where
sshd is absent) and the in-process paramiko server. Writes are atomic and never replace unless
asked, moves never replace, reads stream, and errors name the file."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sftpd import SftpServer

from engine.errors import EffectError
from engine.files import Folder, LocalFolder, NameTaken
from engine.files.folder import is_temporary
from engine.files.sftp import SftpFolder
from engine.model.project import Connection


def sftp_folder(server: SftpServer, *, password: bool = False) -> SftpFolder:
    settings = Connection(
        type="sftp",
        host=server.host,
        port=server.port,
        username=server.username,
        key_file=None if password else str(server.key_file),
        password="${SLUIS_TEST_SFTP_PASSWORD}" if password else None,
        known_hosts=str(server.known_hosts),
        path=server.remote(),
        timeout=10,
    )
    return SftpFolder("crm", settings, server.files)


@pytest.fixture(params=["local", "sftp", "paramiko"])
def folder(
    request: pytest.FixtureRequest, tmp_path: Path, sftp: SftpServer, paramiko_sftp: SftpServer
) -> Iterator[tuple[Folder, Path]]:
    """A folder and where its files are on this machine."""
    if request.param == "local":
        yield LocalFolder(tmp_path / "local", "local"), tmp_path / "local"
        return
    if request.param == "sftp":
        made = sftp_folder(sftp)
        yield made, sftp.files
    else:
        server = paramiko_sftp.inside(request.node.name.replace("[", "-").replace("]", ""))
        made = sftp_folder(server)
        yield made, server.files
    made.close()


def test_write_then_read_streams_the_bytes(folder: tuple[Folder, Path]) -> None:
    place, disk = folder
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one read window
    with place.writer("out/big.bin") as handle:
        for start in range(0, len(data), 100_000):
            handle.write(data[start : start + 100_000])
    with place.reader("out/big.bin") as handle:
        got = b"".join(iter(lambda: handle.read(65536), b""))
    assert got == data
    assert (disk / "out" / "big.bin").read_bytes() == data
    info = place.info("out/big.bin")
    assert info is not None and info.size == len(data) and not info.is_dir


def test_a_write_is_invisible_until_complete_and_leaves_no_temporary_file(
    folder: tuple[Folder, Path],
) -> None:
    place, disk = folder
    with place.writer("a.csv") as handle:
        handle.write(b"external_id\n")
        assert not (disk / "a.csv").exists()
    assert (disk / "a.csv").read_bytes() == b"external_id\n"
    assert [e.name for e in place.list("")] == ["a.csv"]


def test_a_failed_write_leaves_nothing(folder: tuple[Folder, Path]) -> None:
    place, disk = folder
    with pytest.raises(ZeroDivisionError), place.writer("a.csv") as handle:
        handle.write(b"half")
        raise ZeroDivisionError
    assert os.listdir(disk) == []


def test_a_write_never_replaces_unless_asked(folder: tuple[Folder, Path]) -> None:
    place, disk = folder
    with place.writer("a.csv") as handle:
        handle.write(b"first")
    with pytest.raises(NameTaken, match=r"a\.csv exists already"), place.writer("a.csv") as h:
        h.write(b"second")
    assert (disk / "a.csv").read_bytes() == b"first"
    assert [e.name for e in place.list("")] == ["a.csv"]
    with place.writer("a.csv", replace=True) as handle:
        handle.write(b"third")
    assert (disk / "a.csv").read_bytes() == b"third"


def test_moves_never_replace(folder: tuple[Folder, Path]) -> None:
    place, disk = folder
    for name in ("a.csv", "b.csv"):
        with place.writer(f"upload/{name}") as handle:
            handle.write(name.encode())
    place.move("upload/a.csv", "active/a.csv")
    assert (disk / "active" / "a.csv").read_bytes() == b"a.csv"
    assert not (disk / "upload" / "a.csv").exists()
    with place.writer("active/b.csv") as handle:
        handle.write(b"other")
    with pytest.raises(NameTaken):
        place.move("upload/b.csv", "active/b.csv")
    assert (disk / "active" / "b.csv").read_bytes() == b"other"
    assert (disk / "upload" / "b.csv").read_bytes() == b"b.csv"


def test_listing_delete_and_folders(folder: tuple[Folder, Path]) -> None:
    place, _ = folder
    place.makedirs("x/y/z")
    place.makedirs("x/y/z")
    for name in ("b.csv", "a.csv"):
        with place.writer(f"x/{name}") as handle:
            handle.write(b"1")
    listing = place.list("x")
    assert [(e.name, e.is_dir) for e in listing] == [
        ("a.csv", False),
        ("b.csv", False),
        ("y", True),
    ]
    assert place.info("x/nothing.csv") is None
    place.delete("x/a.csv")
    place.delete("x/a.csv")  # already gone is fine
    assert [e.name for e in place.list("x")] == ["b.csv", "y"]


def test_errors_name_the_file(folder: tuple[Folder, Path]) -> None:
    place, _ = folder
    missing = r"cannot read .*missing\.csv: No such file"
    with pytest.raises(EffectError, match=missing), place.reader("missing.csv"):
        pass
    with pytest.raises(EffectError, match=r"cannot list .*nowhere"):
        place.list("nowhere")


def test_temporary_names_are_recognisable(folder: tuple[Folder, Path]) -> None:
    place, disk = folder
    seen: list[list[str]] = []
    with place.writer("report.csv") as handle:
        handle.write(b"x")
        seen.append(os.listdir(disk))
    assert len(seen[0]) == 1 and is_temporary(seen[0][0])
    assert not is_temporary("report.csv")


def test_local_writes_are_atomic_under_concurrent_writers(tmp_path: Path) -> None:
    place = LocalFolder(tmp_path, "local")
    winners: list[int] = []

    def write(number: int) -> None:
        try:
            with place.writer("same.csv") as handle:
                handle.write(str(number).encode() * 1000)
            winners.append(number)
        except NameTaken:
            pass

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert (tmp_path / "same.csv").read_bytes() == str(winners[0]).encode() * 1000
    assert os.listdir(tmp_path) == ["same.csv"]
