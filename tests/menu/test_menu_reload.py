"""Menu reload (`serve --reload`): an edit takes effect on the next call, never mid-call."""

from __future__ import annotations

import json
import logging
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import delete, select, update

from ivr.config import PROJECT_ROOT
from ivr.menu.load import load_menu
from ivr.menu.versions import digest
from ivr.sim.caller import Caller
from store.demo import WANG_JIANGUO
from store.import_apply import import_data
from store.models import Call, MenuVersion
from tests.servers import cli_env, run_cli, sqlite_url, start_server

SHIPPED = load_menu(PROJECT_ROOT / "prompts" / "12333.yaml")
OLD_MENU = SHIPPED.text("main_menu")
NEW_MENU = OLD_MENU.replace("社会保险查询", "社保查询")
WANG_KEYED, WANG_PIN = WANG_JIANGUO[:-1] + "*", "135790"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of prompts/ that the tests edit."""
    shutil.copytree(PROJECT_ROOT / "prompts", tmp_path / "prompts")
    return tmp_path / "prompts"


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in a file, moving its mtime on even within the clock's resolution."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    before = path.stat().st_mtime_ns
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    if path.stat().st_mtime_ns == before:  # a coarse file-system clock
        time.sleep(0.01)
        path.touch()


@pytest.fixture
def reloading(make_app: Callable[..., Flask], demo_prepared, folder: Path) -> Flask:
    """The app on the copied menu, reloading it for each new call."""
    app = make_app(IVR_MENU=str(folder / "12333.yaml"), IVR_MENU_RELOAD="1")
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    return app


def versions(app: Flask) -> dict[str, str | None]:
    """Each call's stored menu version, by CallSid."""
    with app.extensions["ivr"].sessions() as session:
        return dict(session.execute(select(Call.call_sid, Call.menu_version)).all())


def test_an_edit_reaches_the_next_call_and_not_the_one_in_progress(
    reloading: Flask, make_caller: Callable[..., Caller], folder: Path
) -> None:
    first = make_caller(reloading)
    assert OLD_MENU in first.dial()

    edit(folder / "zh-CN.yaml", "社会保险查询请按一", "社保查询请按一")
    second = make_caller(reloading)

    assert NEW_MENU in second.dial() and OLD_MENU not in second.heard_text()
    assert first.press("*").startswith(OLD_MENU)  # the first call keeps its version
    assert second.press("*").startswith(NEW_MENU)
    stored = versions(reloading)
    assert stored[first.call_sid] != stored[second.call_sid]
    assert stored[second.call_sid] == reloading.extensions["ivr"].editions.current.version
    files = [folder / name for name in ("12333.yaml", "zh-CN.yaml", "en-US.yaml")]
    texts = {str(path.resolve()): path.read_text(encoding="utf-8") for path in files}
    assert stored[second.call_sid] == digest(texts)  # the version is the files' digest
    kept = stored_files(reloading, stored[second.call_sid])
    assert kept == {
        "menu": "12333.yaml",
        "files": {p.name: t for p, t in zip(files, texts.values(), strict=True)},
    }


def test_a_call_in_progress_keeps_a_node_the_edit_removed(
    reloading: Flask, make_caller: Callable[..., Caller], folder: Path
) -> None:
    """The new version drops the medical menu; a call that began before still reaches it."""
    first = make_caller(reloading)
    first.dial()
    menu_file = folder / "12333.yaml"
    edit(menu_file, '      "2": medical\n', "")
    edit(menu_file, '      "#": main\n', "")  # keep it valid: medical is now unreachable
    edit(folder / "zh-CN.yaml", "医疗保险服务请按二；", "")
    edit(folder / "en-US.yaml", " For medical insurance services, press two.", "")
    later = make_caller(reloading)
    later.dial()

    assert first.press("2") == SHIPPED.text("ask_id")
    first.press(WANG_KEYED + "#")
    assert first.press(WANG_PIN + "#") == SHIPPED.text("medical_menu")
    assert later.press("2").startswith(SHIPPED.text("invalid_key"))


