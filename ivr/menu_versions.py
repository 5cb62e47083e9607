"""Menu versions: the menu a call started with stays its menu, even when the YAML changes.

With reload on (`serve --reload`), each new call first looks at the menu's files; when they
changed and still pass the check, the new version serves every call that starts from then
on, while calls in progress keep the version stored in their row. A broken edit is logged
and the last good version goes on serving.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.menu import Menu
from ivr.menu_load import Checked, check_menu
from ivr.twiml import Renderer

log = logging.getLogger("ivr.menu")
KEEP = 16  # versions kept for calls in progress; a call outlives at most a few edits


@dataclass(frozen=True)
class Edition:
    """One version of the menu, and what the hotline builds from it."""

    version: str  # a digest of the menu's files: the same files give the same version
    menu: Menu
    hours_text: Mapping[str, str]
    renderer: Renderer
    # (text, voice language) of every fixed prompt -> its audio key, None when not rendered
    static_audio: dict[tuple[str, str], str | None] = field(default_factory=dict)


def digest(paths: tuple[Path, ...]) -> str:
    """A short digest of the files' names and bytes: a menu version's id."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:12]


def stamp(paths: tuple[Path, ...]) -> tuple[tuple[int, int], ...]:
    """What changes when a file is saved: each file's mtime and size (gone: -1)."""
    found = []
    for path in paths:
        try:
            info = path.stat()
            found.append((info.st_mtime_ns, info.st_size))
        except OSError:
            found.append((-1, -1))
    return tuple(found)


class Editions:
    """The menu versions this process knows: the newest for new calls, older ones by id."""

    def __init__(self, checked: Checked, build: Callable[[Menu, str], Edition],
                 reload: bool = False) -> None:  # fmt: skip
        """Start from a checked menu; `build` makes an Edition of a menu and its version."""
        assert checked.menu is not None
        self._build, self.reload = build, reload
        self._lock = threading.Lock()
        self._files, self._stamp = checked.files, stamp(checked.files)
        self._path = checked.path
        self._known: OrderedDict[str, Edition] = OrderedDict()
        self._current = self._add(checked.menu, digest(checked.files))
        self._refused: tuple[Any, ...] | None = None  # the broken edit already logged

    @property
    def current(self) -> Edition:
        """The newest good version (without looking at the files)."""
        return self._current

    def for_call(self, version: str | None) -> Edition:
        """The version a call in progress started with; a new call's (None) is the newest."""
        if version is None:
            return self.refresh()
        found = self._known.get(version)
        if found is None:  # another worker may have loaded an edit this one has not seen
            found = self._known.get(version) if self.refresh().version != version else None
        if found is not None:
            return found
        if self._current.version == version:
            return self._current
        # A restart forgets older versions: the call goes on in the newest one.
        log.warning("menu version %s is not loaded; the call goes on in %s",
                    version, self._current.version)  # fmt: skip
        return self._current

    def refresh(self) -> Edition:
        """With reload on, load the menu again when its files changed; the newest version."""
        if not self.reload or stamp(self._files) == self._stamp:
            return self._current
        with self._lock:
            now = stamp(self._files)
            if now != self._stamp and now != self._refused:
                self._load(now)
        return self._current

    def _load(self, before: tuple[tuple[int, int], ...]) -> None:
        """Check the changed files; take them when they pass, else log why and keep the old."""
        checked = check_menu(self._path)
        if checked.errors or checked.menu is None:
            self._refused = before
            problems = "\n".join(str(p) for p in checked.errors)
            log.error("menu not reloaded, calls go on with version %s:\n%s",
                      self._current.version, problems)  # fmt: skip
            return
        if stamp(self._files) != before:
            return  # saved again while being read: the next call looks again
        self._files, self._stamp = checked.files, stamp(checked.files)
        version = digest(checked.files)
        if version in self._known:  # an edit undone: the version calls may still be on
            self._known.move_to_end(version)
            self._current = self._known[version]
        else:
            self._current = self._add(checked.menu, version)
        log.info("menu reloaded: version %s from %s", version, self._path)

    def _add(self, menu: Menu, version: str) -> Edition:
        """Build and keep a version, forgetting the oldest beyond KEEP."""
        edition = self._build(menu, version)
        self._known[version] = edition
        while len(self._known) > KEEP:
            self._known.popitem(last=False)
        return edition
