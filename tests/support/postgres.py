"""A throwaway PostgreSQL cluster for tests: initdb into a temporary folder, a unix socket, no TCP at all.

Debian's `postgresql` package provides the binaries (`.ci/run` installs it); they are found on PATH or under
/usr/lib/postgresql/<version>/bin. As root, the server runs as the `postgres` user (PostgreSQL refuses root).
`fsync=off`: the cluster is deleted after the tests, and its durability is PostgreSQL's, not the project's.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REQUIRE_ENV = "SYMBL_REQUIRE_POSTGRES"  # set by .ci/run: a PostgreSQL that cannot start fails, never skips


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found is not None:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


@dataclass
class Cluster:
    socket_dir: Path
    process: subprocess.Popen[bytes]
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}"

    def create_database(self, name: str) -> str:
        import psycopg  # noqa: PLC0415 - the cluster extra

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root and runuser is missing: PostgreSQL refuses to run as root")
    return [runuser, "-u", "postgres", "--", *argv]


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster | str]:
    """The running cluster, or (when it cannot be started here) one sentence saying why."""
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if initdb is None or postgres is None:
        yield "PostgreSQL's initdb/postgres binaries are not installed (Debian package `postgresql`)"
        return
    try:
        import psycopg  # noqa: PLC0415
    except ImportError:
        yield "psycopg is not installed (pip install -e '.[cluster]')"
        return
    root = Path(tempfile.mkdtemp(prefix="symbl-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            yield "running as root and there is no `postgres` user to run PostgreSQL as"
            return
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    user = "postgres"
    init = subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", user, "-A", "trust", "--no-sync", "-E", "UTF8"]),
        capture_output=True,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        yield f"initdb failed: {init.stderr.decode(errors='replace').strip()[-300:]}"
        return
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        _as_postgres(
            [postgres, "-D", str(data), "-k", str(sockets), "-c", "listen_addresses=", "-c", "fsync=off",
             "-c", "max_connections=200", "-c", "synchronous_commit=off"]
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    cluster = Cluster(sockets, process, user)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(cluster.url(), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    yield "the PostgreSQL server did not start: " + (root / "server.log").read_text()[-300:]
                    return
                time.sleep(0.1)
        yield cluster
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        if process.poll() is None:
            process.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
