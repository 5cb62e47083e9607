"""Fixtures of the softphone's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from store.import_apply import import_data
from store.importer import PreparedImport


@pytest.fixture
def make_phone(make_app: Callable[..., Flask], demo_prepared: PreparedImport,
               ) -> Iterator[Callable[..., Flask]]:  # fmt: skip
    """Apps with the softphone on; the demo accounts are loaded once, by the first."""
    built: list[Flask] = []

    def build(**overrides: object) -> Flask:
        app = make_app(IVR_SOFTPHONE="1", **overrides)
        if not built:
            with app.extensions["ivr"].sessions() as session:
                import_data(session, demo_prepared)
        built.append(app)
        return app

    yield build
    for app in built:  # the in-process hotline each app built for its callers
        dialler = app.extensions.get("softphone")
        if dialler is not None:
            dialler.app.extensions["ivr"].engine.dispose()