def test_a_broken_edit_is_logged_and_the_last_good_version_serves(
    reloading: Flask, make_caller: Callable[..., Caller], folder: Path, caplog
) -> None:
    edit(folder / "12333.yaml", '"1": social', '"1": socail')
    with caplog.at_level(logging.ERROR, logger="ivr.menu"):
        caller = make_caller(reloading)
        assert OLD_MENU in caller.dial()
        make_caller(reloading).dial()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1  # logged once per broken save, not once per call
    assert "menu not reloaded" in errors[0] and "unknown target 'socail'" in errors[0]
    assert "12333.yaml:" in errors[0]

    edit(folder / "12333.yaml", '"1": socail', '"1": social')
    edit(folder / "zh-CN.yaml", "社会保险查询请按一", "社保查询请按一")
    assert NEW_MENU in make_caller(reloading).dial()


def test_without_reload_an_edit_waits_for_a_restart(
    make_app: Callable[..., Flask], make_caller: Callable[..., Caller], folder: Path
) -> None:
    app = make_app(IVR_MENU=str(folder / "12333.yaml"))
    edit(folder / "zh-CN.yaml", "社会保险查询请按一", "社保查询请按一")
    assert OLD_MENU in make_caller(app).dial()


def stored_files(app: Flask, version: str) -> dict:
    """What the database keeps of a menu version: the menu's file name and every file."""
    with app.extensions["ivr"].sessions() as session:
        row = session.get(MenuVersion, version)
        assert row is not None, f"menu version {version} not stored"
        return json.loads(row.files)


def test_a_restarted_worker_goes_on_with_the_stored_version(
    make_app: Callable[..., Flask], demo_prepared, make_caller: Callable[..., Caller],
    folder: Path,
) -> None:  # fmt: skip
    """A worker started after the edit never loaded the old version: the database has it."""
    before = make_app(IVR_MENU=str(folder / "12333.yaml"))
    with before.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    caller = make_caller(before)
    caller.dial()
    edit(folder / "zh-CN.yaml", "社会保险查询请按一", "社保查询请按一")
    edit(folder / "12333.yaml", '      "2": medical\n', "")
    edit(folder / "12333.yaml", '      "#": main\n', "")
    after = make_app(IVR_MENU=str(folder / "12333.yaml"))  # the restart, on the same database
    caller.transport = make_caller(after).transport

    assert caller.press("*").startswith(OLD_MENU)
    assert caller.press("2") == SHIPPED.text("ask_id")  # medical, gone from the files
    caller.press(WANG_KEYED + "#")
    assert caller.press(WANG_PIN + "#") == SHIPPED.text("medical_menu")
    assert NEW_MENU in make_caller(after).dial()


def test_a_version_is_marked_stored_only_when_it_was(
    make_app: Callable[..., Flask], demo_prepared, make_caller: Callable[..., Caller],
    folder: Path,
) -> None:  # fmt: skip
    """A call from before versions existed (no version, nothing stored) goes on in the newest
    version; that must not count as storing it, or the next new call would skip it."""
    before = make_app(IVR_MENU=str(folder / "12333.yaml"))
    with before.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    old = make_caller(before)
    old.dial()
    with before.extensions["ivr"].sessions() as session:  # as a database from before 0005
        session.execute(update(Call).values(menu_version=None))
        session.execute(delete(MenuVersion))
        session.commit()
    after = make_app(IVR_MENU=str(folder / "12333.yaml"))  # a restart
    old.transport = make_caller(after).transport
    assert old.press("*").startswith(OLD_MENU)

    new = make_caller(after)
    new.dial()

    version = versions(after)[new.call_sid]
    assert stored_files(after, version)["menu"] == "12333.yaml"


def test_a_forgotten_version_goes_on_in_the_newest(
    reloading: Flask, make_caller: Callable[..., Caller], folder: Path, caplog
) -> None:
    """A version neither loaded nor stored (a database restored from elsewhere): the call
    is not dropped, it goes on in the newest version, and that is logged once."""
    caller = make_caller(reloading)
    caller.dial()
    with reloading.extensions["ivr"].sessions() as session:
        session.execute(update(Call).values(menu_version="0123456789ab"))
        session.commit()
    edit(folder / "zh-CN.yaml", "社会保险查询请按一", "社保查询请按一")
    with caplog.at_level(logging.WARNING, logger="ivr.menu"):
        assert caller.press("*").startswith(NEW_MENU)
        assert caller.press("*").startswith(NEW_MENU)
    lost = [r for r in caplog.records if "0123456789ab" in r.getMessage()]
    assert len(lost) == 1


