"""A menu version as the webhook serves it: the menu, its TwiML renderer, hours and audio."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
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
    keys_only: bool = False  # IVR_VOICE_INPUT=off: no menu listens for speech

    @property
    def version(self) -> str:
        """The menu version's id."""
        return self.source.version

    @cached_property
    def menu(self) -> Menu:
        """The version's menu; with speech turned off when keys_only, whatever its file says."""
        menu = self.source.menu
        if not self.keys_only:
            return menu
        return replace(menu, speech=replace(menu.speech, enabled=False))

    def stored(self) -> dict[str, Any]:
        """The version as the database keeps it."""
        return self.source.stored()
