"""SFTP folders through paramiko, for ``sftp://CONNECTION/path`` locations.

The connection settings come from ``sluis.yaml`` (host, port, username, ``password`` or
``key_file``, both may read ``${VAR}``, ``known_hosts``, ``path`` as the folder on the server).
The server's host key must be in known_hosts (the connection's ``known_hosts`` file, else
``~/.ssh/known_hosts``): an unknown key is refused with the ``ssh-keyscan`` command that trusts
it, a changed key with the ``ssh-keygen -R`` command that forgets the old one. Every paramiko
and socket error is translated here into an ``EffectError`` that names the connection.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import paramiko

from engine.errors import EffectError, LocationError, ProjectError, TransientError
from engine.files.folder import FileInfo, Folder, NameTaken, temp_name

if TYPE_CHECKING:
    from engine.model.project import Connection

READ_CHUNK = 32768  # paramiko's largest read request
READ_WINDOW = 32  # requests in flight while streaming: 1 MB per round trip
WRITE_BUFFER = 262144


class _UnknownHost(Exception):
    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__("unknown host key")
        self.key = key


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise _UnknownHost(key)


class SftpFolder(Folder):
    """The folder ``path`` (default: the login folder) on the server of one connection."""

    def __init__(self, name: str, settings: Connection, project_root: Path) -> None:
        self.name = name
        self.settings = settings
        self.project_root = project_root
        self.label = f"sftp://{name}"
        self.base = (settings.path or "").rstrip("/")
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    # -- connecting ----------------------------------------------------------------------

    @property
    def host(self) -> str:
        if not self.settings.host:
            raise LocationError(
                f"connection '{self.name}' has no host; add host: to it in sluis.yaml"
            )
        return self.settings.host

    @property
    def port(self) -> int:
        return self.settings.port or 22

    def known_hosts(self) -> Path:
        """The known_hosts file the server's key is checked against."""
        configured = self.settings.secret("known_hosts")
        if configured:
            path = Path(os.path.expanduser(configured))
            return path if path.is_absolute() else self.project_root / path
        return Path(os.path.expanduser("~/.ssh/known_hosts"))

    def _key_file(self) -> str | None:
        configured = self.settings.secret("key_file")
        if not configured:
            return None
        path = Path(os.path.expanduser(configured))
        path = path if path.is_absolute() else self.project_root / path
        if not path.is_file():
            raise EffectError(
                f"connection '{self.name}': key_file {path} does not exist; check the path"
            )
        return str(path)

    def _connect(self) -> paramiko.SFTPClient:
        if self._sftp is not None:
            if self._alive():
                return self._sftp
            self.close()
        host, port = self.host, self.port
        if not self.settings.username:
            raise LocationError(
                f"connection '{self.name}' has no username; add username: to it in sluis.yaml"
            )
        try:
            password = self.settings.secret("password")
        except ProjectError as exc:
            raise EffectError(f"connection '{self.name}': {exc}") from None
        key_file = self._key_file()
        if password is None and key_file is None:
            raise LocationError(
                f"connection '{self.name}' has neither password nor key_file; add one "
                "(password: ${VAR} reads the environment)"
            )
        known = self.known_hosts()
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_RefuseUnknown())
        try:
            if known.is_file():
                client.load_host_keys(str(known))
            client.connect(
                host,
                port,
                username=self.settings.username,
                password=password,
                key_filename=key_file,
                look_for_keys=False,
                allow_agent=False,
                timeout=self.settings.timeout,
                banner_timeout=self.settings.timeout,
                auth_timeout=self.settings.timeout,
                channel_timeout=self.settings.timeout,
            )
            sftp = client.open_sftp()
        except _UnknownHost as exc:
            client.close()
            raise EffectError(self._unknown_host(exc.key, known)) from None
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise EffectError(self._changed_host(exc.key, known)) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            how = "password" if password is not None else f"key_file {key_file}"
            raise EffectError(
                f"connection '{self.name}': {host}:{port} refused the login of user "
                f"'{self.settings.username}' with the {how} ({exc}); check the credentials"
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise TransientError(
                f"connection '{self.name}': cannot reach SFTP server {host}:{port}: {reason}"
            ) from None
        self._client, self._sftp = client, sftp
        return sftp

    def _unknown_host(self, key: paramiko.PKey, known: Path) -> str:
        return (
            f"connection '{self.name}': the host key of {self.host}:{self.port} is not in "
            f"{known} ({key.get_name()} {key.fingerprint}). Check that fingerprint with the "
            f"server's administrator, then trust it with: ssh-keyscan -p {self.port} -t "
            f"{key.get_name()} {self.host} >> {known}"
        )

    def _changed_host(self, key: paramiko.PKey, known: Path) -> str:
        entry = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        return (
            f"connection '{self.name}': the host key of {self.host}:{self.port} has CHANGED "
            f"(now {key.get_name()} {key.fingerprint}); it does not match {known}. This can "
            "be an attack. When the change is expected, forget the old key with: ssh-keygen "
            f"-R '{entry}' -f {known}; then trust the new one with: ssh-keyscan -p {self.port} "
            f"{self.host} >> {known}"
        )

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    # -- operations ----------------------------------------------------------------------

    def _remote(self, path: str) -> str:
        if not path:
            return self.base or "."
        return f"{self.base}/{path}" if self.base else path

    @contextmanager
    def _op(self, what: str, path: str) -> Iterator[None]:
        try:
            yield
        except (NameTaken, EffectError, LocationError):
            raise
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if self._alive():
                if isinstance(exc, OSError):
                    raise self._error(what, path, exc) from exc
                raise EffectError(f"{what} {self.shown(path)}: {exc}") from exc
            self.close()  # the connection broke: the next use connects again
            raise TransientError(
                f"{what} {self.shown(path)}: the connection to {self.host}:{self.port} broke "
                f"({exc or type(exc).__name__})"
            ) from exc

    def _alive(self) -> bool:
        transport = self._client.get_transport() if self._client is not None else None
        return transport is not None and transport.is_active()

    def _error(self, what: str, path: str, exc: OSError) -> EffectError:
        reason = exc.strerror or str(exc) or "failed"
        return EffectError(f"{what} {self.shown(path)}: {reason}")

    def info(self, path: str) -> FileInfo | None:
        sftp = self._connect()
        with self._op("cannot look at", path):
            try:
                st = sftp.stat(self._remote(path))
            except FileNotFoundError:
                return None
        return _info(path.rpartition("/")[2], st)

    def list(self, path: str) -> list[FileInfo]:
        sftp = self._connect()
        with self._op("cannot list", path):
            entries = sftp.listdir_attr(self._remote(path))
        return sorted((_info(e.filename, e) for e in entries), key=lambda f: f.name)

    @contextmanager
    def reader(self, path: str) -> Iterator[BinaryIO]:
        sftp = self._connect()
        with self._op("cannot read", path):
            handle = sftp.open(self._remote(path), "rb")
            size = handle.stat().st_size or 0
        stream = io.BufferedReader(_Windowed(handle, size, self, path), 1 << 20)
        try:
            yield cast(BinaryIO, stream)
        finally:
            with self._op("cannot read", path):
                handle.close()

    @contextmanager
    def writer(self, path: str, *, replace: bool = False) -> Iterator[BinaryIO]:
        sftp = self._connect()
        temp = temp_name(path)
        head = path.rpartition("/")[0]
        with self._op("cannot write", path):
            if head:
                self.makedirs(head)
            handle = sftp.open(self._remote(temp), "wb", bufsize=WRITE_BUFFER)
            handle.set_pipelined(True)
        try:
            with self._op("cannot write", path):
                yield cast(BinaryIO, handle)
                handle.close()
                if replace:
                    sftp.posix_rename(self._remote(temp), self._remote(path))
                else:
                    self._rename(temp, path)
        except BaseException:
            try:
                handle.close()
                sftp.remove(self._remote(temp))
            except (OSError, paramiko.SSHException, EOFError):
                pass  # the connection is gone; the temporary name stays hidden
            raise

    def _rename(self, source: str, target: str) -> None:
        """SFTP's own rename never replaces (OpenSSH links, then unlinks); when it fails, the
        target's existence tells a taken name from another failure."""
        sftp = self._connect()
        try:
            sftp.rename(self._remote(source), self._remote(target))
        except OSError as exc:
            if self.info(target) is not None:
                raise NameTaken(f"{self.shown(target)} exists already") from None
            raise self._error("cannot rename to", target, exc) from exc

    def move(self, source: str, target: str) -> None:
        with self._op("cannot move", source):
            head = target.rpartition("/")[0]
            if head:
                self.makedirs(head)
            self._rename(source, target)

    def delete(self, path: str) -> None:
        sftp = self._connect()
        with self._op("cannot delete", path), suppress(FileNotFoundError):
            sftp.remove(self._remote(path))

    def makedirs(self, path: str) -> None:
        sftp = self._connect()
        done = ""
        with self._op("cannot make the folder", path):
            for part in path.split("/"):
                done = f"{done}/{part}" if done else part
                try:
                    st = sftp.stat(self._remote(done))
                except FileNotFoundError:
                    try:
                        sftp.mkdir(self._remote(done))
                    except OSError:
                        if self.info(done) is None:  # made by someone else meanwhile is fine
                            raise
                    continue
                if not stat.S_ISDIR(st.st_mode or 0):
                    raise EffectError(f"{self.shown(done)} is a file, not a folder")


class _Windowed(io.RawIOBase):
    """Streams a remote file with a window of read requests in flight: fast over long round
    trips, and memory stays flat (paramiko's own prefetch buffers the whole file)."""

    def __init__(self, handle: paramiko.SFTPFile, size: int, folder: SftpFolder, path: str):
        self.handle = handle
        self.size = size
        self.offset = 0
        self.pending = memoryview(b"")
        self.folder = folder
        self.path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.pending:
            self.pending = memoryview(self._window())
            if not self.pending:
                return 0
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count

    def _window(self) -> bytes:
        if self.offset >= self.size:
            return b""
        chunks: list[tuple[int, int]] = []
        offset = self.offset
        while offset < self.size and len(chunks) < READ_WINDOW:
            length = min(READ_CHUNK, self.size - offset)
            chunks.append((offset, length))
            offset += length
        with self.folder._op("cannot read", self.path):
            data = b"".join(self.handle.readv(chunks))
        self.offset = offset
        return data


def _info(name: str, st: Any) -> FileInfo:
    return FileInfo(
        name,
        int(st.st_size or 0),
        float(st.st_mtime or 0),
        stat.S_ISDIR(st.st_mode or 0),
    )
