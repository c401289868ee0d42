"""A project-owned PostgreSQL 15 cluster started from Debian's binaries.

The cluster lives in a data folder of ours (never the system cluster) and listens on 127.0.0.1 at
the Supabase CLI's database port. PostgreSQL refuses to run as root, so when we are root its
processes run as the `postgres` system user, which owns the data folder.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PG_MAJOR = 15
SUPERUSER_PASSWORD = "postgres"  # noqa: S105 - the Supabase CLI's local database password


class PostgresUnavailable(RuntimeError):
    """PostgreSQL 15 binaries are missing and cannot be installed from here."""


def bindir() -> Path:
    """Debian's PostgreSQL 15 binaries, installing the `postgresql` package when root may."""
    candidate = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
    if (candidate / "postgres").exists():
        return candidate
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607
        subprocess.run(  # noqa: S603
            ["apt-get", "install", "-y", "-qq", f"postgresql-{PG_MAJOR}", "postgresql-contrib"],  # noqa: S607
            check=True,
            env=env,
        )
        if (candidate / "postgres").exists():
            return candidate
    raise PostgresUnavailable(
        f"PostgreSQL {PG_MAJOR} server binaries not found in {candidate}. "
        f"Install them with: sudo apt-get install postgresql-{PG_MAJOR} postgresql-contrib"
    )


class PostgresCommandFailed(RuntimeError):
    """A PostgreSQL tool exited non-zero; the message carries its output."""


def _run_as_owner(args: list[str]) -> None:
    command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args
    result = subprocess.run(command, check=False, text=True, capture_output=True)  # noqa: S603
    if result.returncode != 0:
        output = result.stderr.strip() or result.stdout.strip()
        raise PostgresCommandFailed(f"{Path(args[0]).name} failed: {output}")


def _chown_to_owner(path: Path) -> None:
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(path, owner.pw_uid, owner.pw_gid)


def reachable_by_owner(path: Path) -> Path:
    """`path` if the `postgres` user can reach it, else a folder of ours it can reach.

    As root, PostgreSQL runs as `postgres`, which cannot enter a checkout below a private folder
    (say /root/src). The cluster then lives in /var/lib/chatgalaxy/<hash of the path> instead.
    """
    path = path.resolve()
    if os.geteuid() != 0:
        return path
    for parent in path.parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:12]
            fallback = Path("/var/lib/chatgalaxy") / digest / path.name
            fallback.parent.mkdir(parents=True, exist_ok=True)
            return fallback
    return path


@dataclass(frozen=True)
class Cluster:
    """One PostgreSQL cluster: a data folder and the port it listens on."""

    data_dir: Path
    port: int = 54322
    durable: bool = True  # throwaway test clusters turn fsync off

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}:{SUPERUSER_PASSWORD}@127.0.0.1:{self.port}/{database}"

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        result = subprocess.run(  # noqa: S603
            [str(bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
        )
        return result.returncode == 0

    def init(self) -> None:
        """Create the data folder with a `postgres` superuser whose password is `postgres`."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _chown_to_owner(self.data_dir)
        self.data_dir.chmod(0o700)
        fd, name = tempfile.mkstemp(prefix="cg-pwfile-")
        pwfile = Path(name)
        os.write(fd, SUPERUSER_PASSWORD.encode())
        os.close(fd)
        _chown_to_owner(pwfile)
        try:
            _run_as_owner(
                [
                    str(bindir() / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.data_dir}'",
            "max_connections": "400",
            "shared_buffers": "256MB",
            "work_mem": "16MB",
            "wal_level": "logical",
            "logging_collector": "on",
            "log_directory": "'log'",
            "log_min_messages": "warning",
            "max_locks_per_transaction": "256",
        }
        if not self.durable:
            conf |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        with (self.data_dir / "postgresql.auto.conf").open("a") as handle:
            handle.writelines(f"{key} = {value}\n" for key, value in conf.items())

    def start(self, timeout: float = 30.0) -> None:
        """Start the cluster (initialising it first if needed); a running one is reused."""
        if not self.initialized:
            self.init()
        if self.is_running():
            return
        _run_as_owner(
            [
                str(bindir() / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                str(int(timeout)),
                "-l",
                str(self.data_dir / "startup.log"),
                # The port and socket folder are ours to say at every start, whatever an earlier
                # init wrote into the data folder's configuration.
                "-o",
                f"-p {self.port} -k {self.data_dir}",
                "start",
            ]
        )
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL on port {self.port} did not accept connections in {timeout}s")
            time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        if self.initialized and (self.data_dir / "postmaster.pid").exists():
            _run_as_owner([str(bindir() / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)


def project_cluster(url: str, data_dir: str) -> Cluster:
    """The project's own cluster for `DATABASE_URL`'s port, in `data_dir` (made reachable)."""
    port = urlsplit(url).port or 5432
    return Cluster(reachable_by_owner(Path(data_dir)), port=port)


def ensure_local_database(url: str, data_dir: str) -> None:
    """Start the project's cluster when `url` is on this machine and nothing answers there yet.

    A PostgreSQL already listening on that port (a test cluster, a developer's own) is used as is.
    """
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost"):
        return
    cluster = project_cluster(url, data_dir)
    if not cluster.is_running():
        cluster.start()
