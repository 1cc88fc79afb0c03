"""Real SFTP servers for tests, no mocks: OpenSSH's sshd on 127.0.0.1 (a temporary host key and
user key, a high port, ``sshd -D -f CONFIG``), or, where sshd is absent, an in-process paramiko
SFTP server on a TCP port. Both serve the real SFTP protocol to paramiko's client.

The root ``conftest.py`` loads this module as a plugin, so every test can ask for ``sftp`` (a
fresh folder on the session's server) or ``paramiko_sftp``.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.sftp import SFTP_FAILURE, SFTP_NO_SUCH_FILE, SFTP_OK

SSHD = os.environ.get("SLUIS_TEST_SSHD", "/usr/sbin/sshd")
PASSWORD = "s3cret-test"


def _keypair(folder: Path, name: str) -> tuple[Path, str]:
    """An ed25519 key in OpenSSH format; returns the private key file and the public line."""
    key = Ed25519PrivateKey.generate()
    private = folder / name
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class SftpServer:
    """A running SFTP server and how to reach it."""

    kind: str  # "sshd" or "paramiko"
    port: int
    username: str
    key_file: Path
    known_hosts: Path
    host_key_line: str
    files: Path  # where its files live on this machine
    password: str | None = None
    host: str = "127.0.0.1"
    chroot: Path | None = None  # the paramiko server serves this folder as "/"

    def remote(self, path: Path | None = None) -> str:
        """How the server names a folder on this machine."""
        path = path or self.files
        if self.chroot is None:
            return str(path)
        return "/" + str(path.relative_to(self.chroot))

    def inside(self, name: str) -> SftpServer:
        """The same server with a fresh subfolder as its files folder."""
        files = self.files / name
        files.mkdir()
        return replace(self, files=files)

    def connection(self, name: str = "crm", *, path: Path | None = None, auth: str = "key") -> str:
        """The sluis.yaml lines of a connection to this server (indented for ``connections:``)."""
        lines = [
            f"  {name}:",
            "    type: sftp",
            f"    host: {self.host}",
            f"    port: {self.port}",
            f"    username: {self.username}",
            f"    known_hosts: {self.known_hosts}",
            f"    path: {self.remote(path)}",
            "    timeout: 10",
        ]
        if auth == "key":
            lines.append(f"    key_file: {self.key_file}")
        else:
            lines.append("    password: ${SLUIS_TEST_SFTP_PASSWORD}")
        return "\n".join(lines) + "\n"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)  # a real server starting, not a simulated wait
    raise RuntimeError(f"no SFTP server on port {port} after 10 s")


def _start_sshd(folder: Path) -> tuple[SftpServer, subprocess.Popen[bytes]]:
    host_key, host_public = _keypair(folder, "host_key")
    user_key, user_public = _keypair(folder, "user_key")
    (folder / "authorized_keys").write_text(user_public + "\n")
    files = folder / "files"
    files.mkdir()
    port = _free_port()
    user = getpass.getuser()
    config = folder / "sshd_config"
    config.write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {folder / "sshd.pid"}
AuthorizedKeysFile {folder / "authorized_keys"}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers {user}
Subsystem sftp internal-sftp -d {files}
LogLevel ERROR
"""
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
    # sshd's log goes to a file: a pipe nobody reads fills up over a session of refused keys
    # and broken connections, and then sshd blocks before it sends its banner
    log = folder / "sshd.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=sink
        )
    _wait_for_port(port, process, log)
    known = folder / "known_hosts"
    line = f"[127.0.0.1]:{port} {host_public}"
    known.write_text(line + "\n")
    return SftpServer("sshd", port, user, user_key, known, line, files), process


# -- the in-process paramiko server ----------------------------------------------------------


class _Auth(paramiko.ServerInterface):
    def __init__(self, user: str, key: paramiko.PKey) -> None:
        self.user = user
        self.key = key

    def check_auth_password(self, username: str, password: str) -> int:
        ok = username == self.user and password == PASSWORD
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == self.user and key == self.key
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED


class _Handle(paramiko.SFTPHandle):
    def stat(self) -> Any:
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))  # type: ignore[attr-defined]


