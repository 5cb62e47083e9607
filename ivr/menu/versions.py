"""Menu versions: the menu a call started with stays its menu, even when the YAML changes.

A version is the text of every file the menu read (the menu and its prompt files), named by
their digest. Each call row stores its version, and the database keeps each version's
files, so that any worker, after a reload or a restart, goes on with the version the call
started in. With reload on (`serve --reload`), each new call first looks at the files:
when they changed and still pass the check, the new version serves the calls that start
from then on. A broken edit is logged once and the last good version goes on serving.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from ivr.core.model import Menu
from ivr.menu.load import Checked, check_menu
from ivr.menu.source import Reader, read_text

log = logging.getLogger("ivr.menu")
KEEP = 16  # versions kept in memory; older ones come back from the database when needed
Texts = Mapping[str, str]  # a version's files: absolute path -> text
Stored = Callable[[str], Mapping[str, Any] | None]  # a version as the database keeps it


@dataclass(frozen=True)
class MenuVersion:
    """One version of the menu: its id, the loaded menu, and the text of each file."""

    version: str
    menu: Menu
    texts: Texts = field(default_factory=dict, repr=False)

    def stored(self) -> dict[str, Any]:
        """The version as the database keeps it: files by path relative to the menu's folder
        (so that a copy of the folder elsewhere restores it), and which one is the menu."""
        base = self.menu.source.parent
        files = {_relative(Path(path), base): text for path, text in self.texts.items()}
        return {"menu": self.menu.source.name, "files": files}


def _relative(path: Path, base: Path) -> str:
    """A path relative to `base` when it is below it, else absolute."""
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


def digest(texts: Texts) -> str:
    """A version's id: a short digest of its files' names and texts (not their folder)."""
    sha = hashlib.sha256()
    for path in sorted(texts):
        sha.update(f"{Path(path).name}\0{texts[path]}\0".encode())
    return sha.hexdigest()[:12]


def snapshot(path: Path | str, read: Reader = read_text) -> tuple[Checked, dict[str, str]]:
    """Check a menu, keeping the text of every file as it was read for the check."""
    texts: dict[str, str] = {}

    def keep(file: Path) -> str:
        """Read a file and remember its text ("" when it cannot be read, so a reload can
        tell when it appears)."""
        texts[str(file)] = ""
        texts[str(file)] = text = read(file)
        return text

    return check_menu(path, keep), texts


def on_disk(paths: list[str]) -> dict[str, str]:
    """The files' texts now ("" for one that cannot be read)."""
    found = {}
    for path in paths:
        try:
            found[path] = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            found[path] = ""
    return found


def _from(texts: Texts) -> Reader:
    """A reader of a stored version's files: a file it lacks cannot be read."""

    def read(path: Path) -> str:
        """The stored text of one file."""
        if str(path) not in texts:
            raise FileNotFoundError(errno.ENOENT, "not in the stored menu version", str(path))
        return texts[str(path)]

    return read


class Built(Protocol):
    """What a user of MenuVersions builds from each version: anything that knows its id."""

    @property
    def version(self) -> str:
        """The menu version it was built from."""
        ...


B = TypeVar("B", bound=Built)


class MenuVersions(Generic[B]):
    """The menu versions this process knows: the newest for new calls, older ones by id.

    For each version it keeps what `build` makes of it (the web keeps a renderer and the
    spoken hours beside the menu), so this module knows nothing of its users.
    """

    def __init__(self, checked: Checked, texts: Texts, build: Callable[[MenuVersion], B],
                 reload: bool = False) -> None:  # fmt: skip
        """Start from a checked menu and its texts; `build` makes what is kept per version."""
        assert checked.menu is not None and not checked.errors
        self._build, self.reload, self._path = build, reload, checked.path
        self._lock = threading.Lock()
        self._known: OrderedDict[str, B] = OrderedDict()
        self._current = self._add(checked.menu, texts, digest(texts))
        self._seen = dict(texts)  # the files' texts when last looked at (reload compares)
        self._lost: set[str] = set()  # versions neither in memory nor restorable
        self.warnings = tuple(checked.warnings)  # the start-up check's, for `serve` to show
        self.saved: set[str] = set()  # versions this process has seen stored in the database

    def all(self) -> list[B]:
        """Every version in memory, oldest first."""
        return list(self._known.values())

    @property
    def current(self) -> B:
        """The newest good version (without looking at the files)."""
        return self._current

    def for_call(self, version: str | None, stored: Stored | None = None) -> B:
        """The version a call started with (a new call's, None, is the newest).

        Looked for in memory, then in the files (another worker may have reloaded first),
        then in the database; failing all three, the call goes on in the newest version.
        """
        if version is None:
            return self.refresh()
        found = self._known.get(version)
        if found is not None and version != self._current.version:
            self._known.move_to_end(version)  # kept by use: evicted are the versions unused
        if found is None:
            newest = self.refresh()
            found = newest if newest.version == version else None
        if found is None and stored is not None and version not in self._lost:
            found = self._restore(version, stored(version))
        if found is not None:
            return found
        if version not in self._lost:
            self._lost.add(version)
            log.warning("menu version %s is not known; its calls go on in %s",
                        version, self._current.version)  # fmt: skip
        return self._current

    def refresh(self) -> B:
        """With reload on, load the menu again when its files changed; the newest version."""
        if not self.reload:
            return self._current
        # Texts, not mtimes: a save between a worker's read and its stat is still seen.
        if on_disk(list(self._seen)) != self._seen:
            with self._lock:
                if on_disk(list(self._seen)) != self._seen:
                    self._reload()
        return self._current

    def _reload(self) -> None:
        """Check the changed files; take them when they pass, else log why and keep the old."""
        checked, texts = snapshot(self._path)
        self._seen = texts  # what this check read: a save after it differs, and is seen
        if checked.errors or checked.menu is None:
            problems = "\n".join(str(p) for p in checked.errors)
            log.error("menu not reloaded, new calls still get version %s:\n%s",
                      self._current.version, problems)  # fmt: skip
            return
        version = digest(texts)
        self._current = self._known.get(version) or self._add(checked.menu, texts, version)
        self._known.move_to_end(version)
        log.info("menu reloaded: version %s from %s", version, self._path)

    def _restore(self, version: str, data: Mapping[str, Any] | None) -> B | None:
        """A version from the database, built again from its stored files."""
        if not data or not isinstance(data.get("files"), dict):
            return None
        base = self._path.parent
        texts = {str(base / name): text for name, text in data["files"].items()}
        checked = check_menu(base / str(data.get("menu", self._path.name)), _from(texts))
        if checked.menu is None:
            log.warning("stored menu version %s no longer loads: %s", version,
                        "; ".join(str(p) for p in checked.errors[:3]))  # fmt: skip
            return None
        if checked.errors:  # it was served once: a stricter check must not switch its calls
            log.warning("stored menu version %s has problems now, and finishes its calls: %s",
                        version, "; ".join(str(p) for p in checked.errors[:3]))  # fmt: skip
        with self._lock:
            self.saved.add(version)
            return self._add(checked.menu, texts, version)

    def _add(self, menu: Menu, texts: Texts, version: str) -> B:
        """Build and keep a version, forgetting the oldest beyond KEEP (never the newest)."""
        edition = self._build(MenuVersion(version, menu, dict(texts)))
        self._known[version] = edition
        while len(self._known) > KEEP:
            oldest = next(iter(self._known))
            if oldest == getattr(self, "_current", edition).version:
                self._known.move_to_end(oldest)
            self._known.pop(next(iter(self._known)))
        return edition
