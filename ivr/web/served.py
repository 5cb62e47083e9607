"""A menu version as the webhook serves it: the menu, its TwiML renderer, hours and audio."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.core.model import Menu
from ivr.menu.versions import MenuVersion
from ivr.web.twiml import Renderer


@dataclass(frozen=True)
class ServedMenu:
    """One menu version as the webhook serves it: with its renderer, hours and audio keys."""

    source: MenuVersion
    hours_text: Mapping[str, str]
    renderer: Renderer
    # (text, voice language) of every fixed prompt -> its audio key, None when not rendered
    static_audio: dict[tuple[str, str], str | None] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """The menu version's id."""
        return self.source.version

    @property
    def menu(self) -> Menu:
        """The version's menu."""
        return self.source.menu

    def stored(self) -> dict[str, Any]:
        """The version as the database keeps it."""
        return self.source.stored()
