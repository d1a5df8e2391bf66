"""Fixtures of the shared-database tests: a real PostgreSQL (skipped only where it cannot start, never in CI),
and one fresh database per test on it or on SQLite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import REQUIRE_ENV, Cluster, throwaway_cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as cluster:
        if isinstance(cluster, str):
            if os.environ.get(REQUIRE_ENV) == "1":
                pytest.fail(f"PostgreSQL is required here ({REQUIRE_ENV}=1) but could not start: {cluster}")
            pytest.skip(f"PostgreSQL cannot be started here: {cluster}")
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    return pg_cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on both databases of the queue interface."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return str(request.getfixturevalue("pg_url"))
