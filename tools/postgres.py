"""A real PostgreSQL server for tests and the catalogue script, from the npm packages package.json pins.

`running(major)` initialises a temporary data directory, starts the server on 127.0.0.1 and a free port, and
stops it and removes the directory when the block ends. `running(major, tls=True)` runs it as RDS does: TLS only
(with a certificate from a throwaway CA, trustme's) and SCRAM-SHA-256 passwords. PostgreSQL refuses to run as root;
when the tests do, the server runs as `nobody` (util-linux's setpriv), which owns only the temporary directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tools import paths

MAJOR_VERSIONS = (16, 17)
# Loaded as RDS parameter groups commonly load them, so that their settings are in pg_settings too.
PRELOADED = "pg_stat_statements,auto_explain"
INITDB_OPTIONS = ("--no-sync", "--encoding=UTF8", "--locale=C")
ARCHITECTURES = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


class PostgresUnavailable(RuntimeError):
    pass


SUPERUSER_PASSWORD = "test-superuser"


@dataclass(frozen=True)
class Server:
    major: int
    port: int
    version: str
    ca_file: Path | None = None
    """The CA that signed the server's certificate, when it runs with TLS."""

    @property
    def dsn(self) -> str:
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=5"
        return dsn + (
            f" password={SUPERUSER_PASSWORD} sslmode=verify-full sslrootcert={self.ca_file}" if self.ca_file else ""
        )


def package(major: int) -> Path:
    arch = ARCHITECTURES.get(platform.machine().lower())
    root = paths.NODE_MODULES / f"postgres-{major}-linux-{arch}" / "native"
    if arch is None or not (root / "bin" / "postgres").is_file():
        raise PostgresUnavailable(f"no PostgreSQL {major} for {platform.machine()} in node_modules: run make setup")
    _hydrate_symlinks(root)
    return root


def _hydrate_symlinks(root: Path) -> None:
    """The npm package lists its library symlinks in a file; its own install script, which npm may skip, makes them."""
    for link in json.loads((root / "pg-symlinks.json").read_text()):
        source, target = root.parent / link["source"], root.parent / link["target"]
        if not target.exists():
            target.symlink_to(os.path.relpath(source, target.parent))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user(directory: Path, root: Path) -> tuple[list[str], Path]:
    """The command prefix that runs the server's programs, and where they are.

    As root, they run as nobody from a copy inside the temporary directory: nobody may not be able to reach the
    checkout (a home directory is often closed to others), and it must own the data directory.
    """
    if os.geteuid() != 0:
        return [], root
    nobody = pwd.getpwnam("nobody")
    copy = Path(shutil.copytree(root, directory / "postgres", symlinks=True))
    os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"], copy


def _tls(directory: Path, user: list[str]) -> tuple[Path, list[str]]:
    """A throwaway CA and a certificate for 127.0.0.1 that it signed; the server options that use them."""
    import trustme

    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.crt", directory / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    certificate.cert_chain_pems[0].write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    key_file.chmod(0o600)  # PostgreSQL refuses a key others can read
    if user:
        nobody = pwd.getpwnam("nobody")
        for path in (cert_file, key_file):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    options = ["-c", "ssl=on", "-c", f"ssl_cert_file={cert_file}", "-c", f"ssl_key_file={key_file}"]
    return ca_file, options


def _hba(data: Path) -> None:
    """Like rds.force_ssl = 1 with password_encryption = scram-sha-256: TCP clients use TLS and a SCRAM password."""
    (data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")


@contextlib.contextmanager
def running(major: int, *, tls: bool = False) -> Iterator[Server]:
    import psycopg

    root = package(major)
    directory = Path(tempfile.mkdtemp(prefix=f"retail-db-pg{major}-"))
    data = directory / "data"
    try:
        user, root = _as_server_user(directory, root)
        initdb = [*user, str(root / "bin" / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        if tls:
            password_file = directory / "password"
            password_file.write_text(SUPERUSER_PASSWORD)
            initdb.append(f"--pwfile={password_file}")
            if user:
                os.chown(password_file, pwd.getpwnam("nobody").pw_uid, -1)
        subprocess.run([*initdb, *INITDB_OPTIONS], check=True, capture_output=True)
        port = _free_port()
        options = ["-p", str(port), "-c", "listen_addresses=127.0.0.1", "-k", str(directory)]
        options += ["-c", f"shared_preload_libraries={PRELOADED}", "-c", "fsync=off"]
        ca_file = None
        if tls:
            ca_file, tls_options = _tls(directory, user)
            options += tls_options
            _hba(data)
        server = subprocess.Popen(
            [*user, str(root / "bin" / "postgres"), "-D", str(data), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            ready = Server(major=major, port=port, version="", ca_file=ca_file)
            version = _wait_until_ready(server, ready.dsn, psycopg)
            yield Server(major=major, port=port, version=version, ca_file=ca_file)
        finally:
            server.terminate()  # SIGTERM: smart shutdown, and the server is idle by now
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def stopped(major: int) -> Iterator[Callable[[dict[str, str]], int]]:
    """A data directory of PostgreSQL <major> that no server runs, and a function that asks postgres what shared
    memory (in MB) it would allocate with some settings (`postgres -C shared_memory_size`, PostgreSQL 15 and later)."""
    root = package(major)
    directory = Path(tempfile.mkdtemp(prefix=f"retail-db-pg{major}-"))
    data = directory / "data"
    try:
        user, root = _as_server_user(directory, root)
        initdb = [*user, str(root / "bin" / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        subprocess.run([*initdb, *INITDB_OPTIONS], check=True, capture_output=True)

        def shared_memory_mb(settings: dict[str, str]) -> int:
            options = [option for name, value in settings.items() for option in ("-c", f"{name}={value}")]
            command = [*user, str(root / "bin" / "postgres"), "-D", str(data), "-C", "shared_memory_size", *options]
            return int(subprocess.run(command, check=True, capture_output=True, text=True).stdout)

        yield shared_memory_mb
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _wait_until_ready(server: subprocess.Popen[bytes], dsn: str, psycopg: object) -> str:
    deadline = time.monotonic() + 30
    while True:
        if server.poll() is not None:
            raise PostgresUnavailable(f"postgres exited: {server.stderr.read().decode() if server.stderr else ''}")
        try:
            with psycopg.connect(dsn, connect_timeout=2) as connection:  # type: ignore[attr-defined]
                row = connection.execute("SHOW server_version").fetchone()
                return str(row[0])
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