class _Files(paramiko.SFTPServerInterface):
    """Serves one folder; paths are taken inside it, as a chrooted server would."""

    root = Path("/")

    def _real(self, path: str) -> str:
        return str(self.root / self.canonicalize(path).lstrip("/"))

    def _error(self, exc: OSError) -> int:
        return paramiko.SFTPServer.convert_errno(exc.errno)

    def canonicalize(self, path: str) -> str:
        return os.path.normpath("/" + path)

    def list_folder(self, path: str) -> Any:
        real = self._real(path)
        try:
            return [
                paramiko.SFTPAttributes.from_stat(os.stat(os.path.join(real, name)), name)
                for name in os.listdir(real)
            ]
        except OSError as exc:
            return self._error(exc)

    def stat(self, path: str) -> Any:
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(self._real(path)))
        except OSError as exc:
            return self._error(exc)

    lstat = stat

    def open(self, path: str, flags: int, attr: Any) -> Any:
        real = self._real(path)
        try:
            fd = os.open(real, flags, 0o644)
        except OSError as exc:
            return self._error(exc)
        if flags & (os.O_WRONLY | os.O_RDWR) == 0:
            mode = "rb"
        else:
            mode = "wb" if flags & os.O_WRONLY else "r+b"
        handle = _Handle(flags)
        stream = os.fdopen(fd, mode)
        handle.filename = real  # type: ignore[attr-defined]
        handle.readfile = stream  # type: ignore[attr-defined]
        handle.writefile = stream  # type: ignore[attr-defined]
        return handle

    def remove(self, path: str) -> int:
        try:
            os.remove(self._real(path))
        except OSError as exc:
            return self._error(exc)
        return SFTP_OK

    def rename(self, oldpath: str, newpath: str) -> int:
        """Like OpenSSH: never replaces the target."""
        if os.path.exists(self._real(newpath)):
            return SFTP_FAILURE
        if not os.path.exists(self._real(oldpath)):
            return SFTP_NO_SUCH_FILE
        os.rename(self._real(oldpath), self._real(newpath))
        return SFTP_OK

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        try:
            os.replace(self._real(oldpath), self._real(newpath))
        except OSError as exc:
            return self._error(exc)
        return SFTP_OK

    def mkdir(self, path: str, attr: Any) -> int:
        try:
            os.mkdir(self._real(path))
        except OSError as exc:
            return self._error(exc)
        return SFTP_OK

    def rmdir(self, path: str) -> int:
        try:
            os.rmdir(self._real(path))
        except OSError as exc:
            return self._error(exc)
        return SFTP_OK

    def chattr(self, path: str, attr: Any) -> int:
        return SFTP_OK


def _start_paramiko(folder: Path) -> tuple[SftpServer, threading.Event]:
    host_key_file, host_public = _keypair(folder, "host_key")
    user_key_file, _ = _keypair(folder, "user_key")
    host_key = paramiko.Ed25519Key(filename=str(host_key_file))
    user_key = paramiko.Ed25519Key(filename=str(user_key_file))
    files = folder / "files"
    files.mkdir()
    files_class = type("Files", (_Files,), {"root": files})
    user = getpass.getuser()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stop = threading.Event()
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            transport = paramiko.Transport(conn)
            transport.add_server_key(host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, files_class)
            transport.start_server(server=_Auth(user, user_key))
            transports.append(transport)
        for transport in transports:
            transport.close()
        listener.close()

    threading.Thread(target=serve, daemon=True, name="test-sftp").start()
    known = folder / "known_hosts"
    line = f"[127.0.0.1]:{port} {host_public}"
    known.write_text(line + "\n")
    server = SftpServer(
        "paramiko", port, user, user_key_file, known, line, files, PASSWORD, chroot=files
    )
    return server, stop


@pytest.fixture(scope="session")
def paramiko_sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    """The in-process paramiko SFTP server (always available; accepts password and key)."""
    server, stop = _start_paramiko(tmp_path_factory.mktemp("paramiko-sftp"))
    yield server
    stop.set()


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    """OpenSSH's sshd when installed, else the in-process paramiko server."""
    folder = tmp_path_factory.mktemp("sftp")
    if not os.access(SSHD, os.X_OK):
        server, stop = _start_paramiko(folder)
        yield server
        stop.set()
        return
    server, process = _start_sshd(folder)
    yield server
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def sftp(sftp_server: SftpServer, request: pytest.FixtureRequest) -> Iterator[SftpServer]:
    """The session's SFTP server with a fresh, empty files folder for this test."""
    server = sftp_server.inside(request.node.name.replace("[", "-").replace("]", ""))
    yield server
    shutil.rmtree(server.files, ignore_errors=True)