def test_a_restart_in_another_folder_restores_the_version(
    make_app: Callable[..., Flask], demo_prepared, make_caller: Callable[..., Caller],
    folder: Path, tmp_path: Path,
) -> None:  # fmt: skip
    """The stored files are kept relative to the menu's folder: a deploy to a new folder
    (with a changed menu) still finishes the calls that began before it."""
    before = make_app(IVR_MENU=str(folder / "12333.yaml"))
    with before.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    caller = make_caller(before)
    caller.dial()
    moved = shutil.copytree(folder, tmp_path / "release-2")
    shutil.rmtree(folder)
    edit(moved / "zh-CN.yaml", "社会保险查询请按一", "社保查询请按一")
    after = make_app(IVR_MENU=str(moved / "12333.yaml"))
    caller.transport = make_caller(after).transport

    assert caller.press("*").startswith(OLD_MENU)
    assert NEW_MENU in make_caller(after).dial()


def test_a_fixed_edit_is_taken_once_a_missing_file_appears(
    reloading: Flask, make_caller: Callable[..., Caller], folder: Path
) -> None:
    """The menu names a prompt file before it exists: refused; once written, taken."""
    edit(folder / "12333.yaml", "  zh-CN: zh-CN.yaml\n", "  zh-CN: [zh-CN.yaml, extra-zh.yaml]\n")
    assert OLD_MENU in make_caller(reloading).dial()
    (folder / "extra-zh.yaml").write_text(f"prompts:\n  main_menu: {NEW_MENU}\n", "utf-8")
    assert NEW_MENU in make_caller(reloading).dial()


def test_an_undone_edit_returns_to_the_same_version(
    reloading: Flask, make_caller: Callable[..., Caller], folder: Path
) -> None:
    make_caller(reloading, call_sid="CA1").dial()
    edit(folder / "zh-CN.yaml", "社会保险查询请按一", "社保查询请按一")
    make_caller(reloading, call_sid="CA2").dial()
    edit(folder / "zh-CN.yaml", "社保查询请按一", "社会保险查询请按一")
    make_caller(reloading, call_sid="CA3").dial()
    stored = versions(reloading)
    assert stored["CA1"] == stored["CA3"] != stored["CA2"]


# --- the real server ----------------------------------------------------------------------------


def post(base: str, path: str, form: dict[str, str]) -> str:
    """POST a form to the server; the TwiML's spoken text."""
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(f"{base}{path}", data=data, timeout=10) as reply:
        root = etree.fromstring(reply.read())
    return "".join(say.text or "" for say in root.iter("Say"))


@pytest.mark.slow
def test_serve_reload_across_workers_and_a_restart(tmp_path: Path, folder: Path) -> None:
    """Real servers: a call begun before a restart and two edits keeps its first menu in both
    workers of the new server (neither ever loaded it), while each new call hears the edit."""
    env = cli_env(tmp_path, sqlite_url(tmp_path / "reload.db"),
                  IVR_MENU=str(folder / "12333.yaml"), IVR_SPEECH="say",
                  IVR_RATE_LIMIT_CALLER="off", IVR_RATE_LIMIT_ADDRESS="off")  # fmt: skip
    assert run_cli(["db", "upgrade"], env).returncode == 0
    first = start_server("first", tmp_path, env, workers=1)
    try:
        first.wait_healthy()
        assert OLD_MENU in post(first.base, "/voice", {"CallSid": "CAold", "From": "+86138"})
    finally:
        first.stop()
    edit(folder / "zh-CN.yaml", "社会保险查询请按一", "社保查询请按一")
    server = start_server("reload", tmp_path, env, workers=2, extra=("--reload",))
    try:
        server.wait_healthy()
        assert "Reload: a new call takes the menu files as last saved." in server.output()
        for attempt in range(6):  # the requests land on either worker
            heard = post(server.base, "/voice", {"CallSid": f"CAnew{attempt}", "From": "+86139"})
            assert NEW_MENU in heard, heard
            again = post(server.base, "/voice/keys?node=main&seq=1",
                         {"CallSid": "CAold", "From": "+86138", "Digits": "*"})  # fmt: skip
            assert OLD_MENU in again, again
        edit(folder / "zh-CN.yaml", "社保查询请按一", "社保业务查询请按一")
        assert "社保业务查询请按一" in post(
            server.base, "/voice", {"CallSid": "CAlast", "From": "+86"}
        )
        log = server.stderr.read_text(encoding="utf-8")
    finally:
        server.stop()
    assert "menu reloaded: version" in log  # in the worker that saw the second edit first
    assert '"level": "error"' not in log, log
