"""Fixtures of the store's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from store.models import Base


@pytest.fixture
def big_app(app: Flask) -> Iterator[Flask]:
    """The demo app, emptied quickly afterwards on PostgreSQL (the next test's DELETE of a
    city's persons would check every one against bindings without an index, past 5 s)."""
    yield app
    with app.extensions["ivr"].engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            connection.exec_driver_sql(f"TRUNCATE {tables}")
