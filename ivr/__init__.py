"""The 12333 IVR hotline: a Twilio voice webhook built by `create_app`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the hotline's Flask app (imported lazily so pure modules stay light)."""
    from ivr.app import create_app as build

    return build(config)


__all__ = ["create_app"]
