"""SFTP connections against real servers: host keys checked against known_hosts with the command
that fixes a refusal, logins by key file and by password from the environment, unreachable
servers, and a connection that breaks and comes back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sftpd import SftpServer

from engine.errors import EffectError, LocationError
from engine.files.sftp import SftpFolder
from engine.model.project import Connection


def folder_for(server: SftpServer, **changes: object) -> SftpFolder:
    values: dict[str, object] = {
        "type": "sftp",
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "key_file": str(server.key_file),
        "known_hosts": str(server.known_hosts),
        "path": server.remote(),
        "timeout": 5,
    }
    values.update(changes)
    return SftpFolder("crm", Connection.model_validate(values), server.files)


def test_key_file_login_and_round_trip(sftp: SftpServer) -> None:
    folder = folder_for(sftp)
    with folder.writer("exports/a.csv") as handle:
        handle.write(b"external_id\nC1\n")
    assert (sftp.files / "exports" / "a.csv").read_bytes() == b"external_id\nC1\n"
    folder.close()


def test_key_file_from_the_environment(sftp: SftpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_KEY", str(sftp.key_file))
    folder = folder_for(sftp, key_file="${CRM_KEY}")
    assert folder.list("") == []
    folder.close()


def test_password_from_the_environment(
    paramiko_sftp: SftpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    paramiko_sftp = paramiko_sftp.inside("password")
    monkeypatch.setenv("CRM_PASSWORD", "s3cret-test")
    folder = folder_for(paramiko_sftp, key_file=None, password="${CRM_PASSWORD}")
    folder.makedirs("pw")
    assert (paramiko_sftp.files / "pw").is_dir()
    folder.close()
    monkeypatch.setenv("CRM_PASSWORD", "wrong")
    with pytest.raises(EffectError, match=r"refused the login of user .* with the password"):
        folder_for(paramiko_sftp, key_file=None, password="${CRM_PASSWORD}").list("")


def test_a_missing_password_variable_says_which_to_export(paramiko_sftp: SftpServer) -> None:
    paramiko_sftp = paramiko_sftp.inside("nopassword")
    folder = folder_for(paramiko_sftp, key_file=None, password="${NOT_SET_ANYWHERE}")
    with pytest.raises(EffectError, match="NOT_SET_ANYWHERE is not set; export it"):
        folder.list("")


def test_an_unknown_host_key_is_refused_with_the_command_that_trusts_it(
    sftp: SftpServer, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    folder = folder_for(sftp, known_hosts=str(empty))
    with pytest.raises(EffectError) as caught:
        folder.list("")
    message = str(caught.value)
    assert f"the host key of 127.0.0.1:{sftp.port} is not in {empty}" in message
    assert "SHA256:" in message
    command = f"ssh-keyscan -p {sftp.port} -t ssh-ed25519 127.0.0.1 >> {empty}"
    assert command in message


def test_a_changed_host_key_is_refused_as_a_possible_attack(
    sftp: SftpServer, paramiko_sftp: SftpServer, tmp_path: Path
) -> None:
    other_key = paramiko_sftp.host_key_line.split(" ", 1)[1]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sftp.port} {other_key}\n")
    with pytest.raises(EffectError) as caught:
        folder_for(sftp, known_hosts=str(wrong)).list("")
    message = str(caught.value)
    assert "has CHANGED" in message
    assert f"ssh-keygen -R '[127.0.0.1]:{sftp.port}' -f {wrong}" in message


def test_a_wrong_key_is_refused(sftp: SftpServer, paramiko_sftp: SftpServer) -> None:
    with pytest.raises(EffectError, match=r"refused the login .* with the key_file"):
        folder_for(sftp, key_file=str(paramiko_sftp.key_file)).list("")


def test_a_missing_key_file_names_it(sftp: SftpServer, tmp_path: Path) -> None:
    with pytest.raises(EffectError, match=r"key_file .*nokey does not exist"):
        folder_for(sftp, key_file=str(tmp_path / "nokey")).list("")


def test_an_unreachable_server(sftp: SftpServer) -> None:
    from sftpd import _free_port

    with pytest.raises(EffectError, match=r"cannot reach SFTP server 127.0.0.1:\d+"):
        folder_for(sftp, port=_free_port()).list("")


def test_settings_that_are_missing(sftp: SftpServer) -> None:
    with pytest.raises(LocationError, match="has no host"):
        folder_for(sftp, host=None).list("")
    with pytest.raises(LocationError, match="has neither password nor key_file"):
        folder_for(sftp, key_file=None).list("")


def test_a_broken_connection_is_made_again(sftp: SftpServer) -> None:
    folder = folder_for(sftp)
    folder.makedirs("again")
    assert folder._client is not None
    transport = folder._client.get_transport()
    assert transport is not None
    transport.close()  # the server hung up, say
    assert [e.name for e in folder.list("")] == ["again"]
    folder.close()
