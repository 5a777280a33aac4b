"""A throwaway PostgreSQL cluster for the tests and benchmarks: a real server, never a mock.

``initdb`` and ``pg_ctl`` from Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin``)
start a cluster in a temporary folder, listening on a free loopback port only, trusted, with
``fsync`` off (its data is thrown away). The server refuses to run as root, so as root it runs
as the ``postgres`` user (``runuser``) in a folder handed to that user. Missing binaries are
installed with ``apt-get`` when this process may; otherwise :func:`why_unavailable` says why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

__all__ = ["PgCluster", "find_bindir", "why_unavailable"]

_INSTALL_TIMEOUT = 900


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb`` and ``pg_ctl`` (or PATH's)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()],
    )
    for candidate in reversed(found):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(pg_ctl).resolve().parent
    return None


def _install() -> None:
    """``apt-get install postgresql`` when the binaries are missing and apt can run (as root)."""
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(  # noqa: S603 - fixed arguments
            [apt, "update", "-qq"], env=env, timeout=_INSTALL_TIMEOUT, check=False,
            capture_output=True,
        )  # fmt: skip
        subprocess.run(  # noqa: S603 - fixed arguments
            [apt, "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
            env=env, timeout=_INSTALL_TIMEOUT, check=False, capture_output=True,
        )  # fmt: skip


def why_unavailable() -> str | None:
    """``None`` when a cluster can be started here, else the reason it cannot."""
    if find_bindir() is None:
        _install()
    if find_bindir() is None:
        how = "apt-get is not available" if shutil.which("apt-get") is None else "not root"
        return (
            "PostgreSQL's initdb/pg_ctl are not installed (/usr/lib/postgresql/*/bin) and "
            f"could not be installed ({how}): apt-get install postgresql"
        )
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        return "running as root needs runuser and a 'postgres' user (the server refuses root)"
    return None


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """One throwaway cluster: :meth:`start` it, make databases, :meth:`stop` it (and its folder).

    Example::

        cluster = PgCluster()
        cluster.start()
        url = cluster.new_database()  # postgresql://postgres@127.0.0.1:PORT/nemo_...
        ...
        cluster.stop()
    """

    def __init__(self) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError(why_unavailable() or "PostgreSQL is not installed")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="nemovideo-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.running = False

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(  # noqa: S603 - our own arguments
            command, check=True, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )

    @property
    def url(self) -> str:
        """The maintenance database's URL (``postgres``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        """Create and start the cluster; returns the maintenance database's URL."""
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        for _ in range(5):
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories={self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                    str(self.root / "server.log"), "-o", options, "-w", "-t", "60", "start",
                )  # fmt: skip
            except subprocess.CalledProcessError:
                continue  # the port was taken meanwhile: another one
            self.running = True
            return self.url
        log = (self.root / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"PostgreSQL did not start:\n{log}")

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"nemo_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server (immediately: its data is thrown away) and remove its folder."""
        if self.running:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                    "-w", "stop", timeout=60,
                )  # fmt: skip
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)
