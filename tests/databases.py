"""Throwaway databases on the session's embedded server, dropped when their scope ends."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from headwater import db


def _factory() -> Iterator[tuple[Callable[..., str], list[str]]]:
    admin = db.status().url()
    created: list[str] = []

    def make(label: str, *, template: str | None = None) -> str:
        """A new database named after `label` (a copy of `template` if given); its URL."""
        name = f"{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            statement = sql.SQL("create database {}").format(sql.Identifier(name))
            if template:
                statement += sql.SQL(" template {}").format(sql.Identifier(template))
            conn.execute(statement)
        created.append(name)
        return db.status().url(name)

    yield make, created
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


@pytest.fixture
def make_database(pg_home):
    """`make_database(label, template=None) -> url`; dropped when the test ends."""
    for make, _ in _factory():
        yield make


@pytest.fixture(scope="module")
def make_module_database(pg_home):
    """`make_module_database(label, template=None) -> url`; dropped when the module ends."""
    for make, _ in _factory():
        yield make
